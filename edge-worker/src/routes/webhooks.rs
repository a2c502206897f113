//! Signed callbacks from providers (API.md, "Callbacks from providers"). A bad or
//! missing signature changes nothing; a duplicate is a 200 that changes nothing;
//! an event for an unknown object is recorded and otherwise ignored. What each
//! provider's callback means is in its module under `providers/`.

use shared::accounts::ProviderAccount;
use shared::intent::Provider;
use shared::keys::is_id;
use worker::{Request, Response, Result, RouteContext};

use crate::ctx::Ctx;
use crate::http::{self, ApiResult};
use crate::merchant::Object;

/// What every provider's callback shares: the context, the merchant the route
/// names, the raw body (signatures are over its exact bytes), the headers, and the
/// merchant's account for `provider`, opened only for an id of our shape held by
/// this very object (anything else is no merchant of ours). The provider's handler
/// answers a missing account exactly as a bad signature, checks the signature, and
/// applies the callback; its outcome, or its error, is the answer. Test and live
/// credentials sign with different secrets: the test account is tried first, then
/// the live one, and the callback acts only on objects of the mode whose secret
/// verified it.
async fn callback(
    mut req: Request,
    rc: RouteContext<Object>,
    provider: Provider,
) -> Result<Response> {
    let outcome: ApiResult<&'static str> = async {
        let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
        let merchant_id = rc.param("merchant_id").cloned().unwrap_or_default();
        let body = http::read_body(&mut req).await?;
        let ours = ctx.store.merchant()?.is_some_and(|m| m.id == merchant_id);
        let known = is_id("acct_", &merchant_id) && ours;
        let account = |livemode| -> ApiResult<Option<ProviderAccount>> {
            match known {
                true => crate::merchant::accounts::load(&ctx, &merchant_id, provider, livemode),
                false => Ok(None),
            }
        };
        let (test, live) = (account(false)?, account(true)?);
        let headers = req.headers().clone();
        let first = crate::providers::webhook(
            Ctx::new(rc.data.storage(), rc.env.clone()),
            provider,
            merchant_id.clone(),
            body.clone(),
            headers.clone(),
            test,
            false,
        )
        .await;
        match (first, live) {
            (Err(e), Some(live)) => crate::providers::webhook(
                ctx,
                provider,
                merchant_id,
                body,
                headers,
                Some(live),
                true,
            )
            .await
            .map_err(|_| e),
            (outcome, _) => outcome,
        }
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
    callback(req, rc, Provider::Stripe).await
}

pub async fn cashcloud(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    callback(req, rc, Provider::Cashcloud).await
}

pub async fn worldpay(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    callback(req, rc, Provider::Worldpay).await
}

/// `POST /v1/webhooks/stripe/platform`, answered by the Worker: the event is checked
/// (providers/stripe.rs), then handed to the object of the merchant whose intent it
/// names.
pub async fn stripe_platform(mut req: Request, env: &worker::Env) -> Result<Response> {
    let outcome: ApiResult<Option<(String, Vec<u8>)>> = async {
        let body = http::read_body(&mut req).await?;
        let merchant = crate::providers::stripe::platform_event_merchant(
            req.headers(),
            env,
            &body,
            crate::ctx::now(),
        )?;
        Ok(merchant.map(|m| (m, body)))
    }
    .await;
    match outcome {
        Ok(Some((merchant, body))) => {
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post).with_body(Some(
                worker::js_sys::Uint8Array::from(body.as_slice()).into(),
            ));
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
        crate::providers::stripe::platform_event(&ctx, &body)
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
