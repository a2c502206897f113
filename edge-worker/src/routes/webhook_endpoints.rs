//! `/v1/webhook_endpoints`: where a merchant's server hears of its events. The URL
//! must be public https (`shared::webhooks::check_endpoint_url`); the signing secret
//! is shown once, sealed at rest, and a roll keeps the old one signing for 24 h.

use shared::api::{CreateWebhookEndpoint, List, WebhookEndpoint, WebhookEndpointObject};
use shared::error::ApiError;
use shared::keys::{is_id, new_scoped_id};
use shared::secrets::Secret;
use shared::webhooks::{check_endpoint_url, EventType};
use std::str::FromStr;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::random;
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::outbox::seal_secret;
use crate::merchant::store::EndpointRow;
use crate::merchant::Object;

/// How long a rolled secret keeps signing beside the new one.
const ROLL_OVERLAP_SECONDS: i64 = 24 * 3600;
/// Endpoints per merchant and mode.
const MAX_ENDPOINTS: usize = 16;

fn bad(param: &str, msg: impl Into<String>) -> Fail {
    Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
}

fn missing() -> Fail {
    Fail::Api(ApiError::not_found("webhook_endpoint").with_param("id"))
}

fn new_secret() -> Secret {
    Secret::new(format!("whsec_{}", hex::encode(random::<24>())))
}

fn view(e: &EndpointRow, secret: Option<&Secret>, clock: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        id: e.id.clone(),
        object: WebhookEndpointObject::WebhookEndpoint,
        url: e.url.clone(),
        enabled_events: e.enabled_events(),
        secret: secret.map(|s| s.expose().to_owned()),
        previous_secret_expires: e.previous_until.filter(|until| *until > clock),
        livemode: e.livemode != 0,
        created: e.created,
    }
}

/// The local stack lets endpoints on loopback through (a test receiver); production
/// never sets `WEBHOOKS_ALLOW_LOOPBACK`.
fn allow_loopback(call: &Call) -> bool {
    call.ctx
        .env
        .var("WEBHOOKS_ALLOW_LOOPBACK")
        .is_ok_and(|v| v.to_string() == "true")
}

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let input: CreateWebhookEndpoint = call.json()?;
        let m = call.merchant()?;
        let livemode = call.livemode();
        check_endpoint_url(&input.url, allow_loopback(&call))
            .map_err(|why| bad("url", why.to_string()))?;
        let mut events = Vec::new();
        for e in &input.enabled_events {
            if e != "*" && EventType::from_str(e).is_err() {
                return Err(bad("enabled_events", format!("Unknown event type: {e}.")));
            }
            if !events.contains(e) {
                events.push(e.clone());
            }
        }
        if call.ctx.store.endpoints(livemode)?.len() >= MAX_ENDPOINTS {
            return Err(bad(
                "url",
                format!("A merchant has at most {MAX_ENDPOINTS} webhook endpoints per mode."),
            ));
        }
        let id = new_scoped_id("we_", &m.id, &random());
        let secret = new_secret();
        let row = EndpointRow {
            sealed: seal_secret(&call.ctx, &m.id, &id, &secret)?,
            id,
            url: input.url,
            enabled_events: serde_json::to_string(&events)
                .map_err(|e| worker::Error::RustError(e.to_string()))?,
            previous_sealed: None,
            previous_until: None,
            livemode: i64::from(livemode),
            created: call.ctx.now,
        };
        call.ctx.store.insert_endpoint(&row)?;
        Reply::json(200, &view(&row, Some(&secret), call.ctx.now))
    })
    .await
}

/// The endpoint `:id` of the caller's mode.
fn endpoint(call: &Call) -> ApiResult<EndpointRow> {
    let id = call.param("id");
    if !is_id("we_", id) {
        return Err(missing());
    }
    let livemode = call.livemode();
    call.ctx.store.endpoint(id, livemode)?.ok_or_else(missing)
}

pub async fn retrieve(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let e = endpoint(&call)?;
        let clock = call.ctx.store.clock_now(call.ctx.now)?;
        Reply::json(200, &view(&e, None, clock))
    })
    .await
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let livemode = call.livemode();
        let clock = call.ctx.store.clock_now(call.ctx.now)?;
        let data = call
            .ctx
            .store
            .endpoints(livemode)?
            .iter()
            .map(|e| view(e, None, clock))
            .collect();
        Reply::json(200, &List::new(data, false))
    })
    .await
}

pub async fn delete(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let e = endpoint(&call)?;
        call.ctx.store.delete_endpoint(&e.id)?;
        Reply::json(
            200,
            &serde_json::json!({ "id": e.id, "object": "webhook_endpoint", "deleted": true }),
        )
    })
    .await
}

/// A new secret, shown once; the old one signs beside it for 24 h (on the object's
/// clock), so the merchant's servers can switch without missing an event.
pub async fn roll_secret(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let e = endpoint(&call)?;
        let clock = call.ctx.store.clock_now(call.ctx.now)?;
        let secret = new_secret();
        let sealed = seal_secret(&call.ctx, &m.id, &e.id, &secret)?;
        call.ctx
            .store
            .roll_endpoint_secret(&e.id, &sealed, clock + ROLL_OVERLAP_SECONDS)?;
        let e = endpoint(&call)?;
        Reply::json(200, &view(&e, Some(&secret), clock))
    })
    .await
}
