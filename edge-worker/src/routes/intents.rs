//! `/v1/payment_intents`: create, read, list, cancel, capture. Provider work goes
//! through `providers`; the status only ever changes through the domain's state
//! machine, and the amounts are sums over the merchant's ledger.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use shared::api::{CreatePaymentIntent, List};
use shared::error::ApiError;
use shared::fees::platform_fee;
use shared::keys::{client_secret, constant_time_eq, is_id, new_scoped_id};
use shared::money::Money;
use shared::query::IntentListParams;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::{Intent, IntentFilter, NewIntent};
use crate::merchant::Object;
use crate::providers;

/// This merchant's intent by the id in a request; anyone else's is as missing as none.
pub fn load(call: &Call, id: &str) -> ApiResult<Intent> {
    if !is_id("pi_", id) {
        return Err(ApiError::not_found("payment_intent")
            .with_param("id")
            .into());
    }
    let intent = call.ctx.store.intent(id)?;
    // The other mode's objects are as missing as another merchant's.
    if (intent.row.livemode != 0) != call.livemode() {
        return Err(ApiError::not_found("payment_intent")
            .with_param("id")
            .into());
    }
    Ok(intent)
}

/// Loads the caller's intent; with a publishable key only if `secret` is its client
/// secret (compared in constant time). A wrong secret is as missing as any intent.
pub fn load_for_widget(call: &Call, secret: Option<&str>) -> ApiResult<Intent> {
    let intent = load(call, call.param("id"))?;
    if call.is_publishable() {
        let given = secret.unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), intent.row.client_secret.as_bytes()) {
            return Err(ApiError::not_found("payment_intent")
                .with_param("id")
                .into());
        }
    }
    Ok(intent)
}

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, create_intent).await
}

async fn create_intent(call: Call) -> ApiResult<Reply> {
    let input: CreatePaymentIntent = call.json()?;
    let new = input.validate()?;
    let m = call.merchant()?;
    let ctx = &call.ctx;
    // The provider's own rules (currencies, capture methods, limits) before anything
    // is written, so an intent that could never be confirmed is never made.
    providers::check_new_intent(ctx, &m.id, &new, call.livemode()).await?;
    let fee_setting = Decimal::from_str(&m.platform_fee).map_err(|_| {
        Fail::Internal(worker::Error::RustError(format!(
            "{}: bad platform_fee",
            m.id
        )))
    })?;
    let fee = platform_fee(&new.amount, fee_setting);
    let id = new_scoped_id("pi_", &m.id, &random());
    let secret = client_secret(&id, &random());
    let metadata: Option<String> = (!new.metadata.is_empty())
        .then(|| serde_json::to_string::<BTreeMap<String, String>>(&new.metadata))
        .transpose()
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    ctx.store.insert_intent(&NewIntent {
        id: &id,
        client_secret: &secret,
        provider: new.provider,
        amount: new.amount,
        platform_fee: fee,
        capture_method: new.capture_method,
        description: new.description.as_deref(),
        order_reference: new.order_reference.as_deref(),
        customer: new.customer.as_deref(),
        setup_future_usage: new.setup_future_usage.map(|_| "off_session"),
        metadata: metadata.as_deref(),
        livemode: call.livemode(),
        now: ctx.now,
    })?;
    Reply::json(200, &ctx.store.intent(&id)?.to_api()?)
}

/// `GET /v1/payment_intents/{id}`: secret key, or publishable key plus the
/// intent's own client secret. An open outcome is read back from the provider first.
pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let intent = load_for_widget(&call, secret.as_deref())?;
        let intent = providers::sync(&call.ctx, &call.merchant()?.id, intent).await?;
        Reply::json(200, &intent.to_api()?)
    })
    .await
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, list_intents).await
}

async fn list_intents(call: Call) -> ApiResult<Reply> {
    call.merchant()?;
    let p = IntentListParams::parse(&call.query_string())?;
    let limit = p.limit;
    let mut filter = IntentFilter {
        livemode: call.livemode(),
        limit: limit + 1,
        status: p.status,
        provider: p.provider,
        created_gte: p.created_gte,
        ..IntentFilter::default()
    };
    if let Some(after) = p.starting_after {
        // Newest first: continue strictly below the cursor's (created, id).
        let cursor = load(&call, &after).map_err(|_| {
            Fail::Api(
                ApiError::invalid_request("parameter_invalid", "No such payment_intent.")
                    .with_param("starting_after"),
            )
        })?;
        filter.before = Some((cursor.row.created, cursor.row.id.clone()));
    }
    let mut rows = call.ctx.store.list_intents(&filter)?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data = rows
        .iter()
        .map(Intent::to_api)
        .collect::<ApiResult<Vec<_>>>()?;
    Reply::json(200, &List::new(data, has_more))
}

/// `POST /v1/payment_intents/{id}/cancel`: releases the hold.
pub async fn cancel(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let _: EmptyBody = call.json()?;
        let intent = load(&call, call.param("id"))?;
        let intent = providers::cancel(&call.ctx, &m.id, intent).await?;
        Reply::json(200, &intent.to_api()?)
    })
    .await
}

/// `POST /v1/payment_intents/{id}/capture` with `{amount?}`: up to what was
/// authorised (hotel minibar: authorise 300.00, capture 247.35); the rest is released.
pub async fn capture(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let body: shared::api::CaptureRequest = call.json()?;
        let intent = load(&call, call.param("id"))?;
        let amount = match &body.amount {
            Some(a) => Some(
                Money::parse(a, intent.currency()?)
                    .map_err(|e| Fail::Api(e.to_api_error("amount")))?,
            ),
            None => None,
        };
        let intent = providers::capture(&call.ctx, &m.id, intent, amount).await?;
        Reply::json(200, &intent.to_api()?)
    })
    .await
}

/// A POST that takes no parameters still refuses unknown ones.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}
