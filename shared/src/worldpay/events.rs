//! Worldpay's payment events in our terms: [`ProviderEvent`]s for the one state
//! machine (`crate::intent::apply` alone decides what they change, so a repeated,
//! late or out-of-order event changes nothing).
//!
//! `lastEvent` → our events:
//! - `Authorized` → `Authorized { value }`: the hosted page only reserves, so a
//!   manual-capture intent waits in `requires_capture` (an automatic one goes to
//!   `processing`, and the Worker settles it at once);
//! - `SentForSettlement`, `Settled` → `Captured { settledValue, else value }`
//!   (capturing less releases the rest);
//! - `SentForRefund`, `Refunded`, `RefundFailed` → `Captured` as above (a refund
//!   implies a capture). The refunds themselves are the merchant's own ledger rows:
//!   the Worker settles them as `refundedValue` covers them, and no refund total
//!   becomes an event of the intent;
//! - `Refused` → `Failed { "Your card was refused." }` (the customer may retry);
//! - `Error` → `Failed { "The payment could not be completed." }`: before a
//!   reservation the attempt failed; after one the state machine ignores it, which
//!   is right (the reservation or capture stands);
//! - `Cancelled`, `Expired` → `Canceled` (an expired reservation is released);
//! - `SettlementFailed` → nothing: money we reported captured did not move, but
//!   intents never move backwards; the Worker should alert the merchant (see
//!   [`needs_attention`]);
//! - an unknown name → nothing.
//!
//! Matches list every variant, so a new one fails to compile until it is decided.

use std::fmt;

use crate::intent::{IntentEvent, IntentState, ProviderEvent};
use crate::money::{AmountError, Currency, Money};

use super::wire::{PaymentStatus, WireValue, WorldpayEvent, REFUSED_MESSAGE};

/// The reason recorded for an `Error` event.
pub const ERROR_MESSAGE: &str = "The payment could not be completed.";

/// Why a Worldpay reply or notification cannot be read as this intent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// Worldpay's currency is not the intent's: not our payment, or a bug; never
    /// convert.
    CurrencyMismatch { expected: Currency, got: String },
    /// A negative or absurd amount.
    Amount(AmountError),
    /// An amount this event needs is absent (the notification's `amount` on
    /// `Authorized`/`Settled`): ask [`super::requests::status`] and map that instead.
    MissingAmount,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::CurrencyMismatch { expected, got } => {
                write!(f, "Worldpay reports {got:?}, the intent is in {expected}")
            }
            MappingError::Amount(e) => write!(f, "Worldpay reports an unusable amount: {e}"),
            MappingError::MissingAmount => f.write_str("Worldpay's report lacks an amount"),
        }
    }
}

impl std::error::Error for MappingError {}

/// Worldpay's minor units in `currency` as Money in `expected`.
pub fn to_money(minor: i64, currency: &str, expected: Currency) -> Result<Money, MappingError> {
    if currency != expected.code() {
        return Err(MappingError::CurrencyMismatch {
            expected,
            got: currency.to_owned(),
        });
    }
    Money::from_minor_units(minor, expected).map_err(MappingError::Amount)
}

fn wire_money(v: &WireValue, expected: Currency) -> Result<Money, MappingError> {
    to_money(v.amount, &v.currency, expected)
}

/// Worldpay's record of a payment for reconciliation, from its status: the
/// reservation while it is only authorised, what was sent for settlement (all of it
/// unless `settledValue` says less), and the refunds Worldpay made.
pub fn reconcile_record(payment_id: &str, status: &PaymentStatus) -> crate::reconcile::Theirs {
    let settled = status
        .settled_value
        .as_ref()
        .map_or(status.value.amount, |v| v.amount);
    let (capturable, captured) = match &status.last_event {
        WorldpayEvent::Authorized => (status.value.amount, 0),
        WorldpayEvent::SentForSettlement
        | WorldpayEvent::Settled
        | WorldpayEvent::SentForRefund
        | WorldpayEvent::Refunded
        | WorldpayEvent::RefundFailed => (0, settled),
        WorldpayEvent::Refused
        | WorldpayEvent::Error
        | WorldpayEvent::Cancelled
        | WorldpayEvent::Expired
        | WorldpayEvent::SettlementFailed
        | WorldpayEvent::Unknown(_) => (0, 0),
    };
    crate::reconcile::Theirs {
        reference: payment_id.to_owned(),
        payment_intent: status.transaction_reference.clone(),
        currency: status.value.currency.parse::<Currency>().ok(),
        capturable: Some(capturable),
        captured,
        refunded: Some(status.refunded_value.as_ref().map_or(0, |v| v.amount)),
    }
}

/// A status reply's meaning for our intent, as events at time `at` (when the
/// Worker read it). Check [`PaymentStatus::belongs_to`] first.
pub fn to_events(
    status: &PaymentStatus,
    our: &IntentState,
    at: i64,
) -> Result<Vec<ProviderEvent>, MappingError> {
    let currency = our.amount.currency();
    let value = wire_money(&status.value, currency)?;
    let settled = match &status.settled_value {
        Some(v) => wire_money(v, currency)?,
        None => value,
    };
    // A refund total must still be a valid amount in our currency.
    if let Some(v) = &status.refunded_value {
        wire_money(v, currency)?;
    }
    let captured = IntentEvent::Captured { amount: settled };
    let events = match &status.last_event {
        WorldpayEvent::Authorized => vec![IntentEvent::Authorized { amount: value }],
        WorldpayEvent::SentForSettlement | WorldpayEvent::Settled => vec![captured],
        WorldpayEvent::SentForRefund | WorldpayEvent::RefundFailed | WorldpayEvent::Refunded => {
            vec![captured]
        }
        WorldpayEvent::Refused
        | WorldpayEvent::Error
        | WorldpayEvent::Cancelled
        | WorldpayEvent::Expired
        | WorldpayEvent::SettlementFailed
        | WorldpayEvent::Unknown(_) => simple_event(&status.last_event).into_iter().collect(),
    };
    Ok(stamp(events, at))
}

/// The event for names that carry no amount; `None` for those that need one or
/// change nothing.
pub(crate) fn simple_event(e: &WorldpayEvent) -> Option<IntentEvent> {
    match e {
        WorldpayEvent::Refused => Some(IntentEvent::Failed {
            reason: REFUSED_MESSAGE.to_owned(),
        }),
        WorldpayEvent::Error => Some(IntentEvent::Failed {
            reason: ERROR_MESSAGE.to_owned(),
        }),
        WorldpayEvent::Cancelled | WorldpayEvent::Expired => Some(IntentEvent::Canceled),
        WorldpayEvent::Authorized
        | WorldpayEvent::SentForSettlement
        | WorldpayEvent::Settled
        | WorldpayEvent::SentForRefund
        | WorldpayEvent::Refunded
        | WorldpayEvent::RefundFailed
        | WorldpayEvent::SettlementFailed
        | WorldpayEvent::Unknown(_) => None,
    }
}

/// Events a merchant should hear about although the intent does not move:
/// money we reported captured or refunded did not move.
pub fn needs_attention(e: &WorldpayEvent) -> bool {
    match e {
        WorldpayEvent::SettlementFailed | WorldpayEvent::RefundFailed => true,
        WorldpayEvent::Authorized
        | WorldpayEvent::SentForSettlement
        | WorldpayEvent::Settled
        | WorldpayEvent::Refused
        | WorldpayEvent::Cancelled
        | WorldpayEvent::Expired
        | WorldpayEvent::SentForRefund
        | WorldpayEvent::Refunded
        | WorldpayEvent::Error
        | WorldpayEvent::Unknown(_) => false,
    }
}

pub(crate) fn stamp(events: Vec<IntentEvent>, at: i64) -> Vec<ProviderEvent> {
    events
        .into_iter()
        .map(|event| ProviderEvent { at, event })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{apply, CaptureMethod, IgnoreReason, IntentStatus, Transition};
    use crate::worldpay::wire::parse_status;

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    fn intent() -> IntentState {
        IntentState::new(eur("12.50"), CaptureMethod::Manual)
    }

    fn status(last: &str, extra: &str) -> PaymentStatus {
        let body = format!(
            r#"{{"transactionReference":"pi_1","lastEvent":"{last}","value":{{"amount":1250,"currency":"EUR"}}{extra}}}"#
        );
        parse_status(body.as_bytes()).unwrap()
    }

    fn events(last: &str, extra: &str) -> Vec<IntentEvent> {
        to_events(&status(last, extra), &intent(), 7)
            .unwrap()
            .into_iter()
            .map(|e| {
                assert_eq!(e.at, 7);
                e.event
            })
            .collect()
    }

    /// Applies each event in turn, as the Worker does.
    fn run(mut state: IntentState, evs: &[ProviderEvent]) -> IntentState {
        for e in evs {
            if let Transition::Applied(next) = apply(&state, e) {
                state = next;
            }
        }
        state
    }

    #[test]
    fn each_last_event_maps_as_documented() {
        let settled = r#","settledValue":{"amount":1000,"currency":"EUR"}"#;
        let refunded = r#","settledValue":{"amount":1000,"currency":"EUR"},"refundedValue":{"amount":300,"currency":"EUR"}"#;
        assert_eq!(
            events("Authorized", ""),
            vec![IntentEvent::Authorized {
                amount: eur("12.50")
            }]
        );
        assert_eq!(
            events("Settled", settled),
            vec![IntentEvent::Captured {
                amount: eur("10.00")
            }]
        );
        assert_eq!(
            events("SentForSettlement", ""),
            vec![IntentEvent::Captured {
                amount: eur("12.50")
            }]
        );
        assert_eq!(
            events("Refunded", refunded),
            vec![IntentEvent::Captured {
                amount: eur("10.00")
            }],
            "a refund total is not an event: refunds are our own rows"
        );
        assert_eq!(
            events("SentForRefund", settled),
            vec![IntentEvent::Captured {
                amount: eur("10.00")
            }]
        );
        assert_eq!(events("RefundFailed", refunded).len(), 1);
        assert_eq!(
            events("Refused", ""),
            vec![IntentEvent::Failed {
                reason: "Your card was refused.".into()
            }]
        );
        assert_eq!(
            events("Error", ""),
            vec![IntentEvent::Failed {
                reason: ERROR_MESSAGE.into()
            }]
        );
        assert_eq!(events("Cancelled", ""), vec![IntentEvent::Canceled]);
        assert_eq!(events("Expired", ""), vec![IntentEvent::Canceled]);
        assert_eq!(events("SettlementFailed", ""), vec![]);
        assert_eq!(events("SomethingNew", ""), vec![]);
        assert!(needs_attention(&WorldpayEvent::SettlementFailed));
        assert!(!needs_attention(&WorldpayEvent::Settled));
    }

    #[test]
    fn amounts_in_another_currency_or_negative_are_errors() {
        let chf_refund = r#"{"lastEvent":"Refunded","value":{"amount":1250,"currency":"EUR"},"refundedValue":{"amount":100,"currency":"CHF"}}"#;
        assert!(matches!(
            to_events(&parse_status(chf_refund.as_bytes()).unwrap(), &intent(), 1),
            Err(MappingError::CurrencyMismatch { .. })
        ));
        let chf = r#"{"lastEvent":"Authorized","value":{"amount":1250,"currency":"CHF"}}"#;
        assert!(matches!(
            to_events(&parse_status(chf.as_bytes()).unwrap(), &intent(), 1),
            Err(MappingError::CurrencyMismatch { .. })
        ));
        let neg = r#"{"lastEvent":"Authorized","value":{"amount":-1,"currency":"EUR"}}"#;
        assert!(matches!(
            to_events(&parse_status(neg.as_bytes()).unwrap(), &intent(), 1),
            Err(MappingError::Amount(_))
        ));
    }

    #[test]
    fn reserve_capture_less_refund_through_the_state_machine() {
        let s = run(
            intent(),
            &to_events(&status("Authorized", ""), &intent(), 10).unwrap(),
        );
        assert_eq!(s.status, IntentStatus::RequiresCapture);
        assert_eq!(s.amount_capturable, eur("12.50"));
        let settled = status(
            "Settled",
            r#","settledValue":{"amount":1000,"currency":"EUR"}"#,
        );
        let s = run(s.clone(), &to_events(&settled, &s, 20).unwrap());
        assert_eq!(s.status, IntentStatus::Succeeded);
        assert_eq!(s.amount_received, eur("10.00"));
        assert!(s.amount_capturable.is_zero());
        let refunded = status(
            "Refunded",
            r#","settledValue":{"amount":1000,"currency":"EUR"},"refundedValue":{"amount":400,"currency":"EUR"}"#,
        );
        let s = run(s.clone(), &to_events(&refunded, &s, 30).unwrap());
        // Worldpay's refunded total settles our refund rows; it is no event here.
        assert!(s.amount_refunded.is_zero());
        assert_eq!(s.amount_received, eur("10.00"));
    }

    #[test]
    fn duplicates_and_out_of_order_change_nothing() {
        let auth = to_events(&status("Authorized", ""), &intent(), 10).unwrap();
        let settled = to_events(&status("Settled", ""), &intent(), 20).unwrap();
        let s = run(intent(), &auth);
        let s = run(s, &settled);
        assert_eq!(s.status, IntentStatus::Succeeded);
        // The same Authorized again (stale time) and a late one (newer time).
        assert_eq!(
            apply(&s, &auth[0]),
            Transition::Ignored(IgnoreReason::Stale { last_event_at: 20 })
        );
        let late = ProviderEvent {
            at: 30,
            event: auth[0].event.clone(),
        };
        assert!(matches!(
            apply(&s, &late),
            Transition::Ignored(IgnoreReason::Terminal { .. })
        ));
        // The Settled again: nothing.
        assert!(matches!(apply(&s, &settled[0]), Transition::Ignored(_)));
        // Expired or Refused after settlement: nothing.
        for last in ["Expired", "Refused", "Cancelled", "Error"] {
            let evs = to_events(&status(last, ""), &s, 40).unwrap();
            assert_eq!(run(s.clone(), &evs), s, "{last}");
        }
    }

    #[test]
    fn refused_then_retry_and_expired_reservation() {
        let s = run(
            intent(),
            &to_events(&status("Refused", ""), &intent(), 5).unwrap(),
        );
        assert_eq!(s.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(s.last_error.as_deref(), Some("Your card was refused."));
        let s = run(
            s.clone(),
            &to_events(&status("Authorized", ""), &s, 6).unwrap(),
        );
        assert_eq!(s.status, IntentStatus::RequiresCapture);
        assert_eq!(s.last_error, None);
        // A Refused arriving late for a reserved intent changes nothing.
        let again = run(
            s.clone(),
            &to_events(&status("Refused", ""), &s, 7).unwrap(),
        );
        assert_eq!(again, s);
        let s = run(
            s.clone(),
            &to_events(&status("Expired", ""), &s, 8).unwrap(),
        );
        assert_eq!(s.status, IntentStatus::Canceled);
        assert!(s.amount_capturable.is_zero());
    }
}
