//! Cashcloud's transaction states in our terms: [`ProviderEvent`]s for the one
//! state machine (`crate::intent::apply` decides what they change), the widget's
//! `next_action`, and a refund row's own outcome.
//!
//! States (PROVIDERS.md): 1 pending accept, 2 accepted, 3 completed, 4 declined,
//! 6 expired, 7 money service failed, 8 refunded. Payment requests are captured
//! when completed: there is no separate authorisation.
//!
//! Failures differ only in their reason text, because `IntentEvent::Failed` and the
//! API's `last_error` carry no code of their own (`last_error.code` is always
//! `payment_failed`; adding a field to `Failed` would break its existing users).
//! The texts are fixed, so [`Failure::from_reason`] tells them apart again: the
//! widget shows "expired" with a way to try again for [`Failure::Expired`].

use std::fmt;

use crate::api::NextAction;
use crate::intent::{IntentEvent, IntentState, ProviderEvent};
use crate::money::{AmountError, Currency, Money};

use super::wire::Transaction;
use super::CURRENCY_ID_EUR;

/// A transaction's `transaction_state_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CashcloudState {
    /// 1: waiting for the customer in the app.
    PendingAccept,
    /// 2: approved, money on its way.
    Accepted,
    /// 3: the money moved.
    Completed,
    /// 4: the customer declined.
    Declined,
    /// 6: nobody approved in time.
    Expired,
    /// 7: Cashcloud could not move the money.
    MoneyServiceFailed,
    /// 8: refunded.
    Refunded,
    /// Anything else (5 is used for refunds a customer cancelled, per the 2014
    /// SDK; see [`refund_outcome`]).
    Unknown(i64),
}

impl CashcloudState {
    pub fn from_id(id: i64) -> CashcloudState {
        match id {
            1 => CashcloudState::PendingAccept,
            2 => CashcloudState::Accepted,
            3 => CashcloudState::Completed,
            4 => CashcloudState::Declined,
            6 => CashcloudState::Expired,
            7 => CashcloudState::MoneyServiceFailed,
            8 => CashcloudState::Refunded,
            other => CashcloudState::Unknown(other),
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            CashcloudState::PendingAccept => 1,
            CashcloudState::Accepted => 2,
            CashcloudState::Completed => 3,
            CashcloudState::Declined => 4,
            CashcloudState::Expired => 6,
            CashcloudState::MoneyServiceFailed => 7,
            CashcloudState::Refunded => 8,
            CashcloudState::Unknown(n) => *n,
        }
    }

    /// Whether Cashcloud will report nothing new for a payment request (a refund
    /// may still follow a completed one).
    pub fn is_final(&self) -> bool {
        match self {
            CashcloudState::Completed
            | CashcloudState::Declined
            | CashcloudState::Expired
            | CashcloudState::MoneyServiceFailed
            | CashcloudState::Refunded => true,
            CashcloudState::PendingAccept
            | CashcloudState::Accepted
            | CashcloudState::Unknown(_) => false,
        }
    }
}

/// Why a Cashcloud payment request failed, as the customer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    Declined,
    Expired,
    MoneyServiceFailed,
}

impl Failure {
    pub const ALL: [Failure; 3] = [
        Failure::Declined,
        Failure::Expired,
        Failure::MoneyServiceFailed,
    ];

    /// The reason text: `IntentEvent::Failed { reason }`, then `last_error.message`.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Declined => "The payment was declined in the Cashcloud app.",
            Failure::Expired => "The payment request expired.",
            Failure::MoneyServiceFailed => "Cashcloud could not move the money. Try again later.",
        }
    }

    /// A code the widget may branch on (`expired`: offer to send a new request).
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Declined => "wallet_declined",
            Failure::Expired => "expired",
            Failure::MoneyServiceFailed => "wallet_unavailable",
        }
    }

    /// The failure whose [`Failure::reason`] this is: how the widget or the Worker
    /// recovers the code from `last_error.message`.
    pub fn from_reason(reason: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.reason() == reason)
    }
}

/// What a payment request's state means for our intent, as events at time `at`.
/// The amount is the intent's own (a Cashcloud request is always for all of it):
///
/// - 1 pending accept, 2 accepted → `Processing` (the widget awaits wallet
///   approval, [`await_wallet_approval`]);
/// - 3 completed → `Captured { amount }`;
/// - 4 declined, 6 expired, 7 money service failed → `Failed` with
///   [`Failure::reason`];
/// - 8 refunded → `Captured { amount }` (a refund implies the payment completed;
///   the refund itself is the merchant's own ledger row, settled from its own
///   transaction, never this payment's summary);
/// - unknown → nothing.
///
/// Only call this with a state read from `GET transactions?hash=` (or a callback
/// already re-checked that way). Prefer [`transaction_events`], which also checks
/// the transaction's amount and currency and uses a reported refund total.
pub fn to_events(state: CashcloudState, our: &IntentState, at: i64) -> Vec<ProviderEvent> {
    let amount = our.amount;
    let events = match state {
        CashcloudState::PendingAccept | CashcloudState::Accepted => {
            vec![IntentEvent::Processing]
        }
        CashcloudState::Completed => vec![IntentEvent::Captured { amount }],
        CashcloudState::Declined => failed(Failure::Declined),
        CashcloudState::Expired => failed(Failure::Expired),
        CashcloudState::MoneyServiceFailed => failed(Failure::MoneyServiceFailed),
        CashcloudState::Refunded => vec![IntentEvent::Captured { amount }],
        CashcloudState::Unknown(_) => Vec::new(),
    };
    events
        .into_iter()
        .map(|event| ProviderEvent { at, event })
        .collect()
}

/// Cashcloud's record of a wallet payment for reconciliation: its amount once
/// completed (or refunded since), and the refunded total where Cashcloud reports it
/// (elsewhere refunds are not compared). Cashcloud holds nothing to capture later.
pub fn reconcile_record(hash: &str, tx: &Transaction) -> crate::reconcile::Theirs {
    let captured = match tx.state {
        CashcloudState::Completed | CashcloudState::Refunded => tx.amount.unwrap_or(0),
        _ => 0,
    };
    crate::reconcile::Theirs {
        reference: hash.to_owned(),
        payment_intent: tx.external.as_ref().and_then(|e| e.id.clone()),
        currency: match tx.currency_id {
            Some(id) if id != i64::from(CURRENCY_ID_EUR) => None,
            _ => Some(Currency::EUR),
        },
        capturable: Some(0),
        captured,
        refunded: tx.refunded_amount,
    }
}

fn failed(f: Failure) -> Vec<IntentEvent> {
    vec![IntentEvent::Failed {
        reason: f.reason().to_owned(),
    }]
}

/// Why a transaction cannot be read as this intent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// The intent is not in EUR, or the transaction names another `currency_id`.
    CurrencyMismatch,
    /// The transaction is for another amount than the intent.
    AmountMismatch { expected: i64, got: i64 },
    /// A negative or absurd amount.
    Amount(AmountError),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::CurrencyMismatch => {
                f.write_str("the Cashcloud transaction is not in the intent's currency (EUR)")
            }
            MappingError::AmountMismatch { expected, got } => write!(
                f,
                "the Cashcloud transaction is for {got} cents, the intent for {expected}"
            ),
            MappingError::Amount(e) => write!(f, "Cashcloud reports an unusable amount: {e}"),
        }
    }
}

impl std::error::Error for MappingError {}

/// [`to_events`] for a transaction read with `GET transactions?hash=`, after
/// checking that it is this intent's: EUR (`currency_id` 1 when given) and, when
/// given, the intent's amount. A reported refund total (`refunded_amount`) must be a
/// valid amount but is not an event: refunds are settled from their own transactions.
pub fn transaction_events(
    tx: &Transaction,
    our: &IntentState,
    at: i64,
) -> Result<Vec<ProviderEvent>, MappingError> {
    if our.amount.currency() != Currency::EUR {
        return Err(MappingError::CurrencyMismatch);
    }
    if tx
        .currency_id
        .is_some_and(|c| c != i64::from(CURRENCY_ID_EUR))
    {
        return Err(MappingError::CurrencyMismatch);
    }
    let expected = our.amount.to_minor_units();
    if let Some(got) = tx.amount {
        if got != expected {
            return Err(MappingError::AmountMismatch { expected, got });
        }
    }
    tx.refunded_amount
        .map(|cents| Money::from_minor_units(cents, Currency::EUR).map_err(MappingError::Amount))
        .transpose()?;
    let events = to_events(tx.state, our, at);
    Ok(events)
}

/// When a request sent at `requested_at` (unix seconds) expires, given the
/// `request_expiration` set with [`super::requests::settings`].
pub fn expires_at(requested_at: i64, request_expiration_seconds: u32) -> i64 {
    requested_at.saturating_add(i64::from(request_expiration_seconds))
}

/// The widget's next step after `POST request`: poll the intent until it leaves
/// `processing`, until `expires_at`.
pub fn await_wallet_approval(requested_at: i64, request_expiration_seconds: u32) -> NextAction {
    NextAction::AwaitWalletApproval {
        expires_at: expires_at(requested_at, request_expiration_seconds),
    }
}

/// A refund row's outcome. The customer accepts a refund in the app too, so a
/// refund has states of its own: pending (1, 2), completed (3), and declined (4),
/// cancelled (5, the 2014 SDK's `REFUND_CANCELLED_STATUS`), expired (6) or
/// failed (7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundOutcome {
    /// Still waiting (also for a state we do not know: decide nothing).
    Pending,
    Succeeded,
    Failed(RefundFailure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundFailure {
    /// Declined or cancelled by the customer.
    Declined,
    Expired,
    MoneyServiceFailed,
}

impl RefundOutcome {
    /// The refund row's `status`: `pending`, `succeeded` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundOutcome::Pending => "pending",
            RefundOutcome::Succeeded => "succeeded",
            RefundOutcome::Failed(_) => "failed",
        }
    }
}

impl RefundFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            RefundFailure::Declined => "The customer declined the refund in the Cashcloud app.",
            RefundFailure::Expired => "The customer did not accept the refund in time.",
            RefundFailure::MoneyServiceFailed => {
                "Cashcloud could not move the money. Try again later."
            }
        }
    }
}

/// A refund transaction's state (read with `GET transactions?hash=` for the
/// refund's own hash) as the refund row's outcome; the intent's refunded amount is
/// the ledger's sum of succeeded refund rows.
pub fn refund_outcome(state: CashcloudState) -> RefundOutcome {
    match state {
        CashcloudState::PendingAccept | CashcloudState::Accepted => RefundOutcome::Pending,
        CashcloudState::Completed => RefundOutcome::Succeeded,
        CashcloudState::Declined | CashcloudState::Unknown(5) => {
            RefundOutcome::Failed(RefundFailure::Declined)
        }
        CashcloudState::Expired => RefundOutcome::Failed(RefundFailure::Expired),
        CashcloudState::MoneyServiceFailed => {
            RefundOutcome::Failed(RefundFailure::MoneyServiceFailed)
        }
        // 8 describes a payment that was refunded, not a refund: decide nothing.
        CashcloudState::Refunded | CashcloudState::Unknown(_) => RefundOutcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{apply, CaptureMethod, IntentStatus, Transition};

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    fn intent() -> IntentState {
        IntentState::new(eur("12.50"), CaptureMethod::Automatic)
    }

    fn events(state: CashcloudState) -> Vec<IntentEvent> {
        to_events(state, &intent(), 7)
            .into_iter()
            .map(|e| {
                assert_eq!(e.at, 7);
                e.event
            })
            .collect()
    }

    fn run(mut s: IntentState, evs: Vec<ProviderEvent>) -> IntentState {
        for ev in evs {
            if let Transition::Applied(next) = apply(&s, &ev) {
                s = next;
            }
        }
        s
    }

    #[test]
    fn state_ids_round_trip() {
        for id in -1..12 {
            assert_eq!(CashcloudState::from_id(id).id(), id);
        }
        assert_eq!(CashcloudState::from_id(5), CashcloudState::Unknown(5));
        assert!(CashcloudState::Completed.is_final());
        assert!(!CashcloudState::PendingAccept.is_final());
        assert!(!CashcloudState::Unknown(9).is_final());
    }

    #[test]
    fn payment_states_map_onto_intent_events() {
        let amount = eur("12.50");
        assert_eq!(
            events(CashcloudState::PendingAccept),
            vec![IntentEvent::Processing]
        );
        assert_eq!(
            events(CashcloudState::Accepted),
            vec![IntentEvent::Processing]
        );
        assert_eq!(
            events(CashcloudState::Completed),
            vec![IntentEvent::Captured { amount }]
        );
        let reason = |s: &str| {
            vec![IntentEvent::Failed {
                reason: s.to_owned(),
            }]
        };
        assert_eq!(
            events(CashcloudState::Declined),
            reason("The payment was declined in the Cashcloud app.")
        );
        assert_eq!(
            events(CashcloudState::Expired),
            reason("The payment request expired.")
        );
        assert_eq!(
            events(CashcloudState::MoneyServiceFailed),
            reason("Cashcloud could not move the money. Try again later.")
        );
        assert_eq!(
            events(CashcloudState::Refunded),
            vec![IntentEvent::Captured { amount }]
        );
        assert!(events(CashcloudState::Unknown(5)).is_empty());
    }

    #[test]
    fn the_state_machine_walks_a_wallet_payment() {
        let s = run(
            intent(),
            to_events(CashcloudState::PendingAccept, &intent(), 1),
        );
        assert_eq!(s.status, IntentStatus::Processing);
        let s2 = run(s.clone(), to_events(CashcloudState::Accepted, &s, 2));
        assert_eq!(s2.status, IntentStatus::Processing);
        let done = run(s2.clone(), to_events(CashcloudState::Completed, &s2, 3));
        assert_eq!(done.status, IntentStatus::Succeeded);
        assert_eq!(done.amount_received, eur("12.50"));
        // A late "pending" or "expired" cannot undo a completed payment.
        let late = run(done.clone(), to_events(CashcloudState::Expired, &done, 4));
        assert_eq!(late, done);
        // A refunded payment's own state refunds nothing by itself (our refund rows
        // do); it does say that the payment completed.
        let refunded = run(done.clone(), to_events(CashcloudState::Refunded, &done, 5));
        assert_eq!(refunded, done);
        let direct = run(s.clone(), to_events(CashcloudState::Refunded, &s, 6));
        assert_eq!(direct.status, IntentStatus::Succeeded);
        assert!(direct.amount_refunded.is_zero());
    }

    #[test]
    fn an_expired_request_can_be_told_apart_and_retried() {
        let s = run(
            intent(),
            to_events(CashcloudState::PendingAccept, &intent(), 1),
        );
        let expired = run(s.clone(), to_events(CashcloudState::Expired, &s, 2));
        assert_eq!(expired.status, IntentStatus::RequiresPaymentMethod);
        let reason = expired.last_error.as_deref().unwrap();
        assert_eq!(Failure::from_reason(reason), Some(Failure::Expired));
        assert_eq!(Failure::Expired.code(), "expired");
        // A new request on the same intent goes through.
        let again = run(
            expired.clone(),
            to_events(CashcloudState::PendingAccept, &expired, 3),
        );
        assert_eq!(again.status, IntentStatus::Processing);
        assert_eq!(again.last_error, None);
        // Every failure's text is distinct and recognised.
        for f in Failure::ALL {
            assert_eq!(Failure::from_reason(f.reason()), Some(f));
        }
        assert_eq!(Failure::from_reason("Your card was declined."), None);
    }

    fn tx(body: &str) -> Transaction {
        super::super::wire::parse_transaction(body.as_bytes(), "h").unwrap()
    }

    #[test]
    fn transaction_events_check_amount_and_currency() {
        let our = intent();
        let ok = tx(
            r#"{"transaction":{"hash":"h","transaction_state_id":3,"amount":1250,"currency_id":1}}"#,
        );
        assert_eq!(
            transaction_events(&ok, &our, 1).unwrap(),
            to_events(CashcloudState::Completed, &our, 1)
        );
        let bare = tx(r#"{"transaction":{"transaction_state_id":3}}"#);
        assert_eq!(transaction_events(&bare, &our, 1).unwrap().len(), 1);
        let other = tx(r#"{"transaction":{"transaction_state_id":3,"amount":999}}"#);
        assert_eq!(
            transaction_events(&other, &our, 1),
            Err(MappingError::AmountMismatch {
                expected: 1250,
                got: 999
            })
        );
        let ccr = tx(r#"{"transaction":{"transaction_state_id":3,"amount":1250,"currency_id":2}}"#);
        assert_eq!(
            transaction_events(&ccr, &our, 1),
            Err(MappingError::CurrencyMismatch)
        );
        let chf = IntentState::new(
            Money::parse("12.50", Currency::CHF).unwrap(),
            CaptureMethod::Automatic,
        );
        assert_eq!(
            transaction_events(&ok, &chf, 1),
            Err(MappingError::CurrencyMismatch)
        );
        // A payment's refund summary moves nothing: refunds are our own rows.
        for partly in [
            r#"{"transaction":{"transaction_state_id":8,"amount":1250,"refunded_amount":500}}"#,
            r#"{"transaction":{"transaction_state_id":3,"amount":1250,"refunded_amount":300}}"#,
        ] {
            let evs: Vec<IntentEvent> = transaction_events(&tx(partly), &our, 1)
                .unwrap()
                .into_iter()
                .map(|e| e.event)
                .collect();
            assert_eq!(
                evs,
                vec![IntentEvent::Captured {
                    amount: eur("12.50")
                }]
            );
        }
        let none_yet =
            tx(r#"{"transaction":{"transaction_state_id":3,"amount":1250,"refunded_amount":0}}"#);
        assert_eq!(transaction_events(&none_yet, &our, 1).unwrap().len(), 1);
        let bad = tx(r#"{"transaction":{"transaction_state_id":8,"refunded_amount":-1}}"#);
        assert!(matches!(
            transaction_events(&bad, &our, 1),
            Err(MappingError::Amount(_))
        ));
    }

    #[test]
    fn wallet_approval_next_action() {
        assert_eq!(
            await_wallet_approval(1_700_000_000, 600),
            NextAction::AwaitWalletApproval {
                expires_at: 1_700_000_600
            }
        );
        assert_eq!(expires_at(i64::MAX, 10), i64::MAX);
    }

    #[test]
    fn refund_rows_have_their_own_outcomes() {
        use RefundOutcome::*;
        let o = |id| refund_outcome(CashcloudState::from_id(id));
        assert_eq!(o(1), Pending);
        assert_eq!(o(2), Pending);
        assert_eq!(o(3), Succeeded);
        assert_eq!(o(4), Failed(RefundFailure::Declined));
        assert_eq!(o(5), Failed(RefundFailure::Declined));
        assert_eq!(o(6), Failed(RefundFailure::Expired));
        assert_eq!(o(7), Failed(RefundFailure::MoneyServiceFailed));
        assert_eq!(o(8), Pending);
        assert_eq!(o(99), Pending);
        assert_eq!(
            [o(1).as_str(), o(3).as_str(), o(4).as_str()],
            ["pending", "succeeded", "failed"]
        );
        assert_ne!(
            RefundFailure::Declined.reason(),
            RefundFailure::Expired.reason()
        );
    }
}
