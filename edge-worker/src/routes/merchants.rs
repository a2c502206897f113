//! Merchants: onboarding and the registry (admin, in the platform's object), a
//! merchant's own profile and key rolling (in its own object).

use serde::{Deserialize, Serialize};
use shared::api::{self, CreateMerchant, CreatedMerchant, UpdateMerchant};
use shared::keys::{generate_api_key, key_lookup_hash, new_id, KeyKind, Mode};
use worker::{Method, Request, RequestInit, Response, Result, RouteContext};

use crate::call::{kind_str, serve, Call, Need, KEY_HASH_LABEL};
use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail, Reply};
use crate::merchant::store::Merchant;
use crate::merchant::{admin_forward, Object};

/// `GET /v1/merchants/me`: the contract's view of a merchant (no key material), as
/// seen in `livemode` (the caller key's mode; for the admin, whether the merchant
/// has live keys).
pub fn view(m: &Merchant, livemode: bool) -> ApiResult<api::Merchant> {
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
        livemode,
    })
}

/// What the platform's object hands the new merchant's object.
#[derive(Serialize, Deserialize)]
struct Init {
    merchant: InitMerchant,
    /// (hash, kind, last4) of the first keys.
    keys: Vec<(String, String, String)>,
    /// The test publishable key itself: public by design, kept for the pages the
    /// Worker serves (an invoice's hosted page).
    #[serde(default)]
    publishable_key: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct InitMerchant {
    id: String,
    name: String,
    country: String,
    default_currency: String,
    livemode: i64,
    created: i64,
}

fn key_row(kind: KeyKind, key: &str) -> (String, String, String) {
    (
        key_lookup_hash(KEY_HASH_LABEL, key),
        kind_str(kind).to_owned(),
        key[key.len().saturating_sub(4)..].to_owned(),
    )
}

pub async fn create(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, create_merchant).await
}

async fn create_merchant(call: Call) -> ApiResult<Reply> {
    let input: CreateMerchant = call.json()?;
    let currency = input.validate()?;
    let ctx = &call.ctx;
    let id = new_id("acct_", &random());
    let secret = generate_api_key(KeyKind::Secret, Mode::Test, &id, &random());
    let publishable = generate_api_key(KeyKind::Publishable, Mode::Test, &id, &random());
    let init = Init {
        merchant: InitMerchant {
            id: id.clone(),
            name: input.name.clone(),
            country: input.country.clone(),
            default_currency: currency.code().to_owned(),
            livemode: 0,
            created: ctx.now,
        },
        keys: vec![
            key_row(KeyKind::Secret, secret.expose()),
            key_row(KeyKind::Publishable, publishable.expose()),
        ],
        publishable_key: Some(publishable.expose().to_owned()),
    };
    let body = serde_json::to_string(&init).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut req_init = RequestInit::new();
    req_init
        .with_method(Method::Post)
        .with_body(Some(body.into()));
    let req = Request::new_with_init(&format!("https://merchant{}", crate::INIT_PATH), &req_init)?;
    let resp = crate::merchant::merchant_stub(&ctx.env, &id)?
        .fetch_with_request(req)
        .await?;
    if resp.status_code() != 201 {
        return Err(Fail::Internal(worker::Error::RustError(format!(
            "merchant object init: {}",
            resp.status_code()
        ))));
    }
    ctx.store.register_merchant(&id, &input.name, 0, ctx.now)?;
    Reply::json(
        201,
        &CreatedMerchant {
            id,
            secret_key: secret.expose().to_owned(),
            publishable_key: publishable.expose().to_owned(),
        },
    )
}

/// Internal (never routed from outside): the merchant's object stores its merchant
/// and first key hashes. A second init of the same object changes nothing.
pub async fn init(mut req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let init: Init = req.json().await?;
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    let m = Merchant {
        id: init.merchant.id,
        name: init.merchant.name,
        country: init.merchant.country,
        default_currency: init.merchant.default_currency,
        platform_fee: shared::fees::DEFAULT_PLATFORM_FEE.to_string(),
        allowed_origins: "[]".to_owned(),
        livemode: init.merchant.livemode,
        created: init.merchant.created,
    };
    let keys: Vec<(String, &str, String)> = init
        .keys
        .iter()
        .map(|(h, k, l)| (h.clone(), k.as_str(), l.clone()))
        .collect();
    let created = ctx.store.init_merchant(&m, &keys)?;
    if let (true, Some(pk)) = (created, &init.publishable_key) {
        let hash = key_lookup_hash(KEY_HASH_LABEL, pk);
        ctx.store.set_publishable_value(&hash, pk)?;
    }
    Ok(Response::empty()?.with_status(if created { 201 } else { 409 }))
}

/// Internal path: the platform's object sets a merchant's fee in its object.
pub const PLATFORM_FEE_PATH: &str = "/_internal/merchants/platform_fee";

/// `PATCH /v1/merchants/{id}` (admin) `{platform_fee?}`: the merchant's fee per
/// transaction from its next intent on; answers with the merchant.
pub async fn admin_update(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, |call| async move {
        let input: api::AdminUpdateMerchant = call.json()?;
        let fee = input.validate()?;
        let id = call.param("id").to_owned();
        let body = serde_json::json!({ "platform_fee": fee.map(|f| f.to_string()) }).to_string();
        let merchant =
            admin_forward(&call.ctx, &id, Method::Post, PLATFORM_FEE_PATH, Some(body)).await?;
        Ok(Reply::json_text(200, merchant))
    })
    .await
}

/// Internal (never routed from outside): the merchant's object takes the fee the
/// admin set.
pub async fn set_platform_fee(mut req: Request, rc: RouteContext<Object>) -> Result<Response> {
    #[derive(Deserialize)]
    struct Body {
        platform_fee: Option<String>,
    }
    let body: Body = req.json().await?;
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    if let Some(fee) = &body.platform_fee {
        ctx.store.set_platform_fee(fee)?;
    }
    match ctx.store.merchant()? {
        Some(m) => match view(&m, m.livemode != 0) {
            Ok(v) => crate::http::json(200, &v),
            Err(f) => crate::http::error(&f.into_api("POST", PLATFORM_FEE_PATH)),
        },
        None => Ok(Response::empty()?.with_status(404)),
    }
}

/// Internal path: the platform's object hands a merchant's object its live keys.
pub const LIVE_KEYS_PATH: &str = "/_internal/merchants/live_keys";

/// `POST /v1/merchants/{id}/live_keys` (admin): the platform lets a merchant take
/// real money. A new live key pair, shown once; keys issued before stop working.
pub async fn live_keys(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, |call| async move {
        if !call.body.is_empty() && call.body.as_slice() != b"{}" {
            return Err(shared::error::ApiError::invalid_request(
                "parameter_unknown",
                "This request takes no parameters.",
            )
            .into());
        }
        let id = call.param("id").to_owned();
        let secret = generate_api_key(KeyKind::Secret, Mode::Live, &id, &random());
        let publishable = generate_api_key(KeyKind::Publishable, Mode::Live, &id, &random());
        let rows = vec![
            key_row(KeyKind::Secret, secret.expose()),
            key_row(KeyKind::Publishable, publishable.expose()),
        ];
        let body =
            serde_json::to_string(&rows).map_err(|e| worker::Error::RustError(e.to_string()))?;
        admin_forward(&call.ctx, &id, Method::Post, LIVE_KEYS_PATH, Some(body)).await?;
        call.ctx.store.mark_live(&id)?;
        Reply::json(
            200,
            &serde_json::json!({
                "id": id,
                "object": "live_keys",
                "livemode": true,
                "secret_key": secret.expose(),
                "publishable_key": publishable.expose(),
            }),
        )
    })
    .await
}

/// Internal (never routed from outside): the merchant's object replaces its live
/// keys with the ones the platform made, in one synchronous step.
pub async fn set_live_keys(mut req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let rows: Vec<(String, String, String)> = req.json().await?;
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    if ctx.store.merchant()?.is_none() {
        return Ok(Response::empty()?.with_status(404));
    }
    for (hash, kind, last4) in &rows {
        ctx.store.replace_keys(kind, hash, last4, true, ctx.now)?;
    }
    ctx.store.set_live_enabled()?;
    Ok(Response::empty()?.with_status(200))
}

/// `GET /v1/merchants` (admin): the registry, newest first.
pub async fn list(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Admin, |call| async move {
        let data: Vec<_> = call
            .ctx
            .store
            .registry(100)?
            .into_iter()
            .map(|r| serde_json::json!({"id": r.id, "object": "merchant", "name": r.name, "livemode": r.livemode != 0, "created": r.created}))
            .collect();
        Reply::json(
            200,
            &serde_json::json!({"object": "list", "data": data, "has_more": false}),
        )
    })
    .await
}

pub async fn me(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        Reply::json(200, &view(call.merchant()?, call.livemode())?)
    })
    .await
}

pub async fn update(req: Request, rc: RouteContext<Object>) -> Result<Response> {
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
        .store
        .update_merchant(&m.name, &m.allowed_origins)?;
    Reply::json(200, &view(&m, call.livemode())?)
}

/// `POST /v1/merchants/me/keys/roll`: a new secret key; the old one stops working
/// in the same synchronous step that makes the new one.
pub async fn roll_key(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, roll).await
}

async fn roll(call: Call) -> ApiResult<Reply> {
    let m = call.merchant()?;
    let ctx = &call.ctx;
    let mode = if call.livemode() {
        Mode::Live
    } else {
        Mode::Test
    };
    let secret = generate_api_key(KeyKind::Secret, mode, &m.id, &random());
    let (hash, kind, last4) = key_row(KeyKind::Secret, secret.expose());
    ctx.store
        .replace_keys(&kind, &hash, &last4, call.livemode(), ctx.now)?;
    Reply::json(
        200,
        &serde_json::json!({"id": m.id, "object": "secret_key", "secret_key": secret.expose()}),
    )
}

/// `POST /v1/merchants/me/stripe_connect` `{return_url}` → `{url}`: Stripe Connect
/// onboarding. The connected account is the one this makes, never a typed `acct_`.
pub async fn stripe_connect(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            return_url: String,
        }
        let body: Body = call.json()?;
        let bad = || {
            Fail::Api(
                shared::error::ApiError::invalid_request(
                    "parameter_invalid",
                    "return_url must be an absolute https URL (http only on localhost), where Stripe sends the merchant back.",
                )
                .with_param("return_url"),
            )
        };
        let url = worker::Url::parse(&body.return_url).map_err(|_| bad())?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost"));
        if body.return_url.len() > 2048 || !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(bad());
        }
        let m = call.merchant()?;
        let link = crate::providers::stripe::connect_onboarding(&call.ctx, m, call.livemode(), &body.return_url).await?;
        Reply::json(200, &serde_json::json!({"object": "account_link", "url": link}))
    })
    .await
}
