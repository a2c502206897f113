//! The widget's two routes: what it needs to start (`…/checkout`) and the customer's
//! confirmation (`…/confirm`). Publishable key plus the intent's client secret.

use shared::api::Checkout;
use shared::error::ApiError;
use shared::keys::constant_time_eq;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::http::{ApiResult, Reply};
use crate::merchant::store::Intent;
use crate::merchant::Object;
use crate::providers::{self, ConfirmRequest};

/// Loads the caller's intent; with a publishable key only if `secret` is its client
/// secret (compared in constant time). A wrong secret is as missing as any intent.
pub fn load_for_widget(call: &Call, secret: Option<&str>) -> ApiResult<Intent> {
    let intent = crate::routes::intents::load(call, call.param("id"))?;
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

pub async fn checkout(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let intent = load_for_widget(&call, secret.as_deref())?;
        let m = call.merchant()?;
        let intent = providers::sync(&call.ctx, &m.id, intent).await?;
        let provider = providers::browser_setup(&call.ctx, &m.id, &intent)?;
        Reply::json(
            200,
            &Checkout {
                payment_intent: intent.to_api()?,
                provider,
            },
        )
    })
    .await
}

pub async fn confirm(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let body: ConfirmRequest = call.json()?;
        let intent = load_for_widget(&call, body.client_secret.as_deref())?;
        let m = call.merchant()?;
        let intent = providers::confirm(&call.ctx, m, intent, &body, &call.origin()).await?;
        Reply::json(200, &intent.to_api()?)
    })
    .await
}
