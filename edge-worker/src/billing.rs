//! Recurring billing inside the merchant's object: at each period's end the object
//! invoices the subscription and charges the saved card off session; declines are
//! retried on the schedule of `shared::billing`; once a month the platform bills
//! the merchant for its qualifying transactions. Run by the object's alarm on real
//! time, and by `POST /v1/test_clocks/{id}/advance` for subscriptions on a test clock.
//!
//! Never twice: an invoice exists once per period (the store's UNIQUE and its
//! period check run in one synchronous step), an attempt is leased before the
//! card is charged, and the Stripe idempotency key is our intent's id and the
//! attempt's number, so a resend after a lost answer cannot charge again.

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;
use shared::billing::{self, AttemptResult, Due, Schedule};
use shared::fees::platform_fee;
use shared::intent::{CaptureMethod, IntentStatus, Provider};
use shared::keys::{client_secret, new_scoped_id};
use shared::stripe::wire::DeclineReason;

use crate::ctx::{random, Ctx};
use crate::http::{ApiResult, Fail};
use crate::merchant::store::billing::{InvoiceRow, SubscriptionRow};
use crate::merchant::store::{AttemptOutcome, Intent, Merchant, NewIntent};
use crate::providers::stripe::{self, Billing};

/// Steps per run: a clock advanced by years stops here and the next call goes on.
const MAX_STEPS: usize = 400;

/// What is due next on one clock.
enum Next {
    Period(SubscriptionRow),
    Attempt(InvoiceRow),
}

/// Runs everything due on `clock` (`None`: real time) in time order: period ends
/// (invoice, or cancel at period end) and invoice attempts (first tries and retries).
pub async fn run_due(ctx: &Ctx, merchant: &Merchant, clock: Option<&str>) -> ApiResult<()> {
    let mut unresolved = BTreeSet::new();
    for _ in 0..MAX_STEPS {
        let at = ctx.store.time_of(clock, ctx.now)?;
        let sub = ctx
            .store
            .subscriptions_due(clock, at, 1)?
            .into_iter()
            .next();
        let inv = ctx
            .store
            .invoices_due(clock, at, 50)?
            .into_iter()
            .find(|i| !unresolved.contains(&i.id) && i.lease_until.is_none_or(|l| l < ctx.now));
        let next = match (sub, inv) {
            (Some(s), Some(i)) if s.current_period_end < due_time(&i) => Next::Period(s),
            (_, Some(i)) => Next::Attempt(i),
            (Some(s), None) => Next::Period(s),
            (None, None) => return Ok(()),
        };
        match next {
            Next::Period(s) => period_end(ctx, merchant, &s)?,
            Next::Attempt(i) => {
                if attempt(ctx, merchant, &i).await? == AttemptResult::Unknown {
                    unresolved.insert(i.id.clone());
                }
            }
        }
    }
    Ok(())
}

fn due_time(i: &InvoiceRow) -> i64 {
    if i.attempt_count == 0 {
        i.created
    } else {
        i.next_payment_attempt.unwrap_or(i.created)
    }
}

/// The end of a subscription's period: cancel it (at period end) or invoice the
/// next period.
fn period_end(ctx: &Ctx, merchant: &Merchant, s: &SubscriptionRow) -> ApiResult<()> {
    let schedule = Schedule {
        status: s.status()?,
        current_period_end: s.current_period_end,
        cancel_at_period_end: s.cancel_at_period_end != 0,
    };
    match billing::due(&schedule, s.current_period_end) {
        Due::Nothing => Ok(()),
        Due::Cancel => ctx.store.end_period_canceled(&s.id, ctx.now).map(|_| ()),
        Due::Invoice => {
            let ids = InvoiceIds::new(ctx, merchant);
            if let Some(inv) = ctx.store.open_next_period(
                s,
                &ids.invoice,
                &ids.intent,
                (&ids.token, &ids.hosted_url),
                s.current_period_end,
            )? {
                make_intent(ctx, merchant, s, &inv)?;
            }
            Ok(())
        }
    }
}

/// Ids for a new invoice and the intent that pays it, and the invoice's page.
pub struct InvoiceIds {
    pub invoice: String,
    pub intent: String,
    pub token: String,
    pub hosted_url: String,
}

impl InvoiceIds {
    pub fn new(ctx: &Ctx, merchant: &Merchant) -> InvoiceIds {
        let invoice = new_scoped_id("in_", &merchant.id, &random());
        let token = hex::encode(random::<16>());
        let base = ctx
            .env
            .var("PUBLIC_URL")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let hosted_url = format!(
            "{}/v1/hosted_invoices/{invoice}?token={token}",
            base.trim_end_matches('/')
        );
        InvoiceIds {
            intent: new_scoped_id("pi_", &merchant.id, &random()),
            invoice,
            token,
            hosted_url,
        }
    }
}

/// The payment intent of an invoice: the subscription's amount, on Stripe, for its
/// customer, with the merchant's platform fee like any payment.
pub fn make_intent(
    ctx: &Ctx,
    merchant: &Merchant,
    s: &SubscriptionRow,
    inv: &InvoiceRow,
) -> ApiResult<()> {
    let amount = s.money(s.amount)?;
    let setting = Decimal::from_str(&merchant.platform_fee).map_err(|_| {
        Fail::Internal(worker::Error::RustError(format!(
            "{}: bad platform_fee",
            merchant.id
        )))
    })?;
    let secret = client_secret(&inv.payment_intent, &random());
    let description = s
        .description
        .clone()
        .unwrap_or_else(|| format!("Subscription {}", s.id));
    ctx.store.insert_intent(&NewIntent {
        id: &inv.payment_intent,
        client_secret: &secret,
        provider: Provider::Stripe,
        amount,
        platform_fee: platform_fee(&amount, setting),
        capture_method: CaptureMethod::Automatic,
        description: Some(&description),
        order_reference: Some(&inv.id),
        customer: Some(&s.customer),
        setup_future_usage: None,
        metadata: None,
        livemode: s.livemode != 0,
        now: ctx.now,
    })?;
    ctx.store.set_intent_invoice(&inv.payment_intent, &inv.id)?;
    Ok(())
}

/// One attempt at an invoice: leased first, so a second runner (the alarm beside a
/// clock advance, or two advances) skips it. An attempt whose answer was lost is
/// asked again under the same Stripe key before any new attempt.
pub async fn attempt(ctx: &Ctx, merchant: &Merchant, inv: &InvoiceRow) -> ApiResult<AttemptResult> {
    let at = due_time(inv).max(inv.period_start);
    if !ctx
        .store
        .lease_invoice(&inv.id, inv.attempt_count, ctx.now)?
    {
        return Ok(AttemptResult::Unknown);
    }
    let result = match charge(ctx, merchant, inv).await {
        Ok(r) => r,
        Err(e) => {
            ctx.store
                .settle_invoice_attempt(&inv.id, AttemptResult::Unknown, at, ctx.now)?;
            return Err(e);
        }
    };
    ctx.store
        .settle_invoice_attempt(&inv.id, result, at, ctx.now)?;
    Ok(result)
}

async fn charge(ctx: &Ctx, merchant: &Merchant, inv: &InvoiceRow) -> ApiResult<AttemptResult> {
    let intent = ctx.store.intent(&inv.payment_intent)?;
    if let Some(n) = ctx.store.open_attempt_number(intent.id())? {
        // An attempt whose answer never came: the same request again (same key).
        return resend(ctx, merchant, &intent, n).await;
    }
    match intent.status()? {
        IntentStatus::Succeeded | IntentStatus::RequiresCapture => return Ok(AttemptResult::Paid),
        IntentStatus::RequiresPaymentMethod => {}
        IntentStatus::RequiresAction | IntentStatus::Processing => {
            return Ok(AttemptResult::ActionRequired)
        }
        IntentStatus::Canceled => return Ok(AttemptResult::Declined),
    }
    let sub = ctx
        .store
        .subscription(&inv.subscription, inv.livemode != 0)?;
    let Some(pm) = sub.payment_method.clone() else {
        return Ok(AttemptResult::Declined);
    };
    let customer = stripe_customer(ctx, &sub)?;
    let n = ctx
        .store
        .open_off_session_attempt(intent.id(), &pm, ctx.now)?;
    let outcome = stripe::charge_saved_card(ctx, &merchant.id, &intent, n, &customer, &pm).await;
    close(ctx, &intent, n, &outcome)?;
    outcome
}

fn close(ctx: &Ctx, intent: &Intent, n: i64, outcome: &ApiResult<AttemptResult>) -> ApiResult<()> {
    let done = match outcome {
        Ok(AttemptResult::Unknown) | Err(_) => AttemptOutcome::Unknown,
        Ok(_) => AttemptOutcome::Done,
    };
    ctx.store.close_attempt(intent.id(), n, done)?;
    Ok(())
}

async fn resend(
    ctx: &Ctx,
    merchant: &Merchant,
    intent: &Intent,
    n: i64,
) -> ApiResult<AttemptResult> {
    let Some((pm, _)) = ctx.store.attempt_request(intent.id(), n)? else {
        return Ok(AttemptResult::Unknown);
    };
    let customer = match &intent.row.customer {
        Some(c) => ctx
            .store
            .customer(c, intent.row.livemode != 0)?
            .stripe_customer
            .unwrap_or_default(),
        None => return Ok(AttemptResult::Unknown),
    };
    let outcome = stripe::charge_saved_card(ctx, &merchant.id, intent, n, &customer, &pm).await;
    close(ctx, intent, n, &outcome)?;
    outcome
}

fn stripe_customer(ctx: &Ctx, sub: &SubscriptionRow) -> ApiResult<String> {
    ctx.store
        .customer(&sub.customer, sub.livemode != 0)?
        .stripe_customer
        .ok_or_else(|| {
            Fail::Internal(worker::Error::RustError(format!(
                "{}: customer without a Stripe customer",
                sub.id
            )))
        })
}

// ---------------------------------------------------------------- the platform's bill

/// Once a month (on the object's clock): the platform's invoice for the month that
/// ended, per mode and currency, then a charge of every platform invoice that is due
/// to the merchant's saved card on the platform's Stripe account.
pub async fn bill_platform(ctx: &Ctx, merchant: &Merchant) -> ApiResult<()> {
    let clock = ctx.store.clock_now(ctx.now)?;
    let end = billing::month_start(clock);
    let start = billing::add_months(end, -1);
    let month = billing::month_label(start);
    for livemode in [false, true] {
        for total in ctx.store.qualifying_fees(livemode, start, end)? {
            let id = new_scoped_id("pin_", &merchant.id, &random());
            ctx.store
                .insert_platform_invoice(&id, &month, &total, start, end, livemode, clock)?;
        }
    }
    for inv in ctx.store.platform_invoices_due(clock)? {
        let (customer, pm) = ctx.store.platform_billing(inv.livemode != 0)?;
        let (Some(customer), Some(pm)) = (customer, pm) else {
            // No card yet: it waits; saving one makes it due again.
            continue;
        };
        if !ctx
            .store
            .lease_platform_invoice(&inv.id, inv.attempt_count, ctx.now)?
        {
            continue;
        }
        let description = format!("Platform fees {} ({})", inv.month, merchant.id);
        let attempt = inv.attempt_count + 1;
        let at = inv.next_payment_attempt.unwrap_or(clock);
        let (result, error) = stripe::charge_platform_invoice(
            ctx,
            &inv.id,
            inv.money()?,
            &description,
            (&customer, &pm),
            attempt,
        )
        .await?;
        ctx.store
            .settle_platform_attempt(&inv.id, result, error.as_deref(), at)?;
    }
    Ok(())
}

/// The alarm's share: real-time subscriptions and the platform's bill, then the
/// next wake-up for whatever billing has left.
pub async fn on_alarm(ctx: &Ctx) -> ApiResult<()> {
    let Some(merchant) = ctx.store.merchant()? else {
        return Ok(());
    };
    run_due(ctx, &merchant, None).await?;
    bill_platform(ctx, &merchant).await?;
    schedule(ctx).await
}

/// Sets the object's alarm for the next billing moment: the earliest period end or
/// retry on real time, and the start of next month for the platform's bill.
pub async fn schedule(ctx: &Ctx) -> ApiResult<()> {
    let clock = ctx.store.clock_now(ctx.now)?;
    let offset = clock - ctx.now;
    let next_month = billing::add_months(billing::month_start(clock), 1) - offset;
    let next = ctx
        .store
        .next_billing_at()?
        .map_or(next_month, |at| at.min(next_month));
    ctx.wake_at(next).await?;
    Ok(())
}

/// `POST /v1/payment_intents/{id}/confirm {payment_method, off_session: true}` with
/// the secret key: the intent's customer's saved card, charged without the customer.
/// A decline, or a bank that wants the customer, is a final answer (402); no answer
/// leaves the intent processing until Stripe is asked under the same key.
pub async fn confirm_off_session(
    ctx: &Ctx,
    merchant: &Merchant,
    intent: Intent,
    body: &shared::api::ConfirmRequest,
) -> ApiResult<Intent> {
    use shared::error::ApiError;
    let bad = |param: &str, msg: &str| {
        Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param(param))
    };
    if intent.provider()? != Provider::Stripe {
        return Err(bad(
            "off_session",
            "Saved cards are charged with provider stripe only.",
        ));
    }
    let pm = body
        .payment_method
        .as_deref()
        .filter(|pm| billing::is_id(pm, "pm_"))
        .ok_or_else(|| {
            bad(
                "payment_method",
                "payment_method must be a saved card (pm_…).",
            )
        })?;
    let customer_id = intent.row.customer.clone().ok_or_else(|| {
        bad(
            "customer",
            "This payment has no customer whose card could be charged.",
        )
    })?;
    let customer = ctx.store.customer(&customer_id, intent.row.livemode != 0)?;
    let stripe_customer = customer.stripe_customer.clone().ok_or_else(|| {
        Fail::Api(ApiError::not_found("payment_method").with_param("payment_method"))
    })?;
    let card = Billing::merchant(ctx, &merchant.id, intent.row.livemode != 0)?
        .saved_card(&stripe_customer, pm)
        .await?;
    if card.is_none() {
        return Err(ApiError::not_found("payment_method")
            .with_param("payment_method")
            .into());
    }
    if let Some(n) = ctx.store.open_attempt_number(intent.id())? {
        if ctx.store.attempt_off_session(intent.id(), n)? {
            resend(ctx, merchant, &intent, n).await?;
            return ctx.store.intent(intent.id());
        }
    }
    let n = ctx
        .store
        .open_off_session_attempt(intent.id(), pm, ctx.now)?;
    let outcome =
        stripe::charge_saved_card(ctx, &merchant.id, &intent, n, &stripe_customer, pm).await;
    close(ctx, &intent, n, &outcome)?;
    let after = ctx.store.intent(intent.id())?;
    match outcome? {
        AttemptResult::Paid | AttemptResult::Unknown => Ok(after),
        AttemptResult::ActionRequired => Err(ApiError::provider(
            402,
            DeclineReason::AuthenticationRequired.code(),
            DeclineReason::AuthenticationRequired.message(),
        )
        .into()),
        AttemptResult::Declined => Err(ApiError::provider(
            402,
            "card_declined",
            after
                .row
                .last_error
                .clone()
                .unwrap_or_else(|| DeclineReason::CardDeclined.message().to_owned()),
        )
        .into()),
    }
}
