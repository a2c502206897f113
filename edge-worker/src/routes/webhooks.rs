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
/// applies the callback; its outcome, or its error, is the answer.
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
        let account: Option<ProviderAccount> = match is_id("acct_", &merchant_id) && ours {
            true => crate::routes::providers::load(&ctx, &merchant_id, provider)?,
            false => None,
        };
        crate::providers::webhook(
            ctx,
            provider,
            merchant_id,
            body,
            req.headers().clone(),
            account,
        )
        .await
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
