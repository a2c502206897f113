//! Worldpay's JSON replies as far as we read them, and its error replies.
//!
//! Unknown fields are ignored (Worldpay adds fields without a version bump);
//! amounts are integers of minor units. Nothing Worldpay writes (`message`s,
//! validation texts) is ever shown to anyone: only our fixed wording is.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::error::ApiError;

pub use crate::wire::ParseError;

/// The name [`ParseError`]s give.
pub(crate) const PROVIDER: &str = "Worldpay";

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<T, ParseError> {
    crate::wire::parse_json(PROVIDER, body, what)
}

/// A payment's event names (PROVIDERS.md, "Events"): `lastEvent` in a status reply,
/// `eventDetails.type` in a notification. A name we do not know is kept as
/// `Unknown` (and changes nothing) rather than failing the whole reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum WorldpayEvent {
    Authorized,
    SentForSettlement,
    Settled,
    Refused,
    Cancelled,
    Expired,
    SentForRefund,
    Refunded,
    RefundFailed,
    SettlementFailed,
    Error,
    Unknown(String),
}

impl WorldpayEvent {
    pub const KNOWN: &'static [WorldpayEvent] = &[
        WorldpayEvent::Authorized,
        WorldpayEvent::SentForSettlement,
        WorldpayEvent::Settled,
        WorldpayEvent::Refused,
        WorldpayEvent::Cancelled,
        WorldpayEvent::Expired,
        WorldpayEvent::SentForRefund,
        WorldpayEvent::Refunded,
        WorldpayEvent::RefundFailed,
        WorldpayEvent::SettlementFailed,
        WorldpayEvent::Error,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            WorldpayEvent::Authorized => "Authorized",
            WorldpayEvent::SentForSettlement => "SentForSettlement",
            WorldpayEvent::Settled => "Settled",
            WorldpayEvent::Refused => "Refused",
            WorldpayEvent::Cancelled => "Cancelled",
            WorldpayEvent::Expired => "Expired",
            WorldpayEvent::SentForRefund => "SentForRefund",
            WorldpayEvent::Refunded => "Refunded",
            WorldpayEvent::RefundFailed => "RefundFailed",
            WorldpayEvent::SettlementFailed => "SettlementFailed",
            WorldpayEvent::Error => "Error",
            WorldpayEvent::Unknown(s) => s,
        }
    }

    /// Exact names only: Worldpay's are case-sensitive.
    pub fn from_name(name: &str) -> WorldpayEvent {
        WorldpayEvent::KNOWN
            .iter()
            .find(|e| e.as_str() == name)
            .cloned()
            .unwrap_or_else(|| WorldpayEvent::Unknown(name.to_owned()))
    }
}

impl From<String> for WorldpayEvent {
    fn from(s: String) -> Self {
        WorldpayEvent::from_name(&s)
    }
}

impl fmt::Display for WorldpayEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"amount": minor units, "currency": "EUR"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WireValue {
    pub amount: i64,
    pub currency: String,
}

/// `GET api/payments/{id}` → the payment's state. The shape we read (the
/// stand-in sends exactly this; the real API has more, which is ignored):
///
/// ```json
/// {"paymentId": "pay_…"?, "transactionReference": "pi_…", "lastEvent": "Settled",
///  "value": {"amount": 1250, "currency": "EUR"},
///  "settledValue": {"amount": 1000, "currency": "EUR"}?,
///  "refundedValue": {"amount": 200, "currency": "EUR"}?,
///  "_links": {"payments:partialSettle": {"href": "…"}, …}}
/// ```
///
/// `value` is the authorised amount. `settledValue` is what was settled (absent:
/// the whole `value`); `refundedValue` the running total of completed refunds
/// (required once `lastEvent` is `Refunded`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentStatus {
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub transaction_reference: Option<String>,
    pub last_event: WorldpayEvent,
    pub value: WireValue,
    #[serde(default)]
    pub settled_value: Option<WireValue>,
    #[serde(default)]
    pub refunded_value: Option<WireValue>,
    /// Actions Worldpay allows next, by relation name (`payments:cancel`, …).
    #[serde(default, rename = "_links")]
    pub links: BTreeMap<String, serde_json::Value>,
}

impl PaymentStatus {
    /// The `href` of a `_links` relation, if Worldpay offers it.
    pub fn link(&self, rel: &str) -> Option<&str> {
        self.links.get(rel)?.get("href")?.as_str()
    }

    /// Whether this payment is one of ours for this intent: a reply naming
    /// another `transactionReference` is not (an absent one is trusted, since the
    /// request named the payment id).
    pub fn belongs_to(&self, our_intent_id: &str) -> bool {
        self.transaction_reference
            .as_deref()
            .is_none_or(|r| r == our_intent_id)
    }
}

/// `GET api/payments/{id}` → its [`PaymentStatus`].
pub fn parse_status(body: &[u8]) -> Result<PaymentStatus, ParseError> {
    parse_json(body, "payment status")
}

/// `POST payment_pages` → where to send the customer (see
/// [`super::requests::hosted_payment_page`]): `{"url": "https://…"}`, which is what
/// PROVIDERS.md names; we also read `transactionReference` (checked to be ours) and
/// an optional `paymentId`, as the Worldpay stand-in answers:
/// `{"url": "https://…", "transactionReference": "pi_…", "paymentId": "…"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedPage {
    pub url: String,
    pub transaction_reference: String,
    /// Worldpay's payment id, when it is known this early; otherwise it arrives
    /// with the first event notification (`eventDetails.paymentId`).
    #[serde(default)]
    pub payment_id: Option<String>,
}

/// Reads the hosted-page reply for `our_intent_id`: the URL must be absolute
/// http(s) without whitespace, and the reference must be ours.
pub fn parse_hosted_page(body: &[u8], our_intent_id: &str) -> Result<HostedPage, ParseError> {
    let page: HostedPage = parse_json(body, "hosted page")?;
    let url_ok = (page.url.starts_with("https://") || page.url.starts_with("http://"))
        && !page
            .url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if !url_ok || page.transaction_reference != our_intent_id {
        return Err(ParseError::invalid(PROVIDER, "hosted page"));
    }
    Ok(page)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    error_name: Option<String>,
    #[serde(default)]
    validation_errors: Vec<ValidationError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidationError {
    #[serde(default)]
    json_path: Option<String>,
}

/// A non-2xx reply: `{errorName, message, validationErrors?: [{errorName,
/// message, jsonPath}]}`. Only the status, `errorName` and the `jsonPath`s are
/// kept; `message`s never are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldpayError {
    pub status: u16,
    pub error_name: Option<String>,
    /// `jsonPath` of each validation error (`$.value.amount`, …).
    pub invalid_paths: Vec<String>,
}

/// Reads an error reply. Never fails: an unreadable body still has its status.
pub fn parse_error(status: u16, body: &[u8]) -> WorldpayError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (error_name, invalid_paths) = match parsed {
        Some(b) => (
            b.error_name,
            b.validation_errors
                .into_iter()
                .filter_map(|v| v.json_path)
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    WorldpayError {
        status,
        error_name,
        invalid_paths,
    }
}

/// The customer-facing words for a refused card, shared with [`super::events`].
pub const REFUSED_MESSAGE: &str = "Your card was refused.";

impl WorldpayError {
    /// A card refusal: HTTP 402, or an `errorName` that says refused/declined.
    pub fn is_refusal(&self) -> bool {
        let name = self
            .error_name
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        self.status == 402 || name.contains("refused") || name.contains("declined")
    }

    /// Our answer, in our words only:
    /// - refusal → 402 `card_declined` "Your card was refused.";
    /// - a validation error on an amount → 400 `invalid_amount` (param `amount`);
    /// - 401/403 → 502 `provider_authentication_failed` (the merchant's credentials);
    /// - 409 → 409 `idempotency_key_in_use` (same key, other values);
    /// - 429, 5xx → 503 `provider_unavailable`;
    /// - anything else → 502 `provider_error`.
    pub fn to_api_error(&self) -> ApiError {
        if self.is_refusal() {
            return ApiError::provider(402, "card_declined", REFUSED_MESSAGE);
        }
        if self.invalid_paths.iter().any(|p| p.contains("amount")) {
            return ApiError::invalid_request(
                "invalid_amount",
                "Worldpay did not accept this amount.",
            )
            .with_param("amount");
        }
        match self.status {
            401 | 403 => crate::http::provider_credentials_refused("Worldpay"),
            409 => crate::http::provider_idempotency_conflict(),
            429 | 500..=599 => crate::http::provider_unavailable(503),
            _ => crate::http::provider_refused(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reply_parses() {
        let body = br#"{"paymentId":"pay_1","transactionReference":"pi_1","lastEvent":"Settled",
            "value":{"amount":1250,"currency":"EUR"},"settledValue":{"amount":1000,"currency":"EUR"},
            "_links":{"payments:partialRefund":{"href":"https://wp/refund"},"curies":[{"name":"payments"}]},
            "somethingNew":{"x":1}}"#;
        let s = parse_status(body).unwrap();
        assert_eq!(s.last_event, WorldpayEvent::Settled);
        assert_eq!(
            s.value,
            WireValue {
                amount: 1250,
                currency: "EUR".into()
            }
        );
        assert_eq!(s.settled_value.as_ref().unwrap().amount, 1000);
        assert_eq!(s.refunded_value, None);
        assert_eq!(s.link("payments:partialRefund"), Some("https://wp/refund"));
        assert_eq!(s.link("payments:cancel"), None);
        assert_eq!(s.link("curies"), None);
        assert!(s.belongs_to("pi_1"));
        assert!(!s.belongs_to("pi_2"));
    }

    #[test]
    fn status_reply_minimal_and_unknown_event() {
        let s = parse_status(br#"{"lastEvent":"Frobbed","value":{"amount":1,"currency":"EUR"}}"#)
            .unwrap();
        assert_eq!(s.last_event, WorldpayEvent::Unknown("Frobbed".into()));
        assert!(s.belongs_to("pi_anything"));
        assert!(s.links.is_empty());
        for bad in [
            &br#"{"value":{"amount":1,"currency":"EUR"}}"#[..],
            br#"{"lastEvent":"Settled","value":{"amount":1.5,"currency":"EUR"}}"#,
            br#"{"lastEvent":"Settled"}"#,
            b"not json",
        ] {
            assert!(parse_status(bad).is_err());
        }
        let e = parse_status(b"{").unwrap_err();
        assert_eq!(e.to_api_error().status, 502);
    }

    #[test]
    fn event_names_round_trip() {
        for e in WorldpayEvent::KNOWN {
            assert_eq!(&WorldpayEvent::from_name(e.as_str()), e);
        }
        assert_eq!(
            WorldpayEvent::from_name("settled"),
            WorldpayEvent::Unknown("settled".into())
        );
    }

    #[test]
    fn hosted_page_reply() {
        let p = parse_hosted_page(
            br#"{"url":"https://hpp.example/p/1","transactionReference":"pi_1","paymentId":"pay_1"}"#,
            "pi_1",
        )
        .unwrap();
        assert_eq!(p.url, "https://hpp.example/p/1");
        assert_eq!(p.payment_id.as_deref(), Some("pay_1"));
        let p = parse_hosted_page(
            br#"{"url":"http://127.0.0.1:9/p","transactionReference":"pi_1"}"#,
            "pi_1",
        )
        .unwrap();
        assert_eq!(p.payment_id, None);
        for bad in [
            &br#"{"url":"https://hpp.example/p","transactionReference":"pi_2"}"#[..],
            br#"{"url":"javascript:alert(1)","transactionReference":"pi_1"}"#,
            br#"{"url":"https://a b","transactionReference":"pi_1"}"#,
            br#"{"transactionReference":"pi_1"}"#,
        ] {
            assert!(parse_hosted_page(bad, "pi_1").is_err());
        }
    }

    #[test]
    fn errors_never_echo_provider_text() {
        let secret_text = "card 4444 holder Jane refused by issuer";
        let body = format!(r#"{{"errorName":"paymentRefused","message":"{secret_text}"}}"#);
        let e = parse_error(400, body.as_bytes());
        let api = e.to_api_error();
        assert_eq!(
            (api.status, api.code.as_str(), api.message.as_str()),
            (402, "card_declined", "Your card was refused.")
        );
        assert!(!api.to_json().contains("Jane"));

        let e = parse_error(402, b"");
        assert_eq!(e.error_name, None);
        assert_eq!(e.to_api_error().status, 402);

        let e = parse_error(
            400,
            br#"{"errorName":"bodyDoesNotMatchSchema","message":"x",
                "validationErrors":[{"errorName":"numberIsTooSmall","message":"m","jsonPath":"$.value.amount"}]}"#,
        );
        assert_eq!(e.invalid_paths, vec!["$.value.amount".to_owned()]);
        let api = e.to_api_error();
        assert_eq!(
            (api.status, api.code.as_str(), api.param.as_deref()),
            (400, "invalid_amount", Some("amount"))
        );

        let code = |status, body: &[u8]| {
            let api = parse_error(status, body).to_api_error();
            (api.status, api.code)
        };
        assert_eq!(
            code(401, br#"{"errorName":"accessDenied","message":"x"}"#),
            (502, "provider_authentication_failed".into())
        );
        assert_eq!(code(409, b"{}"), (409, "idempotency_key_in_use".into()));
        assert_eq!(code(503, b"<html>"), (503, "provider_unavailable".into()));
        assert_eq!(code(429, b""), (503, "provider_unavailable".into()));
        assert_eq!(
            code(404, br#"{"errorName":"resourceNotFound","message":"x"}"#),
            (502, "provider_error".into())
        );
    }
}
