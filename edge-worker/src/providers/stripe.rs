//! Stripe: `shared::stripe` describes every request and reads every answer; this
//! module loads the keys, sends, and hands outcomes to the merchant's object.

use shared::accounts::{ProviderAccount, StripeAccount, StripeMode};
use shared::api::{NewPaymentIntent, ProviderSetup};
use shared::billing::{CardSummary, SavedCard};
use shared::error::ApiError;
use shared::intent::{IntentEvent, IntentStatus, Provider, ProviderEvent};
use shared::money::Money;
use shared::reconcile::Theirs;
use shared::secrets::Secret;
use shared::stripe::events::{self, to_events};
use shared::stripe::requests::{self, Charge, Destination};
use shared::stripe::wire::{
    self, error_to_api_error, StripeError, StripeIntentStatus as S, StripePaymentIntent,
};
use shared::stripe::{Auth, HttpRequest};

use super::{check_return_url, held_at_provider, ConfirmRequest, Outcome};
use crate::ctx::Ctx;
use crate::http::{domain, ApiResult, Fail};
use crate::merchant::store::{Intent, Merchant, RefundRow};
use crate::outbound::{self, Answer};
use worker::Headers;

/// A merchant's Stripe set-up, opened for the length of one request.
pub struct StripeSetup {
    pub account: StripeAccount,
    platform_key: Secret,
    base: String,
}

/// What one call to Stripe gave.
enum Reply {
    Ok(Vec<u8>),
    /// Stripe's final word: a 4xx with its error (a decline is an outcome).
    Refused(u16, StripeError),
    /// No answer, or a 5xx/429: it may or may not have happened.
    Unknown,
}

impl StripeSetup {
    pub fn load(ctx: &Ctx, merchant_id: &str, livemode: bool) -> ApiResult<StripeSetup> {
        let ProviderAccount::Stripe(account) =
            crate::merchant::accounts::require(ctx, merchant_id, Provider::Stripe, livemode)?
        else {
            unreachable!("require answers with the provider's own account")
        };
        Ok(StripeSetup {
            account,
            // Only connect mode uses it; a direct-mode deployment need not set it.
            platform_key: Secret::new(
                ctx.env
                    .secret("STRIPE_PLATFORM_SECRET_KEY")
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            base: ctx.env.var("STRIPE_API_BASE")?.to_string(),
        })
    }

    fn auth(&self) -> Auth<'_> {
        Auth::for_account(&self.account, &self.platform_key)
    }

    async fn send(&self, req: HttpRequest) -> ApiResult<Reply> {
        Ok(match outbound::send_described(&self.base, &req).await? {
            Answer::Unreachable => Reply::Unknown,
            // A 2xx that is not JSON (an intermediary's page, a cut-off body) says
            // Stripe acted but not what it did: ask again, never treat it as a refusal.
            Answer::Http { status, body } if (200..300).contains(&status) => {
                if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
                    Reply::Ok(body.into_bytes())
                } else {
                    Reply::Unknown
                }
            }
            Answer::Http { status, .. } if status >= 500 || status == 429 => Reply::Unknown,
            Answer::Http { status, body } => {
                let err =
                    wire::parse_error(body.as_bytes()).map_err(|e| Fail::Api(e.to_api_error()))?;
                Reply::Refused(status, err)
            }
        })
    }

    /// Sends a request whose answer is a PaymentIntent.
    async fn intent(&self, req: HttpRequest) -> ApiResult<Outcome<StripePaymentIntent>> {
        match self.send(req).await? {
            Reply::Ok(body) => Ok(Outcome::Done(
                wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?,
            )),
            Reply::Refused(status, e) => Err(error_to_api_error(status, &e).into()),
            Reply::Unknown => Ok(Outcome::Unknown),
        }
    }
}

/// Three-decimal currencies (KWD, BHD) only in steps of 10 minor units: refused at
/// creation, before an intent exists that no confirm could ever pay.
pub fn check_new_intent(new: &NewPaymentIntent) -> ApiResult<()> {
    requests::minor_units(&new.amount).map_err(|_| {
        Fail::Api(
            ApiError::invalid_request(
                "invalid_amount",
                format!(
                    "Stripe takes {} only in steps of 0.010: {} cannot be charged.",
                    new.amount.currency(),
                    new.amount
                ),
            )
            .with_param("amount"),
        )
    })?;
    Ok(())
}

/// The key Stripe.js runs with in the customer's browser: the platform's for
/// destination charges (the intent lives on the platform account), the merchant's
/// own otherwise.
pub fn browser_setup(ctx: &Ctx, merchant_id: &str, livemode: bool) -> ApiResult<ProviderSetup> {
    let setup = StripeSetup::load(ctx, merchant_id, livemode)?;
    let publishable_key = match setup.account.mode {
        StripeMode::Direct => setup.account.publishable_key.clone(),
        StripeMode::Connect => ctx.env.var("STRIPE_PLATFORM_PUBLISHABLE_KEY")?.to_string(),
    };
    Ok(ProviderSetup::Stripe {
        js_url: ctx.env.var("STRIPE_JS_URL")?.to_string(),
        publishable_key,
        account: None,
    })
}

pub fn check_confirm(merchant: &Merchant, body: &ConfirmRequest) -> ApiResult<()> {
    body.payment_method
        .as_deref()
        .filter(|pm| pm.starts_with("pm_"))
        .ok_or_else(|| {
            Fail::Api(
                ApiError::invalid_request(
                    "parameter_missing",
                    "payment_method must be the PaymentMethod id (pm_…) from Stripe's card field.",
                )
                .with_param("payment_method"),
            )
        })?;
    // Stripe sends the customer to return_url after a redirect: only the merchant's own pages.
    check_return_url(merchant, body.return_url.as_deref(), false)?;
    Ok(())
}

pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    attempt: i64,
    body: &ConfirmRequest,
) -> ApiResult<Outcome<Intent>> {
    let pm = body.payment_method.as_deref().unwrap_or_default();
    let setup = StripeSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let Some(stripe_id) = intent.row.provider_reference.clone() else {
        // The first attempt is one call: create and confirm together.
        return create_and_confirm(ctx, &setup, intent, attempt, pm, body.return_url.as_deref())
            .await;
    };
    let auth = setup.auth();
    let attach = domain(requests::attach_payment_method(
        &auth,
        intent.id(),
        &stripe_id,
        pm,
        attempt as u32,
    ))?;
    match setup.send(attach).await? {
        Reply::Ok(_) => {}
        Reply::Refused(status, e) => return declined(ctx, intent, status, &e),
        Reply::Unknown => return Err(unavailable()),
    }
    let confirm = domain(requests::confirm_payment_intent(
        &auth,
        intent.id(),
        &stripe_id,
        body.return_url.as_deref(),
        attempt as u32,
    ))?;
    match setup.send(confirm).await? {
        Reply::Ok(body) => {
            let pi = wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
            Ok(Outcome::Done(record(ctx, intent.id(), &pi)?))
        }
        Reply::Refused(status, e) => declined(ctx, intent, status, &e),
        // The confirm may have charged: only Stripe can tell, so ask it later.
        Reply::Unknown => Ok(Outcome::Unknown),
    }
}

/// `POST /v1/payment_intents` with `confirm=true`: Stripe's intent is made and
/// confirmed in one call, keyed by our intent and attempt, so sending it again (after
/// a lost answer) returns the same intent instead of charging twice.
async fn create_and_confirm(
    ctx: &Ctx,
    setup: &StripeSetup,
    intent: &Intent,
    attempt: i64,
    pm: &str,
    return_url: Option<&str>,
) -> ApiResult<Outcome<Intent>> {
    let stripe_customer = match &intent.row.customer {
        Some(c) => Some(stripe_customer_of(ctx, setup, c, intent.row.livemode != 0).await?),
        None => None,
    };
    let charge = charge_for(
        ctx,
        setup,
        intent,
        stripe_customer.as_deref(),
        intent.row.setup_future_usage.is_some(),
    )?;
    let req = domain(requests::create_and_confirm_payment_intent(
        &setup.auth(),
        &charge,
        pm,
        return_url,
        attempt as u32,
    ))?;
    match setup.send(req).await? {
        Reply::Ok(body) => {
            let pi = wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
            ctx.store.set_reference(intent.id(), &pi.id)?;
            Ok(Outcome::Done(record(ctx, intent.id(), &pi)?))
        }
        Reply::Refused(status, e) => {
            // A decline still made Stripe's intent: later attempts confirm that one.
            if let Some(pi) = &e.payment_intent {
                ctx.store.set_reference(intent.id(), &pi.id)?;
            }
            declined(ctx, intent, status, &e)
        }
        Reply::Unknown => Ok(Outcome::Unknown),
    }
}

/// The payment to create at Stripe for our intent. On a Connect destination charge
/// Stripe takes the platform fee at once (an application fee): noted, so the
/// platform's monthly bill does not count it again.
fn charge_for<'a>(
    ctx: &Ctx,
    setup: &'a StripeSetup,
    intent: &'a Intent,
    customer: Option<&'a str>,
    save_card: bool,
) -> ApiResult<Charge<'a>> {
    let destination =
        Destination::for_account(&setup.account, intent.money(intent.row.platform_fee)?)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
    if matches!(destination, Destination::Connect { .. }) {
        ctx.store
            .set_fee_collection(intent.id(), "application_fee")?;
    }
    let state = intent.state()?;
    Ok(Charge {
        our_intent_id: &intent.row.id,
        amount: state.amount,
        capture_method: state.capture_method,
        description: intent.row.description.as_deref(),
        destination,
        customer,
        save_card,
    })
}

/// Stripe's customer for one of the merchant's customers, made at Stripe the first
/// time a payment needs it.
async fn stripe_customer_of(
    ctx: &Ctx,
    setup: &StripeSetup,
    customer: &str,
    livemode: bool,
) -> ApiResult<String> {
    let row = ctx.store.customer(customer, livemode)?;
    if let Some(s) = row.stripe_customer {
        return Ok(s);
    }
    let req = requests::create_customer(
        &setup.auth(),
        &row.id,
        Some(&row.email),
        row.name.as_deref(),
    );
    let body = match setup.send(req).await? {
        Reply::Ok(b) => b,
        Reply::Refused(status, e) => return Err(error_to_api_error(status, &e).into()),
        Reply::Unknown => return Err(unavailable()),
    };
    let id = wire::parse_customer(&body)
        .map_err(|e| Fail::Api(e.to_api_error()))?
        .id;
    ctx.store.set_stripe_customer(&row.id, &id)?;
    Ok(id)
}

fn unavailable() -> Fail {
    Fail::Api(ApiError::provider(
        502,
        "provider_unavailable",
        "Stripe did not answer before anything was charged. Try again.",
    ))
}

/// A decline: record the failed attempt, then tell the customer why.
fn declined(
    ctx: &Ctx,
    intent: &Intent,
    status: u16,
    err: &StripeError,
) -> ApiResult<Outcome<Intent>> {
    let api = error_to_api_error(status, err);
    if api.status == 402 {
        let reason = wire::DeclineReason::from_error(err);
        let ev = ProviderEvent {
            at: ctx.now,
            event: IntentEvent::Failed {
                reason: reason.message().to_owned(),
            },
        };
        ctx.store.apply_events(intent.id(), &[ev], ctx.now)?;
    }
    Err(api.into())
}

/// Stores what Stripe says of an intent: its next action and the events it implies.
fn record(ctx: &Ctx, id: &str, pi: &StripePaymentIntent) -> ApiResult<Intent> {
    let intent = ctx.store.intent(id)?;
    ctx.store
        .set_next_action(id, events::next_action(pi).as_ref())?;
    let evs = to_events(pi, &intent.state()?, ctx.now);
    let (after, _) = ctx.store.apply_events(id, &evs, ctx.now)?;
    // Stripe's fee, once the charge is booked; only when it is booked in the
    // payment's own currency (a fee in another settlement currency is not one of
    // this intent's amounts).
    if let Some((fee, currency)) = pi.fee() {
        if after.status()? == IntentStatus::Succeeded
            && currency.eq_ignore_ascii_case(after.currency()?.code())
        {
            ctx.store.record_provider_fee(id, fee, ctx.now)?;
            return ctx.store.intent(id);
        }
    }
    Ok(after)
}

/// Stripe's current word on the intent, and on its pending refunds.
pub async fn sync(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<Outcome<Intent>> {
    let setup = StripeSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let mut unknown = false;
    for r in ctx.store.pending_refunds(intent.id())? {
        // The same request under the same idempotency key: Stripe answers with the
        // refund it made, or makes it now — never a second one.
        let amount = intent.money(r.amount)?;
        match refund(ctx, merchant_id, intent, &r, amount).await {
            Ok(Outcome::Done(())) => {}
            Ok(Outcome::Unknown) => unknown = true,
            Err(_) => {
                ctx.store.settle_refund(&r.id, false, ctx.now)?;
            }
        }
    }
    if let Some(n) = ctx.store.open_attempt_number(intent.id())? {
        if ctx.store.attempt_off_session(intent.id(), n)? {
            // A saved-card charge whose answer was lost: the billing engine sends
            // the same off-session request again (same key); an on-session resend
            // here would be another request.
            return Ok(Outcome::Unknown);
        }
    }
    let Some(reference) = intent.row.provider_reference.clone() else {
        // A first attempt (create and confirm in one call) whose answer was lost:
        // send exactly the same request again; Stripe answers with what it did.
        let open = ctx.store.open_attempt_number(intent.id())?;
        let sent = match open {
            Some(n) => ctx.store.attempt_request(intent.id(), n)?,
            None => None,
        };
        return match (open, sent) {
            (Some(n), Some((pm, return_url))) => {
                match create_and_confirm(ctx, &setup, intent, n, &pm, return_url.as_deref()).await {
                    Ok(Outcome::Done(i)) => Ok(if unknown {
                        Outcome::Unknown
                    } else {
                        Outcome::Done(i)
                    }),
                    Ok(Outcome::Unknown) => Ok(Outcome::Unknown),
                    // A decline is a final answer for that attempt.
                    Err(Fail::Api(_)) => Ok(Outcome::Done(ctx.store.intent(intent.id())?)),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(if unknown {
                Outcome::Unknown
            } else {
                Outcome::Done(never_confirmed(ctx, intent)?)
            }),
        };
    };
    let req = domain(requests::retrieve_payment_intent(&setup.auth(), &reference))?;
    match setup.intent(req).await? {
        Outcome::Done(pi) => {
            let mut i = record(ctx, intent.id(), &pi)?;
            if matches!(
                pi.status,
                S::RequiresPaymentMethod | S::RequiresConfirmation
            ) && i.status()? == shared::intent::IntentStatus::Processing
            {
                // Stripe never took the confirm whose answer was lost.
                i = never_confirmed(ctx, &i)?;
            }
            Ok(if unknown {
                Outcome::Unknown
            } else {
                Outcome::Done(i)
            })
        }
        Outcome::Unknown => Ok(Outcome::Unknown),
    }
}

/// Stripe's record of the payment for reconciliation: the PaymentIntent and its
/// refunds; `None` when Stripe has no such PaymentIntent.
pub async fn reconcile_record(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    reference: &str,
) -> ApiResult<Option<Theirs>> {
    let setup = StripeSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let unreadable = |what: &str| {
        Fail::Internal(worker::Error::RustError(format!(
            "reconciliation: Stripe's {what} of {reference} could not be read"
        )))
    };
    let pi = match setup
        .send(domain(requests::retrieve_payment_intent(
            &setup.auth(),
            reference,
        ))?)
        .await?
    {
        Reply::Ok(body) => {
            wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?
        }
        Reply::Refused(404, _) => return Ok(None),
        Reply::Refused(..) | Reply::Unknown => return Err(unreadable("payment intent")),
    };
    let refunds = match setup
        .send(domain(requests::list_refunds(&setup.auth(), reference))?)
        .await?
    {
        Reply::Ok(body) => match wire::parse_refunds(&body) {
            Ok((list, false)) => list,
            // More than a page of refunds on one payment: not compared in part.
            Ok((_, true)) => return Err(unreadable("refunds (more than 100)")),
            Err(e) => return Err(Fail::Api(e.to_api_error())),
        },
        Reply::Refused(..) | Reply::Unknown => return Err(unreadable("refunds")),
    };
    // Only this PaymentIntent's refunds, whatever else a list sends.
    let refunds: Vec<_> = refunds
        .into_iter()
        .filter(|r| r.payment_intent.as_ref().is_none_or(|p| p.0 == reference))
        .collect();
    Ok(Some(events::reconcile_record(&pi, &refunds)))
}

/// Stripe's PaymentIntents made in `[start, end)` that name one of this merchant's
/// intents but are not a payment our ledger holds (see `events::unknown_payments`).
pub async fn unknown_payments(
    ctx: &Ctx,
    merchant_id: &str,
    livemode: bool,
    (start, end): (i64, i64),
) -> ApiResult<Vec<Theirs>> {
    let setup = StripeSetup::load(ctx, merchant_id, livemode)?;
    // A lookup that fails counts as ours: no alarm raised on a storage hiccup.
    let ours = |reference: &str| {
        ctx.store
            .intent_by_reference(Provider::Stripe, reference)
            .map_or(true, |i| i.is_some())
    };
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let req = requests::list_payment_intents(&setup.auth(), start, end, after.as_deref());
        let (page, more) = match setup.send(domain(req)?).await? {
            Reply::Ok(body) => {
                wire::parse_payment_intents(&body).map_err(|e| Fail::Api(e.to_api_error()))?
            }
            Reply::Refused(..) | Reply::Unknown => {
                return Err(Fail::Internal(worker::Error::RustError(
                    "reconciliation: Stripe's list of PaymentIntents could not be read".into(),
                )))
            }
        };
        out.extend(events::unknown_payments(&page, merchant_id, &ours));
        match page.last() {
            Some(last) if more => after = Some(last.id.clone()),
            _ => return Ok(out),
        }
    }
}

/// An attempt Stripe never received: the intent waits for a payment method again.
fn never_confirmed(ctx: &Ctx, intent: &Intent) -> ApiResult<Intent> {
    if ctx.store.open_attempt_number(intent.id())?.is_none() {
        return ctx.store.intent(intent.id());
    }
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::Failed {
            reason: "The payment could not be completed. Nothing was charged; please try again."
                .to_owned(),
        },
    };
    Ok(ctx.store.apply_events(intent.id(), &[ev], ctx.now)?.0)
}

pub async fn capture(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    amount: Money,
) -> ApiResult<Intent> {
    command(ctx, merchant_id, intent, "capture", |auth, reference| {
        requests::capture_payment_intent(auth, intent.id(), reference, amount)
    })
    .await
}

pub async fn cancel(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<Intent> {
    command(ctx, merchant_id, intent, "cancel", |auth, reference| {
        requests::cancel_payment_intent(auth, intent.id(), reference)
    })
    .await
}

/// A capture or cancel of the intent held at Stripe. Without an answer it is
/// refused, not pending: its idempotency key is the intent's, so the merchant's
/// retry cannot act twice, and the hold is unchanged until one lands.
async fn command(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    what: &str,
    make: impl FnOnce(&Auth, &str) -> Result<HttpRequest, shared::stripe::BuildError>,
) -> ApiResult<Intent> {
    let reference = held_at_provider(intent)?;
    let setup = StripeSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let req = domain(make(&setup.auth(), &reference))?;
    match setup.intent(req).await? {
        Outcome::Done(pi) => record(ctx, intent.id(), &pi),
        Outcome::Unknown => Err(ApiError::provider(
            502,
            "provider_unavailable",
            format!("Stripe did not answer. Retrying the {what} is safe: it cannot happen twice."),
        )
        .into()),
    }
}

/// Sends a pending refund, keyed by our refund id; settles it if Stripe answered.
pub async fn refund(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    refund: &RefundRow,
    amount: Money,
) -> ApiResult<Outcome<()>> {
    let reference = held_at_provider(intent)?;
    let setup = StripeSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let destination =
        Destination::for_account(&setup.account, intent.money(intent.row.platform_fee)?)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
    let req = domain(requests::create_refund(
        &setup.auth(),
        &refund.id,
        &reference,
        amount,
        &destination,
    ))?;
    match setup.send(req).await? {
        Reply::Ok(body) => {
            let r = wire::parse_refund(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
            let currency = intent.currency()?;
            let got = events::refund_amount(&r, currency).map_err(|_| {
                Fail::Internal(worker::Error::RustError(format!(
                    "refund for {} in another currency",
                    intent.id()
                )))
            })?;
            if got != amount {
                return Err(Fail::Internal(worker::Error::RustError(format!(
                    "Stripe refunded {got} for {}, not {amount}",
                    refund.id
                ))));
            }
            use shared::stripe::wire::StripeRefundStatus as R;
            match r.status {
                R::Succeeded => {
                    ctx.store.settle_refund(&refund.id, true, ctx.now)?;
                    Ok(Outcome::Done(()))
                }
                R::Failed | R::Canceled => {
                    ctx.store.settle_refund(&refund.id, false, ctx.now)?;
                    Ok(Outcome::Done(()))
                }
                // Stripe has it and will finish it: ask again later.
                R::Pending | R::RequiresAction | R::Unknown => Ok(Outcome::Unknown),
            }
        }
        Reply::Refused(status, e) => Err(error_to_api_error(status, &e).into()),
        Reply::Unknown => Ok(Outcome::Unknown),
    }
}

/// Connect onboarding: the merchant's Express account, made once on the platform's
/// key (keyed by our merchant id) and stored as its Stripe set-up in connect mode,
/// and a fresh onboarding link to it. A merchant with direct-mode keys keeps them
/// until onboarding makes the account.
pub async fn connect_onboarding(
    ctx: &Ctx,
    merchant: &Merchant,
    livemode: bool,
    return_url: &str,
) -> ApiResult<String> {
    let platform_key = Secret::new(
        ctx.env
            .secret("STRIPE_PLATFORM_SECRET_KEY")
            .map(|s| s.to_string())
            .unwrap_or_default(),
    );
    if platform_key.expose().is_empty() {
        return Err(ApiError::invalid_request(
            "connect_not_available",
            "Stripe Connect is not set up on this platform.",
        )
        .into());
    }
    let auth = Auth::new(&platform_key);
    let base = ctx.env.var("STRIPE_API_BASE")?.to_string();
    let existing =
        match crate::merchant::accounts::load(ctx, &merchant.id, Provider::Stripe, livemode)? {
            Some(ProviderAccount::Stripe(a)) if a.mode == StripeMode::Connect => {
                a.connected_account_id
            }
            _ => None,
        };
    let account = match existing {
        Some(a) => a,
        None => {
            let req = domain(requests::create_connected_account(
                &auth,
                &merchant.id,
                &merchant.country,
            ))?;
            let body = platform_call(&base, req).await?;
            let made = wire::parse_account(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
            let account = ProviderAccount::Stripe(StripeAccount::connected(made.id.clone()));
            crate::merchant::accounts::save(ctx, merchant, livemode, &account)?;
            made.id
        }
    };
    let req = domain(requests::create_account_link(
        &auth, &account, return_url, return_url,
    ))?;
    let body = platform_call(&base, req).await?;
    Ok(wire::parse_account_link(&body)
        .map_err(|e| Fail::Api(e.to_api_error()))?
        .url)
}

/// A call on the platform's own account; anything but a 2xx is an error to show.
async fn platform_call(base: &str, req: HttpRequest) -> ApiResult<Vec<u8>> {
    match outbound::send_described(base, &req).await? {
        Answer::Http { status, body } if (200..300).contains(&status) => Ok(body.into_bytes()),
        Answer::Http { status, body } if status < 500 && status != 429 => {
            let e = wire::parse_error(body.as_bytes()).map_err(|e| Fail::Api(e.to_api_error()))?;
            Err(error_to_api_error(status, &e).into())
        }
        // Safe to start again: the account is keyed by our merchant id.
        _ => Err(ApiError::provider(
            502,
            "provider_unavailable",
            "Stripe did not answer. Try again.",
        )
        .into()),
    }
}

/// `POST /v1/webhooks/stripe/{merchant_id}`: `Stripe-Signature` under the merchant's
/// endpoint secret (t, any v1, 300 s), then the event once per id.
pub async fn webhook(
    ctx: Ctx,
    _merchant_id: String,
    body: Vec<u8>,
    headers: Headers,
    account: Option<ProviderAccount>,
    livemode: bool,
) -> ApiResult<&'static str> {
    let header = headers
        .get(shared::stripe::webhook::SIGNATURE_HEADER)?
        .unwrap_or_default();
    // Unknown merchant and bad signature answer alike: nothing to learn by probing.
    // A Connect merchant has no endpoint secret of its own (its events come to
    // the platform's endpoint).
    let secret = match &account {
        Some(ProviderAccount::Stripe(a)) => Some(&a.webhook_secret),
        _ => None,
    };
    verify_signature(&header, &body, secret, ctx.now)?;
    apply_stripe_event(&ctx, &body, Some(livemode))
}

/// `Stripe-Signature` under `secret` (any v1, 300 s). No secret, or an empty one,
/// answers as a forged signature: an empty key would let anyone sign.
fn verify_signature(header: &str, body: &[u8], secret: Option<&Secret>, now: i64) -> ApiResult<()> {
    use shared::stripe::webhook::{verify, SignatureError, DEFAULT_TOLERANCE};
    let secret = secret
        .filter(|s| !s.expose().is_empty())
        .ok_or_else(|| Fail::Api(SignatureError::Mismatch.to_api_error()))?;
    verify(header, body, secret, now, DEFAULT_TOLERANCE).map_err(|e| Fail::Api(e.to_api_error()))
}

/// Applies a Stripe event whose signature was checked (the merchant's endpoint
/// secret, or the platform's for Connect destination charges): once per event id,
/// through the one state machine.
/// `livemode`: the mode of the account whose secret verified it; intents of the
/// other mode are as unknown as none (the platform's endpoint: `None`, any).
fn apply_stripe_event(ctx: &Ctx, body: &[u8], livemode: Option<bool>) -> ApiResult<&'static str> {
    let event = events::parse_event(body).map_err(|_| {
        Fail::Api(ApiError::invalid_request(
            "invalid_event",
            "The event body is not a Stripe event.",
        ))
    })?;
    if ctx.store.event_seen("stripe", &event.id)? {
        return Ok("duplicate");
    }
    let row = match event.intent_ref() {
        Some(r) => find(ctx, r.our_intent_id, r.stripe_intent_id)?
            .filter(|i| livemode.is_none_or(|live| (i.row.livemode != 0) == live)),
        None => None,
    };
    let (outcome, object_id) = match row {
        None => ("unknown_object", None),
        Some(row) => {
            // Ordered by when we received it, on our one clock: Stripe's `created`
            // comes from another clock, and mixing the two could make a newer event
            // look older than one we stamped ourselves.
            let mut evs = events::event_to_events(&event, &row.state()?).map_err(|e| {
                Fail::Internal(worker::Error::RustError(format!(
                    "stripe event {}: {e:?}",
                    event.id
                )))
            })?;
            evs.iter_mut().for_each(|e| e.at = ctx.now);
            let (_, changed) = ctx.store.apply_events(row.id(), &evs, ctx.now)?;
            (
                if changed { "applied" } else { "ignored" },
                Some(row.row.id.clone()),
            )
        }
    };
    ctx.store.record_event(
        "stripe",
        &event.id,
        object_id.as_deref(),
        &event_type(&event),
        outcome,
        ctx.now,
    )?;
    Ok(outcome)
}

/// `POST /v1/webhooks/stripe/platform`: the platform's endpoint, where Stripe sends
/// the events of Connect destination charges (they live on the platform's account).
/// Checked under the platform's endpoint secret; the merchant is the one whose intent
/// the event names (our scoped id in its metadata). `None`: no intent of ours.
pub fn platform_event_merchant(
    headers: &worker::Headers,
    env: &worker::Env,
    body: &[u8],
    now: i64,
) -> ApiResult<Option<String>> {
    let header = headers
        .get(shared::stripe::webhook::SIGNATURE_HEADER)?
        .unwrap_or_default();
    let secret = Secret::new(
        env.secret("STRIPE_PLATFORM_WEBHOOK_SECRET")
            .map(|s| s.to_string())
            .unwrap_or_default(),
    );
    verify_signature(&header, body, Some(&secret), now)?;
    let event = events::parse_event(body).map_err(|_| {
        Fail::Api(ApiError::invalid_request(
            "invalid_event",
            "The event body is not a Stripe event.",
        ))
    })?;
    Ok(event
        .intent_ref()
        .and_then(|r| r.our_intent_id)
        .and_then(|id| shared::keys::scoped_id_merchant("pi_", id)))
}

/// A platform event the Worker verified, in the object of the merchant it names.
pub fn platform_event(ctx: &Ctx, body: &[u8]) -> ApiResult<&'static str> {
    apply_stripe_event(ctx, body, None)
}

/// Our intent for a provider event: by our id in the provider's metadata, else by the
/// provider's reference — always within this merchant's object.
fn find(ctx: &Ctx, ours: Option<&str>, theirs: Option<&str>) -> ApiResult<Option<Intent>> {
    if let Some(id) = ours.filter(|id| shared::keys::is_id("pi_", id)) {
        return ctx.store.find_intent(id);
    }
    match theirs {
        Some(reference) => ctx.store.intent_by_reference(Provider::Stripe, reference),
        None => Ok(None),
    }
}

fn event_type(ev: &events::StripeEvent) -> String {
    use events::StripeEventKind as K;
    match &ev.kind {
        K::PaymentIntent { event_type, .. } => format!("payment_intent.{event_type:?}"),
        K::ChargeRefunded { .. } => "charge.refunded".to_owned(),
        K::Unhandled { event_type } => event_type.clone(),
    }
}

// ---------------------------------------------------------------- saved cards

/// Whose Stripe account a saved-card call runs on: the merchant's (its customers),
/// or the platform's own (the merchant's card for the platform's bill).
pub enum Billing {
    Merchant(StripeSetup),
    Platform { key: Secret, base: String },
}

impl Billing {
    pub fn merchant(ctx: &Ctx, merchant_id: &str, livemode: bool) -> ApiResult<Billing> {
        Ok(Billing::Merchant(StripeSetup::load(
            ctx,
            merchant_id,
            livemode,
        )?))
    }

    pub fn platform(ctx: &Ctx) -> ApiResult<Billing> {
        let key = ctx
            .env
            .secret("STRIPE_PLATFORM_SECRET_KEY")
            .map(|s| s.to_string())
            .unwrap_or_default();
        if key.is_empty() {
            return Err(ApiError::invalid_request(
                "billing_not_available",
                "The platform's Stripe account is not set up on this deployment.",
            )
            .into());
        }
        Ok(Billing::Platform {
            key: Secret::new(key),
            base: ctx.env.var("STRIPE_API_BASE")?.to_string(),
        })
    }

    fn auth(&self) -> Auth<'_> {
        match self {
            Billing::Merchant(s) => s.auth(),
            Billing::Platform { key, .. } => Auth::new(key),
        }
    }

    async fn send(&self, req: HttpRequest) -> ApiResult<Reply> {
        match self {
            Billing::Merchant(s) => s.send(req).await,
            Billing::Platform { key, base } => {
                let s = StripeSetup {
                    account: StripeAccount::connected(String::new()),
                    platform_key: key.clone(),
                    base: base.clone(),
                };
                s.send(req).await
            }
        }
    }

    /// A call whose only acceptable answer is a 2xx; no answer is an error to retry.
    async fn call(&self, req: HttpRequest) -> ApiResult<Vec<u8>> {
        match self.send(req).await? {
            Reply::Ok(body) => Ok(body),
            Reply::Refused(status, e) => Err(error_to_api_error(status, &e).into()),
            Reply::Unknown => Err(ApiError::provider(
                502,
                "provider_unavailable",
                "Stripe did not answer. Trying again is safe.",
            )
            .into()),
        }
    }

    /// Stripe's customer for one of ours, made once (keyed by our id).
    pub async fn customer(
        &self,
        our_id: &str,
        email: Option<&str>,
        name: Option<&str>,
    ) -> ApiResult<String> {
        let req = requests::create_customer(&self.auth(), our_id, email, name);
        let body = self.call(req).await?;
        Ok(wire::parse_customer(&body)
            .map_err(|e| Fail::Api(e.to_api_error()))?
            .id)
    }

    /// Stripe's SetupIntent for one of ours: (id, client secret for Stripe.js).
    pub async fn setup_intent(
        &self,
        our_id: &str,
        stripe_customer: &str,
    ) -> ApiResult<(String, String)> {
        let req = domain(requests::create_setup_intent(
            &self.auth(),
            our_id,
            stripe_customer,
        ))?;
        let body = self.call(req).await?;
        let si = wire::parse_setup_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
        let secret = si
            .client_secret
            .map(|s| s.expose().to_owned())
            .unwrap_or_default();
        Ok((si.id, secret))
    }

    /// Confirms the SetupIntent with the widget's PaymentMethod. `None`: no answer
    /// (ask again with [`Billing::read_setup`]; a resend uses the same key).
    pub async fn confirm_setup(
        &self,
        our_id: &str,
        stripe_id: &str,
        pm: &str,
        attempt: i64,
    ) -> ApiResult<Option<SetupOutcome>> {
        let req = domain(requests::confirm_setup_intent(
            &self.auth(),
            our_id,
            stripe_id,
            pm,
            attempt as u32,
        ))?;
        match self.send(req).await? {
            Reply::Ok(body) => Ok(Some(setup_outcome(&body)?)),
            Reply::Refused(status, e) => Ok(Some(SetupOutcome {
                status: shared::billing::SetupIntentStatus::RequiresPaymentMethod,
                payment_method: None,
                error: Some(error_to_api_error(status, &e).message),
            })),
            Reply::Unknown => Ok(None),
        }
    }

    pub async fn read_setup(&self, stripe_id: &str) -> ApiResult<Option<SetupOutcome>> {
        let req = domain(requests::retrieve_setup_intent(&self.auth(), stripe_id))?;
        match self.send(req).await? {
            Reply::Ok(body) => Ok(Some(setup_outcome(&body)?)),
            Reply::Refused(status, e) => Err(error_to_api_error(status, &e).into()),
            Reply::Unknown => Ok(None),
        }
    }

    /// The customer's saved cards: brand, last4 and expiry, never more.
    pub async fn saved_cards(&self, stripe_customer: &str) -> ApiResult<Vec<SavedCard>> {
        let req = domain(requests::list_payment_methods(
            &self.auth(),
            stripe_customer,
        ))?;
        let body = self.call(req).await?;
        let list = wire::parse_payment_methods(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
        Ok(list.into_iter().filter_map(saved_card).collect())
    }

    /// One saved card, if it is this customer's.
    pub async fn saved_card(
        &self,
        stripe_customer: &str,
        pm: &str,
    ) -> ApiResult<Option<SavedCard>> {
        let req = domain(requests::retrieve_payment_method(&self.auth(), pm))?;
        let pm = match self.send(req).await? {
            Reply::Ok(body) => {
                wire::parse_payment_method(&body).map_err(|e| Fail::Api(e.to_api_error()))?
            }
            Reply::Refused(404, _) => return Ok(None),
            Reply::Refused(status, e) => return Err(error_to_api_error(status, &e).into()),
            Reply::Unknown => {
                return Err(ApiError::provider(
                    502,
                    "provider_unavailable",
                    "Stripe did not answer. Try again.",
                )
                .into())
            }
        };
        if pm.customer.as_ref().map(|c| c.0.as_str()) != Some(stripe_customer) {
            return Ok(None);
        }
        Ok(saved_card(pm))
    }

    pub async fn detach(&self, pm: &str) -> ApiResult<()> {
        let req = domain(requests::detach_payment_method(&self.auth(), pm))?;
        self.call(req).await.map(|_| ())
    }

    /// Charges a saved card without the customer: a new Stripe PaymentIntent per
    /// attempt, keyed by our intent and the attempt number, so resending an attempt
    /// whose answer was lost returns what Stripe did instead of charging twice.
    pub async fn charge_off_session(
        &self,
        charge: &Charge<'_>,
        pm: &str,
        attempt: i64,
    ) -> ApiResult<OffSession> {
        let req = domain(requests::charge_off_session(
            &self.auth(),
            charge,
            pm,
            attempt as u32,
        ))?;
        match self.send(req).await? {
            Reply::Ok(body) => Ok(OffSession::Answered(Box::new(
                wire::parse_payment_intent(&body).map_err(|e| Fail::Api(e.to_api_error()))?,
            ))),
            Reply::Refused(status, e) => Ok(OffSession::Refused(status, Box::new(e))),
            Reply::Unknown => Ok(OffSession::Unknown),
        }
    }
}

/// What Stripe said of a SetupIntent, in our terms.
pub struct SetupOutcome {
    pub status: shared::billing::SetupIntentStatus,
    pub payment_method: Option<String>,
    pub error: Option<String>,
}

fn setup_outcome(body: &[u8]) -> ApiResult<SetupOutcome> {
    use shared::billing::SetupIntentStatus as O;
    use wire::StripeSetupIntentStatus as W;
    let si = wire::parse_setup_intent(body).map_err(|e| Fail::Api(e.to_api_error()))?;
    let status = match si.status {
        W::RequiresPaymentMethod | W::RequiresConfirmation => O::RequiresPaymentMethod,
        W::RequiresAction => O::RequiresAction,
        W::Processing | W::Unknown => O::Processing,
        W::Succeeded => O::Succeeded,
        W::Canceled => O::Canceled,
    };
    Ok(SetupOutcome {
        status,
        payment_method: si.payment_method.map(|p| p.0),
        error: si
            .last_setup_error
            .map(|e| wire::DeclineReason::from_error(&e).message().to_owned()),
    })
}

fn saved_card(pm: wire::StripePaymentMethod) -> Option<SavedCard> {
    let card = pm.card?;
    Some(SavedCard {
        id: pm.id,
        card: CardSummary {
            brand: card.brand,
            last4: card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        },
    })
}

/// An off-session charge's answer.
pub enum OffSession {
    Answered(Box<StripePaymentIntent>),
    /// A final 4xx: a decline, or `authentication_required`.
    Refused(u16, Box<StripeError>),
    Unknown,
}

/// One attempt at a platform invoice (the platform's monthly bill): the merchant's
/// card saved on the platform's Stripe account, charged off session under
/// `{invoice}:charge_off_session:{attempt}`. What it gave, and what the merchant reads
/// when it did not go through. No answer (or no call) is `Unknown`: the same attempt is
/// asked again under the same key.
pub async fn charge_platform_invoice(
    ctx: &Ctx,
    invoice_id: &str,
    amount: shared::money::Money,
    description: &str,
    (customer, pm): (&str, &str),
    attempt: i64,
) -> ApiResult<(shared::billing::AttemptResult, Option<String>)> {
    use shared::billing::AttemptResult as A;
    let charge = shared::stripe::requests::Charge {
        our_intent_id: invoice_id,
        amount,
        capture_method: shared::intent::CaptureMethod::Automatic,
        description: Some(description),
        destination: shared::stripe::requests::Destination::Direct,
        customer: Some(customer),
        save_card: false,
    };
    Ok(
        match Billing::platform(ctx)?
            .charge_off_session(&charge, pm, attempt)
            .await
        {
            Ok(OffSession::Answered(pi)) => match pi.status {
                wire::StripeIntentStatus::Succeeded => (A::Paid, None),
                wire::StripeIntentStatus::Processing => (A::Unknown, None),
                _ => (
                    A::ActionRequired,
                    Some("Your bank asks you to confirm this payment.".to_owned()),
                ),
            },
            Ok(OffSession::Refused(_, e)) => {
                let reason = wire::DeclineReason::from_error(&e);
                let result = if reason == wire::DeclineReason::AuthenticationRequired {
                    A::ActionRequired
                } else {
                    A::Declined
                };
                (result, Some(reason.message().to_owned()))
            }
            Ok(OffSession::Unknown) | Err(_) => (A::Unknown, None),
        },
    )
}

/// What an invoice attempt on our intent gave, for the billing engine.
pub async fn charge_saved_card(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    attempt: i64,
    stripe_customer: &str,
    pm: &str,
) -> ApiResult<shared::billing::AttemptResult> {
    use shared::billing::AttemptResult as A;
    let billing = Billing::merchant(ctx, merchant_id, intent.row.livemode != 0)?;
    let Billing::Merchant(setup) = &billing else {
        unreachable!("made as the merchant's")
    };
    let charge = charge_for(ctx, setup, intent, Some(stripe_customer), false)?;
    match billing.charge_off_session(&charge, pm, attempt).await? {
        OffSession::Answered(pi) => {
            ctx.store.set_reference(intent.id(), &pi.id)?;
            let after = record(ctx, intent.id(), &pi)?;
            Ok(match after.status()? {
                IntentStatus::Succeeded | IntentStatus::RequiresCapture => A::Paid,
                // Stripe wants the customer: the invoice's page will do it.
                IntentStatus::RequiresAction => A::ActionRequired,
                IntentStatus::Processing => A::Unknown,
                IntentStatus::RequiresPaymentMethod | IntentStatus::Canceled => A::Declined,
            })
        }
        OffSession::Refused(status, e) => {
            if let Some(pi) = &e.payment_intent {
                ctx.store.set_reference(intent.id(), &pi.id)?;
            }
            let action =
                wire::DeclineReason::from_error(&e) == wire::DeclineReason::AuthenticationRequired;
            let _ = declined(ctx, intent, status, &e);
            Ok(if action {
                A::ActionRequired
            } else {
                A::Declined
            })
        }
        OffSession::Unknown => {
            // Pending, never failed: Stripe is asked again under the same key.
            let ev = ProviderEvent {
                at: ctx.now,
                event: IntentEvent::Processing,
            };
            ctx.store.apply_events(intent.id(), &[ev], ctx.now)?;
            Ok(A::Unknown)
        }
    }
}
