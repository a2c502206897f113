//! Who is calling: `Authorization: Bearer` with the admin token, a merchant's
//! secret key, or a merchant's publishable key (API.md, Conventions: Auth).

use serde::Deserialize;
use shared::error::ApiError;
use shared::keys::{constant_time_eq, key_lookup_hash, parse_api_key, KeyKind};
use worker::Request;

use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};

/// Domain separation for key hashes. Keys carry 192 random bits, so a keyed
/// hash needs no secret pepper — and master-key rotation cannot orphan them.
pub const KEY_HASH_LABEL: &[u8] = b"edge-checkout/api-key/v1";

/// The merchant row as every handler sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub country: String,
    pub default_currency: String,
    pub platform_fee: String,
    pub allowed_origins: String,
    pub livemode: i64,
    pub created: i64,
}

impl Merchant {
    pub fn origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins().iter().any(|o| o == origin)
    }
}

pub enum Principal {
    Admin,
    Merchant { merchant: Merchant, kind: KeyKind },
}

/// What a route accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Admin,
    Secret,
    /// The widget's routes: a publishable key (plus the intent's client secret,
    /// checked by the handler) or a secret key.
    SecretOrPublishable,
}

fn bearer(req: &Request) -> ApiResult<Option<String>> {
    let Some(h) = req.headers().get("authorization")? else {
        return Ok(None);
    };
    Ok(h.strip_prefix("Bearer ").map(|t| t.trim().to_owned()))
}

pub async fn authenticate(req: &Request, ctx: &Ctx, need: Need) -> ApiResult<Principal> {
    let token = bearer(req)?.ok_or_else(|| {
        ApiError::authentication("No API key provided. Send `Authorization: Bearer <key>`.")
    })?;
    if need == Need::Admin {
        let ok = ctx.admin_token().is_some_and(|admin| {
            !admin.is_empty() && constant_time_eq(admin.as_bytes(), token.as_bytes())
        });
        return if ok {
            Ok(Principal::Admin)
        } else {
            Err(ApiError::authentication("Invalid admin token.").into())
        };
    }
    let invalid = || Fail::Api(ApiError::authentication("Invalid API key provided."));
    let info = parse_api_key(&token).ok_or_else(invalid)?;
    let hash = key_lookup_hash(KEY_HASH_LABEL, &token);
    let merchant = ctx
        .db
        .prepare(
            "SELECT m.* FROM api_keys k JOIN merchants m ON m.id = k.merchant_id \
             WHERE k.hash = ?1 AND k.kind = ?2",
        )
        .bind(&[hash.into(), kind_str(info.kind).into()])?
        .first::<Merchant>(None)
        .await?
        .ok_or_else(invalid)?;
    match (need, info.kind) {
        (Need::Secret, KeyKind::Publishable) => Err(ApiError::permission(
            "A publishable key cannot make this request: use your secret key, from your server.",
        )
        .into()),
        _ => Ok(Principal::Merchant {
            merchant,
            kind: info.kind,
        }),
    }
}

pub fn kind_str(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Secret => "secret",
        KeyKind::Publishable => "publishable",
    }
}
