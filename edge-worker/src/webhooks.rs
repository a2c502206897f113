//! Signed callbacks from providers (API.md, "Callbacks from providers"). A bad or
//! missing signature changes nothing; a duplicate is a 200 that changes nothing;
//! an event for an unknown object is recorded and otherwise ignored.

use std::future::Future;

use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use shared::keys::is_id;
use shared::stripe::{events, webhook};
use worker::{Headers, Request, Response, Result, RouteContext};

use crate::accounts;
use crate::ctx::Ctx;
use crate::http::{self, ApiResult, Fail};
use crate::intents::{apply_events, IntentRow};

/// What every provider's callback shares: the context, the merchant the route
/// names, the raw body (signatures are over its exact bytes), the headers, and the
/// merchant's account for `provider`, opened only for an id of our shape (anything
/// else is no merchant of ours, and is not looked up). `handle` answers `None`
/// exactly as it answers a bad signature, checks the signature, and applies the
/// callback; its outcome, or its error, is the answer.
async fn callback<F, Fut>(
    mut req: Request,
    rc: RouteContext<()>,
    provider: Provider,
    handle: F,
) -> Result<Response>
where
    F: FnOnce(Ctx, String, Vec<u8>, Headers, Option<ProviderAccount>) -> Fut,
    Fut: Future<Output = ApiResult<&'static str>>,
{
    let outcome: ApiResult<&'static str> = async {
        let ctx = Ctx::new(rc.env.clone())?;
        let merchant_id = rc.param("merchant_id").cloned().unwrap_or_default();
        let body = http::read_body(&mut req).await?;
        let account = match is_id("acct_", &merchant_id) {
            true => accounts::load(&ctx, &merchant_id, provider).await?,
            false => None,
        };
        handle(ctx, merchant_id, body, req.headers().clone(), account).await
    }
    .await;
    match outcome {
        Ok(outcome) => http::json(
            200,
            &serde_json::json!({"received": true, "outcome": outcome}),
        ),
        Err(f) => http::error(&f.into_api("POST", &format!("/v1/webhooks/{provider}"))),
    }
}

pub async fn stripe(req: Request, rc: RouteContext<()>) -> Result<Response> {
    callback(
        req,
        rc,
        Provider::Stripe,
        |ctx, merchant_id, body, headers, account| async move {
            let header = headers.get(webhook::SIGNATURE_HEADER)?.unwrap_or_default();
            // Unknown merchant and bad signature answer alike: nothing to learn by probing.
            let Some(ProviderAccount::Stripe(account)) = account else {
                return Err(webhook::SignatureError::Mismatch.to_api_error().into());
            };
            webhook::verify(
                &header,
                &body,
                &account.webhook_secret,
                ctx.now,
                webhook::DEFAULT_TOLERANCE,
            )
            .map_err(|e| Fail::Api(e.to_api_error()))?;
            let event = events::parse_event(&body).map_err(|_| {
                Fail::Api(ApiError::invalid_request(
                    "invalid_event",
                    "The event body is not a Stripe event.",
                ))
            })?;
            if seen(&ctx, "stripe", &merchant_id, &event.id).await? {
                return Ok("duplicate");
            }
            let row = match event.intent_ref() {
                Some(r) => find(&ctx, &merchant_id, r.our_intent_id, r.stripe_intent_id).await?,
                None => None,
            };
            let (outcome, object_id) = match row {
                None => ("unknown_object", None),
                Some(row) => {
                    let evs = events::event_to_events(&event, &row.state()?).map_err(|e| {
                        Fail::Internal(worker::Error::RustError(format!(
                            "stripe event {}: {e:?}",
                            event.id
                        )))
                    })?;
                    let after = apply_events(&ctx, &merchant_id, &row.id, &evs).await?;
                    let changed = after.version != row.version;
                    (if changed { "applied" } else { "ignored" }, Some(row.id))
                }
            };
            record(
                &ctx,
                "stripe",
                &merchant_id,
                &event.id,
                object_id.as_deref(),
                &event_type(&event),
                outcome,
            )
            .await?;
            Ok(outcome)
        },
    )
    .await
}

fn event_type(ev: &events::StripeEvent) -> String {
    use events::StripeEventKind as K;
    match &ev.kind {
        K::PaymentIntent { event_type, .. } => format!("payment_intent.{event_type:?}"),
        K::ChargeRefunded { .. } => "charge.refunded".to_owned(),
        K::Unhandled { event_type } => event_type.clone(),
    }
}

async fn seen(ctx: &Ctx, provider: &str, merchant_id: &str, event_id: &str) -> ApiResult<bool> {
    Ok(ctx
        .db
        .prepare("SELECT 1 AS x FROM provider_events WHERE provider = ?1 AND merchant_id = ?2 AND event_id = ?3")
        .bind(&[provider.into(), merchant_id.into(), event_id.into()])?
        .first::<serde_json::Value>(Some("x"))
        .await?
        .is_some())
}

/// Recorded after the event is applied: a failure in between leaves it unrecorded,
/// so the provider's retry is applied again (applying is idempotent).
async fn record(
    ctx: &Ctx,
    provider: &str,
    merchant_id: &str,
    event_id: &str,
    object_id: Option<&str>,
    kind: &str,
    outcome: &str,
) -> ApiResult<()> {
    ctx.db
        .prepare(
            "INSERT INTO provider_events (provider, merchant_id, event_id, object_id, type, outcome, received) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )
        .bind(&[
            provider.into(),
            merchant_id.into(),
            event_id.into(),
            object_id.map_or(worker::wasm_bindgen::JsValue::NULL, Into::into),
            kind.into(),
            outcome.into(),
            (ctx.now as f64).into(),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Our intent for a provider event: by our id in the provider's metadata, else by the
/// provider's reference — always within this merchant.
async fn find(
    ctx: &Ctx,
    merchant_id: &str,
    ours: Option<&str>,
    theirs: Option<&str>,
) -> ApiResult<Option<IntentRow>> {
    if let Some(id) = ours.filter(|id| is_id("pi_", id)) {
        return Ok(ctx
            .db
            .prepare("SELECT * FROM payment_intents WHERE id = ?1 AND merchant_id = ?2")
            .bind(&[id.into(), merchant_id.into()])?
            .first::<IntentRow>(None)
            .await?);
    }
    let Some(reference) = theirs else {
        return Ok(None);
    };
    Ok(ctx
        .db
        .prepare("SELECT * FROM payment_intents WHERE provider = 'stripe' AND provider_reference = ?1 AND merchant_id = ?2")
        .bind(&[reference.into(), merchant_id.into()])?
        .first::<IntentRow>(None)
        .await?)
}

/// `POST /v1/webhooks/cashcloud/{merchant_id}`: form fields `method, status, time,
/// control, hash`. The control hash (constant time) and the time (300 s) are checked;
/// then Cashcloud's own API is asked for the state — a callback alone never changes
/// anything (it could claim "completed" while Cashcloud says "pending").
pub async fn cashcloud(req: Request, rc: RouteContext<()>) -> Result<Response> {
    use shared::cashcloud::callback::{self, CallbackFields, CallbackMethod};
    callback(req, rc, Provider::Cashcloud, |ctx, merchant_id, body, _, account| async move {
        // The fields are read before the account is looked at: a malformed callback
        // says so whichever merchant it names.
        let fields = CallbackFields::parse(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
        let Some(ProviderAccount::Cashcloud(account)) = account else {
            return Err(callback::CallbackError::Mismatch.to_api_error().into());
        };
        let cb = callback::verify_callback(&fields, &account.api_password, ctx.now, callback::DEFAULT_TOLERANCE)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
        let (method, kind) = match &cb.method {
            CallbackMethod::Request => ("request", "cashcloud.request"),
            CallbackMethod::Refund => ("refund", "cashcloud.refund"),
            CallbackMethod::Other(_) => ("other", "cashcloud.other"),
        };
        // A callback names no event id: the signed fields are its identity, so a
        // replay of the same callback is a duplicate.
        let event_id = format!("{method}:{}:{}:{}", cb.hash, cb.status.id(), cb.time);
        if seen(&ctx, "cashcloud", &merchant_id, &event_id).await? {
            return Ok("duplicate");
        }
        let (outcome, object_id) = match cb.method {
            CallbackMethod::Request => {
                let row = ctx
                    .db
                    .prepare("SELECT * FROM payment_intents WHERE provider = 'cashcloud' AND provider_reference = ?1 AND merchant_id = ?2")
                    .bind(&[cb.hash.as_str().into(), merchant_id.as_str().into()])?
                    .first::<IntentRow>(None)
                    .await?;
                match row {
                    None => ("unknown_object", None),
                    Some(row) => {
                        let before = row.version;
                        let id = row.id.clone();
                        let after = crate::cashcloud_flow::sync(&ctx, &merchant_id, row, &cb.hash).await?;
                        (if after.version != before { "applied" } else { "ignored" }, Some(id))
                    }
                }
            }
            CallbackMethod::Refund => {
                #[derive(serde::Deserialize)]
                struct R {
                    payment_intent: String,
                }
                let refund = ctx
                    .db
                    .prepare("SELECT payment_intent FROM refunds WHERE provider_reference = ?1 AND merchant_id = ?2")
                    .bind(&[cb.hash.as_str().into(), merchant_id.as_str().into()])?
                    .first::<R>(None)
                    .await?;
                match refund {
                    None => ("unknown_object", None),
                    Some(r) => {
                        let row = crate::intents::load(&ctx, &merchant_id, &r.payment_intent).await?;
                        let before = row.version;
                        let setup = crate::cashcloud::CashcloudSetup::load(&ctx, &merchant_id).await?;
                        crate::cashcloud_flow::settle_pending_refunds(&ctx, &merchant_id, &setup, &row).await?;
                        let after = crate::intents::load(&ctx, &merchant_id, &r.payment_intent).await?;
                        (if after.version != before { "applied" } else { "ignored" }, Some(r.payment_intent))
                    }
                }
            }
            CallbackMethod::Other(_) => ("ignored", None),
        };
        record(&ctx, "cashcloud", &merchant_id, &event_id, object_id.as_deref(), kind, outcome).await?;
        Ok(outcome)
    })
    .await
}

/// `POST /v1/webhooks/worldpay/{merchant_id}`: `Event-Signature: {keyId}/SHA256/{hex}`,
/// possibly several entries in any order; ours is picked by keyId and compared in
/// constant time. Duplicates (by eventId) and out-of-order events change nothing.
pub async fn worldpay(req: Request, rc: RouteContext<()>) -> Result<Response> {
    use shared::worldpay::webhook;
    callback(
        req,
        rc,
        Provider::Worldpay,
        |ctx, merchant_id, body, headers, account| async move {
            let header = headers.get(webhook::SIGNATURE_HEADER)?.unwrap_or_default();
            let Some(ProviderAccount::Worldpay(account)) = account else {
                return Err(webhook::SignatureError::Mismatch.to_api_error().into());
            };
            webhook::verify(&header, &body, webhook::KEY_ID, &account.webhook_secret)
                .map_err(|e| Fail::Api(e.to_api_error()))?;
            let n = webhook::parse_notification(&body).map_err(|_| {
                Fail::Api(ApiError::invalid_request(
                    "invalid_event",
                    "The body is not a Worldpay event notification.",
                ))
            })?;
            if seen(&ctx, "worldpay", &merchant_id, &n.event_id).await? {
                return Ok("duplicate");
            }
            let (outcome, object_id) =
                match crate::worldpay::on_notification(&ctx, &merchant_id, &n).await? {
                    None => ("unknown_object", None),
                    Some((id, changed)) => (if changed { "applied" } else { "ignored" }, Some(id)),
                };
            let kind = format!("worldpay.{}", n.event_details.kind);
            record(
                &ctx,
                "worldpay",
                &merchant_id,
                &n.event_id,
                object_id.as_deref(),
                &kind,
                outcome,
            )
            .await?;
            Ok(outcome)
        },
    )
    .await
}
