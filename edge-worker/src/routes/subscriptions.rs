//! `/v1/subscriptions`: a fixed amount every month or year on a customer's saved
//! card, charged off session by the merchant's object (`crate::billing`).

use shared::api::List;
use shared::billing::{self, CancelSubscription, CreateSubscription, SubscriptionStatus};
use shared::error::ApiError;
use shared::keys::{is_id, new_scoped_id};
use worker::{Request, Response, Result, RouteContext};

use crate::billing::{attempt, make_intent, InvoiceIds};
use crate::call::{serve, Need};
use crate::ctx::random;
use crate::http::Reply;
use crate::merchant::store::billing::NewSubscriptionRow;
use crate::merchant::Object;
use crate::providers::stripe::Billing;

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CreateSubscription = call.json()?;
        let m = call.merchant()?.clone();
        let ctx = &call.ctx;
        let customer = crate::routes::customers::load(&call, &input.customer)
            .map_err(|_| ApiError::not_found("customer").with_param("customer"))?;
        let now = ctx.store.time_of(customer.test_clock.as_deref(), ctx.now)?;
        let new = input.validate(now)?;
        // The card: the one named, which must be this customer's, else its newest.
        let no_card = || {
            ApiError::invalid_request(
                "resource_missing",
                "This customer has no saved card: save one first (POST /v1/setup_intents).",
            )
            .with_param("payment_method")
        };
        let stripe_customer = customer.stripe_customer.clone().ok_or_else(no_card)?;
        let billing = Billing::merchant(ctx, &m.id, call.livemode())?;
        let pm = match &input.payment_method {
            Some(pm) => {
                billing
                    .saved_card(&stripe_customer, pm)
                    .await?
                    .ok_or_else(|| {
                        ApiError::not_found("payment_method").with_param("payment_method")
                    })?
                    .id
            }
            None => {
                billing
                    .saved_cards(&stripe_customer)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(no_card)?
                    .id
            }
        };
        let id = new_scoped_id("sub_", &m.id, &random());
        let (status, anchor, index, end) = match input.trial_end {
            // The trial is the period before the first paid one, anchored at its end.
            Some(t) => (SubscriptionStatus::Trialing, t, -1, t),
            None => (
                SubscriptionStatus::Incomplete,
                now,
                0,
                billing::period_end(now, new.interval, new.interval_count, 0),
            ),
        };
        let sub = ctx.store.insert_subscription(&NewSubscriptionRow {
            id: &id,
            customer: &customer,
            status,
            amount: new.amount,
            interval: new.interval,
            interval_count: new.interval_count,
            payment_method: Some(&pm),
            description: input.description.as_deref(),
            anchor,
            period_index: index,
            period_start: now,
            period_end: end,
            trial_end: input.trial_end,
            now: ctx.now,
        })?;
        if status == SubscriptionStatus::Incomplete {
            // The first period is paid now.
            let ids = InvoiceIds::new(ctx, &m);
            let inv = ctx.store.open_first_period(
                &sub,
                &ids.invoice,
                &ids.intent,
                (&ids.token, &ids.hosted_url),
                now,
            )?;
            make_intent(ctx, &m, &sub, &inv)?;
            attempt(ctx, &m, &inv).await?;
        }
        crate::billing::schedule(ctx).await?;
        Reply::json(
            200,
            &ctx.store.subscription(&id, call.livemode())?.to_api()?,
        )
    })
    .await
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let id = call.param("id");
        if !is_id("sub_", id) {
            return Err(ApiError::not_found("subscription").with_param("id").into());
        }
        let s = call.ctx.store.subscription(id, call.livemode())?;
        Reply::json(200, &s.to_api()?)
    })
    .await
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let limit = i64::from(call.page_limit()?);
        let customer = call.query("customer");
        let rows = call
            .ctx
            .store
            .subscriptions(call.livemode(), customer.as_deref(), limit + 1)?;
        let has_more = rows.len() as i64 > limit;
        let data = rows
            .iter()
            .take(limit as usize)
            .map(|r| r.to_api())
            .collect::<crate::http::ApiResult<Vec<_>>>()?;
        Reply::json(200, &List::new(data, has_more))
    })
    .await
}

/// `POST /v1/subscriptions/{id}/cancel {at_period_end?}`: now (its open invoices are
/// voided, nothing is charged again), or when the current period ends.
pub async fn cancel(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CancelSubscription = call.json()?;
        call.merchant()?;
        let id = call.param("id");
        if !is_id("sub_", id) {
            return Err(ApiError::not_found("subscription").with_param("id").into());
        }
        let s = call.ctx.store.subscription(id, call.livemode())?;
        let after = call.ctx.store.cancel_subscription(
            &s.id,
            input.at_period_end.unwrap_or(false),
            call.ctx.now,
        )?;
        Reply::json(200, &after.to_api()?)
    })
    .await
}
