//! Stripe's answers and webhook events in our terms: [`ProviderEvent`]s for the one
//! state machine (`crate::intent::apply` decides what they change) and the
//! `next_action` the widget acts on.
//!
//! Mapping is by the object's `status`, not by the event's `type`: the object is
//! the state at the event's time, and the type adds nothing the status lacks.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::api::NextAction;
use crate::intent::{IntentEvent, IntentState, ProviderEvent};
use crate::money::{AmountError, Currency, Money};

use super::requests::OUR_INTENT_ID;
use super::wire::{
    metadata_str, parse_json, DeclineReason, Expandable, ParseError, StripeCharge,
    StripeIntentStatus, StripePaymentIntent, StripeRefund, StripeRefundStatus, PROVIDER,
};

/// Why a Stripe object cannot be read as this intent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// Stripe's currency is not the intent's (or not one we know): not our object,
    /// or a bug; never convert.
    CurrencyMismatch { expected: Currency, got: String },
    /// A negative or absurd amount.
    Amount(AmountError),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::CurrencyMismatch { expected, got } => {
                write!(f, "Stripe reports {got:?}, the intent is in {expected}")
            }
            MappingError::Amount(e) => write!(f, "Stripe reports an unusable amount: {e}"),
        }
    }
}

impl std::error::Error for MappingError {}

/// Stripe's minor units in `currency` (lowercase code) as Money in `expected`.
pub fn to_money(minor: i64, currency: &str, expected: Currency) -> Result<Money, MappingError> {
    if !currency.eq_ignore_ascii_case(expected.code()) {
        return Err(MappingError::CurrencyMismatch {
            expected,
            got: currency.to_owned(),
        });
    }
    Money::from_minor_units(minor, expected).map_err(MappingError::Amount)
}

/// What a PaymentIntent's state means for our intent, as events at time `at`.
///
/// - `requires_action` → `ActionRequired`; `processing` → `Processing`;
/// - `requires_capture` → `Authorized { amount_capturable }`;
/// - `succeeded` → `Captured { amount_received }` (the charge's `amount_refunded` is
///   not read: after a partial capture it counts the released part, and refunds are
///   the merchant's own ledger rows);
/// - `canceled` → `Canceled`;
/// - `requires_payment_method` with `last_payment_error` → `Failed` with a customer
///   message; without one (a fresh intent) and `requires_confirmation` → nothing.
///
/// localstripe sends neither `amount_capturable` nor `amount_received`; then the
/// charge's `amount_captured` or the intent's `amount` stands in, which is exact
/// except after a partial capture there (localstripe books the rest as a refund).
pub fn try_to_events(
    pi: &StripePaymentIntent,
    our: &IntentState,
    at: i64,
) -> Result<Vec<ProviderEvent>, MappingError> {
    let currency = our.amount.currency();
    let money = |minor: i64| to_money(minor, &pi.currency, currency);
    // Even an event without an amount must be about an intent in our currency.
    money(0)?;
    let events = match pi.status {
        StripeIntentStatus::RequiresAction => vec![IntentEvent::ActionRequired],
        StripeIntentStatus::Processing => vec![IntentEvent::Processing],
        StripeIntentStatus::RequiresCapture => {
            let minor = pi.amount_capturable.or(pi.amount).unwrap_or(0);
            vec![IntentEvent::Authorized {
                amount: money(minor)?,
            }]
        }
        StripeIntentStatus::Succeeded => {
            let charge = latest_charge(pi);
            let minor = pi
                .amount_received
                .or_else(|| charge.and_then(|c| c.amount_captured))
                .or(pi.amount)
                .unwrap_or(0);
            vec![IntentEvent::Captured {
                amount: money(minor)?,
            }]
        }
        StripeIntentStatus::Canceled => vec![IntentEvent::Canceled],
        StripeIntentStatus::RequiresPaymentMethod => match &pi.last_payment_error {
            Some(e) => vec![IntentEvent::Failed {
                reason: DeclineReason::from_error(e).message().to_owned(),
            }],
            None => Vec::new(),
        },
        StripeIntentStatus::RequiresConfirmation | StripeIntentStatus::Unknown => Vec::new(),
    };
    Ok(events
        .into_iter()
        .map(|event| ProviderEvent { at, event })
        .collect())
}

/// [`try_to_events`], with an unusable object giving no events at all: a payment in
/// another currency must never touch this intent.
pub fn to_events(pi: &StripePaymentIntent, our: &IntentState, at: i64) -> Vec<ProviderEvent> {
    try_to_events(pi, our, at).unwrap_or_default()
}

/// The widget's next step while Stripe waits for the customer: Stripe.js's
/// `handleNextAction` with Stripe's client secret covers both `use_stripe_sdk` and
/// `redirect_to_url`.
pub fn next_action(pi: &StripePaymentIntent) -> Option<NextAction> {
    match pi.status {
        StripeIntentStatus::RequiresAction => {
            pi.client_secret.as_ref().map(|s| NextAction::ThreeDSecure {
                provider_client_secret: s.expose().to_owned(),
            })
        }
        StripeIntentStatus::RequiresPaymentMethod
        | StripeIntentStatus::RequiresConfirmation
        | StripeIntentStatus::Processing
        | StripeIntentStatus::RequiresCapture
        | StripeIntentStatus::Succeeded
        | StripeIntentStatus::Canceled
        | StripeIntentStatus::Unknown => None,
    }
}

/// The intent's charge, when Stripe sent it expanded (`latest_charge`, or the last
/// of the older `charges` list).
pub fn latest_charge(pi: &StripePaymentIntent) -> Option<&StripeCharge> {
    match &pi.latest_charge {
        Some(Expandable::Object(c)) => Some(c),
        Some(Expandable::Id(_)) | None => pi.charges.as_ref().and_then(|l| l.data.last()),
    }
}

/// A refund's amount in the intent's currency.
pub fn refund_amount(refund: &StripeRefund, expected: Currency) -> Result<Money, MappingError> {
    let currency = refund.currency.as_deref().unwrap_or(expected.code());
    to_money(refund.amount, currency, expected)
}

/// The webhook event types we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentIntentEventType {
    Succeeded,
    PaymentFailed,
    RequiresAction,
    AmountCapturableUpdated,
    Canceled,
    Processing,
}

impl PaymentIntentEventType {
    pub fn from_type(t: &str) -> Option<PaymentIntentEventType> {
        Some(match t {
            "payment_intent.succeeded" => PaymentIntentEventType::Succeeded,
            "payment_intent.payment_failed" => PaymentIntentEventType::PaymentFailed,
            "payment_intent.requires_action" => PaymentIntentEventType::RequiresAction,
            "payment_intent.amount_capturable_updated" => {
                PaymentIntentEventType::AmountCapturableUpdated
            }
            "payment_intent.canceled" => PaymentIntentEventType::Canceled,
            "payment_intent.processing" => PaymentIntentEventType::Processing,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub enum StripeEventKind {
    PaymentIntent {
        event_type: PaymentIntentEventType,
        intent: Box<StripePaymentIntent>,
    },
    /// `charge.refunded`: the charge carries the running refund total.
    ChargeRefunded { charge: Box<StripeCharge> },
    /// Any other type: the Worker records it (for dedupe) and changes nothing.
    Unhandled { event_type: String },
}

/// One verified webhook event (check the signature first, see `super::webhook`).
#[derive(Debug, Clone)]
pub struct StripeEvent {
    /// `evt_…`: dedupe by this.
    pub id: String,
    /// Unix seconds; the events' `at`.
    pub created: i64,
    pub kind: StripeEventKind,
}

/// How to find our intent: by the id we put into metadata, else by Stripe's id
/// (stored as the intent's `provider_reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentRef<'a> {
    pub our_intent_id: Option<&'a str>,
    pub stripe_intent_id: Option<&'a str>,
}

impl StripeEvent {
    /// None for unhandled events.
    pub fn intent_ref(&self) -> Option<IntentRef<'_>> {
        match &self.kind {
            StripeEventKind::PaymentIntent { intent, .. } => Some(IntentRef {
                our_intent_id: metadata_str(&intent.metadata, OUR_INTENT_ID),
                stripe_intent_id: Some(&intent.id),
            }),
            StripeEventKind::ChargeRefunded { charge } => Some(IntentRef {
                our_intent_id: metadata_str(&charge.metadata, OUR_INTENT_ID),
                stripe_intent_id: charge.payment_intent.as_ref().map(|r| r.0.as_str()),
            }),
            StripeEventKind::Unhandled { .. } => None,
        }
    }
}

#[derive(Deserialize)]
struct EventEnvelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    data: Option<EventData>,
}

#[derive(Deserialize)]
struct EventData {
    object: Value,
}

/// Parses an event body. A known type with an unreadable object is an error; an
/// unknown type is [`StripeEventKind::Unhandled`] whatever its object.
/// Stripe's record of a PaymentIntent for reconciliation: what it holds now, and the
/// refunds that succeeded. A partial capture releases the rest of the charge, and
/// Stripe books that release with the refunds (in the charge's `amount_refunded`, and
/// localstripe as a refund object): it is not a refund, so it is taken off.
pub fn reconcile_record(
    pi: &StripePaymentIntent,
    refunds: &[StripeRefund],
) -> crate::reconcile::Theirs {
    let released = latest_charge(pi)
        .and_then(|c| match (c.amount, c.amount_captured) {
            (Some(a), Some(cap)) if cap > 0 && cap < a => Some(a.saturating_sub(cap)),
            _ => None,
        })
        .unwrap_or(0);
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status == StripeRefundStatus::Succeeded)
        .map(|r| r.amount)
        .fold(0i64, i64::saturating_add);
    crate::reconcile::Theirs {
        reference: pi.id.clone(),
        payment_intent: metadata_str(&pi.metadata, OUR_INTENT_ID).map(str::to_owned),
        currency: pi.currency.to_ascii_uppercase().parse::<Currency>().ok(),
        capturable: pi.amount_capturable,
        captured: pi.amount_received.unwrap_or(0),
        refunded: Some(refunded.saturating_sub(released)),
    }
}

/// A day's PaymentIntents at Stripe that name one of this merchant's intents
/// (`metadata.our_intent_id`, ids scoped to the merchant) but are not the payment we
/// hold for it: a second charge for one order, or one whose answer we never got. Those
/// holding money are reconciliation's "unknown to us"; their refunds are not read.
pub fn unknown_payments<'a>(
    listed: &'a [StripePaymentIntent],
    merchant_id: &str,
    ours: &dyn Fn(&str) -> bool,
) -> Vec<crate::reconcile::Theirs> {
    listed
        .iter()
        .filter(|pi| {
            metadata_str(&pi.metadata, OUR_INTENT_ID).is_some_and(|id| {
                crate::keys::scoped_id_merchant("pi_", id).as_deref() == Some(merchant_id)
            }) && !ours(&pi.id)
        })
        .map(|pi| crate::reconcile::Theirs {
            refunded: None,
            ..reconcile_record(pi, &[])
        })
        .collect()
}

pub fn parse_event(body: &[u8]) -> Result<StripeEvent, ParseError> {
    let env: EventEnvelope = parse_json(body, "event")?;
    let object = env.data.map(|d| d.object).unwrap_or(Value::Null);
    let unreadable = |e: serde_json::Error| ParseError::json(PROVIDER, "event object", &e);
    let kind = if let Some(event_type) = PaymentIntentEventType::from_type(&env.kind) {
        StripeEventKind::PaymentIntent {
            event_type,
            intent: serde_json::from_value(object).map_err(unreadable)?,
        }
    } else if env.kind == "charge.refunded" {
        StripeEventKind::ChargeRefunded {
            charge: serde_json::from_value(object).map_err(unreadable)?,
        }
    } else {
        StripeEventKind::Unhandled {
            event_type: env.kind,
        }
    };
    Ok(StripeEvent {
        id: env.id,
        created: env.created,
        kind,
    })
}

/// The events a webhook event means for `our` intent (found via
/// [`StripeEvent::intent_ref`]), at the event's `created` time.
pub fn event_to_events(
    ev: &StripeEvent,
    our: &IntentState,
) -> Result<Vec<ProviderEvent>, MappingError> {
    match &ev.kind {
        StripeEventKind::PaymentIntent { intent, .. } => try_to_events(intent, our, ev.created),
        // Our refunds are settled from Stripe's answers to them, not from the
        // charge's running total: nothing to apply to the intent.
        StripeEventKind::ChargeRefunded { .. } => Ok(Vec::new()),
        StripeEventKind::Unhandled { .. } => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{apply, CaptureMethod, IntentStatus};
    use crate::stripe::wire::parse_payment_intent;
    use proptest::prelude::*;

    fn chf(s: &str) -> Money {
        Money::parse_non_negative(s, Currency::CHF).unwrap()
    }

    fn ours(method: CaptureMethod) -> IntentState {
        IntentState::new(chf("80.00"), method)
    }

    fn pi(json: &str) -> StripePaymentIntent {
        parse_payment_intent(json.as_bytes()).unwrap()
    }

    #[test]
    fn reconciliation_reads_refunds_without_a_partial_captures_release() {
        // 300.00 held, 247.35 captured: Stripe books the 52.65 release with the refunds.
        let p = pi(
            r#"{"id":"pi_1","status":"succeeded","currency":"chf","amount":30000,
            "amount_capturable":0,"amount_received":24735,"metadata":{"our_intent_id":"pi_x"},
            "latest_charge":{"id":"ch_1","amount":30000,"amount_captured":24735}}"#,
        );
        let refund = |amount: i64, status: StripeRefundStatus| StripeRefund {
            id: format!("re_{amount}"),
            amount,
            status,
            currency: None,
            payment_intent: None,
            metadata: Default::default(),
        };
        let t = reconcile_record(
            &p,
            &[
                refund(5265, StripeRefundStatus::Succeeded),
                refund(2000, StripeRefundStatus::Succeeded),
                refund(900, StripeRefundStatus::Failed),
            ],
        );
        assert_eq!(
            (t.captured, t.capturable, t.refunded),
            (24735, Some(0), Some(2000))
        );
        assert_eq!(t.currency, Some(Currency::CHF));
        assert_eq!(t.payment_intent.as_deref(), Some("pi_x"));
    }

    #[test]
    fn unknown_payments_are_this_merchants_and_not_ours() {
        let m = "acct_0000000000000000000001";
        let mine = crate::keys::new_scoped_id("pi_", m, &[7; 16]);
        let other = crate::keys::new_scoped_id("pi_", "acct_0000000000000000000002", &[7; 16]);
        let listed = |stripe_id: &str, our: &str| {
            pi(&format!(
                r#"{{"id":"{stripe_id}","status":"succeeded","currency":"chf","amount":100,
                "amount_received":100,"metadata":{{"our_intent_id":"{our}"}}}}"#
            ))
        };
        let list = [
            listed("pi_held", &mine),
            listed("pi_second", &mine),
            listed("pi_theirs", &other),
            listed("pi_plain", "order-17"),
        ];
        let found = unknown_payments(&list, m, &|r| r == "pi_held");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].reference, "pi_second");
        assert_eq!(found[0].payment_intent.as_deref(), Some(mine.as_str()));
        assert_eq!((found[0].captured, found[0].refunded), (100, None));
    }

    fn events_of(json: &str, method: CaptureMethod) -> Vec<IntentEvent> {
        to_events(&pi(json), &ours(method), 7)
            .into_iter()
            .map(|e| {
                assert_eq!(e.at, 7);
                e.event
            })
            .collect()
    }

    #[test]
    fn each_status_maps_to_our_events() {
        let m = CaptureMethod::Manual;
        let base = r#""id":"pi_3A","currency":"chf","amount":8000"#;
        let case = |rest: &str| events_of(&format!("{{{base},{rest}}}"), m);
        assert_eq!(
            case(r#""status":"requires_action""#),
            vec![IntentEvent::ActionRequired]
        );
        assert_eq!(
            case(r#""status":"processing""#),
            vec![IntentEvent::Processing]
        );
        assert_eq!(
            case(r#""status":"requires_capture","amount_capturable":8000"#),
            vec![IntentEvent::Authorized {
                amount: chf("80.00")
            }]
        );
        assert_eq!(
            case(r#""status":"succeeded","amount_received":3000"#),
            vec![IntentEvent::Captured {
                amount: chf("30.00")
            }]
        );
        assert_eq!(
            case(
                r#""status":"succeeded","amount_received":8000,"latest_charge":{"id":"ch_1","amount_refunded":2500}"#
            ),
            vec![IntentEvent::Captured {
                amount: chf("80.00")
            }],
            "the charge's refund total is not an event"
        );
        assert_eq!(case(r#""status":"canceled""#), vec![IntentEvent::Canceled]);
        assert_eq!(
            case(
                r#""status":"requires_payment_method","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"raw bank text"}"#
            ),
            vec![IntentEvent::Failed {
                reason: "Your card has insufficient funds.".into()
            }]
        );
        assert_eq!(case(r#""status":"requires_payment_method""#), vec![]);
        assert_eq!(case(r#""status":"requires_confirmation""#), vec![]);
        assert_eq!(case(r#""status":"brand_new""#), vec![]);
    }

    #[test]
    fn another_currency_is_refused() {
        let p = pi(
            r#"{"id":"pi_3A","currency":"eur","status":"requires_capture","amount_capturable":8000}"#,
        );
        let our = ours(CaptureMethod::Manual);
        assert_eq!(
            try_to_events(&p, &our, 1),
            Err(MappingError::CurrencyMismatch {
                expected: Currency::CHF,
                got: "eur".into()
            })
        );
        assert_eq!(to_events(&p, &our, 1), vec![]);
        // Even without an amount in the event.
        let p = pi(r#"{"id":"pi_3A","currency":"usd","status":"canceled"}"#);
        assert!(try_to_events(&p, &our, 1).is_err());
        let p = pi(r#"{"id":"pi_3A","currency":"chf","status":"succeeded","amount_received":-1}"#);
        assert!(matches!(
            try_to_events(&p, &our, 1),
            Err(MappingError::Amount(_))
        ));
    }

    /// localstripe's shape: no amount_capturable/amount_received, the charge
    /// expanded, plus the old `charges` list.
    #[test]
    fn localstripe_intents_drive_the_machine() {
        let method = CaptureMethod::Manual;
        let authorised = pi(
            r#"{"id":"pi_L","object":"payment_intent","amount":8000,"currency":"chf",
            "status":"requires_capture","capture_method":"manual","client_secret":"pi_L_secret_abc",
            "latest_charge":{"id":"ch_L","object":"charge","amount":8000,"captured":false,"amount_refunded":0,"refunds":{"data":[]}},
            "charges":{"object":"list","data":[{"id":"ch_L","amount":8000,"amount_refunded":0}]},
            "metadata":{"our_intent_id":"pi_ours"},"next_action":null,"last_payment_error":null}"#,
        );
        let mut s = ours(method);
        for e in to_events(&authorised, &s, 10) {
            s = apply(&s, &e).applied().unwrap();
        }
        assert_eq!(
            (s.status, s.amount_capturable),
            (IntentStatus::RequiresCapture, chf("80.00"))
        );
        let captured = pi(
            r#"{"id":"pi_L","amount":8000,"currency":"chf","status":"succeeded",
            "latest_charge":{"id":"ch_L","amount":8000,"amount_refunded":1000}}"#,
        );
        for e in to_events(&captured, &s, 20) {
            s = apply(&s, &e).applied().unwrap();
        }
        // The charge's refund total (localstripe books a partial capture's release
        // there) is no refund of ours.
        assert_eq!(
            (s.status, s.amount_received, s.amount_refunded),
            (IntentStatus::Succeeded, chf("80.00"), chf("0.00"))
        );
        // The same answer again changes nothing.
        for e in to_events(&captured, &s, 20) {
            assert!(apply(&s, &e).applied().is_none());
        }
        assert_eq!(next_action(&authorised), None);
    }

    #[test]
    fn three_d_secure_needs_stripes_client_secret() {
        let p = pi(
            r#"{"id":"pi_3A","currency":"chf","status":"requires_action","client_secret":"pi_3A_secret_z",
            "next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/x"}}}"#,
        );
        assert_eq!(
            next_action(&p),
            Some(NextAction::ThreeDSecure {
                provider_client_secret: "pi_3A_secret_z".into()
            })
        );
        let p = pi(r#"{"id":"pi_3A","currency":"chf","status":"requires_action"}"#);
        assert_eq!(next_action(&p), None);
        let p = pi(r#"{"id":"pi_3A","currency":"chf","status":"succeeded","client_secret":"s"}"#);
        assert_eq!(next_action(&p), None);
    }

    #[test]
    fn refunds_in_our_money() {
        let r = crate::stripe::wire::parse_refund(
            br#"{"id":"re_1","amount":250,"status":"succeeded","currency":"chf"}"#,
        )
        .unwrap();
        assert_eq!(refund_amount(&r, Currency::CHF), Ok(chf("2.50")));
        assert!(refund_amount(&r, Currency::EUR).is_err());
    }

    #[test]
    fn webhook_events() {
        let our = ours(CaptureMethod::Automatic);
        let ev = parse_event(
            br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
                "api_version":"2017-08-15","data":{"object":{"id":"pi_3A","currency":"chf","status":"succeeded",
                "amount":8000,"amount_received":8000,"metadata":{"our_intent_id":"pi_ours"}}}}"#,
        )
        .unwrap();
        assert_eq!((ev.id.as_str(), ev.created), ("evt_1", 1_700_000_000));
        assert!(matches!(
            ev.kind,
            StripeEventKind::PaymentIntent {
                event_type: PaymentIntentEventType::Succeeded,
                ..
            }
        ));
        assert_eq!(
            ev.intent_ref(),
            Some(IntentRef {
                our_intent_id: Some("pi_ours"),
                stripe_intent_id: Some("pi_3A")
            })
        );
        assert_eq!(
            event_to_events(&ev, &our),
            Ok(vec![ProviderEvent {
                at: 1_700_000_000,
                event: IntentEvent::Captured {
                    amount: chf("80.00")
                }
            }])
        );

        let failed = parse_event(
            br#"{"id":"evt_2","type":"payment_intent.payment_failed","created":5,"data":{"object":{
                "id":"pi_3A","currency":"chf","status":"requires_payment_method",
                "last_payment_error":{"code":"payment_intent_authentication_failure"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            event_to_events(&failed, &our).unwrap()[0].event,
            IntentEvent::Failed {
                reason: "Authentication failed. Try again or use another card.".into()
            }
        );

        let refunded = parse_event(
            br#"{"id":"evt_3","type":"charge.refunded","created":9,"data":{"object":{
                "id":"ch_1","object":"charge","amount":8000,"amount_refunded":8000,"currency":"chf","payment_intent":"pi_3A"}}}"#,
        )
        .unwrap();
        assert_eq!(
            refunded.intent_ref(),
            Some(IntentRef {
                our_intent_id: None,
                stripe_intent_id: Some("pi_3A")
            })
        );
        assert_eq!(event_to_events(&refunded, &our).unwrap(), vec![]);

        for t in [
            "customer.created",
            "payment_intent.created",
            "charge.succeeded",
        ] {
            let body = format!(
                r#"{{"id":"evt_4","type":"{t}","created":1,"data":{{"object":{{"weird":true}}}}}}"#
            );
            let ev = parse_event(body.as_bytes()).unwrap();
            assert!(
                matches!(&ev.kind, StripeEventKind::Unhandled { event_type } if event_type == t)
            );
            assert_eq!(ev.intent_ref(), None);
            assert_eq!(event_to_events(&ev, &our), Ok(vec![]));
        }
        // A known type whose object is not an intent is an error, not silence.
        assert!(parse_event(
            br#"{"id":"evt_5","type":"payment_intent.canceled","created":1,"data":{"object":{}}}"#
        )
        .is_err());
        assert!(parse_event(b"not json").is_err());
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::ALL.to_vec())
    }

    fn status() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
            "processing",
            "requires_capture",
            "succeeded",
            "canceled",
            "unknown_status",
        ])
    }

    proptest! {
        #[test]
        fn events_are_always_in_the_intents_currency(
            ours_c in currency(),
            theirs_c in currency(),
            status in status(),
            amounts in prop::array::uniform4(prop::option::of(-5i64..100_000)),
            failed in any::<bool>(),
        ) {
            let mut obj = serde_json::json!({
                "id": "pi_P", "currency": theirs_c.code().to_ascii_lowercase(), "status": status,
                "amount": amounts[0], "amount_capturable": amounts[1], "amount_received": amounts[2],
                "latest_charge": {"id": "ch_P", "amount_refunded": amounts[3]},
            });
            if failed {
                obj["last_payment_error"] = serde_json::json!({"code": "card_declined"});
            }
            let p: StripePaymentIntent = serde_json::from_value(obj).unwrap();
            let our = IntentState::new(Money::from_minor_units(1000, ours_c).unwrap(), CaptureMethod::Manual);
            let evs = to_events(&p, &our, 1);
            if ours_c != theirs_c {
                prop_assert!(evs.is_empty());
            }
            for e in evs {
                let amount = match e.event {
                    IntentEvent::Authorized { amount } | IntentEvent::Captured { amount } => Some(amount),
                    IntentEvent::ActionRequired | IntentEvent::Processing
                    | IntentEvent::Failed { .. } | IntentEvent::Canceled => None,
                };
                if let Some(a) = amount {
                    prop_assert_eq!(a.currency(), ours_c);
                }
            }
        }
    }

    const FUZZ_KEYS: &[&str] = &[
        "id",
        "object",
        "type",
        "created",
        "data",
        "amount",
        "amount_received",
        "amount_capturable",
        "amount_refunded",
        "currency",
        "status",
        "metadata",
        "our_intent_id",
        "latest_charge",
        "last_payment_error",
        "code",
        "decline_code",
        "next_action",
        "use_stripe_sdk",
        "redirect_to_url",
        "url",
        "client_secret",
        "payment_intent",
        "capture_method",
    ];
    const FUZZ_WORDS: &[&str] = &[
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "payment_intent.canceled",
        "payment_intent.processing",
        "charge.refunded",
        "requires_capture",
        "succeeded",
        "canceled",
        "requires_action",
        "processing",
        "requires_payment_method",
        "chf",
        "eur",
        "jpy",
        "kwd",
        "",
        "use_stripe_sdk",
        "redirect_to_url",
        "card_declined",
        "pi_1",
        "ch_1",
    ];
    const INTENT_EVENT: &str = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
        "data":{"object":{"id":"pi_3A","object":"payment_intent","currency":"chf","status":"requires_action",
        "amount":8000,"amount_received":0,"amount_capturable":0,"capture_method":"manual","client_secret":"pi_3A_secret_x",
        "metadata":{"our_intent_id":"pi_ours"},"next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{}},
        "last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds"},
        "latest_charge":{"id":"ch_1","amount_refunded":100}}}}"#;
    const REFUND_EVENT: &str = r#"{"id":"evt_3","type":"charge.refunded","created":9,"data":{"object":{
        "id":"ch_1","object":"charge","amount":8000,"amount_refunded":8000,"currency":"chf","payment_intent":"pi_3A"}}}"#;

    /// Everything a Worker does with an event body after its signature passed.
    fn read_event(body: &[u8]) {
        if let Ok(ev) = parse_event(body) {
            let _ = ev.intent_ref();
            for method in [CaptureMethod::Manual, CaptureMethod::Automatic] {
                let _ = event_to_events(&ev, &ours(method));
            }
            if let StripeEventKind::PaymentIntent { intent, .. } = &ev.kind {
                let _ = next_action(intent);
                let _ = to_events(intent, &ours(CaptureMethod::Manual), ev.created);
            }
        }
    }

    #[test]
    fn fuzz_samples_are_valid_events() {
        // The mutation fuzzing below starts from these: they must parse and map.
        let ev = parse_event(INTENT_EVENT.as_bytes()).unwrap();
        assert!(matches!(ev.kind, StripeEventKind::PaymentIntent { .. }));
        let ev = parse_event(REFUND_EVENT.as_bytes()).unwrap();
        assert!(event_to_events(&ev, &ours(CaptureMethod::Manual)).is_ok());
    }

    proptest! {
        /// Fuzz-style: no byte string makes the event parser (or what reads its
        /// result) panic.
        #[test]
        fn event_parser_never_panics_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
            read_event(&body);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The same, from valid events with a few values replaced or removed at
        /// any depth: these reach the mapping onto our events.
        #[test]
        fn event_parser_never_panics_on_mutated_events(
            body in prop_oneof![
                crate::http::tests::mutated(INTENT_EVENT, FUZZ_KEYS, FUZZ_WORDS),
                crate::http::tests::mutated(REFUND_EVENT, FUZZ_KEYS, FUZZ_WORDS),
            ],
        ) {
            read_event(&body);
        }
    }
}
