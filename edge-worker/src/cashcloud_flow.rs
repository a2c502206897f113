//! Cashcloud payments: a money request to the customer's wallet, approved in the
//! Cashcloud app; the outcome is always read back with `GET transactions`, whether a
//! callback, the widget's polling or the cron prompted the read.

use serde::Deserialize;
use shared::cashcloud::events::{self, refund_outcome, transaction_events, RefundOutcome};
use shared::cashcloud::{check_intent, requests, wire};
use shared::error::ApiError;
use shared::fees::{CashcloudPlan, LimitError};
use shared::intent::{IntentEvent, ProviderEvent};
use worker::wasm_bindgen::JsValue;

use crate::cashcloud::{day, CashcloudSetup, REQUEST_EXPIRATION_SECONDS};
use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::intents::{apply_events, load, IntentRow};
use crate::payments::{claim_attempt, store_next_action, ConfirmBody};

pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    body: &ConfirmBody,
    origin: &str,
) -> ApiResult<IntentRow> {
    let username = body
        .cashcloud_username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= 254 && !u.chars().any(char::is_control))
        .ok_or_else(|| {
            Fail::Api(
                ApiError::invalid_request(
                    "parameter_missing",
                    "Enter the username of your Cashcloud wallet.",
                )
                .with_param("cashcloud_username"),
            )
        })?;
    let setup = CashcloudSetup::load(ctx, merchant_id).await?;
    let state = row.state()?;
    check_intent(setup.account.plan, &state.amount, state.capture_method, 0)?;
    claim_attempt(ctx, &row).await?;
    let slot = claim_daily_slot(ctx, merchant_id, setup.account.plan).await?;
    let requested = request(ctx, &setup, &row, username, origin).await;
    let hash = match requested {
        Ok(h) => h,
        Err(e) => {
            // Nothing reached the wallet: the day's slot is free again.
            if slot {
                release_daily_slot(ctx, merchant_id).await?;
            }
            return Err(e);
        }
    };
    let next = events::await_wallet_approval(ctx.now, REQUEST_EXPIRATION_SECONDS);
    ctx.db
        .prepare(
            "UPDATE payment_intents SET provider_reference = ?2, expires_at = ?3 WHERE id = ?1",
        )
        .bind(&[
            row.id.as_str().into(),
            hash.as_str().into(),
            (events::expires_at(ctx.now, REQUEST_EXPIRATION_SECONDS) as f64).into(),
        ])?
        .run()
        .await?;
    store_next_action(ctx, &row.id, Some(&next)).await?;
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::Processing,
    };
    apply_events(ctx, merchant_id, &row.id, &[ev]).await
}

/// Points the merchant's Cashcloud callbacks at us, then sends the money request.
async fn request(
    ctx: &Ctx,
    setup: &CashcloudSetup,
    row: &IntentRow,
    username: &str,
    origin: &str,
) -> ApiResult<String> {
    let callback_url = format!(
        "{origin}/v1/webhooks/cashcloud/{}",
        merchant_of(ctx, row).await?
    );
    setup
        .call(|a| requests::settings(a, &callback_url, REQUEST_EXPIRATION_SECONDS))
        .await?;
    let amount = row.state()?.amount;
    let remark = row
        .description
        .clone()
        .unwrap_or_else(|| format!("Payment {}", row.id));
    let body = setup
        .call(|a| {
            requests::money_request(
                a,
                username,
                &amount,
                &remark,
                &row.id,
                row.order_reference.as_deref(),
            )
        })
        .await?;
    wire::parse_request_reply(&body).map_err(|e| Fail::Api(e.to_api_error()))
}

async fn merchant_of(ctx: &Ctx, row: &IntentRow) -> ApiResult<String> {
    #[derive(Deserialize)]
    struct M {
        merchant_id: String,
    }
    let m = ctx
        .db
        .prepare("SELECT merchant_id FROM payment_intents WHERE id = ?1")
        .bind(&[row.id.as_str().into()])?
        .first::<M>(None)
        .await?
        .ok_or_else(|| Fail::Api(ApiError::not_found("payment_intent")))?;
    Ok(m.merchant_id)
}

/// Takes one of today's Corporate-plan slots in a single conditional upsert, so two
/// confirms racing for the fifth slot cannot both win. `true` if a slot was taken.
async fn claim_daily_slot(ctx: &Ctx, merchant_id: &str, plan: CashcloudPlan) -> ApiResult<bool> {
    let Some(limit) = plan.daily_limit() else {
        return Ok(false);
    };
    let changed = ctx
        .db
        .prepare(
            "INSERT INTO cashcloud_daily (merchant_id, day, count) VALUES (?1, ?2, 1) \
             ON CONFLICT (merchant_id, day) DO UPDATE SET count = count + 1 WHERE count < ?3",
        )
        .bind(&[
            merchant_id.into(),
            day(ctx.now).into(),
            (limit as f64).into(),
        ])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if changed == 0 {
        return Err(LimitError::DailyCountExceeded { limit }
            .to_api_error()
            .into());
    }
    Ok(true)
}

async fn release_daily_slot(ctx: &Ctx, merchant_id: &str) -> ApiResult<()> {
    ctx.db
        .prepare("UPDATE cashcloud_daily SET count = count - 1 WHERE merchant_id = ?1 AND day = ?2 AND count > 0")
        .bind(&[merchant_id.into(), day(ctx.now).into()])?
        .run()
        .await?;
    Ok(())
}

/// How many Corporate-plan transactions the merchant made today (for an early,
/// non-binding check at intent creation; the binding one is at confirm).
pub async fn transactions_today(ctx: &Ctx, merchant_id: &str) -> ApiResult<u32> {
    let n = ctx
        .db
        .prepare("SELECT count FROM cashcloud_daily WHERE merchant_id = ?1 AND day = ?2")
        .bind(&[merchant_id.into(), day(ctx.now).into()])?
        .first::<serde_json::Value>(Some("count"))
        .await?
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    Ok(n as u32)
}

/// Reads the money request's state at Cashcloud and applies it; also settles the
/// intent's refunds that still wait for the wallet user.
pub async fn sync(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    hash: &str,
) -> ApiResult<IntentRow> {
    let setup = CashcloudSetup::load(ctx, merchant_id).await?;
    let tx = match setup.transaction(hash).await {
        Ok(tx) => tx,
        Err(Fail::Api(e)) if e.status >= 500 => return Ok(row),
        Err(e) => return Err(e),
    };
    let evs = transaction_events(&tx, &row.state()?, ctx.now).map_err(|e| {
        Fail::Internal(worker::Error::RustError(format!(
            "cashcloud {}: {e:?}",
            row.id
        )))
    })?;
    let row = apply_events(ctx, merchant_id, &row.id, &evs).await?;
    settle_pending_refunds(ctx, merchant_id, &setup, &row).await?;
    load(ctx, merchant_id, &row.id).await
}

#[derive(Deserialize)]
struct PendingRefund {
    id: String,
    provider_reference: Option<String>,
}

/// A Cashcloud refund is itself a request the wallet user accepts: each pending one
/// is read back and marked; accepted ones raise the intent's refunded total.
pub async fn settle_pending_refunds(
    ctx: &Ctx,
    merchant_id: &str,
    setup: &CashcloudSetup,
    row: &IntentRow,
) -> ApiResult<()> {
    let pending = ctx
        .db
        .prepare("SELECT id, provider_reference FROM refunds WHERE payment_intent = ?1 AND status = 'pending'")
        .bind(&[row.id.as_str().into()])?
        .all()
        .await?
        .results::<PendingRefund>()?;
    let mut any = false;
    for r in pending {
        let Some(hash) = r.provider_reference else {
            continue;
        };
        let tx = setup.transaction(&hash).await?;
        let status = match refund_outcome(tx.state) {
            RefundOutcome::Pending => continue,
            RefundOutcome::Succeeded => "succeeded",
            RefundOutcome::Failed(_) => "failed",
        };
        ctx.db
            .prepare("UPDATE refunds SET status = ?2 WHERE id = ?1 AND status = 'pending'")
            .bind(&[r.id.as_str().into(), JsValue::from_str(status)])?
            .run()
            .await?;
        any = true;
    }
    if any {
        crate::refunds::settle_total(ctx, merchant_id, row).await?;
    }
    Ok(())
}
