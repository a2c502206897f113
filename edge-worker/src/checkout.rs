//! The widget's two routes: what it needs to start (`…/checkout`) and the customer's
//! confirmation (`…/confirm`). Publishable key plus the intent's client secret.

use shared::api::{Checkout, ProviderSetup};
use shared::error::ApiError;
use shared::intent::Provider;
use shared::keys::constant_time_eq;
use worker::{Request, Response, Result, RouteContext};

use crate::auth::Need;
use crate::call::{serve, Call};
use crate::http::{ApiResult, Reply};
use crate::intents::{load, IntentRow};
use crate::payments::{self, ConfirmBody};
use crate::stripe::StripeSetup;

/// Loads the caller's intent; with a publishable key only if `secret` is its client
/// secret (compared in constant time). A wrong secret is as missing as any intent.
pub async fn load_for_widget(call: &Call, secret: Option<&str>) -> ApiResult<IntentRow> {
    let m = call.merchant()?;
    let row = load(&call.ctx, &m.id, call.param("id")).await?;
    if call.is_publishable() {
        let given = secret.unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), row.client_secret.as_bytes()) {
            return Err(ApiError::not_found("payment_intent")
                .with_param("id")
                .into());
        }
    }
    Ok(row)
}

pub async fn checkout(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let row = load_for_widget(&call, secret.as_deref()).await?;
        let m = call.merchant()?;
        let row = payments::sync(&call.ctx, &m.id, row).await?;
        let provider = match row.record()?.provider {
            Provider::Stripe => {
                let setup = StripeSetup::load(&call.ctx, &m.id).await?;
                ProviderSetup::Stripe {
                    js_url: call.ctx.env.var("STRIPE_JS_URL")?.to_string(),
                    publishable_key: setup.publishable_key(&call.ctx)?,
                    account: None,
                }
            }
            Provider::Worldpay => ProviderSetup::Worldpay,
            Provider::Cashcloud => ProviderSetup::Cashcloud,
        };
        Reply::json(
            200,
            &Checkout {
                payment_intent: row.to_api()?,
                provider,
            },
        )
    })
    .await
}

pub async fn confirm(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let body: ConfirmBody = call.json()?;
        let row = load_for_widget(&call, body.client_secret.as_deref()).await?;
        let m = call.merchant()?;
        let row = payments::confirm(&call.ctx, &m.id, row, &body, &call.origin()).await?;
        Reply::json(200, &row.to_api()?)
    })
    .await
}
