//! The merchant's money as an append-only ledger (DESIGN.md, "Money is a ledger").
//!
//! Every movement of one intent's money is an [`Entry`]; what the API shows
//! (`amount_capturable`, `amount_received`, `amount_refunded`) and what may still be
//! captured or refunded are sums over those entries, computed here and nowhere else.
//! A provider's summary field (Stripe's `charge.amount_refunded`, which counts the
//! released part of a partial capture) never becomes one of our amounts.
//!
//! Amounts are minor units of the intent's currency: the ledger is only ever summed
//! within one intent, and integer sums are exact.

use serde::{Deserialize, Serialize};

use crate::intent::{IntentState, UnknownName};
use crate::money::{Money, MoneyError};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Funds reserved on the customer's card or account.
    Authorized,
    /// Reserved funds taken.
    Captured,
    /// Reserved funds given back without being taken (partial capture, cancel).
    Released,
    /// A refund asked of the provider; its outcome is not known yet.
    RefundPending,
    /// A pending refund the provider carried out.
    RefundSucceeded,
    /// A pending refund the provider refused: the amount is refundable again.
    RefundFailed,
    /// The platform's fee on a succeeded payment.
    PlatformFee,
    /// What the provider kept of a payment, where it says or its fee schedule fixes it.
    ProviderFee,
}

crate::wire_names!(EntryKind, "ledger entry kind", {
    Authorized => "authorized",
    Captured => "captured",
    Released => "released",
    RefundPending => "refund_pending",
    RefundSucceeded => "refund_succeeded",
    RefundFailed => "refund_failed",
    PlatformFee => "platform_fee",
    ProviderFee => "provider_fee",
});

impl EntryKind {
    /// What the entry does to the merchant's balance: +1 money in (a capture), -1
    /// money out (a refund carried out, the platform's fee), 0 a hold or a claim whose
    /// outcome is still open (reservations, releases, refunds pending or refused).
    pub fn balance_sign(self) -> i64 {
        match self {
            EntryKind::Captured => 1,
            EntryKind::RefundSucceeded | EntryKind::PlatformFee | EntryKind::ProviderFee => -1,
            EntryKind::Authorized
            | EntryKind::Released
            | EntryKind::RefundPending
            | EntryKind::RefundFailed => 0,
        }
    }
}

/// A signed minor-unit amount as the API writes it: `-12.50`, `0.00`, `247.35`.
pub fn signed_amount(
    minor: i64,
    currency: crate::money::Currency,
) -> Result<String, crate::money::AmountError> {
    let abs = Money::from_minor_units(minor.checked_abs().unwrap_or(i64::MAX), currency)?;
    Ok(if minor < 0 {
        format!("-{}", abs.to_amount_string())
    } else {
        abs.to_amount_string()
    })
}

/// `2026-12-03T06:40:00Z` for unix seconds (the proleptic Gregorian calendar).
pub fn utc_timestamp(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One ledger row, as far as arithmetic is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Minor units, > 0.
    pub amount: i64,
}

/// The sums over one intent's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    pub authorized: i64,
    pub captured: i64,
    pub released: i64,
    /// Refunds asked for, whatever their outcome.
    pub refund_requested: i64,
    pub refunded: i64,
    pub refund_failed: i64,
    pub platform_fee: i64,
    pub provider_fee: i64,
}

impl Balances {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Balances {
        let mut b = Balances::default();
        for e in entries {
            let slot = match e.kind {
                EntryKind::Authorized => &mut b.authorized,
                EntryKind::Captured => &mut b.captured,
                EntryKind::Released => &mut b.released,
                EntryKind::RefundPending => &mut b.refund_requested,
                EntryKind::RefundSucceeded => &mut b.refunded,
                EntryKind::RefundFailed => &mut b.refund_failed,
                EntryKind::PlatformFee => &mut b.platform_fee,
                EntryKind::ProviderFee => &mut b.provider_fee,
            };
            *slot += e.amount;
        }
        b
    }

    /// Reserved and neither taken nor given back.
    pub fn capturable(&self) -> i64 {
        (self.authorized - self.captured - self.released).max(0)
    }

    /// What the merchant keeps (minor units, may be negative): captured, less refunds
    /// carried out and both fees — the sum of the rows' signed effects.
    pub fn net(&self) -> i64 {
        self.captured - self.refunded - self.platform_fee - self.provider_fee
    }

    pub fn received(&self) -> i64 {
        self.captured
    }

    /// Refunds asked for whose outcome is not known yet.
    pub fn refund_pending(&self) -> i64 {
        (self.refund_requested - self.refunded - self.refund_failed).max(0)
    }

    /// What a new refund may still take: captured, less what is refunded and what
    /// pending refunds may yet take.
    pub fn refundable(&self) -> i64 {
        (self.captured - self.refunded - self.refund_pending()).max(0)
    }

    /// The intent's state with its amounts taken from these sums.
    pub fn fill(&self, state: &mut IntentState) -> Result<(), MoneyError> {
        let cur = state.amount.currency();
        let money =
            |minor: i64| Money::from_minor_units(minor, cur).map_err(|_| MoneyError::Overflow);
        state.amount_capturable = money(self.capturable())?;
        state.amount_received = money(self.received())?;
        state.amount_refunded = money(self.refunded)?;
        Ok(())
    }
}

/// The entries that a move of the state machine from `prev` to `next` means for the
/// money: a new reservation, a capture (and the release of what was not captured),
/// the release of a canceled reservation. Refunds are not derived from states: they
/// are written by the refund flow itself, one pending entry then its outcome.
pub fn entries_for(prev: &IntentState, next: &IntentState) -> Vec<Entry> {
    let minor = |m: &Money| m.to_minor_units();
    let (cap_before, cap_after) = (
        minor(&prev.amount_capturable),
        minor(&next.amount_capturable),
    );
    let captured = minor(&next.amount_received) - minor(&prev.amount_received);
    let mut out = Vec::new();
    let mut push = |kind, amount: i64| {
        if amount > 0 {
            out.push(Entry { kind, amount });
        }
    };
    if captured > 0 {
        // An automatic capture was never held as capturable: it was authorised and
        // taken at once. Every captured unit was first authorised.
        push(EntryKind::Authorized, captured - cap_before);
        push(EntryKind::Captured, captured);
        push(EntryKind::Released, cap_before - captured);
    } else if cap_after > cap_before {
        push(EntryKind::Authorized, cap_after - cap_before);
    } else if cap_after < cap_before {
        push(EntryKind::Released, cap_before - cap_after);
    }
    out
}

/// A ledger row read back from storage with a kind this build does not know.
pub fn parse_kind(s: &str) -> Result<EntryKind, UnknownName> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        for (t, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_796_279_158, "2026-12-03T06:25:58Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(utc_timestamp(t), want);
        }
    }

    proptest! {
        /// The signed sum of an intent's rows is what the merchant keeps:
        /// captured − refunded − the platform's fee.
        #[test]
        fn net_is_captured_less_refunds_and_fee(amounts in proptest::collection::vec((0usize..EntryKind::ALL.len(), 1i64..100_000), 0..40)) {
            let entries: Vec<Entry> = amounts.iter().map(|(k, a)| Entry { kind: EntryKind::ALL[*k], amount: *a }).collect();
            let b = Balances::of(&entries);
            let net: i64 = entries.iter().map(|e| e.kind.balance_sign() * e.amount).sum();
            prop_assert_eq!(net, b.captured - b.refunded - b.platform_fee - b.provider_fee);
            prop_assert_eq!(net, b.net());
        }
    }
    use crate::intent::{apply, CaptureMethod, IntentEvent, IntentStatus, ProviderEvent};
    use crate::money::Currency;
    use proptest::prelude::*;

    fn chf(minor: i64) -> Money {
        Money::from_minor_units(minor, Currency::CHF).unwrap()
    }

    fn e(kind: EntryKind, amount: i64) -> Entry {
        Entry { kind, amount }
    }

    #[test]
    fn partial_capture_releases_the_rest_and_refunds_nothing() {
        // Authorise 300.00, capture 247.35: 52.65 is released, not refunded, and all
        // of 247.35 can be refunded.
        let mut s = IntentState::new(chf(30000), CaptureMethod::Manual);
        let mut ledger = Vec::new();
        for ev in [
            IntentEvent::Authorized { amount: chf(30000) },
            IntentEvent::Captured { amount: chf(24735) },
        ] {
            let next = apply(&s, &ProviderEvent { at: 1, event: ev })
                .applied()
                .unwrap();
            ledger.extend(entries_for(&s, &next));
            s = next;
        }
        assert_eq!(
            ledger,
            [
                e(EntryKind::Authorized, 30000),
                e(EntryKind::Captured, 24735),
                e(EntryKind::Released, 5265)
            ]
        );
        let b = Balances::of(&ledger);
        assert_eq!((b.capturable(), b.received(), b.refunded), (0, 24735, 0));
        assert_eq!(b.refundable(), 24735);
    }

    #[test]
    fn pending_refunds_hold_their_amount_until_they_fail() {
        let mut l = vec![e(EntryKind::Authorized, 1000), e(EntryKind::Captured, 1000)];
        l.push(e(EntryKind::RefundPending, 400));
        assert_eq!(Balances::of(&l).refundable(), 600);
        l.push(e(EntryKind::RefundSucceeded, 400));
        assert_eq!(Balances::of(&l).refundable(), 600);
        assert_eq!(Balances::of(&l).refunded, 400);
        l.push(e(EntryKind::RefundPending, 600));
        assert_eq!(Balances::of(&l).refundable(), 0);
        l.push(e(EntryKind::RefundFailed, 600));
        let b = Balances::of(&l);
        assert_eq!(
            (b.refundable(), b.refunded, b.refund_pending()),
            (600, 400, 0)
        );
    }

    #[test]
    fn cancel_releases_the_hold_and_automatic_capture_is_authorised_first() {
        let held = IntentState {
            status: IntentStatus::RequiresCapture,
            amount_capturable: chf(500),
            ..IntentState::new(chf(500), CaptureMethod::Manual)
        };
        let canceled = apply(
            &held,
            &ProviderEvent {
                at: 1,
                event: IntentEvent::Canceled,
            },
        )
        .applied()
        .unwrap();
        assert_eq!(entries_for(&held, &canceled), [e(EntryKind::Released, 500)]);

        let auto = IntentState::new(chf(500), CaptureMethod::Automatic);
        let done = apply(
            &auto,
            &ProviderEvent {
                at: 1,
                event: IntentEvent::Captured { amount: chf(500) },
            },
        )
        .applied()
        .unwrap();
        assert_eq!(
            entries_for(&auto, &done),
            [e(EntryKind::Authorized, 500), e(EntryKind::Captured, 500)]
        );
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in EntryKind::ALL {
            assert_eq!(parse_kind(k.as_str()), Ok(*k));
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        assert!(parse_kind("refund").is_err());
    }

    fn event() -> impl Strategy<Value = IntentEvent> {
        prop_oneof![
            Just(IntentEvent::ActionRequired),
            Just(IntentEvent::Processing),
            (1i64..=30000).prop_map(|a| IntentEvent::Authorized { amount: chf(a) }),
            (1i64..=30000).prop_map(|a| IntentEvent::Captured { amount: chf(a) }),
            Just(IntentEvent::Failed {
                reason: "declined".into()
            }),
            Just(IntentEvent::Canceled),
        ]
    }

    /// A refund request (amount) and whether the provider then carries it out.
    fn refund() -> impl Strategy<Value = (i64, Option<bool>)> {
        (
            1i64..=30000,
            prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        )
    }

    proptest! {
        /// Whatever the providers report, in whatever order, the ledger's sums are the
        /// state machine's amounts, and never more is captured than was authorised.
        #[test]
        fn ledger_sums_follow_the_state_machine(
            manual in any::<bool>(),
            events in prop::collection::vec(event(), 0..12),
        ) {
            let method = if manual { CaptureMethod::Manual } else { CaptureMethod::Automatic };
            let mut s = IntentState::new(chf(30000), method);
            let mut ledger = Vec::new();
            for (i, ev) in events.into_iter().enumerate() {
                if let Some(next) = apply(&s, &ProviderEvent { at: i as i64, event: ev }).applied() {
                    ledger.extend(entries_for(&s, &next));
                    s = next;
                }
                let b = Balances::of(&ledger);
                prop_assert!(ledger.iter().all(|e| e.amount > 0));
                prop_assert_eq!(b.capturable(), s.amount_capturable.to_minor_units());
                prop_assert_eq!(b.received(), s.amount_received.to_minor_units());
                prop_assert!(b.captured + b.released <= b.authorized);
                prop_assert!(b.authorized <= 30000);
            }
        }

        /// Refunds reserved against `refundable()` and settled in any way never take
        /// more than was captured, counting pending ones.
        #[test]
        fn refunds_never_exceed_the_capture(
            captured in 1i64..=30000,
            refunds in prop::collection::vec(refund(), 0..20),
        ) {
            let mut ledger = vec![e(EntryKind::Authorized, captured), e(EntryKind::Captured, captured)];
            for (amount, outcome) in refunds {
                if amount > Balances::of(&ledger).refundable() {
                    continue; // refused before any provider is asked
                }
                ledger.push(e(EntryKind::RefundPending, amount));
                match outcome {
                    Some(true) => ledger.push(e(EntryKind::RefundSucceeded, amount)),
                    Some(false) => ledger.push(e(EntryKind::RefundFailed, amount)),
                    None => {}
                }
                let b = Balances::of(&ledger);
                prop_assert!(b.refunded + b.refund_pending() <= b.captured);
                prop_assert_eq!(b.refundable(), b.captured - b.refunded - b.refund_pending());
            }
        }
    }
}
