//! The one payment-intent state machine (API.md, "Payment intents"; DESIGN.md, "One
//! state machine"). Every provider maps what it reports onto [`IntentEvent`]s, and
//! [`apply`] alone decides whether an event moves an intent. Commands we initiate
//! (capture, cancel, refund) are checked here before any provider is called.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::money::{AmountError, Money};

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownName {}

/// `as_str`, `ALL`, `FromStr` and `Display` from one list, so the wire names are
/// written once (serde's `rename_all` must agree; a test checks it).
#[macro_export]
#[doc(hidden)]
macro_rules! wire_names {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(UnknownName { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresAction,
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
}

wire_names!(IntentStatus, "status", {
    RequiresPaymentMethod => "requires_payment_method",
    RequiresAction => "requires_action",
    Processing => "processing",
    RequiresCapture => "requires_capture",
    Succeeded => "succeeded",
    Canceled => "canceled",
});

impl IntentStatus {
    pub fn is_terminal(&self) -> bool {
        self.rank() == 4
    }

    /// How far along a payment is. Moves only go up, except the `Failed` edge.
    fn rank(&self) -> u8 {
        match self {
            IntentStatus::RequiresPaymentMethod => 0,
            IntentStatus::RequiresAction => 1,
            IntentStatus::Processing => 2,
            IntentStatus::RequiresCapture => 3,
            IntentStatus::Succeeded | IntentStatus::Canceled => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMethod {
    #[default]
    Automatic,
    Manual,
}

wire_names!(CaptureMethod, "capture_method", {
    Automatic => "automatic",
    Manual => "manual",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Stripe,
    Worldpay,
    Cashcloud,
}

wire_names!(Provider, "provider", {
    Stripe => "stripe",
    Worldpay => "worldpay",
    Cashcloud => "cashcloud",
});

impl Provider {
    /// The provider's name as a person writes it.
    pub fn display_name(&self) -> &'static str {
        match self {
            Provider::Stripe => "Stripe",
            Provider::Worldpay => "Worldpay",
            Provider::Cashcloud => "Cashcloud",
        }
    }
}

/// What the state machine knows of one intent. The Worker stores and reloads it;
/// only [`apply`] should produce a changed one.
///
/// Invariants kept by [`apply`]: all amounts in `amount`'s currency;
/// `amount_refunded ≤ amount_received ≤ amount`; `amount_capturable ≤ amount`, and
/// non-zero only in `requires_capture`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentState {
    pub status: IntentStatus,
    pub amount: Money,
    pub amount_capturable: Money,
    pub amount_received: Money,
    pub amount_refunded: Money,
    pub capture_method: CaptureMethod,
    /// The newest provider event's time applied so far (unix seconds).
    pub last_event_at: Option<i64>,
    /// Why the last attempt failed; cleared when the intent moves forward again.
    pub last_error: Option<String>,
}

impl IntentState {
    pub fn new(amount: Money, capture_method: CaptureMethod) -> IntentState {
        let zero = Money::zero(amount.currency());
        IntentState {
            status: IntentStatus::RequiresPaymentMethod,
            amount,
            amount_capturable: zero,
            amount_received: zero,
            amount_refunded: zero,
            capture_method,
            last_event_at: None,
            last_error: None,
        }
    }
}

/// What a provider reported, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentEvent {
    /// The customer must act (3DS, redirect).
    ActionRequired,
    /// In flight at the provider (wallet approval, settlement pending).
    Processing,
    /// Funds reserved. A manual-capture intent waits in `requires_capture`; an
    /// automatic one stays `processing` until `Captured`.
    Authorized {
        amount: Money,
    },
    Captured {
        amount: Money,
    },
    /// This attempt failed (declined, 3DS failed); the customer may try again.
    Failed {
        reason: String,
    },
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// When the provider says it happened (unix seconds).
    pub at: i64,
    pub event: IntentEvent,
}

/// Why [`apply`] left an intent unchanged. The Worker records the event and answers
/// the provider 200 either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Older than an event already applied.
    Stale { last_event_at: i64 },
    /// Succeeded and canceled intents take no more events. (Refunds are not
    /// provider events: they are the merchant's own ledger rows.)
    Terminal { status: IntentStatus },
    /// Would not move the intent forward (repeated, late or out of order).
    NotForward {
        from: IntentStatus,
        to: IntentStatus,
    },
    /// Another currency, zero, or more than the intent's amount: not this intent's event.
    AmountMismatch,
    /// Nothing would change (e.g. the same failure again).
    NoChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Applied(IntentState),
    Ignored(IgnoreReason),
}

impl Transition {
    /// The new state, if the event changed anything.
    pub fn applied(self) -> Option<IntentState> {
        match self {
            Transition::Applied(s) => Some(s),
            Transition::Ignored(_) => None,
        }
    }
}

/// The only way an intent's status changes. Pure: the result depends on the state
/// and the event alone, so applying a repeated event again changes nothing.
pub fn apply(state: &IntentState, ev: &ProviderEvent) -> Transition {
    if let Some(last) = state.last_event_at {
        if ev.at < last {
            return Transition::Ignored(IgnoreReason::Stale {
                last_event_at: last,
            });
        }
    }
    match next_state(state, &ev.event) {
        Err(reason) => Transition::Ignored(reason),
        Ok(next) if next == *state => Transition::Ignored(IgnoreReason::NoChange),
        Ok(mut next) => {
            next.last_event_at = Some(ev.at);
            Transition::Applied(next)
        }
    }
}

fn next_state(state: &IntentState, event: &IntentEvent) -> Result<IntentState, IgnoreReason> {
    use IntentStatus as S;
    let zero = Money::zero(state.amount.currency());
    match event {
        IntentEvent::ActionRequired => advance(state, S::RequiresAction),
        IntentEvent::Processing => advance(state, S::Processing),
        IntentEvent::Authorized { amount } => {
            check_event_amount(state, amount)?;
            match state.capture_method {
                CaptureMethod::Manual => {
                    let mut next = advance(state, S::RequiresCapture)?;
                    next.amount_capturable = *amount;
                    Ok(next)
                }
                CaptureMethod::Automatic => advance(state, S::Processing),
            }
        }
        IntentEvent::Captured { amount } => {
            check_event_amount(state, amount)?;
            let mut next = advance(state, S::Succeeded)?;
            // Capturing less than authorised releases the rest.
            next.amount_received = *amount;
            next.amount_capturable = zero;
            Ok(next)
        }
        IntentEvent::Failed { reason } => match state.status {
            S::RequiresPaymentMethod | S::RequiresAction | S::Processing => {
                let mut next = state.clone();
                next.status = S::RequiresPaymentMethod;
                next.last_error = Some(reason.clone());
                Ok(next)
            }
            // Funds are already reserved: a failure report cannot undo that.
            S::RequiresCapture => Err(IgnoreReason::NotForward {
                from: state.status,
                to: S::RequiresPaymentMethod,
            }),
            S::Succeeded | S::Canceled => Err(IgnoreReason::Terminal {
                status: state.status,
            }),
        },
        IntentEvent::Canceled => {
            let mut next = advance(state, S::Canceled)?;
            next.amount_capturable = zero;
            Ok(next)
        }
    }
}

/// `state` moved to `to`, if that is forward.
fn advance(state: &IntentState, to: IntentStatus) -> Result<IntentState, IgnoreReason> {
    if state.status.is_terminal() {
        return Err(IgnoreReason::Terminal {
            status: state.status,
        });
    }
    if to.rank() <= state.status.rank() {
        return Err(IgnoreReason::NotForward {
            from: state.status,
            to,
        });
    }
    let mut next = state.clone();
    next.status = to;
    next.last_error = None;
    Ok(next)
}

/// An authorised or captured amount must be this intent's: same currency,
/// above zero, at most the intent's amount.
fn check_event_amount(state: &IntentState, amount: &Money) -> Result<(), IgnoreReason> {
    match amount.try_cmp(&state.amount) {
        Ok(o) if o.is_le() && !amount.is_zero() => Ok(()),
        Ok(_) | Err(_) => Err(IgnoreReason::AmountMismatch),
    }
}

fn unexpected_state(state: &IntentState, action: &str) -> ApiError {
    ApiError::invalid_request(
        "intent_unexpected_state",
        format!(
            "This payment intent's status is {}, so it cannot be {action}.",
            state.status
        ),
    )
}

/// The amount of a capture or refund: `requested` or `default`, in the intent's
/// currency, above zero, at most `limit` (`what` names the limit in the message).
fn command_amount(
    state: &IntentState,
    requested: Option<Money>,
    default: Money,
    limit: Money,
    what: &str,
) -> Result<Money, ApiError> {
    let amount = requested.unwrap_or(default);
    let currency = state.amount.currency();
    let Ok(order) = amount.try_cmp(&limit) else {
        return Err(ApiError::invalid_request(
            "invalid_amount",
            format!("amount must be in {currency}, the payment intent's currency."),
        )
        .with_param("amount"));
    };
    if amount.is_zero() {
        return Err(AmountError::Zero.to_api_error("amount"));
    }
    if order.is_gt() {
        return Err(ApiError::invalid_request(
            "amount_too_large",
            format!("amount {amount} {currency} is more than {what}, {limit} {currency}."),
        )
        .with_param("amount"));
    }
    Ok(amount)
}

/// Checks `POST /v1/payment_intents/{id}/capture`: only a `requires_capture` intent,
/// by default everything authorised, never more.
pub fn check_capture(state: &IntentState, amount: Option<Money>) -> Result<Money, ApiError> {
    match state.status {
        IntentStatus::RequiresCapture => {}
        IntentStatus::RequiresPaymentMethod
        | IntentStatus::RequiresAction
        | IntentStatus::Processing
        | IntentStatus::Succeeded
        | IntentStatus::Canceled => return Err(unexpected_state(state, "captured")),
    }
    command_amount(
        state,
        amount,
        state.amount_capturable,
        state.amount_capturable,
        "the amount authorised",
    )
}

/// Checks `POST /v1/payment_intents/{id}/cancel`. Not while `processing`: the
/// provider may be moving the money right now, so the outcome must be awaited.
pub fn check_cancel(state: &IntentState) -> Result<(), ApiError> {
    match state.status {
        IntentStatus::RequiresPaymentMethod
        | IntentStatus::RequiresAction
        | IntentStatus::RequiresCapture => Ok(()),
        IntentStatus::Processing | IntentStatus::Succeeded | IntentStatus::Canceled => {
            Err(unexpected_state(state, "canceled"))
        }
    }
}

/// Checks `POST /v1/refunds`: only a succeeded intent, by default all that is not
/// yet refunded, never more.
pub fn check_refund(state: &IntentState, amount: Option<Money>) -> Result<Money, ApiError> {
    match state.status {
        IntentStatus::Succeeded => {}
        IntentStatus::RequiresPaymentMethod
        | IntentStatus::RequiresAction
        | IntentStatus::Processing
        | IntentStatus::RequiresCapture
        | IntentStatus::Canceled => return Err(unexpected_state(state, "refunded")),
    }
    let remaining = state
        .amount_received
        .checked_sub(&state.amount_refunded)
        .unwrap_or(Money::zero(state.amount.currency()));
    if remaining.is_zero() {
        return Err(ApiError::invalid_request(
            "charge_already_refunded",
            "This payment has already been refunded in full.",
        )
        .with_param("payment_intent"));
    }
    command_amount(
        state,
        amount,
        remaining,
        remaining,
        "what is left to refund",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;
    use IntentStatus as S;

    fn chf(s: &str) -> Money {
        Money::parse_non_negative(s, Currency::CHF).unwrap()
    }

    fn at(at: i64, event: IntentEvent) -> ProviderEvent {
        ProviderEvent { at, event }
    }

    /// Applies events in order, panicking on an ignored one (for scripted flows).
    fn run(mut s: IntentState, events: &[ProviderEvent]) -> IntentState {
        for ev in events {
            s = match apply(&s, ev) {
                Transition::Applied(n) => n,
                Transition::Ignored(r) => panic!("{ev:?} ignored on {:?}: {r:?}", s.status),
            };
        }
        s
    }

    fn manual() -> IntentState {
        IntentState::new(chf("100.00"), CaptureMethod::Manual)
    }

    #[test]
    fn wire_names_match_serde() {
        for s in IntentStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<IntentStatus>().unwrap(), *s);
        }
        for c in CaptureMethod::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(c.as_str().parse::<CaptureMethod>().unwrap(), *c);
        }
        for p in Provider::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(p.to_string().parse::<Provider>().unwrap(), *p);
        }
        assert_eq!(
            "Stripe".parse::<Provider>(),
            Err(UnknownName {
                kind: "provider",
                value: "Stripe".into()
            })
        );
        assert!("cancelled".parse::<IntentStatus>().is_err());
        assert_eq!(CaptureMethod::default(), CaptureMethod::Automatic);
        let terminal: Vec<_> = IntentStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [&S::Succeeded, &S::Canceled]);
    }

    #[test]
    fn manual_flow_with_partial_capture_and_refunds() {
        let s = run(
            manual(),
            &[
                at(1, IntentEvent::ActionRequired),
                at(
                    2,
                    IntentEvent::Authorized {
                        amount: chf("100.00"),
                    },
                ),
            ],
        );
        assert_eq!(s.status, S::RequiresCapture);
        assert_eq!(s.amount_capturable, chf("100.00"));
        assert_eq!(check_capture(&s, None), Ok(chf("100.00")));

        let s = run(
            s,
            &[at(
                3,
                IntentEvent::Captured {
                    amount: chf("60.00"),
                },
            )],
        );
        assert_eq!(s.status, S::Succeeded);
        assert_eq!(s.amount_received, chf("60.00"));
        assert!(s.amount_capturable.is_zero(), "the rest is released");
    }

    #[test]
    fn automatic_intents_skip_requires_capture() {
        let s = IntentState::new(chf("20.00"), CaptureMethod::Automatic);
        let s = run(
            s,
            &[at(
                1,
                IntentEvent::Authorized {
                    amount: chf("20.00"),
                },
            )],
        );
        assert_eq!(s.status, S::Processing);
        assert!(s.amount_capturable.is_zero());
        let s = run(
            s,
            &[at(
                2,
                IntentEvent::Captured {
                    amount: chf("20.00"),
                },
            )],
        );
        assert_eq!(s.status, S::Succeeded);
        assert_eq!(s.amount_received, chf("20.00"));
    }

    #[test]
    fn late_and_repeated_events_never_move_backwards() {
        let s = run(
            manual(),
            &[
                at(
                    10,
                    IntentEvent::Authorized {
                        amount: chf("100.00"),
                    },
                ),
                at(
                    20,
                    IntentEvent::Captured {
                        amount: chf("100.00"),
                    },
                ),
            ],
        );
        assert_eq!(
            apply(&s, &at(5, IntentEvent::ActionRequired)),
            Transition::Ignored(IgnoreReason::Stale { last_event_at: 20 })
        );
        assert_eq!(
            apply(
                &s,
                &at(
                    30,
                    IntentEvent::Authorized {
                        amount: chf("100.00")
                    }
                )
            ),
            Transition::Ignored(IgnoreReason::Terminal {
                status: S::Succeeded
            })
        );
        assert_eq!(
            apply(&s, &at(30, IntentEvent::Canceled)),
            Transition::Ignored(IgnoreReason::Terminal {
                status: S::Succeeded
            })
        );
        assert_eq!(
            apply(&s, &at(30, IntentEvent::Failed { reason: "x".into() })),
            Transition::Ignored(IgnoreReason::Terminal {
                status: S::Succeeded
            })
        );
        let rc = run(
            manual(),
            &[at(
                1,
                IntentEvent::Authorized {
                    amount: chf("1.00"),
                },
            )],
        );
        assert_eq!(
            apply(&rc, &at(2, IntentEvent::Processing)),
            Transition::Ignored(IgnoreReason::NotForward {
                from: S::RequiresCapture,
                to: S::Processing
            })
        );
        assert_eq!(
            apply(
                &rc,
                &at(
                    2,
                    IntentEvent::Failed {
                        reason: "late".into()
                    }
                )
            ),
            Transition::Ignored(IgnoreReason::NotForward {
                from: S::RequiresCapture,
                to: S::RequiresPaymentMethod
            })
        );
        // Events at the same second as the last one are not stale.
        assert!(apply(&rc, &at(1, IntentEvent::Canceled))
            .applied()
            .is_some());
    }

    #[test]
    fn a_failed_attempt_returns_to_requires_payment_method_and_can_be_retried() {
        let s = run(
            manual(),
            &[
                at(1, IntentEvent::ActionRequired),
                at(
                    2,
                    IntentEvent::Failed {
                        reason: "card_declined".into(),
                    },
                ),
            ],
        );
        assert_eq!(s.status, S::RequiresPaymentMethod);
        assert_eq!(s.last_error.as_deref(), Some("card_declined"));
        // The same failure again changes nothing; a new one on RPM is recorded.
        assert_eq!(
            apply(
                &s,
                &at(
                    2,
                    IntentEvent::Failed {
                        reason: "card_declined".into()
                    }
                )
            ),
            Transition::Ignored(IgnoreReason::NoChange)
        );
        let s = run(
            s,
            &[at(
                3,
                IntentEvent::Failed {
                    reason: "expired_card".into(),
                },
            )],
        );
        assert_eq!(s.last_error.as_deref(), Some("expired_card"));
        // The retry moves forward and clears the error.
        let s = run(s, &[at(4, IntentEvent::Processing)]);
        assert_eq!(s.status, S::Processing);
        assert_eq!(s.last_error, None);
        // A failure older than the retry is stale.
        assert!(matches!(
            apply(&s, &at(3, IntentEvent::Failed { reason: "x".into() })),
            Transition::Ignored(IgnoreReason::Stale { .. })
        ));
    }

    #[test]
    fn event_amounts_must_belong_to_the_intent() {
        let s = manual();
        for amount in [
            chf("100.01"),
            chf("0.00"),
            Money::parse("50", Currency::EUR).unwrap(),
        ] {
            for event in [
                IntentEvent::Authorized { amount },
                IntentEvent::Captured { amount },
            ] {
                assert_eq!(
                    apply(&s, &at(1, event)),
                    Transition::Ignored(IgnoreReason::AmountMismatch)
                );
            }
        }
    }

    #[test]
    fn cancel_releases_the_hold() {
        let s = run(
            manual(),
            &[
                at(
                    1,
                    IntentEvent::Authorized {
                        amount: chf("100.00"),
                    },
                ),
                at(2, IntentEvent::Canceled),
            ],
        );
        assert_eq!(s.status, S::Canceled);
        assert!(s.amount_capturable.is_zero());
    }

    #[test]
    fn capture_command_checks() {
        let rc = run(
            manual(),
            &[at(
                1,
                IntentEvent::Authorized {
                    amount: chf("80.00"),
                },
            )],
        );
        assert_eq!(check_capture(&rc, Some(chf("30.00"))), Ok(chf("30.00")));
        assert_eq!(check_capture(&rc, Some(chf("80.00"))), Ok(chf("80.00")));
        let e = check_capture(&rc, Some(chf("80.01"))).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.param.as_deref()),
            (400, "amount_too_large", Some("amount"))
        );
        let e = check_capture(&rc, Some(chf("0.00"))).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "invalid_amount"));
        let e = check_capture(&rc, Some(Money::parse("1", Currency::EUR).unwrap())).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.param.as_deref()),
            (400, "invalid_amount", Some("amount"))
        );
        for s in [manual(), run(manual(), &[at(1, IntentEvent::Processing)])] {
            let e = check_capture(&s, None).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_str()),
                (400, "intent_unexpected_state")
            );
        }
    }

    #[test]
    fn cancel_command_checks() {
        let ok = [
            manual(),
            run(manual(), &[at(1, IntentEvent::ActionRequired)]),
            run(
                manual(),
                &[at(
                    1,
                    IntentEvent::Authorized {
                        amount: chf("1.00"),
                    },
                )],
            ),
        ];
        for s in &ok {
            assert_eq!(check_cancel(s), Ok(()), "{:?}", s.status);
        }
        let refused = [
            run(manual(), &[at(1, IntentEvent::Processing)]),
            run(
                manual(),
                &[at(
                    1,
                    IntentEvent::Captured {
                        amount: chf("1.00"),
                    },
                )],
            ),
            run(manual(), &[at(1, IntentEvent::Canceled)]),
        ];
        for s in &refused {
            let e = check_cancel(s).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_str()),
                (400, "intent_unexpected_state")
            );
            assert!(e.message.contains(s.status.as_str()));
        }
    }

    #[test]
    fn refund_command_checks() {
        let rc = run(
            manual(),
            &[at(
                1,
                IntentEvent::Authorized {
                    amount: chf("50.00"),
                },
            )],
        );
        assert_eq!(
            check_refund(&rc, None).unwrap_err().code,
            "intent_unexpected_state"
        );
        let s = run(
            rc,
            &[at(
                2,
                IntentEvent::Captured {
                    amount: chf("50.00"),
                },
            )],
        );
        assert_eq!(check_refund(&s, None), Ok(chf("50.00")));
        // What is refunded comes from the ledger; the check takes it as it is.
        let mut s = s;
        s.amount_refunded = chf("20.00");
        assert_eq!(check_refund(&s, None), Ok(chf("30.00")));
        assert_eq!(check_refund(&s, Some(chf("30.00"))), Ok(chf("30.00")));
        let e = check_refund(&s, Some(chf("30.01"))).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.param.as_deref()),
            (400, "amount_too_large", Some("amount"))
        );
        s.amount_refunded = chf("50.00");
        let e = check_refund(&s, None).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "charge_already_refunded")
        );
        let e = check_refund(&s, Some(chf("1.00"))).unwrap_err();
        assert_eq!(e.code, "charge_already_refunded");
    }

    fn event() -> impl Strategy<Value = IntentEvent> {
        // Mostly CHF up to a bit above the intent's 10.00; sometimes EUR.
        let amount = (0i64..1200, prop::bool::weighted(0.9)).prop_map(|(m, in_chf)| {
            let c = if in_chf { Currency::CHF } else { Currency::EUR };
            Money::from_minor_units(m, c).unwrap()
        });
        prop_oneof![
            Just(IntentEvent::ActionRequired),
            Just(IntentEvent::Processing),
            amount
                .clone()
                .prop_map(|amount| IntentEvent::Authorized { amount }),
            amount
                .clone()
                .prop_map(|amount| IntentEvent::Captured { amount }),
            "[ab]".prop_map(|reason| IntentEvent::Failed { reason }),
            Just(IntentEvent::Canceled),
        ]
    }

    fn events() -> impl Strategy<Value = Vec<ProviderEvent>> {
        prop::collection::vec((0i64..15, event()).prop_map(|(t, e)| at(t, e)), 0..30)
    }

    fn capture_method() -> impl Strategy<Value = CaptureMethod> {
        prop_oneof![Just(CaptureMethod::Automatic), Just(CaptureMethod::Manual)]
    }

    fn check_invariants(s: &IntentState) -> Result<(), TestCaseError> {
        let le = |a: &Money, b: &Money| a.try_cmp(b).map(|o| o.is_le()) == Ok(true);
        prop_assert!(le(&s.amount_refunded, &s.amount_received), "{s:?}");
        prop_assert!(le(&s.amount_received, &s.amount), "{s:?}");
        prop_assert!(le(&s.amount_capturable, &s.amount), "{s:?}");
        if s.status != S::RequiresCapture {
            prop_assert!(s.amount_capturable.is_zero(), "{s:?}");
        }
        if s.status != S::Succeeded {
            prop_assert!(s.amount_received.is_zero(), "{s:?}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn event_sequences_keep_the_machine_sound(method in capture_method(), evs in events()) {
            let mut s = IntentState::new(chf("10.00"), method);
            for ev in &evs {
                let t = apply(&s, ev);
                // Applying it a second time changes nothing more.
                let after = t.clone().applied().unwrap_or_else(|| s.clone());
                match apply(&after, ev) {
                    Transition::Ignored(_) => {}
                    Transition::Applied(again) => prop_assert_eq!(&again, &after),
                }
                if let Transition::Applied(next) = t {
                    let failed_retry = matches!(ev.event, IntentEvent::Failed { .. })
                        && matches!(s.status, S::RequiresAction | S::Processing)
                        && next.status == S::RequiresPaymentMethod;
                    prop_assert!(next.status.rank() >= s.status.rank() || failed_retry,
                        "{:?} -> {:?} on {:?}", s.status, next.status, ev);
                    if s.status.is_terminal() {
                        prop_assert_eq!(next.status, s.status);
                        prop_assert_eq!(next.amount_received, s.amount_received);
                    }
                    prop_assert!(next.last_event_at >= s.last_event_at);
                    prop_assert!(next.amount_refunded.try_cmp(&s.amount_refunded).unwrap().is_ge());
                    s = next;
                }
                check_invariants(&s)?;
            }
        }

        #[test]
        fn commands_never_exceed_what_is_there(method in capture_method(), evs in events(), req in 0i64..1500) {
            let mut s = IntentState::new(chf("10.00"), method);
            for ev in &evs {
                if let Transition::Applied(n) = apply(&s, ev) { s = n; }
            }
            let requested = Money::from_minor_units(req, Currency::CHF).unwrap();
            if let Ok(m) = check_capture(&s, Some(requested)) {
                prop_assert!(!m.is_zero());
                prop_assert!(m.try_cmp(&s.amount_capturable).unwrap().is_le());
            }
            if let Ok(m) = check_refund(&s, Some(requested)) {
                let total = s.amount_refunded.checked_add(&m).unwrap();
                prop_assert!(!m.is_zero());
                prop_assert!(total.try_cmp(&s.amount_received).unwrap().is_le());
            }
            prop_assert_eq!(check_cancel(&s).is_ok(),
                matches!(s.status, S::RequiresPaymentMethod | S::RequiresAction | S::RequiresCapture));
        }
    }
}
