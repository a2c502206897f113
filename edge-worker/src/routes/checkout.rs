//! The widget's two routes: what it needs to start (`…/checkout`) and the customer's
//! confirmation (`…/confirm`). Publishable key plus the intent's client secret; the
//! merchant's server confirms with its secret key, also off session (a saved card).

use shared::api::Checkout;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Need};
use crate::http::Reply;
use crate::merchant::Object;
use crate::providers::{self, ConfirmRequest};

pub async fn checkout(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let intent = crate::routes::intents::load_for_widget(&call, secret.as_deref())?;
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
        let intent = crate::routes::intents::load_for_widget(&call, body.client_secret.as_deref())?;
        let m = call.merchant()?;
        if body.off_session == Some(true) {
            // The customer is not there: only the merchant's server may do this.
            if call.is_publishable() {
                return Err(shared::error::ApiError::permission(
                    "off_session charges need your secret key, from your server.",
                )
                .into());
            }
            let intent = crate::billing::confirm_off_session(&call.ctx, m, intent, &body).await?;
            return Reply::json(200, &intent.to_api()?);
        }
        let intent = providers::confirm(&call.ctx, m, intent, &body, &call.origin()).await?;
        Reply::json(200, &intent.to_api()?)
    })
    .await
}
