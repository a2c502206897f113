//! Cashcloud, as the Worker executes it: `shared::cashcloud` describes every request,
//! reads every reply and verifies callbacks; this module gets tokens, sends, stores.

use std::cell::RefCell;
use std::collections::HashMap;

use shared::accounts::{CashcloudAccount, ProviderAccount};
use shared::api::{NewPaymentIntent, RefundStatus};
use shared::billing::day_label;
use shared::cashcloud::auth::{device_id, Auth};
use shared::cashcloud::events::{
    self as cc_events, refund_outcome, transaction_events, RefundOutcome,
};
use shared::cashcloud::wire::{self, CashcloudError, Transaction};
use shared::cashcloud::{check_intent, requests, BuildError, HttpRequest};
use shared::error::ApiError;
use shared::fees::LimitError;
use shared::intent::{IntentEvent, Provider, ProviderEvent};
use shared::money::{Currency, Money};
use shared::reconcile::Theirs;

use super::{held_at_provider, ConfirmRequest, Outcome};
use crate::ctx::Ctx;
use crate::http::{domain, ApiResult, Fail};
use crate::merchant::store::{Intent, RefundRow};
use crate::outbound::{self, Answer};

/// How long a wallet user has to approve a money request (or a refund): 300 s
/// unless `CASHCLOUD_REQUEST_EXPIRATION_SECONDS` (5–86400) says otherwise (the fault
/// tests shorten it so that an unknown request's expiry is seconds away).
fn request_expiration(ctx: &Ctx) -> u32 {
    ctx.env
        .var("CASHCLOUD_REQUEST_EXPIRATION_SECONDS")
        .ok()
        .and_then(|v| v.to_string().parse::<u32>().ok())
        .filter(|s| (5..=86_400).contains(s))
        .unwrap_or(300)
}

/// A request is given this long past its expiry for a late answer: 60 s, or a fifth
/// of a shorter expiry.
fn grace(expiration: u32) -> i64 {
    i64::from(expiration / 5).clamp(1, 60)
}

/// How often a refused token is renewed before the refusal stands.
const TOKEN_RENEWALS: u32 = 3;

thread_local! {
    // Each Cashcloud account's current token and its generation, in this object's
    // memory (wasm runs one thread per isolate); never stored.
    static TOKENS: RefCell<HashMap<String, (u64, Auth)>> = RefCell::new(HashMap::new());
}

pub struct CashcloudSetup {
    pub account: CashcloudAccount,
    base: String,
}

impl CashcloudSetup {
    pub fn load(ctx: &Ctx, merchant_id: &str, livemode: bool) -> ApiResult<CashcloudSetup> {
        let ProviderAccount::Cashcloud(account) =
            crate::merchant::accounts::require(ctx, merchant_id, Provider::Cashcloud, livemode)?
        else {
            unreachable!("require answers with the provider's own account")
        };
        Ok(CashcloudSetup {
            account,
            base: super::base_url(ctx, "CASHCLOUD_API_BASE", livemode)?,
        })
    }

    pub async fn send(&self, req: &HttpRequest) -> ApiResult<Result<Vec<u8>, CashcloudError>> {
        let answer = outbound::send_described(&self.base, req).await?;
        Ok(match answer {
            Answer::Unreachable => Err(CashcloudError::Unavailable { status: 0 }),
            Answer::Http { status, body } if (200..300).contains(&status) => Ok(body.into_bytes()),
            Answer::Http { status, body } => Err(wire::parse_error(status, body.as_bytes())),
        })
    }

    /// A fresh token: Cashcloud has no API key; each token is made from a new salt.
    pub async fn auth(&self) -> ApiResult<Auth> {
        let req = requests::salt(&self.account.username, device_id(&self.account));
        match self.send(&req).await? {
            Ok(body) => {
                let salt = wire::parse_salt(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
                Ok(Auth::for_account(&self.account, &salt))
            }
            Err(e) => Err(e.to_api_error().into()),
        }
    }

    /// The account's current token, shared by the object's concurrent calls, or a
    /// fresh one when there is none or the current one is `refused`. Cashcloud keeps
    /// only a few recent salts per account and device: one salt per call, under load,
    /// pushed the salts of calls still in flight out, and those calls were refused.
    async fn token(&self, refused: Option<u64>) -> ApiResult<(u64, Auth)> {
        let key = format!(
            "{}|{}|{}",
            self.base,
            self.account.username,
            device_id(&self.account)
        );
        if let Some((generation, auth)) = TOKENS.with(|t| t.borrow().get(&key).cloned()) {
            if Some(generation) != refused {
                return Ok((generation, auth));
            }
        }
        let auth = self.auth().await?;
        let generation = TOKENS.with(|t| {
            let mut t = t.borrow_mut();
            let generation = t.values().map(|(g, _)| *g).max().unwrap_or(0) + 1;
            t.insert(key, (generation, auth.clone()));
            generation
        });
        Ok((generation, auth))
    }

    /// Sends an authenticated request. A refused token (403: nothing was done) is
    /// renewed and the request sent again, a few times, since a token can be refused
    /// because other calls' salts replaced its own; the last 403 stands.
    pub async fn send_authed(
        &self,
        make: impl Fn(&Auth) -> Result<HttpRequest, BuildError>,
    ) -> ApiResult<Result<Vec<u8>, CashcloudError>> {
        let (mut generation, mut auth) = self.token(None).await?;
        for attempt in 0..=TOKEN_RENEWALS {
            match self.send(&domain(make(&auth))?).await? {
                Err(e) if attempt < TOKEN_RENEWALS && e.needs_new_token() => {
                    (generation, auth) = self.token(Some(generation)).await?
                }
                answer => return Ok(answer),
            }
        }
        unreachable!("the loop returns on its last pass")
    }

    /// [`Self::send_authed`], with Cashcloud's refusal as our error.
    pub async fn call(
        &self,
        make: impl Fn(&Auth) -> Result<HttpRequest, BuildError>,
    ) -> ApiResult<Vec<u8>> {
        self.send_authed(make)
            .await?
            .map_err(|e| e.to_api_error().into())
    }

    /// `GET transactions?hash=`: Cashcloud's own word on a transaction. Callbacks are
    /// only ever a prompt to ask this.
    pub async fn transaction(&self, hash: &str) -> ApiResult<Transaction> {
        let body = self.call(|a| requests::transaction(a, hash)).await?;
        wire::parse_transaction(&body, hash).map_err(|e| Fail::Api(e.to_api_error()))
    }

    /// The EUR equivalent of an amount in another currency, for the refusal message.
    pub async fn eur_quote(&self, amount: &Money) -> ApiResult<Money> {
        let body = self
            .call(|a| Ok(requests::currency_rate(a, amount)))
            .await?;
        wire::parse_currency_rate(&body).map_err(|e| Fail::Api(e.to_api_error()))
    }
}

/// Cashcloud has no reserve-then-capture: money moves when the wallet user approves.
pub fn nothing_to_capture() -> Fail {
    Fail::Api(ApiError::invalid_request(
        "intent_unexpected_state",
        "Cashcloud payments are complete once the wallet user approves them: there is nothing to capture.",
    ))
}

/// EUR only (another currency is refused with the EUR equivalent quoted), within the
/// plan's per-transaction limits, no reserve-then-capture. The daily count is checked
/// early here; the binding claim of a slot is at confirm.
pub async fn check_new_intent(
    ctx: &Ctx,
    merchant_id: &str,
    new: &NewPaymentIntent,
    livemode: bool,
) -> ApiResult<()> {
    let setup = CashcloudSetup::load(ctx, merchant_id, livemode)?;
    if new.amount.currency() != Currency::EUR {
        let quote = setup.eur_quote(&new.amount).await?;
        return Err(LimitError::CurrencyNotSupported {
            currency: new.amount.currency(),
            eur_equivalent: None,
        }
        .with_eur_equivalent(quote)
        .to_api_error()
        .into());
    }
    let today = ctx.store.daily_count(&day_label(ctx.now))?;
    check_intent(
        setup.account.plan,
        &new.amount,
        new.capture_method,
        today as u32,
    )?;
    Ok(())
}

pub fn check_confirm(body: &ConfirmRequest) -> ApiResult<&str> {
    body.cashcloud_username
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
        })
}

/// A money request to the customer's wallet. A Corporate-plan slot of the day is
/// claimed in the same step as the check; a request that certainly never reached
/// Cashcloud gives it back. A request whose answer was lost keeps it: it may exist.
pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    _attempt: i64,
    body: &ConfirmRequest,
    origin: &str,
) -> ApiResult<Outcome<Intent>> {
    let username = check_confirm(body)?;
    let setup = CashcloudSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let state = intent.state()?;
    check_intent(setup.account.plan, &state.amount, state.capture_method, 0)?;
    let today = day_label(ctx.now);
    let slot = match setup.account.plan.daily_limit() {
        Some(limit) => {
            if !ctx.store.claim_daily_slot(&today, i64::from(limit))? {
                return Err(LimitError::DailyCountExceeded { limit }
                    .to_api_error()
                    .into());
            }
            true
        }
        None => false,
    };
    let callback_url = format!("{origin}/v1/webhooks/cashcloud/{merchant_id}");
    let expiration = request_expiration(ctx);
    if let Err(e) = setup
        .call(|a| requests::settings(a, &callback_url, expiration))
        .await
    {
        // Nothing was requested yet: the slot is free again.
        if slot {
            ctx.store.release_daily_slot(&today)?;
        }
        return Err(e);
    }
    let amount = state.amount;
    let remark = intent
        .row
        .description
        .clone()
        .unwrap_or_else(|| format!("Payment {}", intent.id()));
    let sent = setup
        .send_authed(|auth| {
            requests::money_request(
                auth,
                username,
                &amount,
                &remark,
                intent.id(),
                intent.row.order_reference.as_deref(),
            )
        })
        .await?;
    // A 2xx we cannot read says Cashcloud made the request, not which: unknown too.
    let hash = match sent.map(|body| wire::parse_request_reply(&body).ok()) {
        Ok(Some(hash)) => hash,
        Ok(None) | Err(CashcloudError::Unavailable { .. }) => {
            // The wallet may have the request: keep the slot and the intent open
            // until its expiry; never send a second request for this attempt. Its
            // callback names our intent (extern.id) and hands us the hash (adopt).
            ctx.store
                .set_expiry(intent.id(), cc_events::expires_at(ctx.now, expiration))?;
            ctx.wake_at(cc_events::expires_at(ctx.now, expiration) + grace(expiration))
                .await?;
            return Ok(Outcome::Unknown);
        }
        Err(e) => {
            if slot {
                ctx.store.release_daily_slot(&today)?;
            }
            return Err(e.to_api_error().into());
        }
    };
    let next = cc_events::await_wallet_approval(ctx.now, expiration);
    ctx.store.set_reference(intent.id(), &hash)?;
    ctx.store
        .set_expiry(intent.id(), cc_events::expires_at(ctx.now, expiration))?;
    ctx.store.set_next_action(intent.id(), Some(&next))?;
    ctx.wake_at(cc_events::expires_at(ctx.now, expiration) + grace(expiration))
        .await?;
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::Processing,
    };
    Ok(Outcome::Done(
        ctx.store.apply_events(intent.id(), &[ev], ctx.now)?.0,
    ))
}

/// No answer, or Cashcloud down: the request may or may not have been taken.
fn unknown(e: &CashcloudError) -> bool {
    matches!(e, CashcloudError::Unavailable { .. })
}

/// Reads the money request's state at Cashcloud and applies it; settles the
/// intent's refunds that still wait for the wallet user. A declined or expired
/// request gives its day's slot back.
pub async fn sync(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<Outcome<Intent>> {
    let Some(hash) = intent.row.provider_reference.clone() else {
        // The request's answer was lost, so we know no hash to ask about. Cashcloud
        // expires an unapproved request by itself; past that (and a grace) nothing
        // can be paid any more.
        let grace = grace(request_expiration(ctx));
        let expired = intent.row.expires_at.is_some_and(|t| ctx.now > t + grace);
        if !expired {
            return Ok(Outcome::Unknown);
        }
        let ev = ProviderEvent {
            at: ctx.now,
            event: IntentEvent::Failed {
                reason: "The payment request expired before it was approved.".to_owned(),
            },
        };
        return Ok(Outcome::Done(
            ctx.store.apply_events(intent.id(), &[ev], ctx.now)?.0,
        ));
    };
    let setup = CashcloudSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let tx = match setup.transaction(&hash).await {
        Ok(tx) => tx,
        Err(Fail::Api(e)) if e.status >= 500 => return Ok(Outcome::Unknown),
        Err(e) => return Err(e),
    };
    let evs = transaction_events(&tx, &intent.state()?, ctx.now).map_err(|e| {
        Fail::Internal(worker::Error::RustError(format!(
            "cashcloud {}: {e:?}",
            intent.id()
        )))
    })?;
    let was_open = intent.status()? == shared::intent::IntentStatus::Processing;
    let (after, _) = ctx.store.apply_events(intent.id(), &evs, ctx.now)?;
    if was_open && after.status()? == shared::intent::IntentStatus::RequiresPaymentMethod {
        // Declined or expired: that request took no money, so it takes no slot.
        if let (Some(_), Some(expires)) = (setup.account.plan.daily_limit(), intent.row.expires_at)
        {
            // The slot was taken on the day of the confirm that set this expiry.
            let requested_at = expires - i64::from(request_expiration(ctx));
            ctx.store.release_daily_slot(&day_label(requested_at))?;
        }
    }
    if after.status()? == shared::intent::IntentStatus::Succeeded {
        // Cashcloud's fee follows from its published schedule for the merchant's plan.
        let fee = shared::fees::cashcloud_fee(setup.account.plan, &after.state()?.amount)
            .map_err(|e| Fail::Api(e.to_api_error()))?;
        ctx.store
            .record_provider_fee(intent.id(), fee.to_minor_units(), ctx.now)?;
    }
    settle_pending_refunds(ctx, &setup, &after).await?;
    Ok(Outcome::Done(ctx.store.intent(intent.id())?))
}

/// A callback names a request we hold no hash for: one whose answer was lost. Its
/// transaction, read from Cashcloud with this merchant's credentials, names our
/// intent (`extern.id`, which we sent): that intent takes the hash, so the one
/// request it has is followed from now on and never sent again.
pub async fn adopt(
    ctx: &Ctx,
    merchant_id: &str,
    hash: &str,
    livemode: bool,
) -> ApiResult<Option<Intent>> {
    let setup = CashcloudSetup::load(ctx, merchant_id, livemode)?;
    let tx = match setup.transaction(hash).await {
        Ok(tx) => tx,
        // Not this merchant's transaction at Cashcloud: no object of ours.
        Err(Fail::Api(e)) if e.status < 500 => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(id) = tx.external.and_then(|e| e.id) else {
        return Ok(None);
    };
    if !shared::keys::is_id("pi_", &id) {
        return Ok(None);
    }
    let Some(intent) = ctx.store.find_intent(&id)? else {
        return Ok(None);
    };
    if intent.provider()? != Provider::Cashcloud
        || intent.row.provider_reference.is_some()
        || (intent.row.livemode != 0) != livemode
    {
        return Ok(None);
    }
    ctx.store.set_reference(&id, hash)?;
    Ok(Some(ctx.store.intent(&id)?))
}

/// A Cashcloud refund is itself a request the wallet user accepts: each pending one
/// is read back and settled.
pub async fn settle_pending_refunds(
    ctx: &Ctx,
    setup: &CashcloudSetup,
    intent: &Intent,
) -> ApiResult<()> {
    let (known, lost): (Vec<_>, Vec<_>) = ctx
        .store
        .pending_refunds(intent.id())?
        .into_iter()
        .partition(|r| r.provider_reference.is_some());
    for r in known {
        let Some(hash) = r.provider_reference else {
            continue;
        };
        let tx = setup.transaction(&hash).await?;
        match refund_outcome(tx.state) {
            RefundOutcome::Pending => {}
            RefundOutcome::Succeeded => {
                ctx.store.settle_refund(&r.id, true, ctx.now)?;
            }
            RefundOutcome::Failed(_) => {
                ctx.store.settle_refund(&r.id, false, ctx.now)?;
            }
        }
    }
    // After the known ones: their completions are in Cashcloud's total too.
    for r in lost {
        settle_lost_refund(ctx, setup, intent, &r).await?;
    }
    Ok(())
}

/// A refund whose answer was lost: Cashcloud has no idempotency key, so it is never
/// sent again. Its callback names it (see [`adopt_refund`]); failing that, once a
/// refund request it may have become has expired, the payment's refunded total at
/// Cashcloud says whether it was accepted: beyond our settled refunds by at least
/// its amount, it was; otherwise nothing was refunded and the amount is free again.
async fn settle_lost_refund(
    ctx: &Ctx,
    setup: &CashcloudSetup,
    intent: &Intent,
    r: &RefundRow,
) -> ApiResult<()> {
    let expiration = request_expiration(ctx);
    if ctx.now <= r.created + i64::from(expiration) + grace(expiration) {
        return Ok(());
    }
    let Some(hash) = intent.row.provider_reference.as_deref() else {
        return Ok(());
    };
    let Some(total) = setup.transaction(hash).await?.refunded_amount else {
        // Cashcloud does not say: left pending for a person (reconciliation).
        return Ok(());
    };
    let settled: i64 = ctx
        .store
        .refunds(intent.row.livemode != 0, Some(intent.id()), None, 1000)?
        .iter()
        .filter(|x| matches!(x.status(), Ok(RefundStatus::Succeeded)))
        .map(|x| x.amount)
        .sum();
    ctx.store
        .settle_refund(&r.id, total - settled >= r.amount, ctx.now)?;
    Ok(())
}

/// A refund callback with a hash we hold for no refund: one whose answer was lost.
/// Its transaction, read with this merchant's credentials, names the payment it
/// refunds (`original_hash`); that intent's oldest pending refund of the same amount
/// without a hash takes it.
async fn adopt_refund(
    ctx: &Ctx,
    merchant_id: &str,
    hash: &str,
    livemode: bool,
) -> ApiResult<Option<RefundRow>> {
    let setup = CashcloudSetup::load(ctx, merchant_id, livemode)?;
    let tx = match setup.transaction(hash).await {
        Ok(tx) => tx,
        Err(Fail::Api(e)) if e.status < 500 => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(original) = tx.original_hash.as_deref() else {
        return Ok(None);
    };
    let Some(intent) = ctx
        .store
        .intent_by_reference(Provider::Cashcloud, original)?
        .filter(|i| (i.row.livemode != 0) == livemode)
    else {
        return Ok(None);
    };
    let Some(r) = ctx
        .store
        .pending_refunds(intent.id())?
        .into_iter()
        .find(|r| r.provider_reference.is_none() && Some(r.amount) == tx.amount)
    else {
        return Ok(None);
    };
    ctx.store.set_refund_reference(&r.id, hash)?;
    Ok(Some(r))
}

/// Cashcloud's record of the wallet payment for reconciliation (`GET transactions`).
pub async fn reconcile_record(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    hash: &str,
) -> ApiResult<Option<Theirs>> {
    let setup = CashcloudSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let tx = setup.transaction(hash).await?;
    Ok(Some(cc_events::reconcile_record(hash, &tx)))
}

/// A declined or expired request holds nothing at Cashcloud; one still waiting for
/// the wallet user cannot be withdrawn through the API, so it is not canceled.
pub async fn cancel(ctx: &Ctx, _merchant_id: &str, intent: &Intent) -> ApiResult<Intent> {
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::Canceled,
    };
    Ok(ctx.store.apply_events(intent.id(), &[ev], ctx.now)?.0)
}

/// Sends a refund request; it stays pending until the wallet user accepts it.
pub async fn refund(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    refund: &RefundRow,
    amount: Money,
) -> ApiResult<Outcome<()>> {
    if refund.provider_reference.is_some() {
        // Already at Cashcloud: only its outcome is left to learn.
        return Ok(Outcome::Unknown);
    }
    let hash = held_at_provider(intent)?;
    let setup = CashcloudSetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    match setup
        .send_authed(|auth| requests::refund(auth, &hash, &amount))
        .await?
    {
        Ok(body) => {
            // An unreadable 2xx is a refund Cashcloud made whose hash we lack: the
            // same as a lost answer below.
            if let Ok(Some(r)) = wire::parse_refund_reply(&body) {
                ctx.store.set_refund_reference(&refund.id, &r)?;
            }
            Ok(Outcome::Unknown)
        }
        // Cashcloud has no idempotency key: a lost answer is never sent again; the
        // refund's callback or, after its expiry, the payment's refunded total
        // settles it (settle_lost_refund).
        Err(e) if unknown(&e) => Ok(Outcome::Unknown),
        Err(e) => Err(e.to_api_error().into()),
    }
}

/// `POST /v1/webhooks/cashcloud/{merchant_id}`: form fields `method, status, time,
/// control, hash`. The control hash (constant time) and the time (300 s) are checked;
/// then Cashcloud's own API is asked for the state — a callback alone never changes
/// anything (it could claim "completed" while Cashcloud says "pending").
pub async fn webhook(
    ctx: Ctx,
    merchant_id: String,
    body: Vec<u8>,
    _headers: worker::Headers,
    account: Option<ProviderAccount>,
    livemode: bool,
) -> ApiResult<&'static str> {
    use shared::cashcloud::callback::{self, CallbackFields, CallbackMethod};
    // The fields are read before the account is looked at: a malformed callback
    // says so whichever merchant it names.
    let fields = CallbackFields::parse(&body).map_err(|e| Fail::Api(e.to_api_error()))?;
    let Some(ProviderAccount::Cashcloud(account)) = account else {
        return Err(callback::CallbackError::Mismatch.to_api_error().into());
    };
    let cb = callback::verify_callback(
        &fields,
        &account.api_password,
        ctx.now,
        callback::DEFAULT_TOLERANCE,
    )
    .map_err(|e| Fail::Api(e.to_api_error()))?;
    let (method, kind) = match &cb.method {
        CallbackMethod::Request => ("request", "cashcloud.request"),
        CallbackMethod::Refund => ("refund", "cashcloud.refund"),
        CallbackMethod::Other(_) => ("other", "cashcloud.other"),
    };
    // A callback names no event id: the signed fields are its identity, so a
    // replay of the same callback is a duplicate.
    let event_id = format!("{method}:{}:{}:{}", cb.hash, cb.status.id(), cb.time);
    if ctx.store.event_seen("cashcloud", &event_id)? {
        return Ok("duplicate");
    }
    let (outcome, object_id) = match cb.method {
        CallbackMethod::Request => match match ctx
            .store
            .intent_by_reference(Provider::Cashcloud, &cb.hash)?
            .filter(|i| (i.row.livemode != 0) == livemode)
        {
            Some(intent) => Some(intent),
            None => adopt(&ctx, &merchant_id, &cb.hash, livemode).await?,
        } {
            None => ("unknown_object", None),
            Some(intent) => {
                let before = (intent.row.status.clone(), intent.balances);
                let id = intent.row.id.clone();
                let after = super::sync(&ctx, &merchant_id, intent).await?;
                let changed = (after.row.status.clone(), after.balances) != before;
                (if changed { "applied" } else { "ignored" }, Some(id))
            }
        },
        CallbackMethod::Refund => match match ctx.store.refund_by_reference(&cb.hash)? {
            Some(r) => Some(r),
            None => adopt_refund(&ctx, &merchant_id, &cb.hash, livemode).await?,
        } {
            None => ("unknown_object", None),
            Some(r) => {
                let intent = ctx.store.intent(&r.payment_intent)?;
                let before = intent.balances;
                let after = super::sync(&ctx, &merchant_id, intent).await?;
                (
                    if after.balances != before {
                        "applied"
                    } else {
                        "ignored"
                    },
                    Some(r.payment_intent),
                )
            }
        },
        CallbackMethod::Other(_) => ("ignored", None),
    };
    ctx.store.record_event(
        "cashcloud",
        &event_id,
        object_id.as_deref(),
        kind,
        outcome,
        ctx.now,
    )?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::grace;

    #[test]
    fn grace_is_a_fifth_of_the_expiry_within_1_to_60_seconds() {
        assert_eq!(grace(300), 60);
        assert_eq!(grace(3600), 60);
        assert_eq!(grace(25), 5);
        assert_eq!(grace(6), 1);
        assert_eq!(grace(5), 1);
    }
}
