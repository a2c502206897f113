//! Worldpay (Access Worldpay), as the Worker executes it: the hosted payment page
//! reserves the amount; the merchant captures (settles) when the goods ship; signed
//! event notifications and status queries tell us what happened. `shared::worldpay`
//! describes every request and reads every reply; this module sends and stores.

use serde::Deserialize;
use shared::accounts::{ProviderAccount, WorldpayAccount};
use shared::api::NextAction;
use shared::error::ApiError;
use shared::intent::{IntentEvent, IntentStatus, Provider, ProviderEvent};
use shared::money::Money;
use shared::worldpay::requests::{self, ReturnUrls};
use shared::worldpay::wire::{self, PaymentStatus};
use shared::worldpay::{events, Auth, BuildError, HttpRequest};

use crate::accounts;
use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::intents::{apply_events, load, IntentRow};
use crate::outbound::{self, Answer};
use crate::payments::{claim_attempt, held_at_provider, store_next_action, ConfirmBody};

pub struct WorldpaySetup {
    pub account: WorldpayAccount,
    base: String,
}

fn build<T>(r: Result<T, BuildError>) -> ApiResult<T> {
    r.map_err(|e| Fail::Api(e.to_api_error()))
}

impl WorldpaySetup {
    pub async fn load(ctx: &Ctx, merchant_id: &str) -> ApiResult<WorldpaySetup> {
        let Some(ProviderAccount::Worldpay(account)) =
            accounts::load(ctx, merchant_id, Provider::Worldpay).await?
        else {
            return Err(ApiError::invalid_request(
                "provider_not_configured",
                "Worldpay is not set up for this merchant.",
            )
            .into());
        };
        Ok(WorldpaySetup {
            account,
            base: ctx.env.var("WORLDPAY_API_BASE")?.to_string(),
        })
    }

    fn auth(&self) -> Auth<'_> {
        Auth::for_account(&self.account)
    }

    /// Sends one described request; Worldpay's errors become ours.
    async fn call(&self, req: ApiResult<HttpRequest>) -> ApiResult<Vec<u8>> {
        let req = req?;
        let answer = outbound::send_described(&self.base, &req).await?;
        match answer {
            Answer::Unreachable => Err(ApiError::provider(
                502,
                "provider_unavailable",
                "Worldpay did not answer. Retrying with the same Idempotency-Key is safe.",
            )
            .into()),
            Answer::Http { status, body } if (200..300).contains(&status) => Ok(body.into_bytes()),
            Answer::Http { status, body } => Err(wire::parse_error(status, body.as_bytes())
                .to_api_error()
                .into()),
        }
    }

    pub async fn status(&self, payment_id: &str) -> ApiResult<PaymentStatus> {
        let body = self
            .call(build(requests::status(&self.auth(), payment_id)))
            .await?;
        wire::parse_status(&body).map_err(|e| Fail::Api(e.to_api_error()))
    }
}

/// The return URL must be on one of the merchant's own origins: the hosted page
/// sends the customer there, and an open redirect would be a phishing tool.
async fn check_return_url(ctx: &Ctx, merchant_id: &str, url: Option<&str>) -> ApiResult<String> {
    let bad = |msg: &str| {
        Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param("return_url"))
    };
    let url =
        url.ok_or_else(|| bad("return_url is required: the page the customer comes back to."))?;
    let parsed =
        worker::Url::parse(url).map_err(|_| bad("return_url must be an absolute http(s) URL."))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.len() > 2048 {
        return Err(bad("return_url must be an absolute http(s) URL."));
    }
    let m = ctx
        .db
        .prepare("SELECT * FROM merchants WHERE id = ?1")
        .bind(&[merchant_id.into()])?
        .first::<crate::auth::Merchant>(None)
        .await?
        .ok_or_else(|| Fail::Api(ApiError::not_found("merchant")))?;
    if !m.allows_origin(&parsed.origin().ascii_serialization()) {
        return Err(bad(
            "return_url must be on one of the merchant's allowed_origins.",
        ));
    }
    Ok(url.to_owned())
}

/// Confirm: a hosted payment page for this attempt; the widget sends the customer there.
pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    body: &ConfirmBody,
) -> ApiResult<IntentRow> {
    let return_url = check_return_url(ctx, merchant_id, body.return_url.as_deref()).await?;
    let setup = WorldpaySetup::load(ctx, merchant_id).await?;
    let attempt = claim_attempt(ctx, &row).await?;
    let amount = row.state()?.amount;
    let req = build(requests::hosted_payment_page(
        &setup.auth(),
        &row.id,
        &amount,
        row.order_reference.as_deref(),
        &ReturnUrls::all(&return_url),
        &setup.account.entity,
        attempt as u32,
    ));
    let reply = setup.call(req).await?;
    let page = wire::parse_hosted_page(&reply, &row.id).map_err(|e| Fail::Api(e.to_api_error()))?;
    if let Some(payment_id) = &page.payment_id {
        remember_payment_id(ctx, &row.id, payment_id).await?;
    }
    store_next_action(ctx, &row.id, Some(&NextAction::Redirect { url: page.url })).await?;
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::ActionRequired,
    };
    apply_events(ctx, merchant_id, &row.id, &[ev]).await
}

/// Worldpay's transaction number, shown on the intent as `provider_reference`.
pub async fn remember_payment_id(ctx: &Ctx, intent_id: &str, payment_id: &str) -> ApiResult<()> {
    ctx.db
        .prepare("UPDATE payment_intents SET provider_reference = ?2 WHERE id = ?1")
        .bind(&[intent_id.into(), payment_id.into()])?
        .run()
        .await?;
    Ok(())
}

/// Applies Worldpay's current word on the payment (status query).
pub async fn sync(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    payment_id: &str,
) -> ApiResult<IntentRow> {
    let setup = WorldpaySetup::load(ctx, merchant_id).await?;
    let status = match setup.status(payment_id).await {
        Ok(s) => s,
        Err(Fail::Api(e)) if e.status >= 500 => return Ok(row),
        Err(e) => return Err(e),
    };
    apply_status(ctx, merchant_id, &row, &status).await
}

async fn apply_status(
    ctx: &Ctx,
    merchant_id: &str,
    row: &IntentRow,
    status: &PaymentStatus,
) -> ApiResult<IntentRow> {
    if !status.belongs_to(&row.id) {
        return Err(Fail::Internal(worker::Error::RustError(format!(
            "worldpay status for {} names another transaction",
            row.id
        ))));
    }
    let evs = events::to_events(status, &row.state()?, ctx.now).map_err(|e| {
        Fail::Internal(worker::Error::RustError(format!(
            "worldpay {}: {e:?}",
            row.id
        )))
    })?;
    let after = apply_events(ctx, merchant_id, &row.id, &evs).await?;
    if let Some(total) = &status.refunded_value {
        settle_refunds(ctx, &after, total.amount).await?;
    }
    Ok(after)
}

/// Capture on shipment: all of the reservation, or less (the rest is released).
pub async fn capture(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    amount: Money,
) -> ApiResult<IntentRow> {
    let payment_id = held_at_provider(&row)?;
    let setup = WorldpaySetup::load(ctx, merchant_id).await?;
    let state = row.state()?;
    let req = if amount == state.amount_capturable {
        build(requests::settle(&setup.auth(), &payment_id, &row.id))
    } else {
        build(requests::partial_settlement(
            &setup.auth(),
            &payment_id,
            &amount,
            &row.id,
        ))
    };
    setup.call(req).await?;
    let status = setup.status(&payment_id).await?;
    apply_status(ctx, merchant_id, &row, &status).await
}

pub async fn cancel(ctx: &Ctx, merchant_id: &str, row: IntentRow) -> ApiResult<IntentRow> {
    let payment_id = held_at_provider(&row)?;
    let setup = WorldpaySetup::load(ctx, merchant_id).await?;
    setup
        .call(build(requests::cancel(&setup.auth(), &payment_id, &row.id)))
        .await?;
    let status = setup.status(&payment_id).await?;
    apply_status(ctx, merchant_id, &row, &status).await
}

/// A partial refund of `amount`, under our refund id. The refund row becomes
/// `succeeded` once Worldpay's running refunded total covers it — now, if the status
/// already says so, or when the `Refunded` notification comes.
pub async fn refund(
    ctx: &Ctx,
    merchant_id: &str,
    row: &IntentRow,
    refund_id: &str,
    amount: Money,
) -> ApiResult<()> {
    let payment_id = held_at_provider(row)?;
    let setup = WorldpaySetup::load(ctx, merchant_id).await?;
    setup
        .call(build(requests::partial_refund(
            &setup.auth(),
            &payment_id,
            &amount,
            refund_id,
        )))
        .await?;
    let status = setup.status(&payment_id).await?;
    apply_status(ctx, merchant_id, row, &status).await?;
    Ok(())
}

#[derive(Deserialize)]
struct RefundRow {
    id: String,
    amount: i64,
}

/// Marks our refunds succeeded, oldest first, as far as Worldpay's refunded total
/// (minor units) covers them.
async fn settle_refunds(ctx: &Ctx, row: &IntentRow, total: i64) -> ApiResult<()> {
    let refunds = ctx
        .db
        .prepare("SELECT id, amount FROM refunds WHERE payment_intent = ?1 AND status IN ('pending', 'succeeded') ORDER BY created, id")
        .bind(&[row.id.as_str().into()])?
        .all()
        .await?
        .results::<RefundRow>()?;
    let mut covered = 0;
    for r in refunds {
        covered += r.amount;
        if covered > total {
            break;
        }
        ctx.db
            .prepare("UPDATE refunds SET status = 'succeeded' WHERE id = ?1 AND status = 'pending'")
            .bind(&[r.id.as_str().into()])?
            .run()
            .await?;
    }
    Ok(())
}

/// After a notification: the intent it names, within this merchant.
pub async fn on_notification(
    ctx: &Ctx,
    merchant_id: &str,
    n: &shared::worldpay::webhook::Notification,
) -> ApiResult<Option<(String, bool)>> {
    let id = n.our_intent_id();
    let Ok(row) = load(ctx, merchant_id, id).await else {
        return Ok(None);
    };
    if row.record()?.provider != Provider::Worldpay {
        return Ok(None);
    }
    if let (None, Some(pid)) = (&row.provider_reference, &n.event_details.payment_id) {
        remember_payment_id(ctx, &row.id, pid).await?;
    }
    let row = load(ctx, merchant_id, id).await?;
    let before = row.version;
    let at = n.occurred_at().unwrap_or(ctx.now);
    let direct = if n.needs_status_check() {
        None
    } else {
        n.to_events(&row.state()?, at).ok()
    };
    let after = match (direct, row.provider_reference.clone()) {
        (Some(evs), _) => apply_events(ctx, merchant_id, &row.id, &evs).await?,
        (None, Some(pid)) => sync(ctx, merchant_id, row, &pid).await?,
        (None, None) => row,
    };
    // The customer is back from the hosted page: nothing left to redirect to.
    if after.state()?.status != IntentStatus::RequiresAction {
        store_next_action(ctx, &after.id, None).await?;
    }
    Ok(Some((after.id.clone(), after.version != before)))
}
