//! `/v1/customers`: a merchant's customers and their saved cards (Stripe). A card
//! is shown as brand, last4 and expiry, never more.

use std::collections::BTreeMap;

use shared::api::List;
use shared::billing::{CreateCustomer, SavedCard};
use shared::error::ApiError;
use shared::keys::{is_id, new_scoped_id};
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Reply};
use crate::merchant::store::billing::CustomerRow;
use crate::merchant::Object;
use crate::providers::stripe::Billing;

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CreateCustomer = call.json()?;
        input.validate()?;
        let m = call.merchant()?;
        let ctx = &call.ctx;
        if let Some(clock) = &input.test_clock {
            if call.livemode() {
                return Err(ApiError::invalid_request(
                    "livemode_not_allowed",
                    "Test clocks exist in test mode only.",
                )
                .with_param("test_clock")
                .into());
            }
            ctx.store
                .clock(clock)
                .map_err(|_| ApiError::not_found("test_clock").with_param("test_clock"))?;
        }
        let metadata = input
            .metadata
            .as_ref()
            .filter(|m| !m.is_empty())
            .map(serde_json::to_string::<BTreeMap<String, String>>)
            .transpose()
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let row = CustomerRow {
            id: new_scoped_id("cus_", &m.id, &random()),
            email: input.email.clone(),
            name: input.name.clone(),
            metadata,
            test_clock: input.test_clock.clone(),
            stripe_customer: None,
            livemode: i64::from(call.livemode()),
            created: ctx.now,
        };
        ctx.store.insert_customer(&row)?;
        Reply::json(200, &row.to_api())
    })
    .await
}

/// This merchant's customer of the caller's mode, by the id in the path.
pub fn load(call: &Call, id: &str) -> ApiResult<CustomerRow> {
    if !is_id("cus_", id) {
        return Err(ApiError::not_found("customer").with_param("id").into());
    }
    call.ctx.store.customer(id, call.livemode())
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        call.merchant()?;
        let c = load(&call, call.param("id"))?;
        Reply::json(200, &c.to_api())
    })
    .await
}

/// `GET /v1/customers/{id}/payment_methods`: the saved cards, as Stripe holds them.
pub async fn payment_methods(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let c = load(&call, call.param("id"))?;
        let cards: Vec<SavedCard> = match &c.stripe_customer {
            Some(sc) => {
                Billing::merchant(&call.ctx, &m.id, call.livemode())?
                    .saved_cards(sc)
                    .await?
            }
            None => Vec::new(),
        };
        Reply::json(200, &List::new(cards, false))
    })
    .await
}

/// `DELETE /v1/customers/{id}/payment_methods/{pm}`: only that customer's card.
pub async fn detach(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let c = load(&call, call.param("id"))?;
        let pm = call.param("pm").to_owned();
        let missing = || ApiError::not_found("payment_method").with_param("pm");
        let Some(sc) = c
            .stripe_customer
            .as_deref()
            .filter(|_| shared::billing::is_id(&pm, "pm_"))
        else {
            return Err(missing().into());
        };
        let billing = Billing::merchant(&call.ctx, &m.id, call.livemode())?;
        if billing.saved_card(sc, &pm).await?.is_none() {
            return Err(missing().into());
        }
        billing.detach(&pm).await?;
        Reply::json(
            200,
            &serde_json::json!({"id": pm, "object": "payment_method", "deleted": true}),
        )
    })
    .await
}
