//! The daily reconciliation: each merchant's object compares its ledger with the
//! providers' own records of the payments a day touched, and writes every difference
//! as a `reconciliation.mismatch` event (merchant and admin read them; endpoints get
//! them like any event). Nothing is repaired: a person decides which side is wrong.
//!
//! Run by the object's alarm for each day an hour after it ends (late webhooks,
//! Worldpay's batches), catching up on days it slept through, and on request
//! (`POST /v1/reconciliations`).

use std::collections::BTreeSet;

use shared::billing::{day_label, day_start};
use shared::intent::Provider;
use shared::reconcile::{compare, Mismatch, Ours, Reconciliation, Theirs};
use shared::webhooks::EventType;

use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail};
use crate::merchant::store::{Intent, Merchant};
use crate::providers;

const DAY: i64 = 86_400;
/// A day is reconciled this long after it ends.
pub const DELAY_SECONDS: i64 = 3600;
/// Days the alarm reconciles per wake-up when catching up; the rest at the next.
const DAYS_PER_WAKE: usize = 7;
/// Intents read from storage at a time.
const PAGE: i64 = 100;

fn ours(intent: &Intent) -> ApiResult<Ours> {
    let state = intent.state()?;
    Ok(Ours {
        payment_intent: intent.row.id.clone(),
        reference: intent.row.provider_reference.clone(),
        currency: intent.currency()?,
        capturable: state.amount_capturable.to_minor_units(),
        captured: state.amount_received.to_minor_units(),
        refunded: state.amount_refunded.to_minor_units(),
    })
}

/// Reconciles one day (UTC) of one mode and keeps the run. `daily`: the alarm's run,
/// kept once per day and mode (`None` when another got there first).
pub async fn run(
    ctx: &Ctx,
    merchant: &Merchant,
    day: &str,
    livemode: bool,
    daily: bool,
) -> ApiResult<Option<Reconciliation>> {
    let start = day_start(day).ok_or_else(|| {
        Fail::Internal(worker::Error::RustError(format!(
            "reconcile: bad day {day}"
        )))
    })?;
    let mut books: Vec<(Provider, Vec<Ours>, Vec<Theirs>)> = Provider::ALL
        .iter()
        .map(|p| (*p, Vec::new(), Vec::new()))
        .collect();
    let (mut checked, mut waiting) = (0u32, 0u32);
    let mut unreadable = BTreeSet::new();
    let mut after = String::new();
    loop {
        let ids = ctx
            .store
            .intents_touched(livemode, start, start + DAY, &after, PAGE)?;
        let Some(last) = ids.last() else { break };
        after = last.clone();
        for id in ids {
            let mut intent = ctx.store.intent(&id)?;
            let provider = intent.provider()?;
            if unreadable.contains(provider.as_str()) {
                continue;
            }
            if providers::is_open(ctx, &intent)? {
                // Ask the provider first, as the alarm would.
                if let Ok(i) = providers::sync(ctx, &merchant.id, intent.clone()).await {
                    intent = i;
                }
                if providers::is_open(ctx, &intent)? {
                    waiting += 1;
                    continue;
                }
            }
            let record = match providers::reconcile_record(ctx, &merchant.id, &intent).await {
                Ok(r) => r,
                Err(e) => {
                    let e = e.into_api("RECONCILE", &id);
                    worker::console_warn!(
                        "reconcile: {} unreadable: {}",
                        provider.as_str(),
                        e.code
                    );
                    unreadable.insert(provider.as_str());
                    continue;
                }
            };
            // Other requests run while the provider is asked: a payment that moved
            // meanwhile is compared at the next run, not against an older answer.
            let now = ctx.store.intent(&id)?;
            if now.balances != intent.balances || now.row.status != intent.row.status {
                waiting += 1;
                continue;
            }
            let book = books
                .iter_mut()
                .find(|b| b.0 == provider)
                .expect("every provider has a book");
            book.1.push(ours(&intent)?);
            book.2.extend(record);
            checked += 1;
        }
    }
    // What the providers made that day and we do not hold (a second charge for one
    // order, a payment whose answer never reached us).
    for (provider, _, theirs) in books.iter_mut() {
        if unreadable.contains(provider.as_str()) {
            continue;
        }
        let window = (start, start + DAY);
        match providers::unknown_payments(ctx, &merchant.id, *provider, livemode, window).await {
            Ok(found) => theirs.extend(found),
            Err(e) => {
                let e = e.into_api("RECONCILE", provider.as_str());
                worker::console_warn!(
                    "reconcile: {} list unreadable: {}",
                    provider.as_str(),
                    e.code
                );
                unreadable.insert(provider.as_str());
            }
        }
    }
    let id = shared::keys::new_scoped_id("rec_", &merchant.id, &random());
    let mismatches: Vec<Mismatch> = books
        .iter()
        .filter(|(p, ..)| !unreadable.contains(p.as_str()))
        .flat_map(|(p, o, t)| {
            compare(o, t)
                .into_iter()
                .map(|d| Mismatch::new(&id, *p, &d))
                .collect::<Vec<_>>()
        })
        .collect();
    let rec = Reconciliation {
        id,
        object: "reconciliation",
        day: day.to_owned(),
        livemode,
        created: ctx.now,
        checked,
        in_flight: waiting,
        unreadable: unreadable.iter().map(|p| (*p).to_owned()).collect(),
        mismatches,
    };
    let body = serde_json::to_string(&rec)
        .map_err(|e| Fail::Internal(worker::Error::RustError(e.to_string())))?;
    // The run and its events in one synchronous step: both are kept, or neither.
    if !ctx
        .store
        .insert_reconciliation(&rec.id, day, livemode, daily, ctx.now, &body)?
    {
        return Ok(None);
    }
    for m in &rec.mismatches {
        ctx.store
            .emit(EventType::ReconciliationMismatch, m, livemode, ctx.now)?;
    }
    Ok(Some(rec))
}

/// The alarm's part: every day that has ended (an hour ago) and has not been
/// reconciled yet, from the mode's first intent on, a week at a time.
pub async fn run_due(ctx: &Ctx, merchant: &Merchant) -> ApiResult<()> {
    let clock = ctx.store.clock_now(ctx.now)?;
    let Some(last_due) = day_start(&day_label(clock - DELAY_SECONDS - DAY)) else {
        return Ok(());
    };
    let mut more = false;
    for livemode in [false, true] {
        let first = match ctx.store.last_daily_reconciliation(livemode)? {
            Some(d) => day_start(&d).map(|t| t + DAY),
            None => ctx
                .store
                .first_intent_at(livemode)?
                .and_then(|t| day_start(&day_label(t))),
        };
        let Some(mut day) = first else { continue };
        let mut n = 0;
        while day <= last_due {
            if n == DAYS_PER_WAKE {
                more = true;
                break;
            }
            run(ctx, merchant, &day_label(day), livemode, true).await?;
            day += DAY;
            n += 1;
        }
    }
    let offset = clock - ctx.now;
    let next = if more {
        ctx.now + 60
    } else {
        day_start(&day_label(clock)).unwrap_or(clock) + DAY + DELAY_SECONDS - offset
    };
    ctx.wake_at(next).await?;
    Ok(())
}
