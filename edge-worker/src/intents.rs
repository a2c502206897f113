//! `/v1/payment_intents`: create, read, list, cancel. Provider calls come in with
//! each provider's module; the status only ever changes through the domain's
//! state machine (`shared::intent`).

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use shared::api::{CreatePaymentIntent, IntentRecord, List, NextAction, PaymentIntent};
use shared::error::ApiError;
use shared::fees::platform_fee;
use shared::intent::{CaptureMethod, IntentState, IntentStatus, Provider, ProviderEvent};
use shared::keys::{client_secret, is_id, new_id};
use shared::money::{Currency, Money};
use worker::wasm_bindgen::JsValue;
use worker::{Request, Response, Result, RouteContext};

use crate::accounts;
use crate::auth::Need;
use crate::call::{serve, Call};
use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail, Reply};
use crate::payments;

/// One `payment_intents` row as D1 returns it. Amounts are minor units.
#[derive(Debug, Deserialize)]
pub struct IntentRow {
    pub id: String,
    pub client_secret: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    pub platform_fee: i64,
    pub capture_method: String,
    pub next_action: Option<String>,
    pub last_error: Option<String>,
    pub last_event_at: Option<i64>,
    pub description: Option<String>,
    pub order_reference: Option<String>,
    pub attempts: i64,
    pub version: i64,
    pub livemode: i64,
    pub created: i64,
}

fn corrupt(what: &str, id: &str) -> Fail {
    Fail::Internal(worker::Error::RustError(format!(
        "stored intent {id}: bad {what}"
    )))
}

impl IntentRow {
    /// The domain's view of the row.
    pub fn state(&self) -> ApiResult<IntentState> {
        let cur = Currency::from_str(&self.currency).map_err(|_| corrupt("currency", &self.id))?;
        let money = |minor: i64| {
            Money::from_minor_units(minor, cur).map_err(|_| corrupt("amount", &self.id))
        };
        Ok(IntentState {
            status: IntentStatus::from_str(&self.status)
                .map_err(|_| corrupt("status", &self.id))?,
            amount: money(self.amount)?,
            amount_capturable: money(self.amount_capturable)?,
            amount_received: money(self.amount_received)?,
            amount_refunded: money(self.amount_refunded)?,
            capture_method: CaptureMethod::from_str(&self.capture_method)
                .map_err(|_| corrupt("capture_method", &self.id))?,
            last_event_at: self.last_event_at,
            last_error: self.last_error.clone(),
        })
    }

    pub fn record(&self) -> ApiResult<IntentRecord> {
        let cur = Currency::from_str(&self.currency).map_err(|_| corrupt("currency", &self.id))?;
        Ok(IntentRecord {
            id: self.id.clone(),
            client_secret: self.client_secret.clone(),
            provider: Provider::from_str(&self.provider)
                .map_err(|_| corrupt("provider", &self.id))?,
            provider_reference: self.provider_reference.clone(),
            platform_fee: Money::from_minor_units(self.platform_fee, cur)
                .map_err(|_| corrupt("fee", &self.id))?,
            next_action: match &self.next_action {
                Some(j) => Some(
                    serde_json::from_str::<NextAction>(j)
                        .map_err(|_| corrupt("next_action", &self.id))?,
                ),
                None => None,
            },
            created: self.created,
            livemode: self.livemode != 0,
        })
    }

    pub fn to_api(&self) -> ApiResult<PaymentIntent> {
        Ok(PaymentIntent::from_state(&self.record()?, &self.state()?))
    }
}

/// Loads an intent of this merchant; anyone else's is exactly as missing as none.
pub async fn load(ctx: &Ctx, merchant_id: &str, id: &str) -> ApiResult<IntentRow> {
    if !is_id("pi_", id) {
        return Err(ApiError::not_found("payment_intent")
            .with_param("id")
            .into());
    }
    ctx.db
        .prepare("SELECT * FROM payment_intents WHERE id = ?1 AND merchant_id = ?2")
        .bind(&[id.into(), merchant_id.into()])?
        .first::<IntentRow>(None)
        .await?
        .ok_or_else(|| Fail::Api(ApiError::not_found("payment_intent").with_param("id")))
}

/// Writes the state machine's result back, only if nobody wrote since `row` was
/// read (`version`). `false`: lost the race; re-read and apply again.
pub async fn store_state(ctx: &Ctx, row: &IntentRow, next: &IntentState) -> ApiResult<bool> {
    let changed = ctx
        .db
        .prepare(
            "UPDATE payment_intents SET status = ?3, amount_capturable = ?4, amount_received = ?5, \
             amount_refunded = ?6, last_event_at = ?7, last_error = ?8, version = version + 1 \
             WHERE id = ?1 AND version = ?2",
        )
        .bind(&[
            row.id.as_str().into(),
            (row.version as f64).into(),
            next.status.as_str().into(),
            (next.amount_capturable.to_minor_units() as f64).into(),
            (next.amount_received.to_minor_units() as f64).into(),
            (next.amount_refunded.to_minor_units() as f64).into(),
            next.last_event_at.map_or(JsValue::NULL, |t| (t as f64).into()),
            next.last_error.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        ])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(changed == 1)
}

/// Feeds provider events through the one state machine and stores the outcome.
/// Events are facts, so on a lost race they are simply applied again to the fresh
/// row; `apply` makes repeats no-ops. Returns the row as stored afterwards.
pub async fn apply_events(
    ctx: &Ctx,
    merchant_id: &str,
    id: &str,
    events: &[ProviderEvent],
) -> ApiResult<IntentRow> {
    for _ in 0..5 {
        let row = load(ctx, merchant_id, id).await?;
        let start = row.state()?;
        let mut state = start.clone();
        for ev in events {
            if let Some(next) = shared::intent::apply(&state, ev).applied() {
                state = next;
            }
        }
        if state == start || store_state(ctx, &row, &state).await? {
            return load(ctx, merchant_id, id).await;
        }
    }
    Err(ApiError::new(
        409,
        shared::error::ErrorType::ApiError,
        "lock_timeout",
        "This payment intent is being changed by another request; retry.",
    )
    .into())
}

pub async fn create(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, create_intent).await
}

async fn create_intent(call: Call) -> ApiResult<Reply> {
    let input: CreatePaymentIntent = call.json()?;
    let new = input.validate()?;
    let m = call.merchant()?;
    let ctx = &call.ctx;
    if new.provider == Provider::Worldpay && new.capture_method != CaptureMethod::Manual {
        return Err(ApiError::invalid_request(
            "capture_method_not_supported",
            "Worldpay payments are reserved on its hosted page and captured when the goods ship: use capture_method manual.",
        )
        .with_param("capture_method")
        .into());
    }
    if accounts::load(ctx, &m.id, new.provider).await?.is_none() {
        return Err(ApiError::invalid_request(
            "provider_not_configured",
            format!(
                "Set up your {} credentials (PUT /v1/merchants/me/providers/{}) before taking payments with it.",
                new.provider.as_str(),
                new.provider.as_str()
            ),
        )
        .with_param("provider")
        .into());
    }
    if new.provider == Provider::Cashcloud {
        cashcloud_rules(ctx, &m.id, &new.amount, new.capture_method).await?;
    }
    let fee_setting =
        Decimal::from_str(&m.platform_fee).map_err(|_| corrupt("platform_fee", &m.id))?;
    let fee = platform_fee(&new.amount, fee_setting);
    let id = new_id("pi_", &random());
    let secret = client_secret(&id, &random());
    let state = IntentState::new(new.amount, new.capture_method);
    let metadata: Option<String> = (!new.metadata.is_empty())
        .then(|| serde_json::to_string::<BTreeMap<String, String>>(&new.metadata))
        .transpose()
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let opt = |v: &Option<String>| v.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    ctx.db
        .prepare(
            "INSERT INTO payment_intents (id, merchant_id, client_secret, provider, status, currency, amount, \
             amount_capturable, amount_received, amount_refunded, platform_fee, capture_method, description, \
             order_reference, customer, setup_future_usage, metadata, livemode, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .bind(&[
            id.as_str().into(),
            m.id.as_str().into(),
            secret.as_str().into(),
            new.provider.as_str().into(),
            state.status.as_str().into(),
            new.amount.currency().code().into(),
            (new.amount.to_minor_units() as f64).into(),
            (fee.to_minor_units() as f64).into(),
            new.capture_method.as_str().into(),
            opt(&new.description),
            opt(&new.order_reference),
            opt(&new.customer),
            new.setup_future_usage.map_or(JsValue::NULL, |_| "off_session".into()),
            opt(&metadata),
            (m.livemode as f64).into(),
            (ctx.now as f64).into(),
        ])?
        .run()
        .await?;
    let row = load(ctx, &m.id, &id).await?;
    Reply::json(200, &row.to_api()?)
}

/// Cashcloud takes EUR only (another currency is refused with the EUR equivalent
/// quoted), within its per-transaction limits, and has no reserve-then-capture.
async fn cashcloud_rules(
    ctx: &Ctx,
    merchant_id: &str,
    amount: &Money,
    capture: CaptureMethod,
) -> ApiResult<()> {
    let setup = crate::cashcloud::CashcloudSetup::load(ctx, merchant_id).await?;
    if amount.currency() != Currency::EUR {
        let quote = setup.eur_quote(amount).await?;
        return Err(shared::fees::LimitError::CurrencyNotSupported {
            currency: amount.currency(),
            eur_equivalent: None,
        }
        .with_eur_equivalent(quote)
        .to_api_error()
        .into());
    }
    let today = crate::cashcloud_flow::transactions_today(ctx, merchant_id).await?;
    shared::cashcloud::check_intent(setup.account.plan, amount, capture, today)?;
    Ok(())
}

/// `GET /v1/payment_intents/{id}`: secret key, or publishable key plus the
/// intent's own client secret. An open outcome is read back from the provider first.
pub async fn retrieve(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::SecretOrPublishable, |call| async move {
        let secret = call.query("client_secret");
        let row = crate::checkout::load_for_widget(&call, secret.as_deref()).await?;
        let row = payments::sync(&call.ctx, &call.merchant()?.id, row).await?;
        Reply::json(200, &row.to_api()?)
    })
    .await
}

pub async fn list(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, list_intents).await
}

async fn list_intents(call: Call) -> ApiResult<Reply> {
    let m = call.merchant()?;
    let bad = |param: &str, msg: &str| {
        Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
    };
    let limit = match call.query("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| bad("limit", "limit must be a whole number from 1 to 100."))?,
        None => 10,
    };
    let mut sql = String::from("SELECT * FROM payment_intents WHERE merchant_id = ?1");
    let mut args: Vec<JsValue> = vec![m.id.as_str().into()];
    if let Some(s) = call.query("status") {
        let s = IntentStatus::from_str(&s).map_err(|_| bad("status", "Unknown status."))?;
        args.push(s.as_str().into());
        sql += &format!(" AND status = ?{}", args.len());
    }
    if let Some(p) = call.query("provider") {
        let p = Provider::from_str(&p).map_err(|_| bad("provider", "Unknown provider."))?;
        args.push(p.as_str().into());
        sql += &format!(" AND provider = ?{}", args.len());
    }
    if let Some(t) = call.query("created_gte") {
        let t = t
            .parse::<i64>()
            .map_err(|_| bad("created_gte", "created_gte is a unix time in seconds."))?;
        args.push((t as f64).into());
        sql += &format!(" AND created >= ?{}", args.len());
    }
    if let Some(after) = call.query("starting_after") {
        // Newest first: continue strictly below the cursor's (created, id).
        let cursor = load(&call.ctx, &m.id, &after)
            .await
            .map_err(|_| bad("starting_after", "No such payment_intent."))?;
        args.push((cursor.created as f64).into());
        args.push(cursor.id.as_str().into());
        let (c, i) = (args.len() - 1, args.len());
        sql += &format!(" AND (created < ?{c} OR (created = ?{c} AND id < ?{i}))");
    }
    sql += &format!(" ORDER BY created DESC, id DESC LIMIT {}", limit + 1);
    let mut rows = call
        .ctx
        .db
        .prepare(sql)
        .bind(&args)?
        .all()
        .await?
        .results::<IntentRow>()?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data = rows
        .iter()
        .map(IntentRow::to_api)
        .collect::<ApiResult<Vec<_>>>()?;
    Reply::json(200, &List::new(data, has_more))
}

/// `POST /v1/payment_intents/{id}/cancel`: releases the hold.
pub async fn cancel(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        let m = call.merchant()?;
        let _: EmptyBody = call.json()?;
        let row = load(&call.ctx, &m.id, call.param("id")).await?;
        let row = payments::cancel(&call.ctx, &m.id, row).await?;
        Reply::json(200, &row.to_api()?)
    })
    .await
}

/// `POST /v1/payment_intents/{id}/capture` with `{amount?}`: up to what was
/// authorised (hotel minibar: authorise 300.00, capture 247.35); the rest is released.
pub async fn capture(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, |call| async move {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CaptureBody {
            amount: Option<String>,
        }
        let m = call.merchant()?;
        let body: CaptureBody = call.json()?;
        let row = load(&call.ctx, &m.id, call.param("id")).await?;
        let currency = row.state()?.amount.currency();
        let amount = match &body.amount {
            Some(a) => {
                Some(Money::parse(a, currency).map_err(|e| Fail::Api(e.to_api_error("amount")))?)
            }
            None => None,
        };
        let row = payments::capture(&call.ctx, &m.id, row, amount).await?;
        Reply::json(200, &row.to_api()?)
    })
    .await
}

/// A POST that takes no parameters still refuses unknown ones.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}
