//! `/v1/merchants/me/providers…`: merchants hand over their provider credentials.
//! They are sealed (AES-256-GCM, merchant id and provider as associated data)
//! before they touch D1, and only ever read back masked.

use std::str::FromStr;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::Deserialize;
use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use shared::secrets::provider_aad;
use worker::{Request, Response, Result, RouteContext};

use crate::auth::Need;
use crate::call::{serve, Call};
use crate::ctx::{random, Ctx};
use crate::http::{decode_error, ApiResult, Fail, Reply};

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

pub async fn put(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, put_account).await
}

async fn put_account(call: Call) -> ApiResult<Reply> {
    let provider = provider_param(&call)?;
    let m = call.merchant()?;
    let account = ProviderAccount::from_json(provider, &call.body)
        .map_err(|e| Fail::Api(decode_error(&e)))?;
    account.validate(m.livemode != 0)?;
    let ctx = &call.ctx;
    let sealed = ctx.keyring()?.seal(
        random(),
        &provider_aad(&m.id, provider.as_str()),
        account.sealed_document().expose().as_bytes(),
    );
    let masked = account.masked();
    ctx.db
        .prepare(
            "INSERT INTO provider_accounts (merchant_id, provider, sealed, masked, livemode, updated) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (merchant_id, provider) DO UPDATE SET \
             sealed = excluded.sealed, masked = excluded.masked, livemode = excluded.livemode, updated = excluded.updated",
        )
        .bind(&[
            m.id.as_str().into(),
            provider.as_str().into(),
            B64.encode(sealed).into(),
            masked.to_string().into(),
            (m.livemode as f64).into(),
            (ctx.now as f64).into(),
        ])?
        .run()
        .await?;
    Reply::json(200, &masked)
}

#[derive(Deserialize)]
struct MaskedRow {
    masked: String,
}

pub async fn list(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let rows = call
            .ctx
            .db
            .prepare(
                "SELECT masked FROM provider_accounts WHERE merchant_id = ?1 ORDER BY provider",
            )
            .bind(&[m.id.as_str().into()])?
            .all()
            .await?
            .results::<MaskedRow>()?;
        let data: Vec<serde_json::Value> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.masked).ok())
            .collect();
        Reply::json(
            200,
            &serde_json::json!({"object": "list", "data": data, "has_more": false}),
        )
    })
    .await
}

pub async fn delete(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let provider = provider_param(&call)?;
        let m = call.merchant()?;
        let gone = call
            .ctx
            .db
            .prepare("DELETE FROM provider_accounts WHERE merchant_id = ?1 AND provider = ?2")
            .bind(&[m.id.as_str().into(), provider.as_str().into()])?
            .run()
            .await?
            .meta()?
            .and_then(|x| x.changes)
            .unwrap_or(0);
        if gone == 0 {
            return Err(ApiError::not_found("provider account").into());
        }
        Reply::json(
            200,
            &serde_json::json!({"provider": provider.as_str(), "deleted": true}),
        )
    })
    .await
}

/// Opens a merchant's credentials for one provider call. `None`: not configured.
pub async fn load(
    ctx: &Ctx,
    merchant_id: &str,
    provider: Provider,
) -> ApiResult<Option<ProviderAccount>> {
    #[derive(Deserialize)]
    struct Row {
        sealed: String,
    }
    let row = ctx
        .db
        .prepare("SELECT sealed FROM provider_accounts WHERE merchant_id = ?1 AND provider = ?2")
        .bind(&[merchant_id.into(), provider.as_str().into()])?
        .first::<Row>(None)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let internal = |what: &str| {
        Fail::Internal(worker::Error::RustError(format!(
            "sealed {what} for {merchant_id}/{}",
            provider.as_str()
        )))
    };
    let sealed = B64.decode(row.sealed).map_err(|_| internal("encoding"))?;
    let plain = ctx
        .keyring()?
        .open(&sealed, &provider_aad(merchant_id, provider.as_str()))
        .map_err(|_| internal("document does not open"))?;
    let account =
        ProviderAccount::from_json(provider, &plain).map_err(|_| internal("document shape"))?;
    Ok(Some(account))
}
