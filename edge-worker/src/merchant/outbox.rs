//! The outbox: events the store wrote with the changes they report, delivered to the
//! merchant's endpoints at least once by the object's alarm — never inline, so a slow
//! or failing endpoint never slows a payment. Each try is signed with every secret
//! valid at that moment, recorded, and retried on the schedule `shared::webhooks`
//! gives (doubling gaps, three days).

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use futures_util::future::join_all;
use shared::secrets::{webhook_secret_aad, Secret};
use shared::webhooks::{
    next_attempt, signature_header, DELIVERY_TIMEOUT_SECONDS, SIGNATURE_HEADER,
};

use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail};
use crate::merchant::store::{DeliveryStatus, DueDelivery, EndpointRow};
use crate::outbound::{post_event, Answer};

/// Deliveries sent per wake-up, side by side; more wait for the next one.
const BATCH: i64 = 20;
/// A delivery being sent is leased this long on the object's clock: if the isolate
/// dies mid-send, the next runner sends it again (at least once).
const LEASE_SECONDS: i64 = 60;
/// Events are readable, and deliverable, for 30 days.
const KEEP_EVENTS_SECONDS: i64 = 30 * 24 * 3600;

pub fn seal_secret(
    ctx: &Ctx,
    merchant_id: &str,
    endpoint_id: &str,
    secret: &Secret,
) -> ApiResult<String> {
    let sealed = ctx.keyring()?.seal(
        random(),
        &webhook_secret_aad(merchant_id, endpoint_id),
        secret.expose().as_bytes(),
    );
    Ok(B64.encode(sealed))
}

fn open_secret(ctx: &Ctx, merchant_id: &str, endpoint_id: &str, sealed: &str) -> ApiResult<Secret> {
    let internal = || {
        Fail::Internal(worker::Error::RustError(format!(
            "sealed webhook secret of {endpoint_id} does not open"
        )))
    };
    let bytes = B64.decode(sealed).map_err(|_| internal())?;
    let plain = ctx
        .keyring()?
        .open(&bytes, &webhook_secret_aad(merchant_id, endpoint_id))
        .map_err(|_| internal())?;
    Ok(Secret::new(
        String::from_utf8(plain).map_err(|_| internal())?,
    ))
}

/// The secrets that sign a delivery now: the current one, and the previous one
/// while its overlap after a roll lasts.
fn signing_secrets(
    ctx: &Ctx,
    merchant_id: &str,
    e: &EndpointRow,
    clock: i64,
) -> ApiResult<Vec<Secret>> {
    let mut out = vec![open_secret(ctx, merchant_id, &e.id, &e.sealed)?];
    if let (Some(prev), Some(until)) = (&e.previous_sealed, e.previous_until) {
        if clock < until {
            out.push(open_secret(ctx, merchant_id, &e.id, prev)?);
        }
    }
    Ok(out)
}

/// Sends every delivery that is due on the object's clock, then sets the alarm for
/// the next one. Called by the alarm and by a test clock's advance.
pub async fn deliver_due(ctx: &Ctx) -> ApiResult<()> {
    let Some(merchant) = ctx.store.merchant()? else {
        return Ok(());
    };
    let clock = ctx.store.clock_now(ctx.now)?;
    ctx.store.purge_events(clock - KEEP_EVENTS_SECONDS)?;
    loop {
        let due = ctx
            .store
            .take_due_deliveries(clock, clock + LEASE_SECONDS, BATCH)?;
        let n = due.len() as i64;
        let sends = due
            .into_iter()
            .map(|d| deliver(ctx, &merchant.id, d, clock));
        for r in join_all(sends).await {
            if let Err(e) = r {
                let e = e.into_api("ALARM", "deliver");
                worker::console_warn!("webhook delivery: {}", e.code);
            }
        }
        if n < BATCH {
            break;
        }
    }
    schedule(ctx).await
}

/// Sets the object's alarm for the earliest pending delivery (on the real clock).
pub async fn schedule(ctx: &Ctx) -> ApiResult<()> {
    if let Some(next) = ctx.store.next_delivery_at()? {
        let offset = ctx.store.clock_now(ctx.now)? - ctx.now;
        ctx.wake_at(next - offset).await?;
    }
    Ok(())
}

async fn deliver(ctx: &Ctx, merchant_id: &str, d: DueDelivery, clock: i64) -> ApiResult<()> {
    let (Some(endpoint), Some(event)) = (
        ctx.store.endpoint_any_mode(&d.endpoint)?,
        ctx.store.event_any_mode(&d.event)?,
    ) else {
        // The endpoint was deleted or the event purged since: nothing to send.
        ctx.store
            .record_delivery(&d, clock, None, Some("gone"), DeliveryStatus::Failed, None)?;
        return Ok(());
    };
    let secrets = signing_secrets(ctx, merchant_id, &endpoint, clock)?;
    let refs: Vec<&Secret> = secrets.iter().collect();
    // Signed on the real clock: the merchant's server checks `t` against its own.
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "user-agent".to_owned(),
            "EdgeCheckout/1.0 (+webhooks)".to_owned(),
        ),
        (
            SIGNATURE_HEADER.to_owned(),
            signature_header(ctx.now, event.body.as_bytes(), &refs),
        ),
    ];
    let answer = post_event(
        &endpoint.url,
        &headers,
        &event.body,
        Duration::from_secs(DELIVERY_TIMEOUT_SECONDS),
    )
    .await?;
    let (code, error) = match answer {
        Answer::Http { status, .. } => (Some(status), None),
        Answer::Unreachable => (
            None,
            Some("no answer within 10 s, or the connection failed"),
        ),
    };
    if code.is_some_and(|c| (200..300).contains(&c)) {
        ctx.store
            .record_delivery(&d, clock, code, None, DeliveryStatus::Delivered, None)?;
        return Ok(());
    }
    let failed = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
    match next_attempt(event.created, failed, clock) {
        Some(at) => {
            ctx.store
                .record_delivery(&d, clock, code, error, DeliveryStatus::Pending, Some(at))?
        }
        None => ctx
            .store
            .record_delivery(&d, clock, code, error, DeliveryStatus::Failed, None)?,
    }
    Ok(())
}
