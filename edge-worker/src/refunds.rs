//! `POST /v1/refunds`: part or all of what was captured, never more. The amount is
//! reserved in D1 before the provider is asked (a `pending` refund row written under
//! the intent's version), so two refunds racing cannot both pass the check.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::error::ApiError;
use shared::intent::{check_refund, IntentEvent, Provider, ProviderEvent};
use shared::keys::new_id;
use shared::money::Money;
use shared::stripe::requests;
use worker::{Request, Response, Result, RouteContext};

use crate::auth::Need;
use crate::call::{serve, Call};
use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail, Reply};
use crate::intents::{apply_events, load, IntentRow};
use crate::stripe::{build, StripeSetup};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRefund {
    payment_intent: String,
    amount: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct RefundRow {
    id: String,
    payment_intent: String,
    amount: i64,
    currency: String,
    status: String,
    created: i64,
}

#[derive(Serialize)]
struct RefundView {
    id: String,
    object: &'static str,
    payment_intent: String,
    amount: String,
    currency: String,
    status: String,
    created: i64,
}

fn view(r: &RefundRow, amount: &Money) -> RefundView {
    RefundView {
        id: r.id.clone(),
        object: "refund",
        payment_intent: r.payment_intent.clone(),
        amount: amount.to_amount_string(),
        currency: r.currency.clone(),
        status: r.status.clone(),
        created: r.created,
    }
}

pub async fn create(req: Request, rc: RouteContext<()>) -> Result<Response> {
    serve(req, rc, Need::Secret, create_refund).await
}

/// A retry with the same Idempotency-Key must reach the provider as the same refund,
/// even after our own first answer was lost: derive the id from the key.
fn refund_id(call: &Call, merchant_id: &str) -> String {
    match &call.idempotency_key {
        Some(k) => {
            let d = Sha256::digest(format!("{merchant_id}\0{k}").as_bytes());
            let mut b = [0u8; 16];
            b.copy_from_slice(&d[..16]);
            new_id("re_", &b)
        }
        None => new_id("re_", &random()),
    }
}

async fn create_refund(call: Call) -> ApiResult<Reply> {
    let input: CreateRefund = call.json()?;
    let m = call.merchant()?;
    let ctx = &call.ctx;
    let row = load(ctx, &m.id, &input.payment_intent).await.map_err(|_| {
        Fail::Api(ApiError::not_found("payment_intent").with_param("payment_intent"))
    })?;
    let currency = row.state()?.amount.currency();
    let amount = match &input.amount {
        Some(a) => {
            Some(Money::parse(a, currency).map_err(|e| Fail::Api(e.to_api_error("amount")))?)
        }
        None => None,
    };
    let id = refund_id(&call, &m.id);
    let (refund, amount) = reserve(ctx, &m.id, &row.id, &id, amount).await?;
    let settled = send(ctx, &m.id, &row.id, &refund, amount).await?;
    Reply::json(200, &view(&settled, &amount))
}

/// Writes the refund as `pending` if the intent still has that much refundable,
/// counting refunds still pending. Retries on a lost race; returns an existing
/// pending refund of the same id (a retried request) as it is.
async fn reserve(
    ctx: &Ctx,
    merchant_id: &str,
    intent_id: &str,
    id: &str,
    amount: Option<Money>,
) -> ApiResult<(RefundRow, Money)> {
    for _ in 0..5 {
        if let Some(existing) = ctx
            .db
            .prepare("SELECT * FROM refunds WHERE id = ?1 AND merchant_id = ?2")
            .bind(&[id.into(), merchant_id.into()])?
            .first::<RefundRow>(None)
            .await?
        {
            let cur = load(ctx, merchant_id, intent_id)
                .await?
                .state()?
                .amount
                .currency();
            let money = Money::from_minor_units(existing.amount, cur)
                .map_err(|e| Fail::Api(e.to_api_error("amount")))?;
            return Ok((existing, money));
        }
        let row = load(ctx, merchant_id, intent_id).await?;
        let mut state = row.state()?;
        let pending: i64 = ctx
            .db
            .prepare("SELECT COALESCE(SUM(amount), 0) AS s FROM refunds WHERE payment_intent = ?1 AND status = 'pending'")
            .bind(&[intent_id.into()])?
            .first::<serde_json::Value>(Some("s"))
            .await?
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        let cur = state.amount.currency();
        state.amount_refunded =
            Money::from_minor_units(state.amount_refunded.to_minor_units() + pending, cur)
                .map_err(|e| Fail::Api(e.to_api_error("amount")))?;
        let amount = check_refund(&state, amount)?;
        let results = ctx
            .db
            .batch(vec![
                ctx.db
                    .prepare(
                        "INSERT INTO refunds (id, merchant_id, payment_intent, amount, currency, status, created) \
                         SELECT ?1, ?2, ?3, ?4, ?5, 'pending', ?6 WHERE EXISTS \
                         (SELECT 1 FROM payment_intents WHERE id = ?3 AND version = ?7)",
                    )
                    .bind(&[
                        id.into(),
                        merchant_id.into(),
                        intent_id.into(),
                        (amount.to_minor_units() as f64).into(),
                        cur.code().into(),
                        (ctx.now as f64).into(),
                        (row.version as f64).into(),
                    ])?,
                ctx.db
                    .prepare("UPDATE payment_intents SET version = version + 1 WHERE id = ?1 AND version = ?2")
                    .bind(&[intent_id.into(), (row.version as f64).into()])?,
            ])
            .await?;
        let inserted = results[0].meta()?.and_then(|m| m.changes).unwrap_or(0);
        if inserted == 1 {
            let refund = RefundRow {
                id: id.to_owned(),
                payment_intent: intent_id.to_owned(),
                amount: amount.to_minor_units(),
                currency: cur.code().to_owned(),
                status: "pending".to_owned(),
                created: ctx.now,
            };
            return Ok((refund, amount));
        }
    }
    Err(
        ApiError::idempotency("This payment intent is being changed by another request; retry.")
            .into(),
    )
}

/// Asks the provider; on success the intent's refunded total becomes the sum of its
/// succeeded refunds (a total, so repeats cannot count twice). A provider that
/// cannot be reached leaves the refund pending: the same request retried (same
/// Idempotency-Key, same refund id, same provider key) settles it without paying twice.
async fn send(
    ctx: &Ctx,
    merchant_id: &str,
    intent_id: &str,
    refund: &RefundRow,
    amount: Money,
) -> ApiResult<RefundRow> {
    let row = load(ctx, merchant_id, intent_id).await?;
    let status = match row.record()?.provider {
        Provider::Stripe => {
            let reference = crate::payments::held_at_provider(&row)?;
            let setup = StripeSetup::load(ctx, merchant_id).await?;
            let req = build(requests::create_refund(
                &setup.auth(),
                &refund.id,
                &reference,
                amount,
            ))?;
            match setup.send(req).await? {
                Ok(body) => {
                    let r = shared::stripe::wire::parse_refund(&body)
                        .map_err(|e| Fail::Api(e.to_api_error()))?;
                    crate::stripe::refund_amount(&r, &row)?;
                    use shared::stripe::wire::StripeRefundStatus as S;
                    match r.status {
                        S::Succeeded | S::Pending | S::RequiresAction => "succeeded",
                        S::Failed | S::Canceled | S::Unknown => "failed",
                    }
                }
                Err((status, e)) => {
                    mark(ctx, &refund.id, "failed").await?;
                    return Err(shared::stripe::wire::error_to_api_error(status, &e).into());
                }
            }
        }
        Provider::Cashcloud => {
            // Pending until the wallet user accepts it (callback, poll or cron).
            let hash = crate::payments::held_at_provider(&row)?;
            let setup = crate::cashcloud::CashcloudSetup::load(ctx, merchant_id).await?;
            let body = setup
                .call(|a| shared::cashcloud::requests::refund(a, &hash, &amount))
                .await;
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    mark(ctx, &refund.id, "failed").await?;
                    return Err(e);
                }
            };
            let reference = shared::cashcloud::wire::parse_refund_reply(&body)
                .map_err(|e| Fail::Api(e.to_api_error()))?;
            if let Some(r) = reference {
                ctx.db
                    .prepare("UPDATE refunds SET provider_reference = ?2 WHERE id = ?1")
                    .bind(&[refund.id.as_str().into(), r.as_str().into()])?
                    .run()
                    .await?;
            }
            "pending"
        }
        Provider::Worldpay => {
            if let Err(e) =
                crate::worldpay::refund(ctx, merchant_id, &row, &refund.id, amount).await
            {
                mark(ctx, &refund.id, "failed").await?;
                return Err(e);
            }
            // Succeeded if Worldpay's refunded total already covers it, else pending
            // until its `Refunded` notification.
            ctx.db
                .prepare("SELECT status FROM refunds WHERE id = ?1")
                .bind(&[refund.id.as_str().into()])?
                .first::<String>(Some("status"))
                .await?
                .filter(|s| s == "succeeded")
                .map_or("pending", |_| "succeeded")
        }
    };
    mark(ctx, &refund.id, status).await?;
    if status == "succeeded" {
        settle_total(ctx, merchant_id, &row).await?;
    }
    Ok(RefundRow {
        status: status.to_owned(),
        ..refund.clone()
    })
}

async fn mark(ctx: &Ctx, id: &str, status: &str) -> ApiResult<()> {
    ctx.db
        .prepare("UPDATE refunds SET status = ?2 WHERE id = ?1")
        .bind(&[id.into(), status.into()])?
        .run()
        .await?;
    Ok(())
}

pub async fn settle_total(ctx: &Ctx, merchant_id: &str, row: &IntentRow) -> ApiResult<()> {
    let total: i64 = ctx
        .db
        .prepare("SELECT COALESCE(SUM(amount), 0) AS s FROM refunds WHERE payment_intent = ?1 AND status = 'succeeded'")
        .bind(&[row.id.as_str().into()])?
        .first::<serde_json::Value>(Some("s"))
        .await?
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let cur = row.state()?.amount.currency();
    let total =
        Money::from_minor_units(total, cur).map_err(|e| Fail::Api(e.to_api_error("amount")))?;
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::Refunded { total },
    };
    apply_events(ctx, merchant_id, &row.id, &[ev]).await?;
    Ok(())
}
