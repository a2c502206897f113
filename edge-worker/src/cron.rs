//! The Worker's cron: re-checks payments whose outcome we never heard about. A wallet
//! request past its expiry is asked about once more at the provider; if the provider
//! still says nothing final, it is failed as expired (the customer may try again).

use serde::Deserialize;
use shared::intent::{IntentEvent, ProviderEvent};
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use crate::ctx::Ctx;
use crate::http::ApiResult;
use crate::intents::{apply_events, load};
use crate::payments;

/// A request is given this long past its expiry for a late answer before we close it.
const GRACE_SECONDS: i64 = 60;
/// Bounded work per run: the next run takes the rest.
const BATCH: u32 = 50;

#[derive(Deserialize)]
struct Open {
    id: String,
    merchant_id: String,
}

#[event(scheduled)]
async fn scheduled(_ev: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match expire_open_requests(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: re-checked {n} open requests"),
        Ok(_) => {}
        Err(e) => {
            let e = e.into_api("CRON", "expire_open_requests");
            worker::console_error!("cron: {}", e.code);
        }
    }
}

async fn expire_open_requests(env: Env) -> ApiResult<usize> {
    let ctx = Ctx::new(env)?;
    let open = ctx
        .db
        .prepare(
            "SELECT id, merchant_id FROM payment_intents WHERE status = 'processing' \
             AND expires_at IS NOT NULL AND expires_at < ?1 ORDER BY expires_at LIMIT ?2",
        )
        .bind(&[
            ((ctx.now - GRACE_SECONDS) as f64).into(),
            (BATCH as f64).into(),
        ])?
        .all()
        .await?
        .results::<Open>()?;
    for o in &open {
        let row = load(&ctx, &o.merchant_id, &o.id).await?;
        let row = payments::sync(&ctx, &o.merchant_id, row).await?;
        if row.status == "processing" {
            let ev = ProviderEvent {
                at: ctx.now,
                event: IntentEvent::Failed {
                    reason: "The payment request expired before it was approved.".to_owned(),
                },
            };
            apply_events(&ctx, &o.merchant_id, &o.id, &[ev]).await?;
        }
    }
    Ok(open.len())
}
