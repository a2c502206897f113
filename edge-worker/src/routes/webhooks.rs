//! Signed callbacks from providers (API.md, "Callbacks from providers"). A bad or
//! missing signature changes nothing; a duplicate is a 200 that changes nothing;
//! an event for an unknown object is recorded and otherwise ignored.

use std::future::Future;

use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use shared::keys::is_id;
use shared::stripe::{events, webhook};
use worker::{js_sys, Headers, Request, Response, Result, RouteContext};

use crate::ctx::Ctx;
use crate::http::{self, ApiResult, Fail};
use crate::merchant::store::Intent;
use crate::merchant::Object;

/// What every provider's callback shares: the context, the merchant the route
/// names, the raw body (signatures are over its exact bytes), the headers, and the
/// merchant's account for `provider`, opened only for an id of our shape (anything
/// else is no merchant of ours, and is not looked up). `handle` answers `None`
/// exactly as it answers a bad signature, checks the signature, and applies the
/// callback; its outcome, or its error, is the answer.
async fn callback<F, Fut>(
    mut req: Request,
    rc: RouteContext<Object>,
    provider: Provider,
    handle: F,
) -> Result<Response>
where
    F: FnOnce(Ctx, String, Vec<u8>, Headers, Option<ProviderAccount>) -> Fut,
    Fut: Future<Output = ApiResult<&'static str>>,
{
    let outcome: ApiResult<&'static str> = async {
        let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
        let merchant_id = rc.param("merchant_id").cloned().unwrap_or_default();
        let body = http::read_body(&mut req).await?;
        // The object must hold this very merchant; any other id names no merchant.
        let ours = ctx.store.merchant()?.is_some_and(|m| m.id == merchant_id);
        let account = match is_id("acct_", &merchant_id) && ours {
            true => crate::routes::providers::load(&ctx, &merchant_id, provider)?,
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

pub async fn stripe(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    callback(
        req,
        rc,
        Provider::Stripe,
        |ctx, _merchant_id, body, headers, account| async move {
            let header = headers.get(webhook::SIGNATURE_HEADER)?.unwrap_or_default();
            // Unknown merchant and bad signature answer alike: nothing to learn by probing.
            // A Connect merchant has no endpoint secret of its own (its events come to
            // the platform's endpoint): an empty key would let anyone sign.
            let Some(ProviderAccount::Stripe(account)) =
                account.filter(|a| matches!(a, ProviderAccount::Stripe(s) if !s.webhook_secret.expose().is_empty()))
            else {
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
            apply_stripe_event(&ctx, &body)
        },
    )
    .await
}

/// Applies a Stripe event whose signature was checked (the merchant's endpoint
/// secret, or the platform's for Connect destination charges): once per event id,
/// through the one state machine.
fn apply_stripe_event(ctx: &Ctx, body: &[u8]) -> ApiResult<&'static str> {
    let event = events::parse_event(body).map_err(|_| {
        Fail::Api(ApiError::invalid_request(
            "invalid_event",
            "The event body is not a Stripe event.",
        ))
    })?;
    if ctx.store.event_seen("stripe", &event.id)? {
        return Ok("duplicate");
    }
    let row = match event.intent_ref() {
        Some(r) => find(ctx, r.our_intent_id, r.stripe_intent_id)?,
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
            let (_, changed) = ctx.store.apply_events(row.id(), &evs, ctx.now)?;
            (
                if changed { "applied" } else { "ignored" },
                Some(row.row.id.clone()),
            )
        }
    };
    ctx.store.record_event(
        "stripe",
        &event.id,
        object_id.as_deref(),
        &event_type(&event),
        outcome,
        ctx.now,
    )?;
    Ok(outcome)
}

/// `POST /v1/webhooks/stripe/platform`, in the Worker: the platform's endpoint, where
/// Stripe sends the events of Connect destination charges (they live on the
/// platform's account). Checked under `STRIPE_PLATFORM_WEBHOOK_SECRET`, then handed
/// to the merchant whose intent the event names (our scoped id in its metadata).
pub async fn stripe_platform(mut req: Request, env: &worker::Env) -> Result<Response> {
    let outcome: ApiResult<Option<(String, Vec<u8>)>> = async {
        let body = http::read_body(&mut req).await?;
        let header = req
            .headers()
            .get(webhook::SIGNATURE_HEADER)?
            .unwrap_or_default();
        let secret = shared::secrets::Secret::new(
            env.secret("STRIPE_PLATFORM_WEBHOOK_SECRET")
                .map(|s| s.to_string())
                .unwrap_or_default(),
        );
        if secret.expose().is_empty() {
            return Err(webhook::SignatureError::Mismatch.to_api_error().into());
        }
        webhook::verify(
            &header,
            &body,
            &secret,
            crate::ctx::now(),
            webhook::DEFAULT_TOLERANCE,
        )
        .map_err(|e| Fail::Api(e.to_api_error()))?;
        let event = events::parse_event(&body).map_err(|_| {
            Fail::Api(ApiError::invalid_request(
                "invalid_event",
                "The event body is not a Stripe event.",
            ))
        })?;
        let merchant = event
            .intent_ref()
            .and_then(|r| r.our_intent_id)
            .and_then(|id| shared::keys::scoped_id_merchant("pi_", id));
        Ok(merchant.map(|m| (m, body)))
    }
    .await;
    match outcome {
        Ok(Some((merchant, body))) => {
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
            let inner =
                Request::new_with_init(&format!("https://merchant{PLATFORM_EVENT_PATH}"), &init)?;
            crate::merchant::merchant_stub(env, &merchant)?
                .fetch_with_request(inner)
                .await
        }
        // Not about one of our intents (an account update, say): received, nothing to do.
        Ok(None) => http::json(
            200,
            &serde_json::json!({"received": true, "outcome": "ignored"}),
        ),
        Err(f) => http::error(&f.into_api("POST", "/v1/webhooks/stripe/platform")),
    }
}

/// Internal: where the Worker hands a verified platform event to its merchant's object.
pub const PLATFORM_EVENT_PATH: &str = "/_internal/webhooks/stripe/platform";

pub async fn stripe_platform_event(mut req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    let outcome = async {
        let body = http::read_body(&mut req).await?;
        apply_stripe_event(&ctx, &body)
    }
    .await;
    match outcome {
        Ok(outcome) => http::json(
            200,
            &serde_json::json!({"received": true, "outcome": outcome}),
        ),
        Err(f) => http::error(&f.into_api("POST", "/v1/webhooks/stripe/platform")),
    }
}

fn event_type(ev: &events::StripeEvent) -> String {
    use events::StripeEventKind as K;
    match &ev.kind {
        K::PaymentIntent { event_type, .. } => format!("payment_intent.{event_type:?}"),
        K::ChargeRefunded { .. } => "charge.refunded".to_owned(),
        K::Unhandled { event_type } => event_type.clone(),
    }
}

/// Our intent for a provider event: by our id in the provider's metadata, else by the
/// provider's reference — always within this merchant's object.
fn find(ctx: &Ctx, ours: Option<&str>, theirs: Option<&str>) -> ApiResult<Option<Intent>> {
    if let Some(id) = ours.filter(|id| is_id("pi_", id)) {
        return ctx.store.find_intent(id);
    }
    match theirs {
        Some(reference) => ctx.store.intent_by_reference(Provider::Stripe, reference),
        None => Ok(None),
    }
}

/// `POST /v1/webhooks/cashcloud/{merchant_id}`: form fields `method, status, time,
/// control, hash`. The control hash (constant time) and the time (300 s) are checked;
/// then Cashcloud's own API is asked for the state — a callback alone never changes
/// anything (it could claim "completed" while Cashcloud says "pending").
pub async fn cashcloud(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    use shared::cashcloud::callback::{self, CallbackFields, CallbackMethod};
    callback(
        req,
        rc,
        Provider::Cashcloud,
        |ctx, merchant_id, body, _, account| async move {
            // The fields are read before the account is looked at: a malformed callback
            // says so whichever merchant it names.
            let fields = CallbackFields::parse(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
            let Some(ProviderAccount::Cashcloud(account)) = account else {
                return Err(callback::CallbackError::Mismatch.to_api_error().into());
            };
            let cb = callback::verify_callback(
                &fields,
                &account.api_password,
                ctx.now,
                callback::DEFAULT_TOLERANCE,
            )
            .map_err(|e| Fail::Api(e.to_api_error()))?;
            let (method, kind) = match &cb.method {
                CallbackMethod::Request => ("request", "cashcloud.request"),
                CallbackMethod::Refund => ("refund", "cashcloud.refund"),
                CallbackMethod::Other(_) => ("other", "cashcloud.other"),
            };
            // A callback names no event id: the signed fields are its identity, so a
            // replay of the same callback is a duplicate.
            let event_id = format!("{method}:{}:{}:{}", cb.hash, cb.status.id(), cb.time);
            if ctx.store.event_seen("cashcloud", &event_id)? {
                return Ok("duplicate");
            }
            let (outcome, object_id) = match cb.method {
                CallbackMethod::Request => match match ctx
                    .store
                    .intent_by_reference(Provider::Cashcloud, &cb.hash)?
                {
                    Some(intent) => Some(intent),
                    None => {
                        crate::providers::cashcloud::adopt(&ctx, &merchant_id, &cb.hash).await?
                    }
                } {
                    None => ("unknown_object", None),
                    Some(intent) => {
                        let before = (intent.row.status.clone(), intent.balances);
                        let id = intent.row.id.clone();
                        let after = crate::providers::sync(&ctx, &merchant_id, intent).await?;
                        let changed = (after.row.status.clone(), after.balances) != before;
                        (if changed { "applied" } else { "ignored" }, Some(id))
                    }
                },
                CallbackMethod::Refund => match ctx.store.refund_by_reference(&cb.hash)? {
                    None => ("unknown_object", None),
                    Some(r) => {
                        let intent = ctx.store.intent(&r.payment_intent)?;
                        let before = intent.balances;
                        let after = crate::providers::sync(&ctx, &merchant_id, intent).await?;
                        (
                            if after.balances != before {
                                "applied"
                            } else {
                                "ignored"
                            },
                            Some(r.payment_intent),
                        )
                    }
                },
                CallbackMethod::Other(_) => ("ignored", None),
            };
            ctx.store.record_event(
                "cashcloud",
                &event_id,
                object_id.as_deref(),
                kind,
                outcome,
                ctx.now,
            )?;
            Ok(outcome)
        },
    )
    .await
}

/// `POST /v1/webhooks/worldpay/{merchant_id}`: `Event-Signature: {keyId}/SHA256/{hex}`,
/// possibly several entries in any order; ours is picked by keyId and compared in
/// constant time. Duplicates (by eventId) and out-of-order events change nothing.
pub async fn worldpay(req: Request, rc: RouteContext<Object>) -> Result<Response> {
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
            if ctx.store.event_seen("worldpay", &n.event_id)? {
                return Ok("duplicate");
            }
            let (outcome, object_id) =
                match crate::providers::worldpay::on_notification(&ctx, &merchant_id, &n).await? {
                    None => ("unknown_object", None),
                    Some((id, changed)) => (if changed { "applied" } else { "ignored" }, Some(id)),
                };
            let kind = format!("worldpay.{}", n.event_details.kind);
            ctx.store.record_event(
                "worldpay",
                &n.event_id,
                object_id.as_deref(),
                &kind,
                outcome,
                ctx.now,
            )?;
            Ok(outcome)
        },
    )
    .await
}
