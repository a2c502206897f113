//! A merchant's provider credentials, sealed (AES-256-GCM under the master key, with
//! the merchant id and provider as associated data) in its object, and opened only
//! for the length of one provider call.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use shared::accounts::ProviderAccount;
use shared::error::ApiError;
use shared::intent::Provider;
use shared::secrets::provider_aad;

use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail};
use crate::merchant::store::Merchant;

/// Seals a provider account under the master key and stores it, for one mode, with
/// its masked view, which is returned.
pub fn save(
    ctx: &Ctx,
    m: &Merchant,
    livemode: bool,
    account: &ProviderAccount,
) -> ApiResult<serde_json::Value> {
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
        i64::from(livemode),
        ctx.now,
    )?;
    Ok(masked)
}

/// The merchant's credentials for `provider` in one mode, which a payment with it
/// in that mode needs.
pub fn require(
    ctx: &Ctx,
    merchant_id: &str,
    provider: Provider,
    livemode: bool,
) -> ApiResult<ProviderAccount> {
    load(ctx, merchant_id, provider, livemode)?.ok_or_else(|| {
        Fail::Api(ApiError::invalid_request(
            "provider_not_configured",
            format!(
                "{} is not set up for this merchant.",
                provider.display_name()
            ),
        ))
    })
}

/// Opens a merchant's credentials (of one mode) for one provider call. `None`: not
/// configured in that mode.
pub fn load(
    ctx: &Ctx,
    merchant_id: &str,
    provider: Provider,
    livemode: bool,
) -> ApiResult<Option<ProviderAccount>> {
    let Some(sealed) = ctx.store.sealed_account(provider, livemode)? else {
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
