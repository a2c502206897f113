//! `/v1/merchants/me/providers…`: merchants hand over their provider credentials.
//! They are sealed (`merchant::accounts`) before they are stored in the merchant's
//! object, and only ever read back masked.

use std::str::FromStr;

use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::http::{decode_error, ApiResult, Fail, Reply};
use crate::merchant::Object;

fn provider_param(call: &Call) -> ApiResult<Provider> {
    Provider::from_str(call.param("provider")).map_err(|_| {
        Fail::Api(
            ApiError::invalid_request(
                "provider_unknown",
                "Unknown provider: use stripe, worldpay or cashcloud.",
            )
            .with_param("provider"),
        )
    })
}

pub async fn put(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, put_account).await
}

async fn put_account(call: Call) -> ApiResult<Reply> {
    let provider = provider_param(&call)?;
    let m = call.merchant()?;
    let account = ProviderAccount::from_json(provider, &call.body)
        .map_err(|e| Fail::Api(decode_error(&e)))?;
    account.validate(call.livemode())?;
    Reply::json(
        200,
        &crate::merchant::accounts::save(&call.ctx, m, call.livemode(), &account)?,
    )
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let data: Vec<serde_json::Value> = call
            .ctx
            .store
            .masked_accounts(call.livemode())?
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect();
        Reply::json(
            200,
            &serde_json::json!({"object": "list", "data": data, "has_more": false}),
        )
    })
    .await
}

pub async fn delete(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let provider = provider_param(&call)?;
        call.merchant()?;
        let gone = call.ctx.store.delete_account(provider, call.livemode())?;
        if !gone {
            return Err(ApiError::not_found("provider account").into());
        }
        Reply::json(
            200,
            &serde_json::json!({"provider": provider.as_str(), "deleted": true}),
        )
    })
    .await
}
