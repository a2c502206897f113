//! Reconciliation: our ledger beside a provider's own records, payment by payment.
//!
//! The Worker reads, for the payments of a day, what the provider says it holds
//! (Stripe's PaymentIntents and refunds, Worldpay's payment status, Cashcloud's
//! transactions) and what our ledger sums to; `compare` names every difference. A
//! difference is never repaired here: it is reported (`reconciliation.mismatch`) for a
//! person, since either side may be the wrong one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::intent::Provider;
use crate::money::{Currency, Money};

/// What our ledger sums to for one intent (minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    pub payment_intent: String,
    /// The provider's id for the payment; `None` when it never reached the provider.
    pub reference: Option<String>,
    pub currency: Currency,
    /// Authorised and still capturable.
    pub capturable: i64,
    pub captured: i64,
    /// Refunds that succeeded.
    pub refunded: i64,
}

/// What the provider's record of one payment says (minor units). A provider that
/// does not report an amount leaves it `None`, and that amount is not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theirs {
    pub reference: String,
    /// Our intent id as the provider recorded it (metadata, transaction reference),
    /// if it did: names the order of a payment our ledger does not know.
    pub payment_intent: Option<String>,
    pub currency: Option<Currency>,
    pub capturable: Option<i64>,
    pub captured: i64,
    pub refunded: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// We booked money on a payment the provider has no record of.
    MissingAtProvider,
    /// The provider holds money on a payment our ledger does not know.
    UnknownToUs,
    CurrencyDiffers,
    AmountDiffers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Capturable,
    Captured,
    Refunded,
}

/// One difference, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: Kind,
    pub payment_intent: Option<String>,
    pub reference: Option<String>,
    pub currency: Option<Currency>,
    pub field: Option<Field>,
    pub ours: Option<i64>,
    pub theirs: Option<i64>,
}

/// Every difference between our intents and the provider's records, matched by the
/// provider's reference. Payments that never reached the provider and hold nothing
/// on either side are not differences; neither is a provider record that holds no
/// money (a declined or abandoned payment).
pub fn compare(ours: &[Ours], theirs: &[Theirs]) -> Vec<Difference> {
    let by_ref: BTreeMap<&str, &Theirs> =
        theirs.iter().map(|t| (t.reference.as_str(), t)).collect();
    let mut known = BTreeSet::new();
    let mut out = Vec::new();
    for o in ours {
        if let Some(reference) = o.reference.as_deref() {
            known.insert(reference);
        }
        let found = o
            .reference
            .as_deref()
            .and_then(|r| by_ref.get(r).map(|t| (r, t)));
        let Some((reference, t)) = found else {
            // Never reached the provider, or the provider has no record of it.
            if o.capturable != 0 || o.captured != 0 || o.refunded != 0 {
                out.push(missing(o));
            }
            continue;
        };
        if let Some(c) = t.currency {
            if c != o.currency {
                out.push(Difference {
                    kind: Kind::CurrencyDiffers,
                    payment_intent: Some(o.payment_intent.clone()),
                    reference: Some(reference.to_owned()),
                    currency: Some(o.currency),
                    field: None,
                    ours: None,
                    theirs: None,
                });
                continue;
            }
        }
        for (field, ours, theirs) in [
            (Field::Capturable, o.capturable, t.capturable),
            (Field::Captured, o.captured, Some(t.captured)),
            (Field::Refunded, o.refunded, t.refunded),
        ] {
            if let Some(theirs) = theirs.filter(|t| *t != ours) {
                out.push(Difference {
                    kind: Kind::AmountDiffers,
                    payment_intent: Some(o.payment_intent.clone()),
                    reference: Some(reference.to_owned()),
                    currency: Some(o.currency),
                    field: Some(field),
                    ours: Some(ours),
                    theirs: Some(theirs),
                });
            }
        }
    }
    for t in theirs {
        // Amounts as a provider sent them: any i64, so no sum that could overflow.
        let holds = [
            t.capturable.unwrap_or(0),
            t.captured,
            t.refunded.unwrap_or(0),
        ]
        .iter()
        .any(|a| *a != 0);
        if holds && !known.contains(t.reference.as_str()) {
            out.push(Difference {
                kind: Kind::UnknownToUs,
                payment_intent: t.payment_intent.clone(),
                reference: Some(t.reference.clone()),
                currency: t.currency,
                field: None,
                ours: None,
                theirs: Some(t.captured),
            });
        }
    }
    out
}

fn missing(o: &Ours) -> Difference {
    Difference {
        kind: Kind::MissingAtProvider,
        payment_intent: Some(o.payment_intent.clone()),
        reference: o.reference.clone(),
        currency: Some(o.currency),
        field: None,
        ours: Some(o.captured),
        theirs: None,
    }
}

/// `reconciliation.mismatch`'s object: one difference, amounts as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub object: &'static str,
    pub reconciliation: String,
    pub provider: Provider,
    pub kind: Kind,
    pub payment_intent: Option<String>,
    pub provider_reference: Option<String>,
    pub field: Option<Field>,
    pub currency: Option<Currency>,
    pub ours: Option<String>,
    pub theirs: Option<String>,
}

impl Mismatch {
    pub fn new(reconciliation: &str, provider: Provider, d: &Difference) -> Mismatch {
        let text = |minor: Option<i64>| match (minor, d.currency) {
            (Some(m), Some(c)) => Money::from_minor_units(m, c)
                .map(|m| m.to_string())
                .ok()
                .or_else(|| Some(m.to_string())),
            (Some(m), None) => Some(m.to_string()),
            (None, _) => None,
        };
        Mismatch {
            object: "reconciliation.mismatch",
            reconciliation: reconciliation.to_owned(),
            provider,
            kind: d.kind,
            payment_intent: d.payment_intent.clone(),
            provider_reference: d.reference.clone(),
            field: d.field,
            currency: d.currency,
            ours: text(d.ours),
            theirs: text(d.theirs),
        }
    }
}

/// One run over one day (UTC) and mode: how many payments were compared, how many
/// were skipped while still in flight (an unknown outcome or a pending refund,
/// resolved by the object's alarm before they are compared), and the differences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub id: String,
    pub object: &'static str,
    pub day: String,
    pub livemode: bool,
    pub created: i64,
    pub checked: u32,
    pub in_flight: u32,
    /// Providers that could not be read (unreachable, or no credentials any more):
    /// their payments were not compared, and the run says so instead of passing.
    pub unreadable: Vec<String>,
    pub mismatches: Vec<Mismatch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(i: usize, capturable: i64, captured: i64, refunded: i64) -> Ours {
        Ours {
            payment_intent: format!("pi_{i}"),
            reference: Some(format!("ref_{i}")),
            currency: Currency::EUR,
            capturable,
            captured,
            refunded,
        }
    }

    fn mirror(o: &Ours) -> Theirs {
        Theirs {
            reference: o.reference.clone().unwrap(),
            payment_intent: Some(o.payment_intent.clone()),
            currency: Some(o.currency),
            capturable: Some(o.capturable),
            captured: o.captured,
            refunded: Some(o.refunded),
        }
    }

    fn books() -> impl Strategy<Value = Vec<Ours>> {
        prop::collection::vec((0i64..50_000, 0i64..50_000, 0i64..50_000), 0..30).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (a, c, r))| ours(i, a, c, r.min(c)))
                .collect()
        })
    }

    proptest! {
        /// Books equal to the provider's, in any order, have no difference.
        #[test]
        fn equal_books_have_no_difference(o in books(), seed in any::<u64>()) {
            let mut t: Vec<Theirs> = o.iter().map(mirror).collect();
            let n = t.len().max(1);
            t.rotate_left((seed as usize) % n);
            prop_assert!(compare(&o, &t).is_empty());
        }

        /// One centime astray on one field of one payment is exactly one difference,
        /// naming that payment, that field and both amounts.
        #[test]
        fn one_centime_astray_is_found(o in books(), pick in any::<prop::sample::Index>(),
                                       field in 0usize..3, up in any::<bool>()) {
            prop_assume!(!o.is_empty());
            let i = pick.index(o.len());
            let mut t: Vec<Theirs> = o.iter().map(mirror).collect();
            let delta = if up { 1 } else { -1 };
            let slot = match field {
                0 => t[i].capturable.as_mut().unwrap(),
                1 => &mut t[i].captured,
                _ => t[i].refunded.as_mut().unwrap(),
            };
            prop_assume!(*slot + delta >= 0);
            *slot += delta;
            let d = compare(&o, &t);
            prop_assert_eq!(d.len(), 1, "{:?}", d);
            prop_assert_eq!(d[0].kind, Kind::AmountDiffers);
            prop_assert_eq!(d[0].payment_intent.as_deref(), Some(o[i].payment_intent.as_str()));
            let f = [Field::Capturable, Field::Captured, Field::Refunded][field];
            prop_assert_eq!(d[0].field, Some(f));
            prop_assert_eq!(d[0].theirs.unwrap() - d[0].ours.unwrap(), delta);
        }

        /// A payment one side lacks is found from either side, if it holds money.
        #[test]
        fn a_lost_payment_is_found(o in books(), pick in any::<prop::sample::Index>()) {
            prop_assume!(!o.is_empty());
            let i = pick.index(o.len());
            let holds = o[i].capturable != 0 || o[i].captured != 0 || o[i].refunded != 0;
            let all: Vec<Theirs> = o.iter().map(mirror).collect();
            let mut fewer = all.clone();
            fewer.remove(i);
            let d = compare(&o, &fewer);
            prop_assert_eq!(d.len(), usize::from(holds));
            if holds {
                prop_assert_eq!(d[0].kind, Kind::MissingAtProvider);
            }
            let mut ours_fewer = o.clone();
            ours_fewer.remove(i);
            let d = compare(&ours_fewer, &all);
            prop_assert_eq!(d.len(), usize::from(holds));
            if holds {
                prop_assert_eq!(d[0].kind, Kind::UnknownToUs);
                prop_assert_eq!(d[0].reference.as_deref(), o[i].reference.as_deref());
                prop_assert_eq!(d[0].payment_intent.as_deref(), Some(o[i].payment_intent.as_str()));
            }
        }
    }

    #[test]
    fn amounts_a_provider_does_not_report_are_not_compared() {
        let o = ours(1, 0, 1000, 400);
        let t = Theirs {
            capturable: None,
            refunded: None,
            ..mirror(&ours(1, 5, 1000, 0))
        };
        assert!(compare(std::slice::from_ref(&o), std::slice::from_ref(&t)).is_empty());
        let d = compare(&[o], &[Theirs { captured: 900, ..t }]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, Some(Field::Captured));
    }

    #[test]
    fn another_currency_is_one_difference() {
        let o = ours(1, 0, 1000, 0);
        let t = Theirs {
            currency: Some(Currency::CHF),
            ..mirror(&o)
        };
        let d = compare(&[o], &[t]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, Kind::CurrencyDiffers);
    }

    #[test]
    fn never_sent_and_empty_is_not_a_difference() {
        let o = Ours {
            reference: None,
            ..ours(1, 0, 0, 0)
        };
        assert!(compare(std::slice::from_ref(&o), &[]).is_empty());
        let d = compare(&[Ours { captured: 5, ..o }], &[]);
        assert_eq!(d[0].kind, Kind::MissingAtProvider);
    }

    #[test]
    fn mismatch_amounts_are_decimal() {
        let d = &compare(
            &[ours(1, 0, 1000, 0)],
            &[Theirs {
                captured: 1250,
                ..mirror(&ours(1, 0, 1000, 0))
            }],
        )[0];
        let m = Mismatch::new("rec_1", Provider::Stripe, d);
        assert_eq!(m.ours.as_deref(), Some("10.00"));
        assert_eq!(m.theirs.as_deref(), Some("12.50"));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], "amount_differs");
        assert_eq!(json["field"], "captured");
        assert_eq!(json["provider"], "stripe");
    }
}
