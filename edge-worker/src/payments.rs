//! The money-moving operations on an intent — confirm, sync, capture, cancel — per
//! provider. Every outcome goes through `intents::apply_events` (the one state
//! machine); every provider call carries an idempotency key derived from our ids.

use serde::Deserialize;
use shared::api::NextAction;
use shared::error::ApiError;
use shared::intent::{
    check_cancel, check_capture, IntentEvent, IntentStatus, Provider, ProviderEvent,
};
use shared::money::Money;
use shared::stripe::{events, requests};
use worker::wasm_bindgen::JsValue;

use crate::ctx::Ctx;
use crate::http::{ApiResult, Fail};
use crate::intents::{apply_events, load, IntentRow};
use crate::stripe::{build, events_of, StripeSetup};

/// Cashcloud has no reserve-then-capture: money moves when the wallet user approves.
fn nothing_to_capture() -> Fail {
    Fail::Api(ApiError::invalid_request(
        "intent_unexpected_state",
        "Cashcloud payments are complete once the wallet user approves them: there is nothing to capture.",
    ))
}

fn provider_of(row: &IntentRow) -> ApiResult<Provider> {
    Ok(row.record()?.provider)
}

/// `POST …/confirm` body. Provider-specific fields; unknown ones are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    pub client_secret: Option<String>,
    pub payment_method: Option<String>,
    pub return_url: Option<String>,
    pub cashcloud_username: Option<String>,
}

/// `origin`: this Worker's own origin, for the provider's callback URL.
pub async fn confirm(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    body: &ConfirmBody,
    origin: &str,
) -> ApiResult<IntentRow> {
    if row.state()?.status != IntentStatus::RequiresPaymentMethod {
        return Err(ApiError::invalid_request(
            "intent_unexpected_state",
            format!(
                "This payment is {}; it cannot be confirmed again.",
                row.status.replace('_', " ")
            ),
        )
        .into());
    }
    match provider_of(&row)? {
        Provider::Stripe => confirm_stripe(ctx, merchant_id, row, body).await,
        Provider::Cashcloud => {
            crate::cashcloud_flow::confirm(ctx, merchant_id, row, body, origin).await
        }
        Provider::Worldpay => crate::worldpay::confirm(ctx, merchant_id, row, body).await,
    }
}

/// Claims the next attempt at the provider: a concurrent confirm of the same intent
/// loses here. The attempt number goes into the provider's idempotency keys.
pub async fn claim_attempt(ctx: &Ctx, row: &IntentRow) -> ApiResult<i64> {
    let attempt = row.attempts + 1;
    let claimed = ctx
        .db
        .prepare("UPDATE payment_intents SET attempts = ?3 WHERE id = ?1 AND attempts = ?2 AND status = 'requires_payment_method'")
        .bind(&[row.id.as_str().into(), (row.attempts as f64).into(), (attempt as f64).into()])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if claimed != 1 {
        return Err(ApiError::idempotency("This payment is already being confirmed.").into());
    }
    Ok(attempt)
}

async fn confirm_stripe(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    body: &ConfirmBody,
) -> ApiResult<IntentRow> {
    let pm = body
        .payment_method
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
    let setup = StripeSetup::load(ctx, merchant_id).await?;
    if let Some(reference) = &row.provider_reference {
        // A retry after a lost answer: if the earlier attempt reached Stripe, take
        // its outcome instead of confirming again.
        let req = build(requests::retrieve_payment_intent(&setup.auth(), reference))?;
        let pi = setup.intent(req).await?;
        use shared::stripe::wire::StripeIntentStatus as S;
        match pi.status {
            S::RequiresPaymentMethod | S::RequiresConfirmation => {}
            S::RequiresAction
            | S::Processing
            | S::RequiresCapture
            | S::Succeeded
            | S::Canceled
            | S::Unknown => {
                return record_stripe(ctx, merchant_id, &row.id, &pi).await;
            }
        }
    }
    let attempt = claim_attempt(ctx, &row).await?;
    let stripe_id = match &row.provider_reference {
        Some(r) => r.clone(),
        None => {
            let pi = setup.create_for(&row).await?;
            ctx.db
                .prepare("UPDATE payment_intents SET provider_reference = ?2 WHERE id = ?1")
                .bind(&[row.id.as_str().into(), pi.id.as_str().into()])?
                .run()
                .await?;
            pi.id
        }
    };
    let auth = setup.auth();
    let attach = build(requests::attach_payment_method(
        &auth,
        &row.id,
        &stripe_id,
        pm,
        attempt as u32,
    ))?;
    let confirm = build(requests::confirm_payment_intent(
        &auth,
        &row.id,
        &stripe_id,
        body.return_url.as_deref(),
        attempt as u32,
    ))?;
    let outcome = match setup.send(attach).await? {
        Ok(_) => setup.send(confirm).await?,
        Err(e) => Err(e),
    };
    let pi = match outcome {
        Ok(body) => shared::stripe::wire::parse_payment_intent(&body)
            .map_err(|e| Fail::Api(e.to_api_error()))?,
        Err((status, err)) => {
            // A decline: record the failed attempt from Stripe's own view of the
            // intent, then tell the customer why.
            let api = shared::stripe::wire::error_to_api_error(status, &err);
            if api.status == 402 {
                let reason = shared::stripe::wire::DeclineReason::from_error(&err);
                let ev = ProviderEvent {
                    at: ctx.now,
                    event: IntentEvent::Failed {
                        reason: reason.message().to_owned(),
                    },
                };
                apply_events(ctx, merchant_id, &row.id, &[ev]).await?;
            }
            return Err(api.into());
        }
    };
    record_stripe(ctx, merchant_id, &row.id, &pi).await
}

/// Stores what Stripe says of an intent: its next action and the events it implies.
async fn record_stripe(
    ctx: &Ctx,
    merchant_id: &str,
    id: &str,
    pi: &shared::stripe::wire::StripePaymentIntent,
) -> ApiResult<IntentRow> {
    let row = load(ctx, merchant_id, id).await?;
    let next = events::next_action(pi);
    store_next_action(ctx, id, next.as_ref()).await?;
    let evs = events_of(pi, &row, ctx.now)?;
    apply_events(ctx, merchant_id, id, &evs).await
}

pub async fn store_next_action(ctx: &Ctx, id: &str, next: Option<&NextAction>) -> ApiResult<()> {
    let json = match next {
        Some(n) => JsValue::from_str(
            &serde_json::to_string(n).map_err(|e| worker::Error::RustError(e.to_string()))?,
        ),
        None => JsValue::NULL,
    };
    ctx.db
        .prepare("UPDATE payment_intents SET next_action = ?2 WHERE id = ?1")
        .bind(&[id.into(), json])?
        .run()
        .await?;
    Ok(())
}

/// Reads an open outcome (3-D Secure under way, processing) back from the provider,
/// so the final state comes from the provider and never from the browser's word.
/// If the provider cannot be reached, the stored state is returned unchanged.
pub async fn sync(ctx: &Ctx, merchant_id: &str, row: IntentRow) -> ApiResult<IntentRow> {
    let open = matches!(
        row.state()?.status,
        IntentStatus::RequiresAction | IntentStatus::Processing
    );
    let (Some(reference), true) = (row.provider_reference.clone(), open) else {
        return Ok(row);
    };
    match provider_of(&row)? {
        Provider::Stripe => {
            let setup = StripeSetup::load(ctx, merchant_id).await?;
            let req = build(requests::retrieve_payment_intent(&setup.auth(), &reference))?;
            match setup.intent(req).await {
                Ok(pi) => record_stripe(ctx, merchant_id, &row.id, &pi).await,
                Err(Fail::Api(e)) if e.status >= 500 => Ok(row),
                Err(e) => Err(e),
            }
        }
        Provider::Cashcloud => crate::cashcloud_flow::sync(ctx, merchant_id, row, &reference).await,
        Provider::Worldpay => crate::worldpay::sync(ctx, merchant_id, row, &reference).await,
    }
}

/// `POST …/capture`: up to the authorised amount; the rest is released.
pub async fn capture(
    ctx: &Ctx,
    merchant_id: &str,
    row: IntentRow,
    amount: Option<Money>,
) -> ApiResult<IntentRow> {
    let amount = check_capture(&row.state()?, amount)?;
    match provider_of(&row)? {
        Provider::Stripe => {
            let reference = held_at_provider(&row)?;
            let setup = StripeSetup::load(ctx, merchant_id).await?;
            let req = build(requests::capture_payment_intent(
                &setup.auth(),
                &row.id,
                &reference,
                amount,
            ))?;
            let pi = setup.intent(req).await?;
            record_stripe(ctx, merchant_id, &row.id, &pi).await
        }
        Provider::Worldpay => crate::worldpay::capture(ctx, merchant_id, row, amount).await,
        Provider::Cashcloud => Err(nothing_to_capture()),
    }
}

/// `POST …/cancel`: releases a hold at the provider, or ends an intent no provider
/// has seen yet.
pub async fn cancel(ctx: &Ctx, merchant_id: &str, row: IntentRow) -> ApiResult<IntentRow> {
    check_cancel(&row.state()?)?;
    let Some(reference) = row.provider_reference.clone() else {
        let ev = ProviderEvent {
            at: ctx.now,
            event: IntentEvent::Canceled,
        };
        return apply_events(ctx, merchant_id, &row.id, &[ev]).await;
    };
    match provider_of(&row)? {
        Provider::Stripe => {
            let setup = StripeSetup::load(ctx, merchant_id).await?;
            let req = build(requests::cancel_payment_intent(
                &setup.auth(),
                &row.id,
                &reference,
            ))?;
            let pi = setup.intent(req).await?;
            record_stripe(ctx, merchant_id, &row.id, &pi).await
        }
        Provider::Worldpay => crate::worldpay::cancel(ctx, merchant_id, row).await,
        // A request that was declined or expired holds nothing at Cashcloud.
        Provider::Cashcloud => {
            let ev = ProviderEvent {
                at: ctx.now,
                event: IntentEvent::Canceled,
            };
            apply_events(ctx, merchant_id, &row.id, &[ev]).await
        }
    }
}

pub fn held_at_provider(row: &IntentRow) -> ApiResult<String> {
    row.provider_reference.clone().ok_or_else(|| {
        Fail::Api(ApiError::invalid_request(
            "intent_unexpected_state",
            "This payment has not reached the provider yet.",
        ))
    })
}
