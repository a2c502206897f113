//! Worldpay (Access Worldpay), as the Worker executes it: the hosted payment page
//! reserves the amount; the merchant captures (settles) when the goods ship; signed
//! event notifications and status queries tell us what happened. `shared::worldpay`
//! describes every request and reads every reply; this module sends and stores.

use shared::accounts::{ProviderAccount, WorldpayAccount};
use shared::api::{NewPaymentIntent, NextAction, RefundStatus};
use shared::error::ApiError;
use shared::intent::{CaptureMethod, IntentEvent, IntentStatus, Provider, ProviderEvent};
use shared::money::Money;
use shared::reconcile::Theirs;
use shared::worldpay::requests::{self, ReturnUrls};
use shared::worldpay::wire::{self, PaymentStatus};
use shared::worldpay::{events, Auth, HttpRequest};

use super::{check_return_url, held_at_provider, ConfirmRequest, Outcome};
use crate::ctx::Ctx;
use crate::http::{domain, ApiResult, Fail};
use crate::merchant::store::{Intent, Merchant, RefundRow};
use crate::outbound::{self, Answer};

/// What one call to Worldpay gave.
enum Reply {
    Ok(Vec<u8>),
    /// Worldpay's final word against the request (4xx): nothing was done.
    Refused(ApiError),
    /// No answer, a 429 or a 5xx: it may or may not have happened.
    Unknown(ApiError),
}

pub struct WorldpaySetup {
    pub account: WorldpayAccount,
    base: String,
}

impl WorldpaySetup {
    pub fn load(ctx: &Ctx, merchant_id: &str, livemode: bool) -> ApiResult<WorldpaySetup> {
        let ProviderAccount::Worldpay(account) =
            crate::merchant::accounts::require(ctx, merchant_id, Provider::Worldpay, livemode)?
        else {
            unreachable!("require answers with the provider's own account")
        };
        Ok(WorldpaySetup {
            account,
            base: super::base_url(ctx, "WORLDPAY_API_BASE", livemode)?,
        })
    }

    fn auth(&self) -> Auth<'_> {
        Auth::for_account(&self.account)
    }

    /// Sends one described request.
    async fn send(&self, req: ApiResult<HttpRequest>) -> ApiResult<Reply> {
        let req = req?;
        Ok(match outbound::send_described(&self.base, &req).await? {
            Answer::Unreachable => Reply::Unknown(ApiError::provider(
                502,
                "provider_unavailable",
                "Worldpay did not answer. Retrying with the same Idempotency-Key is safe.",
            )),
            Answer::Http { status, body } if (200..300).contains(&status) => {
                Reply::Ok(body.into_bytes())
            }
            Answer::Http { status, body } => {
                let e = wire::parse_error(status, body.as_bytes());
                if status == 429 || status >= 500 {
                    Reply::Unknown(e.to_api_error())
                } else {
                    Reply::Refused(e.to_api_error())
                }
            }
        })
    }

    /// [`Self::send`], with every answer but a 2xx as our error.
    async fn call(&self, req: ApiResult<HttpRequest>) -> ApiResult<Vec<u8>> {
        match self.send(req).await? {
            Reply::Ok(body) => Ok(body),
            Reply::Refused(e) | Reply::Unknown(e) => Err(e.into()),
        }
    }

    /// `GET api/payments/{id}`, or `None` when Worldpay could not be asked.
    async fn status_now(&self, payment_id: &str) -> ApiResult<Option<PaymentStatus>> {
        match self
            .send(domain(requests::status(&self.auth(), payment_id)))
            .await?
        {
            Reply::Ok(body) => Ok(Some(
                wire::parse_status(&body).map_err(|e| Fail::Api(e.to_api_error()))?,
            )),
            Reply::Refused(e) => Err(e.into()),
            Reply::Unknown(_) => Ok(None),
        }
    }

    pub async fn status(&self, payment_id: &str) -> ApiResult<PaymentStatus> {
        let body = self
            .call(domain(requests::status(&self.auth(), payment_id)))
            .await?;
        wire::parse_status(&body).map_err(|e| Fail::Api(e.to_api_error()))
    }
}

/// Worldpay's hosted page reserves the amount; the merchant settles on shipment.
pub fn check_new_intent(new: &NewPaymentIntent) -> ApiResult<()> {
    if new.capture_method != CaptureMethod::Manual {
        return Err(ApiError::invalid_request(
            "capture_method_not_supported",
            "Worldpay payments are reserved on its hosted page and captured when the goods ship: use capture_method manual.",
        )
        .with_param("capture_method")
        .into());
    }
    Ok(())
}

pub fn check_confirm(merchant: &Merchant, body: &ConfirmRequest) -> ApiResult<()> {
    check_return_url(merchant, body.return_url.as_deref(), true)?;
    Ok(())
}

/// Confirm: a hosted payment page for this attempt; the widget sends the customer
/// there. No money moves until the customer is on Worldpay's page, so a page request
/// without an answer is simply not offered (the next attempt asks for a new page).
pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    attempt: i64,
    body: &ConfirmRequest,
) -> ApiResult<Outcome<Intent>> {
    let return_url = body.return_url.clone().unwrap_or_default();
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let amount = intent.state()?.amount;
    let req = domain(requests::hosted_payment_page(
        &setup.auth(),
        intent.id(),
        &amount,
        intent.row.order_reference.as_deref(),
        &ReturnUrls::all(&return_url),
        &setup.account.entity,
        attempt as u32,
    ));
    let reply = setup.call(req).await?;
    let page =
        wire::parse_hosted_page(&reply, intent.id()).map_err(|e| Fail::Api(e.to_api_error()))?;
    if let Some(payment_id) = &page.payment_id {
        ctx.store.set_reference(intent.id(), payment_id)?;
    }
    ctx.store
        .set_next_action(intent.id(), Some(&NextAction::Redirect { url: page.url }))?;
    let ev = ProviderEvent {
        at: ctx.now,
        event: IntentEvent::ActionRequired,
    };
    Ok(Outcome::Done(
        ctx.store.apply_events(intent.id(), &[ev], ctx.now)?.0,
    ))
}

/// Applies Worldpay's current word on the payment (status query).
pub async fn sync(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<Outcome<Intent>> {
    let Some(payment_id) = intent.row.provider_reference.clone() else {
        return Ok(Outcome::Done(intent.clone()));
    };
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let mut unknown = false;
    for r in ctx.store.pending_refunds(intent.id())? {
        // Sent again under the same key while Worldpay still replays it: its first
        // answer comes back, or the refund it never received is made now; never a
        // second one. Older ones are left to the status total (and reconciliation).
        if ctx.now - r.created < REFUND_RESEND_SECONDS {
            let amount = intent.money(r.amount)?;
            match send_refund(&setup, &payment_id, &r, &amount).await? {
                Reply::Ok(_) => {}
                Reply::Refused(_) => {
                    ctx.store.settle_refund(&r.id, false, ctx.now)?;
                }
                Reply::Unknown(_) => unknown = true,
            }
        }
    }
    let Some(status) = setup.status_now(&payment_id).await? else {
        return Ok(Outcome::Unknown);
    };
    let after = apply_status(ctx, &ctx.store.intent(intent.id())?, &status)?;
    Ok(if unknown {
        Outcome::Unknown
    } else {
        Outcome::Done(after)
    })
}

/// Worldpay's record of the payment for reconciliation, from its status.
pub async fn reconcile_record(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    payment_id: &str,
) -> ApiResult<Option<Theirs>> {
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let status = setup.status(payment_id).await?;
    if !status.belongs_to(intent.id()) {
        // Worldpay's payment names another transaction: ours is not there.
        return Ok(None);
    }
    Ok(Some(events::reconcile_record(payment_id, &status)))
}

/// Worldpay replays an idempotent request's answer for 24 h; a refund whose answer
/// was lost is sent again only well inside that.
const REFUND_RESEND_SECONDS: i64 = 23 * 3600;

/// `POST …/partialRefunds` keyed by our refund id.
async fn send_refund(
    setup: &WorldpaySetup,
    payment_id: &str,
    refund: &RefundRow,
    amount: &Money,
) -> ApiResult<Reply> {
    setup
        .send(domain(requests::partial_refund(
            &setup.auth(),
            payment_id,
            amount,
            &refund.id,
        )))
        .await
}

fn apply_status(ctx: &Ctx, intent: &Intent, status: &PaymentStatus) -> ApiResult<Intent> {
    if !status.belongs_to(intent.id()) {
        return Err(Fail::Internal(worker::Error::RustError(format!(
            "worldpay status for {} names another transaction",
            intent.id()
        ))));
    }
    let evs = events::to_events(status, &intent.state()?, ctx.now).map_err(|e| {
        Fail::Internal(worker::Error::RustError(format!(
            "worldpay {}: {e:?}",
            intent.id()
        )))
    })?;
    let (after, _) = ctx.store.apply_events(intent.id(), &evs, ctx.now)?;
    if let Some(total) = &status.refunded_value {
        settle_refunds(ctx, &after, total.amount)?;
    }
    ctx.store.intent(intent.id())
}

/// Capture on shipment: all of the reservation, or less (the rest is released).
pub async fn capture(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    amount: Money,
) -> ApiResult<Intent> {
    let payment_id = held_at_provider(intent)?;
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    let state = intent.state()?;
    let req = if amount == state.amount_capturable {
        domain(requests::settle(&setup.auth(), &payment_id, intent.id()))
    } else {
        domain(requests::partial_settlement(
            &setup.auth(),
            &payment_id,
            &amount,
            intent.id(),
        ))
    };
    setup.call(req).await?;
    let status = setup.status(&payment_id).await?;
    apply_status(ctx, &ctx.store.intent(intent.id())?, &status)
}

pub async fn cancel(ctx: &Ctx, merchant_id: &str, intent: &Intent) -> ApiResult<Intent> {
    let payment_id = held_at_provider(intent)?;
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    setup
        .call(domain(requests::cancel(
            &setup.auth(),
            &payment_id,
            intent.id(),
        )))
        .await?;
    let status = setup.status(&payment_id).await?;
    apply_status(ctx, &ctx.store.intent(intent.id())?, &status)
}

/// A partial refund under our refund id. It becomes `succeeded` once Worldpay's
/// running refunded total covers it — now, if the status already says so, or when
/// the `Refunded` notification comes.
pub async fn refund(
    ctx: &Ctx,
    merchant_id: &str,
    intent: &Intent,
    refund: &RefundRow,
    amount: Money,
) -> ApiResult<Outcome<()>> {
    let payment_id = held_at_provider(intent)?;
    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
    match send_refund(&setup, &payment_id, refund, &amount).await? {
        Reply::Ok(_) => {}
        Reply::Refused(e) => return Err(e.into()),
        // Worldpay may have it: pending, sent again under the same key until it says.
        Reply::Unknown(_) => return Ok(Outcome::Unknown),
    }
    match setup.status_now(&payment_id).await? {
        Some(status) => {
            apply_status(ctx, &ctx.store.intent(intent.id())?, &status)?;
            Ok(Outcome::Done(()))
        }
        None => Ok(Outcome::Unknown),
    }
}

/// Marks our refunds succeeded, oldest first, as far as Worldpay's refunded total
/// (minor units) covers them.
fn settle_refunds(ctx: &Ctx, intent: &Intent, total: i64) -> ApiResult<()> {
    let mut refunds = ctx
        .store
        .refunds(intent.row.livemode != 0, Some(intent.id()), None, 1000)?;
    refunds.retain(|r| {
        matches!(
            r.status(),
            Ok(RefundStatus::Pending | RefundStatus::Succeeded)
        )
    });
    refunds.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut covered = 0;
    for r in refunds {
        covered += r.amount;
        if covered > total {
            break;
        }
        ctx.store.settle_refund(&r.id, true, ctx.now)?;
    }
    Ok(())
}

/// After a notification: the intent it names, within this merchant, and whether the
/// notification changed it.
pub async fn on_notification(
    ctx: &Ctx,
    merchant_id: &str,
    n: &shared::worldpay::webhook::Notification,
    livemode: bool,
) -> ApiResult<Option<(String, Applied)>> {
    let id = n.our_intent_id();
    let Some(intent) = ctx.store.find_intent(id)? else {
        return Ok(None);
    };
    // Verified with the other mode's secret: not this intent's notification.
    if (intent.row.livemode != 0) != livemode {
        return Ok(None);
    }
    if intent.provider()? != Provider::Worldpay {
        return Ok(None);
    }
    // Every confirm opens a new hosted page, and each page that is paid is a payment
    // of its own. The intent follows the payment that holds its money; another
    // attempt's payment is superseded, and a hold it took is released at once.
    match (&intent.row.provider_reference, &n.event_details.payment_id) {
        (Some(ours), Some(pid)) if ours != pid => {
            let holds = matches!(
                intent.status()?,
                IntentStatus::RequiresCapture | IntentStatus::Processing | IntentStatus::Succeeded
            );
            if holds {
                if n.event_details.kind == shared::worldpay::wire::WorldpayEvent::Authorized {
                    let setup = WorldpaySetup::load(ctx, merchant_id, intent.row.livemode != 0)?;
                    setup
                        .call(domain(requests::cancel(&setup.auth(), pid, intent.id())))
                        .await?;
                }
                return Ok(Some((intent.row.id.clone(), Applied::Superseded)));
            }
            // The earlier attempt holds nothing: this payment is the intent's now.
            ctx.store.set_reference(intent.id(), pid)?;
        }
        (None, Some(pid)) => ctx.store.set_reference(intent.id(), pid)?,
        _ => {}
    }
    let intent = ctx.store.intent(id)?;
    let before = (intent.row.status.clone(), intent.balances);
    // Our one clock orders events (Worldpay's eventTimestamp is another clock).
    let at = ctx.now;
    let direct = if n.needs_status_check() {
        None
    } else {
        n.to_events(&intent.state()?, at).ok()
    };
    let after = match direct {
        Some(evs) => ctx.store.apply_events(intent.id(), &evs, ctx.now)?.0,
        None => match sync(ctx, merchant_id, &intent).await? {
            Outcome::Done(i) => i,
            // Worldpay must retry: answering now would lose the event.
            Outcome::Unknown => {
                return Err(ApiError::provider(
                    503,
                    "provider_unavailable",
                    "Worldpay's status could not be read; retry.",
                )
                .into())
            }
        },
    };
    // The customer is back from the hosted page: nothing left to redirect to.
    if after.status()? != IntentStatus::RequiresAction {
        ctx.store.set_next_action(after.id(), None)?;
    }
    let changed = (after.row.status.clone(), after.balances) != before;
    let applied = if changed {
        Applied::Changed
    } else {
        Applied::Unchanged
    };
    Ok(Some((after.row.id.clone(), applied)))
}

/// What a notification did to the intent it names.
pub enum Applied {
    Changed,
    Unchanged,
    /// It is about another attempt's payment; that payment's hold was released.
    Superseded,
}

/// `POST /v1/webhooks/worldpay/{merchant_id}`: `Event-Signature: {keyId}/SHA256/{hex}`,
/// possibly several entries in any order; ours is picked by keyId and compared in
/// constant time. Duplicates (by eventId) and out-of-order events change nothing.
pub async fn webhook(
    ctx: Ctx,
    merchant_id: String,
    body: Vec<u8>,
    headers: worker::Headers,
    account: Option<ProviderAccount>,
    livemode: bool,
) -> ApiResult<&'static str> {
    use shared::worldpay::webhook;
    let header = headers.get(webhook::SIGNATURE_HEADER)?.unwrap_or_default();
    let Some(ProviderAccount::Worldpay(account)) = account else {
        return Err(webhook::SignatureError::Mismatch.to_api_error().into());
    };
    webhook::verify(&header, &body, webhook::KEY_ID, &account.webhook_secret)
        .map_err(|e| Fail::Api(e.to_api_error()))?;
    let n = webhook::parse_notification(&body).map_err(|_| {
        Fail::Api(ApiError::invalid_request(
            "invalid_event",
            "The body is not a Worldpay event notification.",
        ))
    })?;
    if ctx.store.event_seen("worldpay", &n.event_id)? {
        return Ok("duplicate");
    }
    let (outcome, object_id) = match on_notification(&ctx, &merchant_id, &n, livemode).await? {
        None => ("unknown_object", None),
        Some((id, Applied::Changed)) => ("applied", Some(id)),
        Some((id, Applied::Unchanged)) => ("ignored", Some(id)),
        Some((id, Applied::Superseded)) => ("superseded", Some(id)),
    };
    let kind = format!("worldpay.{}", n.event_details.kind);
    ctx.store.record_event(
        "worldpay",
        &n.event_id,
        object_id.as_deref(),
        &kind,
        outcome,
        ctx.now,
    )?;
    Ok(outcome)
}
