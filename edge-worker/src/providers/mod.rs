//! The money-moving operations on an intent — confirm, sync, capture, cancel,
//! refund — with one `match` on the provider each; nothing else in the Worker
//! branches on the provider. Every outcome goes through the merchant object's
//! `apply_events` (the one state machine, the ledger); every provider call carries an
//! idempotency key derived from our ids.
//!
//! A provider call whose answer never came (timeout, 5xx, 429, lost connection) has
//! an **unknown** outcome: its attempt was recorded before the call, the intent or
//! refund stays pending, and the answer is found out by asking the provider — on the
//! next request, a callback, or the object's alarm.

pub mod cashcloud;
pub mod stripe;
pub mod worldpay;

use shared::api::{NewPaymentIntent, ProviderSetup};
use shared::error::ApiError;
use shared::intent::{
    check_cancel, check_capture, IntentEvent, IntentStatus, Provider, ProviderEvent,
};
use shared::money::Money;

use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::merchant::store::{AttemptOutcome, Intent, Merchant, RefundRow};

/// How long after an unknown outcome the object's alarm asks the provider:
/// `RESOLVE_AFTER_SECONDS` from the configuration (the local test stack shortens
/// it), else 30 s.
fn resolve_after(ctx: &Ctx) -> i64 {
    ctx.env
        .var("RESOLVE_AFTER_SECONDS")
        .ok()
        .and_then(|v| v.to_string().parse::<i64>().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(30)
}

/// What became of one provider call.
pub enum Outcome<T> {
    Done(T),
    /// No answer, or one that says nothing final (5xx, 429).
    Unknown,
}

pub use shared::api::ConfirmRequest;

fn event(ctx: &Ctx, event: IntentEvent) -> ProviderEvent {
    ProviderEvent { at: ctx.now, event }
}

/// A provider's rules for a new intent, checked before it is written.
pub async fn check_new_intent(
    ctx: &Ctx,
    merchant_id: &str,
    new: &NewPaymentIntent,
    livemode: bool,
) -> ApiResult<()> {
    if crate::merchant::accounts::load(ctx, merchant_id, new.provider, livemode)?.is_none() {
        return Err(ApiError::invalid_request(
            "provider_not_configured",
            format!(
                "Set up your {} {} credentials (PUT /v1/merchants/me/providers/{} with a {} key) before taking payments with it.",
                new.provider.as_str(),
                if livemode { "live" } else { "test" },
                new.provider.as_str(),
                if livemode { "live" } else { "test" }
            ),
        )
        .with_param("provider")
        .into());
    }
    match new.provider {
        Provider::Stripe => stripe::check_new_intent(new),
        Provider::Worldpay => worldpay::check_new_intent(new),
        Provider::Cashcloud => cashcloud::check_new_intent(ctx, merchant_id, new, livemode).await,
    }
}

/// What the widget needs to start the provider's browser side.
pub fn browser_setup(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<ProviderSetup> {
    Ok(match intent.provider()? {
        Provider::Stripe => stripe::browser_setup(ctx, merchant_id, intent.row.livemode != 0)?,
        Provider::Worldpay => ProviderSetup::Worldpay,
        Provider::Cashcloud => ProviderSetup::Cashcloud,
    })
}

/// The customer confirms. An attempt whose outcome is still unknown is resolved
/// first; then one new attempt is opened (checked and recorded in one step, so a
/// second confirm or a cancel cannot interleave) before the provider is called.
pub async fn confirm(
    ctx: &Ctx,
    merchant: &Merchant,
    intent: Intent,
    body: &ConfirmRequest,
    origin: &str,
) -> ApiResult<Intent> {
    let mut intent = intent;
    if ctx.store.open_attempt_number(intent.id())?.is_some() {
        intent = sync(ctx, &merchant.id, intent).await?;
        if intent.status()? != IntentStatus::RequiresPaymentMethod {
            return Ok(intent);
        }
    }
    // Validate what the provider needs before an attempt is used up.
    match intent.provider()? {
        Provider::Stripe => stripe::check_confirm(merchant, body)?,
        Provider::Worldpay => worldpay::check_confirm(merchant, body)?,
        Provider::Cashcloud => cashcloud::check_confirm(body).map(|_| ())?,
    };
    let attempt = ctx.store.open_attempt(
        intent.id(),
        body.payment_method.as_deref(),
        body.return_url.as_deref(),
        ctx.now,
    )?;
    // Should this isolate die before the outcome is written, the alarm asks.
    ctx.wake_at(ctx.now + resolve_after(ctx)).await?;
    let id = intent.row.id.clone();
    let outcome = match intent.provider()? {
        Provider::Stripe => stripe::confirm(ctx, &merchant.id, &intent, attempt, body).await,
        Provider::Worldpay => worldpay::confirm(ctx, &merchant.id, &intent, attempt, body).await,
        Provider::Cashcloud => {
            cashcloud::confirm(ctx, &merchant.id, &intent, attempt, body, origin).await
        }
    };
    match outcome {
        Ok(Outcome::Done(intent)) => {
            ctx.store
                .close_attempt(&id, attempt, AttemptOutcome::Done)?;
            Ok(intent)
        }
        Ok(Outcome::Unknown) => {
            ctx.store
                .close_attempt(&id, attempt, AttemptOutcome::Unknown)?;
            let (intent, _) =
                ctx.store
                    .apply_events(&id, &[event(ctx, IntentEvent::Processing)], ctx.now)?;
            ctx.wake_at(ctx.now + resolve_after(ctx)).await?;
            Ok(intent)
        }
        Err(e) => {
            // A final answer (a decline, a refused request): the attempt is over.
            ctx.store
                .close_attempt(&id, attempt, AttemptOutcome::Done)?;
            Err(e)
        }
    }
}

/// Reads an open outcome (3-D Secure under way, processing, an unknown attempt) back
/// from the provider, so the final state comes from the provider and never from the
/// browser's word. A provider that cannot be reached leaves the state as it is.
pub async fn sync(ctx: &Ctx, merchant_id: &str, intent: Intent) -> ApiResult<Intent> {
    let unknown = ctx.store.open_attempt_number(intent.id())?;
    let open = matches!(
        intent.status()?,
        IntentStatus::RequiresAction | IntentStatus::Processing
    ) || unknown.is_some();
    let refunds_pending = intent.balances.refund_pending() > 0;
    if !open && !refunds_pending {
        return Ok(intent);
    }
    let id = intent.row.id.clone();
    let synced = match intent.provider()? {
        Provider::Stripe => stripe::sync(ctx, merchant_id, &intent).await?,
        Provider::Cashcloud => cashcloud::sync(ctx, merchant_id, &intent).await?,
        Provider::Worldpay => worldpay::sync(ctx, merchant_id, &intent).await?,
    };
    match synced {
        Outcome::Done(intent) => {
            if let Some(n) = unknown {
                ctx.store.close_attempt(&id, n, AttemptOutcome::Done)?;
            }
            Ok(intent)
        }
        Outcome::Unknown => {
            ctx.wake_at(ctx.now + resolve_after(ctx)).await?;
            ctx.store.intent(&id)
        }
    }
}

/// `POST …/capture`: up to the authorised amount; the rest is released.
pub async fn capture(
    ctx: &Ctx,
    merchant_id: &str,
    intent: Intent,
    amount: Option<Money>,
) -> ApiResult<Intent> {
    let amount = check_capture(&intent.state()?, amount)?;
    match intent.provider()? {
        Provider::Stripe => stripe::capture(ctx, merchant_id, &intent, amount).await,
        Provider::Worldpay => worldpay::capture(ctx, merchant_id, &intent, amount).await,
        Provider::Cashcloud => Err(cashcloud::nothing_to_capture()),
    }
}

/// `POST …/cancel`: releases a hold at the provider, or ends an intent no provider
/// has seen yet. Never while a confirm's outcome is open: the money may be moving.
pub async fn cancel(ctx: &Ctx, merchant_id: &str, intent: Intent) -> ApiResult<Intent> {
    check_cancel(&intent.state()?)?;
    if ctx.store.open_attempt_number(intent.id())?.is_some() {
        return Err(ApiError::invalid_request(
            "intent_unexpected_state",
            "This payment is being confirmed right now; cancel it once the outcome is known.",
        )
        .into());
    }
    if intent.row.provider_reference.is_none() {
        let (intent, _) =
            ctx.store
                .apply_events(intent.id(), &[event(ctx, IntentEvent::Canceled)], ctx.now)?;
        return Ok(intent);
    }
    match intent.provider()? {
        Provider::Stripe => stripe::cancel(ctx, merchant_id, &intent).await,
        Provider::Worldpay => worldpay::cancel(ctx, merchant_id, &intent).await,
        Provider::Cashcloud => cashcloud::cancel(ctx, merchant_id, &intent).await,
    }
}

/// A provider's signed callback, for the merchant the route names (`account`: its
/// credentials for that provider, `None` if it has none).
pub async fn webhook(
    ctx: Ctx,
    provider: Provider,
    merchant_id: String,
    body: Vec<u8>,
    headers: worker::Headers,
    account: Option<shared::accounts::ProviderAccount>,
    livemode: bool,
) -> ApiResult<&'static str> {
    match provider {
        Provider::Stripe => {
            stripe::webhook(ctx, merchant_id, body, headers, account, livemode).await
        }
        Provider::Cashcloud => {
            cashcloud::webhook(ctx, merchant_id, body, headers, account, livemode).await
        }
        Provider::Worldpay => {
            worldpay::webhook(ctx, merchant_id, body, headers, account, livemode).await
        }
    }
}

/// A provider's API base URL for one mode, from the Worker's configuration:
/// `<VAR>` for test mode, `<VAR>_LIVE` for live mode. Live mode never falls back to
/// the test endpoint.
pub fn base_url(ctx: &Ctx, var: &str, livemode: bool) -> ApiResult<String> {
    if !livemode {
        return Ok(ctx.env.var(var)?.to_string());
    }
    ctx.env
        .var(&format!("{var}_LIVE"))
        .map(|v| v.to_string())
        .map_err(|_| {
            Fail::Api(ApiError::invalid_request(
                "live_not_available",
                "This provider is not set up for live payments on this platform.",
            ))
        })
}

/// Sends a reserved (pending) refund to the provider. An unknown outcome leaves it
/// pending; asking again reuses the same provider idempotency key (the refund's id).
pub async fn refund(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    refund: &RefundRow,
) -> ApiResult<RefundRow> {
    let amount = intent.money(refund.amount)?;
    // Should this isolate die before the outcome is written, the alarm asks.
    ctx.wake_at(ctx.now + resolve_after(ctx)).await?;
    let outcome = match intent.provider()? {
        Provider::Stripe => stripe::refund(ctx, merchant_id, intent, refund, amount).await,
        Provider::Worldpay => worldpay::refund(ctx, merchant_id, intent, refund, amount).await,
        Provider::Cashcloud => cashcloud::refund(ctx, merchant_id, intent, refund, amount).await,
    };
    match outcome {
        Ok(Outcome::Done(())) => {}
        Ok(Outcome::Unknown) => ctx.wake_at(ctx.now + resolve_after(ctx)).await?,
        Err(e) => {
            // A final refusal: the amount is refundable again.
            ctx.store.settle_refund(&refund.id, false, ctx.now)?;
            return Err(e);
        }
    }
    refund_row(ctx, &refund.id)
}

pub fn refund_row(ctx: &Ctx, id: &str) -> ApiResult<RefundRow> {
    ctx.store
        .refund(id)?
        .ok_or_else(|| Fail::Api(ApiError::not_found("refund").with_param("id")))
}

/// Whether an intent's outcome is still being found out: an attempt whose answer
/// never came, a refund the provider has not settled, a payment still processing.
pub fn is_open(ctx: &Ctx, intent: &Intent) -> ApiResult<bool> {
    Ok(ctx.store.open_attempt_number(intent.id())?.is_some()
        || intent.balances.refund_pending() > 0
        || intent.status()? == IntentStatus::Processing)
}

/// The alarm: asks the providers about every intent with an open outcome or a
/// pending refund; wakes again later while anything is still unresolved.
pub async fn resolve_open(ctx: &Ctx) -> ApiResult<()> {
    const BATCH: i64 = 50;
    let Some(merchant) = ctx.store.merchant()? else {
        return Ok(());
    };
    let mut ids = ctx.store.unresolved_intents(ctx.now, BATCH)?;
    ids.extend(ctx.store.intents_with_pending_refunds(BATCH)?);
    ids.sort();
    ids.dedup();
    let mut still_open = false;
    for id in ids {
        // One intent's failure must not stop the others.
        let Ok(intent) = ctx.store.intent(&id) else {
            continue;
        };
        match sync(ctx, &merchant.id, intent).await {
            Ok(i) => still_open |= is_open(ctx, &i)?,
            Err(e) => {
                let e = e.into_api("ALARM", &id);
                worker::console_warn!("alarm: {id}: {}", e.code);
                still_open = true;
            }
        }
    }
    if still_open {
        ctx.wake_at(ctx.now + resolve_after(ctx)).await?;
    }
    Ok(())
}

/// The provider's record of an intent's payment, for reconciliation: `None` when the
/// provider has no such payment. An intent that never reached the provider has none.
pub async fn reconcile_record(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
) -> ApiResult<Option<shared::reconcile::Theirs>> {
    let Some(reference) = intent.row.provider_reference.as_deref() else {
        return Ok(None);
    };
    match intent.provider()? {
        Provider::Stripe => stripe::reconcile_record(ctx, merchant_id, intent, reference).await,
        Provider::Worldpay => worldpay::reconcile_record(ctx, merchant_id, intent, reference).await,
        Provider::Cashcloud => {
            cashcloud::reconcile_record(ctx, merchant_id, intent, reference).await
        }
    }
}

/// Payments a provider made in `[start, end)` for this merchant's intents that our
/// ledger does not hold. Only Stripe lists a day's payments; Worldpay and Cashcloud
/// document no list, so their payments are read one by one (`reconcile_record`).
pub async fn unknown_payments(
    ctx: &Ctx,
    merchant_id: &str,
    provider: Provider,
    livemode: bool,
    window: (i64, i64),
) -> ApiResult<Vec<shared::reconcile::Theirs>> {
    if crate::merchant::accounts::load(ctx, merchant_id, provider, livemode)?.is_none() {
        return Ok(Vec::new());
    }
    match provider {
        Provider::Stripe => stripe::unknown_payments(ctx, merchant_id, livemode, window).await,
        Provider::Worldpay | Provider::Cashcloud => Ok(Vec::new()),
    }
}

pub fn held_at_provider(intent: &Intent) -> ApiResult<String> {
    intent.row.provider_reference.clone().ok_or_else(|| {
        Fail::Api(ApiError::invalid_request(
            "intent_unexpected_state",
            "This payment has not reached the provider yet.",
        ))
    })
}

/// The return URL must be on one of the merchant's own origins: the provider sends
/// the customer there, and an open redirect would be a phishing tool.
pub fn check_return_url(
    merchant: &Merchant,
    url: Option<&str>,
    required: bool,
) -> ApiResult<Option<String>> {
    let bad = |msg: &str| {
        Fail::Api(ApiError::invalid_request("parameter_invalid", msg).with_param("return_url"))
    };
    let Some(url) = url else {
        return if required {
            Err(bad(
                "return_url is required: the page the customer comes back to.",
            ))
        } else {
            Ok(None)
        };
    };
    let parsed =
        worker::Url::parse(url).map_err(|_| bad("return_url must be an absolute http(s) URL."))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.len() > 2048 {
        return Err(bad("return_url must be an absolute http(s) URL."));
    }
    if !merchant.allows_origin(&parsed.origin().ascii_serialization()) {
        return Err(bad(
            "return_url must be on one of the merchant's allowed_origins.",
        ));
    }
    Ok(Some(url.to_owned()))
}
