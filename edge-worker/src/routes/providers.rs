//! `/v1/merchants/me/providers…`: merchants hand over their provider credentials.
//! They are sealed (AES-256-GCM, merchant id and provider as associated data)
//! before they are stored in the merchant's object, and only ever read back masked.

use std::str::FromStr;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use shared::secrets::provider_aad;
use worker::{Request, Response, Result, RouteContext};

use crate::call::{serve, Call, Need};
use crate::ctx::{random, Ctx};
use crate::http::{decode_error, ApiResult, Fail, Reply};
use crate::merchant::store::Merchant;
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
    account.validate(m.livemode != 0)?;
    Reply::json(200, &save(&call.ctx, m, &account)?)
}

/// Seals a provider account under the master key and stores it with its masked
/// view, which is returned.
pub fn save(ctx: &Ctx, m: &Merchant, account: &ProviderAccount) -> ApiResult<serde_json::Value> {
    let provider = account.provider();
    let sealed = ctx.keyring()?.seal(
        random(),
        &provider_aad(&m.id, provider.as_str()),
        account.sealed_document().expose().as_bytes(),
    );
    let masked = account.masked();
    ctx.store.put_account(
        provider,
        &B64.encode(sealed),
        &masked.to_string(),
        m.livemode,
        ctx.now,
    )?;
    Ok(masked)
}

pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let data: Vec<serde_json::Value> = call
            .ctx
            .store
            .masked_accounts()?
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
        let gone = call.ctx.store.delete_account(provider)?;
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

/// The merchant's credentials for `provider`, which a payment with it needs.
pub fn require(ctx: &Ctx, merchant_id: &str, provider: Provider) -> ApiResult<ProviderAccount> {
    load(ctx, merchant_id, provider)?.ok_or_else(|| {
        Fail::Api(ApiError::invalid_request(
            "provider_not_configured",
            format!(
                "{} is not set up for this merchant.",
                provider.display_name()
            ),
        ))
    })
}

/// Opens a merchant's credentials for one provider call. `None`: not configured.
pub fn load(
    ctx: &Ctx,
    merchant_id: &str,
    provider: Provider,
) -> ApiResult<Option<ProviderAccount>> {
    let Some(sealed) = ctx.store.sealed_account(provider)? else {
        return Ok(None);
    };
    let internal = |what: &str| {
        Fail::Internal(worker::Error::RustError(format!(
            "sealed {what} for {merchant_id}/{}",
            provider.as_str()
        )))
    };
    let sealed = B64.decode(sealed).map_err(|_| internal("encoding"))?;
    let plain = ctx
        .keyring()?
        .open(&sealed, &provider_aad(merchant_id, provider.as_str()))
        .map_err(|_| internal("document does not open"))?;
    let account =
        ProviderAccount::from_json(provider, &plain).map_err(|_| internal("document shape"))?;
    Ok(Some(account))
}
