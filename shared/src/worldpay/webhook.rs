//! Worldpay event notifications (`POST /v1/webhooks/worldpay/{merchant_id}`): the
//! body's shape, its mapping onto our events, and the `Event-Signature` check.
//!
//! The body follows the Access Worldpay events doc as summarised in PROVIDERS.md
//! (event names as for `lastEvent`); the exact fields are our definition, which the
//! stand-in sends:
//!
//! ```json
//! {"eventId": "…", "eventTimestamp": "2024-06-01T12:00:00.000Z",
//!  "eventDetails": {"classification": "payment", "transactionReference": "pi_…",
//!                   "type": "Settled", "date": "2024-06-01",
//!                   "amount": {"value": 1000, "currencyCode": "EUR"}?,
//!                   "paymentId": "…"?, "reference": "re_…"?}}
//! ```
//!
//! `amount` is this event's amount (the authorised, settled or refunded amount);
//! `reference` is the one we sent with a settlement or refund.
//!
//! Signature: `Event-Signature: {keyId}/SHA256/{hex}`, possibly several entries
//! separated by commas, in any order; the entry with our keyId must equal
//! hex(HMAC-SHA256(webhook secret, raw body)). Our keyId is [`KEY_ID`].

use std::fmt;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;
use crate::intent::{IntentEvent, IntentState, ProviderEvent};
use crate::keys::constant_time_eq;
use crate::secrets::Secret;

use super::events::{simple_event, stamp, to_money, MappingError};
use super::wire::{parse_json, ParseError, WorldpayEvent, PROVIDER};

/// The request header that carries the signatures.
pub const SIGNATURE_HEADER: &str = "Event-Signature";

/// Our keyId: `"1"` for every merchant. Each merchant has one webhook secret
/// (`WorldpayAccount::webhook_secret`), and the merchant is already named by the
/// URL, so the keyId only has to pick our entry among several; Worldpay numbers a
/// merchant's keys from 1. When secrets are rolled, the new one gets another
/// keyId, passed to [`verify`] instead.
pub const KEY_ID: &str = "1";

/// The only algorithm we accept.
pub const ALGORITHM: &str = "SHA256";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or a blank one.
    Missing,
    /// An entry that is not `keyId/ALGORITHM/signature`.
    Malformed,
    /// No `…/SHA256/…` entry carries our keyId.
    UnknownKeyId,
    /// Our entry does not match this body under this secret.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "The Event-Signature header is missing.",
            SignatureError::Malformed => "The Event-Signature header is malformed.",
            SignatureError::UnknownKeyId => "No Event-Signature entry has the expected key id.",
            SignatureError::Mismatch => "The Event-Signature signature does not match the body.",
        })
    }
}

impl std::error::Error for SignatureError {}

impl SignatureError {
    /// 400 `invalid_signature`; the message says which check failed (nothing secret).
    pub fn to_api_error(&self) -> ApiError {
        ApiError::invalid_request("invalid_signature", self.to_string())
    }
}

/// Checks an `Event-Signature` header (pass `""` when absent) against the raw body.
/// Entries with another keyId or algorithm are skipped; if several entries carry
/// our keyId, any may match, and all are compared (no early exit).
pub fn verify(
    header: &str,
    body: &[u8],
    key_id: &str,
    secret: &Secret,
) -> Result<(), SignatureError> {
    if header.trim().is_empty() {
        return Err(SignatureError::Missing);
    }
    let mut ours = Vec::new();
    for entry in header.split(',') {
        let mut parts = entry.trim().split('/');
        let (Some(id), Some(alg), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Malformed);
        };
        if id.is_empty() || alg.is_empty() || sig.is_empty() {
            return Err(SignatureError::Malformed);
        }
        if id == key_id && alg.eq_ignore_ascii_case(ALGORITHM) {
            ours.push(sig);
        }
    }
    if ours.is_empty() {
        return Err(SignatureError::UnknownKeyId);
    }
    let expected = mac(secret, body);
    let matched = ours.iter().fold(false, |acc, sig| {
        acc | hex::decode(sig).is_ok_and(|bytes| constant_time_eq(&bytes, &expected))
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// hex(HMAC-SHA256(secret, body)).
pub fn signature_hex(secret: &Secret, body: &[u8]) -> String {
    hex::encode(mac(secret, body))
}

/// One `Event-Signature` entry, `{key_id}/SHA256/{hex}`, as Worldpay would send
/// it: for tests and the stand-in.
pub fn sign(key_id: &str, secret: &Secret, body: &[u8]) -> String {
    format!("{key_id}/{ALGORITHM}/{}", signature_hex(secret, body))
}

fn mac(secret: &Secret, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// `{value, currencyCode}`: minor units and the ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAmount {
    pub value: i64,
    pub currency_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetails {
    #[serde(default)]
    pub classification: Option<String>,
    /// Our intent id, as sent with the hosted page.
    pub transaction_reference: String,
    #[serde(rename = "type")]
    pub kind: WorldpayEvent,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub amount: Option<EventAmount>,
    #[serde(default)]
    pub payment_id: Option<String>,
    /// The `reference` we sent with a settlement or refund (our intent or refund id).
    #[serde(default)]
    pub reference: Option<String>,
}

/// One event notification. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Dedupe by this: a repeat is answered 200 and changes nothing.
    pub event_id: String,
    pub event_timestamp: String,
    pub event_details: EventDetails,
}

/// Reads a notification's body (after [`verify`]).
pub fn parse_notification(body: &[u8]) -> Result<Notification, ParseError> {
    let n: Notification = parse_json(body, "event notification")?;
    if n.event_id.is_empty() || n.event_details.transaction_reference.is_empty() {
        return Err(ParseError::invalid(PROVIDER, "event notification"));
    }
    Ok(n)
}

impl Notification {
    /// Our intent id (the hosted page's `transactionReference`).
    pub fn our_intent_id(&self) -> &str {
        &self.event_details.transaction_reference
    }

    /// `eventTimestamp` as unix seconds (`None` if it is not RFC 3339). The Worker
    /// uses it as the event's time, falling back to its own clock.
    pub fn occurred_at(&self) -> Option<i64> {
        parse_rfc3339(&self.event_timestamp)
    }

    /// Refund events carry one refund's amount, not the running total the state
    /// machine needs: for them, mark the refund row named by `reference` and ask
    /// [`super::requests::status`] for the total (`refundedValue`).
    pub fn needs_status_check(&self) -> bool {
        match self.event_details.kind {
            WorldpayEvent::SentForRefund
            | WorldpayEvent::Refunded
            | WorldpayEvent::RefundFailed => true,
            WorldpayEvent::Authorized
            | WorldpayEvent::SentForSettlement
            | WorldpayEvent::Settled
            | WorldpayEvent::Refused
            | WorldpayEvent::Cancelled
            | WorldpayEvent::Expired
            | WorldpayEvent::SettlementFailed
            | WorldpayEvent::Error
            | WorldpayEvent::Unknown(_) => false,
        }
    }

    /// This notification's events for our intent, at `at` (normally
    /// [`Notification::occurred_at`]). Mapping as in [`super::events`], except:
    /// `Authorized` and `Settled`/`SentForSettlement` take `amount` (absent →
    /// [`MappingError::MissingAmount`]: ask for the status instead), and refund
    /// events yield nothing here ([`Notification::needs_status_check`]).
    pub fn to_events(
        &self,
        our: &IntentState,
        at: i64,
    ) -> Result<Vec<ProviderEvent>, MappingError> {
        let currency = our.amount.currency();
        let amount = || match &self.event_details.amount {
            Some(a) => to_money(a.value, &a.currency_code, currency),
            None => Err(MappingError::MissingAmount),
        };
        if let Some(a) = &self.event_details.amount {
            // Even an event whose amount we do not use must be in our currency.
            to_money(0, &a.currency_code, currency)?;
        }
        let events = match &self.event_details.kind {
            WorldpayEvent::Authorized => vec![IntentEvent::Authorized { amount: amount()? }],
            WorldpayEvent::SentForSettlement | WorldpayEvent::Settled => {
                vec![IntentEvent::Captured { amount: amount()? }]
            }
            kind @ (WorldpayEvent::Refused
            | WorldpayEvent::Error
            | WorldpayEvent::Cancelled
            | WorldpayEvent::Expired
            | WorldpayEvent::SentForRefund
            | WorldpayEvent::Refunded
            | WorldpayEvent::RefundFailed
            | WorldpayEvent::SettlementFailed
            | WorldpayEvent::Unknown(_)) => simple_event(kind).into_iter().collect(),
        };
        Ok(stamp(events, at))
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → unix seconds (fraction dropped).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' {
                return None;
            }
            let sign = match ob[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = |r: std::ops::Range<usize>| -> Option<i64> {
                let part = rest.get(r)?;
                part.bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| part.parse().ok())?
            };
            let (oh, om) = (digits(1..3)?, digits(4..6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > month_len || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{apply, CaptureMethod, IntentStatus, Transition};
    use crate::money::{Currency, Money};
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"eventId":"e1","eventTimestamp":"2024-06-01T12:00:00.000Z","eventDetails":{"classification":"payment","transactionReference":"pi_1","type":"Settled","date":"2024-06-01","amount":{"value":1000,"currencyCode":"EUR"},"paymentId":"pay_1"}}"#;

    fn secret() -> Secret {
        Secret::new("wp_webhook_secret")
    }

    fn check(header: &str, body: &[u8]) -> Result<(), SignatureError> {
        verify(header, body, KEY_ID, &secret())
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_raw_body() {
        // Independently: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        assert_eq!(
            signature_hex(
                &Secret::new("key"),
                b"The quick brown fox jumps over the lazy dog"
            ),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let header = sign(KEY_ID, &secret(), BODY);
        assert!(header.starts_with("1/SHA256/"));
        assert_eq!(check(&header, BODY), Ok(()));
    }

    #[test]
    fn forged_signature_is_a_mismatch() {
        let forged = sign(KEY_ID, &Secret::new("guess"), BODY);
        assert_eq!(check(&forged, BODY), Err(SignatureError::Mismatch));
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("1000", "9000");
        assert_eq!(
            check(&sign(KEY_ID, &secret(), BODY), tampered.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(check("1/SHA256/zz", BODY), Err(SignatureError::Mismatch));
        assert_eq!(check("1/SHA256/00", BODY), Err(SignatureError::Mismatch));
    }

    #[test]
    fn unknown_key_id_or_other_algorithm() {
        let theirs = sign("2", &secret(), BODY);
        assert_eq!(check(&theirs, BODY), Err(SignatureError::UnknownKeyId));
        let hex = signature_hex(&secret(), BODY);
        assert_eq!(
            check(&format!("1/SHA512/{hex}"), BODY),
            Err(SignatureError::UnknownKeyId)
        );
        // Lowercase algorithm names are the same algorithm.
        assert_eq!(check(&format!("1/sha256/{hex}"), BODY), Ok(()));
        // keyIds compare exactly.
        assert_eq!(
            check(&format!("01/SHA256/{hex}"), BODY),
            Err(SignatureError::UnknownKeyId)
        );
    }

    #[test]
    fn several_entries_in_any_order() {
        let ours = sign(KEY_ID, &secret(), BODY);
        let other = sign("7", &Secret::new("another secret"), BODY);
        for header in [
            format!("{other},{ours}"),
            format!("{other}, {ours}"),
            format!("{ours},{other}"),
            format!("{other},{ours},3/SHA256/{}", "ab".repeat(32)),
        ] {
            assert_eq!(check(&header, BODY), Ok(()), "{header}");
        }
        // Another key's valid-looking entry does not stand in for ours.
        let only_theirs = sign("7", &secret(), BODY);
        assert_eq!(
            check(&format!("{only_theirs},9/SHA256/00"), BODY),
            Err(SignatureError::UnknownKeyId)
        );
        // Two entries with our keyId (a roll in progress): either may match.
        let stale = sign(KEY_ID, &Secret::new("old"), BODY);
        assert_eq!(check(&format!("{stale},{ours}"), BODY), Ok(()));
        // Verification against a non-default keyId.
        let rolled = sign("2", &secret(), BODY);
        assert_eq!(
            verify(&format!("{ours},{rolled}"), BODY, "2", &secret()),
            Ok(())
        );
    }

    #[test]
    fn missing_or_malformed_header() {
        assert_eq!(check("", BODY), Err(SignatureError::Missing));
        assert_eq!(check("   ", BODY), Err(SignatureError::Missing));
        let ours = sign(KEY_ID, &secret(), BODY);
        for header in [
            "garbage".to_owned(),
            "1/SHA256".to_owned(),
            "1/SHA256/ab/cd".to_owned(),
            "/SHA256/ab".to_owned(),
            "1//ab".to_owned(),
            "1/SHA256/".to_owned(),
            format!("{ours},"),
            format!("{ours},junk"),
        ] {
            assert_eq!(
                check(&header, BODY),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        for e in [
            SignatureError::Missing,
            SignatureError::Malformed,
            SignatureError::UnknownKeyId,
            SignatureError::Mismatch,
        ] {
            let api = e.to_api_error();
            assert_eq!((api.status, api.code.as_str()), (400, "invalid_signature"));
        }
    }

    proptest! {
        #[test]
        fn any_single_byte_change_fails(index in 0..BODY.len(), delta in 1u8..=255) {
            let header = sign(KEY_ID, &secret(), BODY);
            let mut body = BODY.to_vec();
            body[index] = body[index].wrapping_add(delta);
            prop_assert_eq!(check(&header, &body), Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn notification_parses() {
        let n = parse_notification(BODY).unwrap();
        assert_eq!(n.event_id, "e1");
        assert_eq!(n.our_intent_id(), "pi_1");
        assert_eq!(n.event_details.kind, WorldpayEvent::Settled);
        assert_eq!(n.event_details.classification.as_deref(), Some("payment"));
        assert_eq!(n.event_details.payment_id.as_deref(), Some("pay_1"));
        assert_eq!(
            n.event_details.amount,
            Some(EventAmount {
                value: 1000,
                currency_code: "EUR".into()
            })
        );
        assert_eq!(n.occurred_at(), Some(1_717_243_200));
        assert!(!n.needs_status_check());
        for bad in [
            &br#"{"eventId":"e1","eventTimestamp":"x","eventDetails":{"type":"Settled"}}"#[..],
            br#"{"eventId":"","eventTimestamp":"x","eventDetails":{"transactionReference":"pi_1","type":"Settled"}}"#,
            b"[]",
        ] {
            assert!(parse_notification(bad).is_err());
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.123+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20+0100",
            "+023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    fn notification(kind: &str, amount: Option<i64>) -> Notification {
        let amount = amount
            .map(|v| format!(r#","amount":{{"value":{v},"currencyCode":"EUR"}}"#))
            .unwrap_or_default();
        let body = format!(
            r#"{{"eventId":"e-{kind}","eventTimestamp":"2024-06-01T12:00:00Z","eventDetails":{{"transactionReference":"pi_1","type":"{kind}"{amount}}}}}"#
        );
        parse_notification(body.as_bytes()).unwrap()
    }

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    #[test]
    fn notifications_map_onto_the_state_machine() {
        let start = IntentState::new(eur("12.50"), CaptureMethod::Manual);
        let step = |s: &IntentState, kind: &str, amount: Option<i64>, at: i64| {
            let evs = notification(kind, amount).to_events(s, at).unwrap();
            let mut s = s.clone();
            for e in &evs {
                if let Transition::Applied(next) = apply(&s, e) {
                    s = next;
                }
            }
            s
        };
        let s = step(&start, "Authorized", Some(1250), 10);
        assert_eq!(s.status, IntentStatus::RequiresCapture);
        // The same notification again: nothing.
        assert_eq!(step(&s, "Authorized", Some(1250), 10), s);
        let s = step(&s, "Settled", Some(1000), 20);
        assert_eq!(
            (s.status, s.amount_received),
            (IntentStatus::Succeeded, eur("10.00"))
        );
        // An Authorized after Settled changes nothing, late or stale.
        assert_eq!(step(&s, "Authorized", Some(1250), 30), s);
        assert_eq!(step(&s, "Authorized", Some(1250), 5), s);
        assert_eq!(step(&s, "Expired", None, 40), s);
        // Refund notifications defer to the status reply.
        let n = notification("Refunded", Some(300));
        assert!(n.needs_status_check());
        assert_eq!(n.to_events(&s, 50).unwrap(), vec![]);
        // Expired reservation → canceled.
        let r = step(&start, "Authorized", Some(1250), 10);
        let r = step(&r, "Expired", None, 20);
        assert_eq!(r.status, IntentStatus::Canceled);
        // Refused → failed with our words.
        let f = step(&start, "Refused", None, 10);
        assert_eq!(f.last_error.as_deref(), Some("Your card was refused."));
    }

    #[test]
    fn notification_amounts_are_checked() {
        let s = IntentState::new(eur("12.50"), CaptureMethod::Manual);
        assert_eq!(
            notification("Settled", None).to_events(&s, 1),
            Err(MappingError::MissingAmount)
        );
        let chf = parse_notification(
            br#"{"eventId":"e","eventTimestamp":"t","eventDetails":{"transactionReference":"pi_1","type":"Cancelled","amount":{"value":1,"currencyCode":"CHF"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            chf.to_events(&s, 1),
            Err(MappingError::CurrencyMismatch { .. })
        ));
        assert_eq!(chf.occurred_at(), None);
        assert_eq!(
            notification("Cancelled", None).to_events(&s, 3).unwrap(),
            vec![ProviderEvent {
                at: 3,
                event: IntentEvent::Canceled
            }]
        );
    }

    const FUZZ_KEYS: &[&str] = &[
        "eventId",
        "eventTimestamp",
        "eventDetails",
        "classification",
        "transactionReference",
        "type",
        "date",
        "amount",
        "value",
        "currencyCode",
        "paymentId",
        "reference",
    ];
    const FUZZ_WORDS: &[&str] = &[
        "Authorized",
        "SentForSettlement",
        "Settled",
        "Refused",
        "Cancelled",
        "Expired",
        "SentForRefund",
        "Refunded",
        "RefundFailed",
        "SettlementFailed",
        "Error",
        "EUR",
        "JPY",
        "KWD",
        "eur",
        "",
        "pi_1",
        "2024-06-01T12:00:00Z",
        "2024-02-30T25:61:61+14:00",
        "9999-12-31T23:59:59.999999999-23:59",
        "0000-01-01T00:00:00Z",
    ];

    /// Everything a Worker does with a notification after its signature passed.
    fn read_notification(body: &[u8]) {
        if let Ok(n) = parse_notification(body) {
            let _ = n.our_intent_id();
            let at = n.occurred_at().unwrap_or(0);
            let _ = n.needs_status_check();
            for currency in [Currency::EUR, Currency::JPY, Currency::KWD] {
                for method in [CaptureMethod::Manual, CaptureMethod::Automatic] {
                    let our =
                        IntentState::new(Money::from_minor_units(1250, currency).unwrap(), method);
                    let _ = n.to_events(&our, at);
                }
            }
        }
    }

    #[test]
    fn fuzz_sample_is_a_valid_notification() {
        let n = parse_notification(BODY).unwrap();
        let our = IntentState::new(eur("10.00"), CaptureMethod::Manual);
        assert!(n.to_events(&our, n.occurred_at().unwrap()).is_ok());
    }

    proptest! {
        /// Fuzz-style: no byte string makes the notification parser (or what
        /// reads its result) panic.
        #[test]
        fn notification_parser_never_panics_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
            read_notification(&body);
        }

        /// Nor does any text, or anything shaped like a timestamp, as `eventTimestamp`.
        #[test]
        fn timestamp_parser_never_panics(
            s in prop_oneof![
                ".{0,40}",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9\\x{e9}]{0,12})?(Z|z|[+-][0-9]{2}:[0-9]{2}|\\x{1F600})?",
            ],
        ) {
            let _ = parse_rfc3339(&s);
        }

        /// No header text makes the signature check panic, and none passes for a
        /// body it was not made for.
        #[test]
        fn signature_check_never_panics(
            header in "[0-9a-fA-F/SHA256,: \\x{80}-\\x{10ffff}]{0,80}",
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assert!(check(&header, &body).is_err(), "{header:?} accepted");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// From the valid notification with a few values replaced or removed at
        /// any depth: these reach the mapping onto our events.
        #[test]
        fn notification_parser_never_panics_on_mutated_notifications(
            body in crate::http::tests::mutated(
                std::str::from_utf8(BODY).unwrap(),
                FUZZ_KEYS,
                FUZZ_WORDS,
            ),
        ) {
            read_notification(&body);
        }
    }
}
