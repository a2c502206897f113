//! Merchants: onboarding (admin), their own profile, and key rolling.

use shared::api::{self, CreateMerchant, CreatedMerchant, UpdateMerchant};
use shared::keys::{generate_api_key, key_lookup_hash, new_id, KeyKind, Mode};
use worker::{Request, Response, Result, RouteContext};

use crate::auth::{kind_str, Merchant, Need, KEY_HASH_LABEL};
use crate::call::{serve, Call};
use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail, Reply};

/// `GET /v1/merchants/me`: the contract's view of a merchant (no key material).
pub fn view(m: &Merchant) -> ApiResult<api::Merchant> {
    let bad = || {
        Fail::Internal(worker::Error::RustError(format!(
            "merchant {}: bad currency",
            m.id
        )))
    };
    Ok(api::Merchant {
        id: m.id.clone(),
        name: m.name.clone(),
        country: m.country.clone(),
        default_currency: m.default_currency.parse().map_err(|_| bad())?,
        platform_fee: m.platform_fee.clone(),
        allowed_origins: m.origins(),
        created: m.created,
        livemode: m.livemode != 0,
    })
}

pub async fn create(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Admin, create_merchant).await
}

async fn create_merchant(call: Call) -> ApiResult<Reply> {
    let input: CreateMerchant = call.json()?;
    let currency = input.validate()?;
    let ctx = &call.ctx;
    let id = new_id("acct_", &random());
    let secret = generate_api_key(KeyKind::Secret, Mode::Test, &random());
    let publishable = generate_api_key(KeyKind::Publishable, Mode::Test, &random());
    let db = &ctx.db;
    db.batch(vec![
        db.prepare(
            "INSERT INTO merchants (id, name, country, default_currency, livemode, created) \
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        )
        .bind(&[
            id.as_str().into(),
            input.name.as_str().into(),
            input.country.as_str().into(),
            currency.code().into(),
            (ctx.now as f64).into(),
        ])?,
        insert_key(ctx, &id, KeyKind::Secret, secret.expose())?,
        insert_key(ctx, &id, KeyKind::Publishable, publishable.expose())?,
    ])
    .await?;
    Reply::json(
        201,
        &CreatedMerchant {
            id,
            secret_key: secret.expose().to_owned(),
            publishable_key: publishable.expose().to_owned(),
        },
    )
}

fn insert_key(
    ctx: &Ctx,
    merchant_id: &str,
    kind: KeyKind,
    key: &str,
) -> worker::Result<worker::D1PreparedStatement> {
    let last4 = &key[key.len().saturating_sub(4)..];
    ctx.db
        .prepare("INSERT INTO api_keys (hash, merchant_id, kind, last4, created) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[
            key_lookup_hash(KEY_HASH_LABEL, key).into(),
            merchant_id.into(),
            kind_str(kind).into(),
            last4.into(),
            (ctx.now as f64).into(),
        ])
}

pub async fn me(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        Reply::json(200, &view(call.merchant()?)?)
    })
    .await
}

pub async fn update(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, update_merchant).await
}

async fn update_merchant(call: Call) -> ApiResult<Reply> {
    let input: UpdateMerchant = call.json()?;
    input.validate()?;
    let mut m = call.merchant()?.clone();
    if let Some(name) = input.name {
        m.name = name;
    }
    if let Some(origins) = input.allowed_origins {
        m.allowed_origins =
            serde_json::to_string(&origins).map_err(|e| worker::Error::RustError(e.to_string()))?;
    }
    call.ctx
        .db
        .prepare("UPDATE merchants SET name = ?2, allowed_origins = ?3 WHERE id = ?1")
        .bind(&[
            m.id.as_str().into(),
            m.name.as_str().into(),
            m.allowed_origins.as_str().into(),
        ])?
        .run()
        .await?;
    Reply::json(200, &view(&m)?)
}

/// `POST /v1/merchants/me/keys/roll`: a new secret key; the old one stops working
/// in the same write that makes the new one.
pub async fn roll_key(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, roll).await
}

async fn roll(call: Call) -> ApiResult<Reply> {
    let m = call.merchant()?;
    let ctx = &call.ctx;
    let secret = generate_api_key(KeyKind::Secret, Mode::Test, &random());
    ctx.db
        .batch(vec![
            ctx.db
                .prepare("DELETE FROM api_keys WHERE merchant_id = ?1 AND kind = 'secret'")
                .bind(&[m.id.as_str().into()])?,
            insert_key(ctx, &m.id, KeyKind::Secret, secret.expose())?,
        ])
        .await?;
    Reply::json(
        200,
        &serde_json::json!({"id": m.id, "object": "secret_key", "secret_key": secret.expose()}),
    )
}
