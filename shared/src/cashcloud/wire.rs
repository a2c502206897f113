//! Cashcloud's JSON replies, as far as we read them, and its error statuses
//! (PROVIDERS.md: 403 auth, 412 `validationFailed`, 423 locked).
//!
//! Every field we can do without is optional and unknown fields are ignored.
//! Numbers are accepted as JSON integers or as digit strings (the 2014 API is PHP
//! and sends either); floats are refused. Nothing Cashcloud writes is ever shown to
//! anyone: replies may hold customers' usernames and names.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;
use crate::money::{Currency, Money};

use super::events::CashcloudState;

pub use crate::wire::ParseError;

/// The name [`ParseError`]s give.
pub(crate) const PROVIDER: &str = "Cashcloud";

fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<T, ParseError> {
    crate::wire::parse_json(PROVIDER, body, what)
}

/// An integer sent as a JSON number or a string of ASCII digits (optionally
/// negative); null counts as absent.
fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected an integer")),
        Value::String(s) => parse_int(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected an integer")),
        _ => Err(serde::de::Error::custom("expected an integer")),
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A string or a number, as text (hashes and ids are sometimes numeric).
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(serde::de::Error::custom("expected text")),
    }
}

#[derive(Deserialize)]
struct SaltReply {
    #[serde(default, deserialize_with = "lenient_text")]
    salt: Option<String>,
}

/// `POST salt` → `{"salt": "…"}`: the salt for [`super::auth::Auth::new`].
pub fn parse_salt(body: &[u8]) -> Result<String, ParseError> {
    parse_json::<SaltReply>(body, "salt")?
        .salt
        .filter(|s| !s.is_empty())
        .ok_or(ParseError::invalid(PROVIDER, "salt"))
}

#[derive(Deserialize)]
struct HashReply {
    #[serde(default, deserialize_with = "lenient_text")]
    hash: Option<String>,
}

/// `POST request` → `{"hash": "…"}`: the transaction's id at Cashcloud, stored as
/// the intent's `provider_reference`.
pub fn parse_request_reply(body: &[u8]) -> Result<String, ParseError> {
    parse_json::<HashReply>(body, "request reply")?
        .hash
        .filter(|h| !h.is_empty())
        .ok_or(ParseError::invalid(PROVIDER, "request reply"))
}

/// `POST refund` → the refund's own transaction hash when Cashcloud sends one
/// (store it on the refund row: refund callbacks carry it). The notes give no
/// shape for this reply, so any JSON object is accepted.
pub fn parse_refund_reply(body: &[u8]) -> Result<Option<String>, ParseError> {
    Ok(parse_json::<HashReply>(body, "refund reply")?
        .hash
        .filter(|h| !h.is_empty()))
}

/// `extern` as we sent it (`extern.id`, `extern.reference`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Extern {
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub reference: Option<String>,
}

/// One transaction (`GET transactions?hash=` → `{"transaction": {…}}`): a payment
/// request or a refund. Amounts are EUR cents.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transaction {
    #[serde(default, deserialize_with = "lenient_text")]
    pub hash: Option<String>,
    #[serde(rename = "transaction_state_id", deserialize_with = "state")]
    pub state: CashcloudState,
    #[serde(default, deserialize_with = "lenient_int")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub currency_id: Option<i64>,
    /// Refunded so far, when Cashcloud reports it.
    #[serde(
        default,
        alias = "amount_refunded",
        alias = "refund_amount",
        deserialize_with = "lenient_int"
    )]
    pub refunded_amount: Option<i64>,
    #[serde(default, rename = "extern")]
    pub external: Option<Extern>,
    /// `request` or `refund`, when Cashcloud says.
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// When a pending request expires (unix seconds), when Cashcloud says.
    #[serde(default, deserialize_with = "lenient_int")]
    pub expires_at: Option<i64>,
    /// A refund's payment transaction, when Cashcloud says.
    #[serde(default, deserialize_with = "lenient_text")]
    pub original_hash: Option<String>,
}

fn state<'de, D: Deserializer<'de>>(d: D) -> Result<CashcloudState, D::Error> {
    lenient_int(d)?
        .map(CashcloudState::from_id)
        .ok_or_else(|| serde::de::Error::custom("transaction_state_id is required"))
}

#[derive(Deserialize)]
struct TransactionReply {
    transaction: OneOrMany,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Transaction),
    Many(Vec<Transaction>),
}

/// `GET transactions?hash=` → the transaction asked for. A list yields the entry
/// whose `hash` is `hash`, else its only entry; an entry naming another hash is
/// refused (not the transaction asked about).
pub fn parse_transaction(body: &[u8], hash: &str) -> Result<Transaction, ParseError> {
    let ours = |t: &Transaction| t.hash.as_deref().is_none_or(|h| h == hash);
    let found = match parse_json::<TransactionReply>(body, "transaction")?.transaction {
        OneOrMany::One(t) => Some(t).filter(ours),
        OneOrMany::Many(mut list) => {
            match list.iter().position(|t| t.hash.as_deref() == Some(hash)) {
                Some(i) => Some(list.swap_remove(i)),
                None if list.len() == 1 => list.pop().filter(ours),
                None => None,
            }
        }
    };
    found.ok_or(ParseError::invalid(PROVIDER, "transaction"))
}

#[derive(Deserialize)]
struct RateReply {
    #[serde(default)]
    amount: Option<Value>,
}

/// `GET currency-rate?amount=` → `{"amount": …}`, the EUR equivalent: a decimal
/// string of euros (`"11.87"`, rounded half-up to the cent), or an integer (or
/// digit string) of cents. Floats are refused; other fields are ignored.
pub fn parse_currency_rate(body: &[u8]) -> Result<Money, ParseError> {
    let reply: RateReply = parse_json(body, "currency rate")?;
    let bad = || ParseError::invalid(PROVIDER, "currency rate");
    let money = match reply.amount.ok_or_else(bad)? {
        Value::Number(n) => {
            let cents = n.as_i64().ok_or_else(bad)?;
            Money::from_minor_units(cents, Currency::EUR).map_err(|_| bad())?
        }
        Value::String(s) if s.contains('.') => {
            let d: Decimal = s.parse().map_err(|_| bad())?;
            if !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(bad());
            }
            let d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Money::from_decimal(d, Currency::EUR).map_err(|_| bad())?
        }
        Value::String(s) => {
            let cents = parse_int(&s).ok_or_else(bad)?;
            Money::from_minor_units(cents, Currency::EUR).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    Ok(money)
}

/// A non-2xx reply, by status. Only field names survive from a 412 (never the
/// messages, which may quote what the customer typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CashcloudError {
    /// 403: the token is wrong or its salt is used up. Ask a new salt, make a new
    /// [`super::auth::Auth`] and send once more; a second 403 means the
    /// merchant's credentials are wrong.
    Auth,
    /// 412 `validationFailed`: the fields Cashcloud names (`email`, `amount`, …).
    ValidationFailed { fields: Vec<String> },
    /// 423: Cashcloud locked the merchant's API access.
    Locked,
    /// 404: a path Cashcloud does not know (our bug or a wrong base URL), or a
    /// hash it does not know.
    NotFound,
    /// 5xx: Cashcloud is down.
    Unavailable { status: u16 },
    /// Any other status.
    Unexpected { status: u16 },
}

impl CashcloudError {
    /// 403: make a new token and retry once.
    pub fn needs_new_token(&self) -> bool {
        matches!(self, CashcloudError::Auth)
    }

    fn names(&self, field: &str) -> bool {
        match self {
            CashcloudError::ValidationFailed { fields } => fields.iter().any(|f| f == field),
            CashcloudError::Auth
            | CashcloudError::Locked
            | CashcloudError::NotFound
            | CashcloudError::Unavailable { .. }
            | CashcloudError::Unexpected { .. } => false,
        }
    }

    /// Our answer. A 412 on the customer's username is the customer's to fix
    /// (400 `wallet_user_unknown`, param `cashcloud_username`); on the amount, the
    /// merchant's (400 `invalid_amount`); everything else is the provider's side
    /// (502/503), worded without Cashcloud's text.
    pub fn to_api_error(&self) -> ApiError {
        if self.names("email") || self.names("username") {
            return ApiError::invalid_request(
                "wallet_user_unknown",
                "We could not find that Cashcloud user.",
            )
            .with_param("cashcloud_username");
        }
        if self.names("amount") {
            return ApiError::invalid_request(
                "invalid_amount",
                "Cashcloud did not accept this amount.",
            )
            .with_param("amount");
        }
        match self {
            CashcloudError::Auth => crate::http::provider_credentials_refused("Cashcloud"),
            CashcloudError::Locked => ApiError::provider(
                502,
                "provider_account_locked",
                "Cashcloud has locked this merchant's account. The merchant must contact Cashcloud.",
            ),
            CashcloudError::Unavailable { .. } => crate::http::provider_unavailable(503),
            CashcloudError::ValidationFailed { .. }
            | CashcloudError::NotFound
            | CashcloudError::Unexpected { .. } => crate::http::provider_refused(),
        }
    }
}

impl fmt::Display for CashcloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CashcloudError::Auth => f.write_str("Cashcloud: 403, token refused"),
            CashcloudError::ValidationFailed { fields } => {
                write!(f, "Cashcloud: 412, validation failed on {fields:?}")
            }
            CashcloudError::Locked => f.write_str("Cashcloud: 423, locked"),
            CashcloudError::NotFound => f.write_str("Cashcloud: 404"),
            CashcloudError::Unavailable { status } | CashcloudError::Unexpected { status } => {
                write!(f, "Cashcloud: {status}")
            }
        }
    }
}

impl std::error::Error for CashcloudError {}

/// Reads a non-2xx reply. Never fails: an unreadable 412 is a validation failure
/// naming no field.
pub fn parse_error(status: u16, body: &[u8]) -> CashcloudError {
    match status {
        403 => CashcloudError::Auth,
        404 => CashcloudError::NotFound,
        412 => CashcloudError::ValidationFailed {
            fields: validation_fields(body),
        },
        423 => CashcloudError::Locked,
        s if s >= 500 => CashcloudError::Unavailable { status: s },
        s => CashcloudError::Unexpected { status: s },
    }
}

/// Field names from `{"validationFailed": …}` in any of the SDK's shapes:
/// `{"email": "notFound"}`, `{"email": ["notFound"]}`, `{"email": true}`,
/// `["email.notFound"]`, `[{"email": "notFound"}]`. A name is the text before
/// the first `.`, kept only if it looks like an identifier (so no free text, which
/// could hold personal data, is kept), deduplicated, in order.
fn validation_fields(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let errors = v.get("validationFailed").unwrap_or(&v);
    let mut out: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        let name = name.split('.').next().unwrap_or("");
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok && !out.iter().any(|f| f == name) {
            out.push(name.to_owned());
        }
    };
    match errors {
        Value::Object(map) => map.keys().for_each(|k| add(k)),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => add(s),
                    Value::Object(map) => map.keys().for_each(|k| add(k)),
                    _ => {}
                }
            }
        }
        Value::String(s) => add(s),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_and_request_replies() {
        assert_eq!(parse_salt(br#"{"salt":"a1b2"}"#).unwrap(), "a1b2");
        assert_eq!(parse_salt(br#"{"salt":12345,"x":1}"#).unwrap(), "12345");
        assert!(parse_salt(br#"{"salt":""}"#).is_err());
        assert!(parse_salt(br#"{}"#).is_err());
        assert!(parse_salt(b"<html>").is_err());
        assert_eq!(
            parse_request_reply(br#"{"hash":"9f8e7d","status":"ok"}"#).unwrap(),
            "9f8e7d"
        );
        assert!(parse_request_reply(br#"{"ok":true}"#).is_err());
        assert_eq!(
            parse_refund_reply(br#"{"hash":"r1"}"#).unwrap(),
            Some("r1".into())
        );
        assert_eq!(parse_refund_reply(br#"{"success":true}"#).unwrap(), None);
        let e = parse_salt(b"{").unwrap_err();
        assert_eq!(e.to_api_error().status, 502);
        assert!(!e.to_string().contains('{'));
    }

    #[test]
    fn transaction_tolerates_missing_extra_and_stringly_fields() {
        let t = parse_transaction(
            br#"{"transaction":{"hash":"9f8e","transaction_state_id":3,"amount":1250,
                "currency_id":1,"extern":{"id":"pi_1","reference":"SO-42"},
                "sender":{"name":"Anna Example","email":"anna@example.com"},"new_field":[1]}}"#,
            "9f8e",
        )
        .unwrap();
        assert_eq!(t.state, CashcloudState::Completed);
        assert_eq!((t.amount, t.currency_id), (Some(1250), Some(1)));
        assert_eq!(t.external.as_ref().unwrap().id.as_deref(), Some("pi_1"));
        assert_eq!(t.refunded_amount, None);
        assert!(!format!("{t:?}").contains("Anna"));

        assert_eq!(t.kind, None);
        let t = parse_transaction(
            br#"{"transaction":{"hash":"r1","type":"refund","transaction_state_id":1,"amount":500,
                "currency_id":1,"remark":"","extern":{"id":"pi_1","reference":null},
                "created_at":1700000000,"expires_at":1700000300,"original_hash":"9f8e"}}"#,
            "r1",
        )
        .unwrap();
        assert_eq!(t.kind.as_deref(), Some("refund"));
        assert_eq!(t.expires_at, Some(1_700_000_300));
        assert_eq!(t.original_hash.as_deref(), Some("9f8e"));
        let t = parse_transaction(
            br#"{"transaction":{"transaction_state_id":"8","amount":"1250","amount_refunded":"500"}}"#,
            "x",
        )
        .unwrap();
        assert_eq!(t.state, CashcloudState::Refunded);
        assert_eq!((t.amount, t.refunded_amount), (Some(1250), Some(500)));

        let t = parse_transaction(br#"{"transaction":{"transaction_state_id":42}}"#, "x").unwrap();
        assert_eq!(t.state, CashcloudState::Unknown(42));
        assert_eq!(t.amount, None);

        let list = br#"{"transaction":[{"hash":"a","transaction_state_id":1},{"hash":"b","transaction_state_id":4}]}"#;
        assert_eq!(
            parse_transaction(list, "b").unwrap().state,
            CashcloudState::Declined
        );
        assert!(parse_transaction(list, "c").is_err());
        // Another transaction than the one asked about is refused.
        let other = br#"{"transaction":{"hash":"zz","transaction_state_id":3}}"#;
        assert!(parse_transaction(other, "x").is_err());
        let other_in_list = br#"{"transaction":[{"hash":"zz","transaction_state_id":3}]}"#;
        assert!(parse_transaction(other_in_list, "x").is_err());
        let one = br#"{"transaction":[{"transaction_state_id":2}]}"#;
        assert_eq!(
            parse_transaction(one, "z").unwrap().state,
            CashcloudState::Accepted
        );

        for bad in [
            &br#"{"transaction":{"amount":1}}"#[..],
            br#"{"transaction":{"transaction_state_id":"three"}}"#,
            br#"{"transaction":{"transaction_state_id":3,"amount":12.5}}"#,
            br#"{"hash":"x"}"#,
        ] {
            assert!(parse_transaction(bad, "x").is_err());
        }
    }

    #[test]
    fn currency_rate_reply_is_eur() {
        let eur = |s: &str| Money::parse(s, Currency::EUR).unwrap();
        assert_eq!(parse_currency_rate(br#"{"amount":1187}"#), Ok(eur("11.87")));
        assert_eq!(
            parse_currency_rate(br#"{"amount":"1187"}"#),
            Ok(eur("11.87"))
        );
        assert_eq!(
            parse_currency_rate(br#"{"amount":"11.865"}"#),
            Ok(eur("11.87"))
        );
        assert_eq!(
            parse_currency_rate(br#"{"amount":"11.8"}"#),
            Ok(eur("11.80"))
        );
        // The local stand-in's reply.
        assert_eq!(
            parse_currency_rate(
                br#"{"amount":"13.13","amount_cents":1313,"rate":"1.05","currency":"CHF","currency_id":1}"#
            ),
            Ok(eur("13.13"))
        );
        for bad in [
            &br#"{"amount":11.87}"#[..],
            br#"{"amount":-5}"#,
            br#"{"amount":"-1.00"}"#,
            br#"{"amount":"1e3"}"#,
            br#"{"amount":null}"#,
            br#"{"rate":1.05}"#,
            b"nope",
        ] {
            assert!(parse_currency_rate(bad).is_err(), "{:?}", bad);
        }
        // The quote fills the limit error's message.
        let refused = crate::fees::cashcloud_check(
            crate::fees::CashcloudPlan::Corporate,
            &Money::parse("12.50", Currency::CHF).unwrap(),
            0,
        )
        .unwrap_err();
        let quoted = refused
            .with_eur_equivalent(parse_currency_rate(br#"{"amount":1187}"#).unwrap())
            .to_api_error();
        assert_eq!(quoted.code, "currency_not_supported");
        assert!(quoted.message.contains("11.87 EUR"), "{}", quoted.message);
    }

    #[test]
    fn errors_by_status() {
        assert_eq!(parse_error(403, b""), CashcloudError::Auth);
        assert!(parse_error(403, b"").needs_new_token());
        assert!(!parse_error(423, b"").needs_new_token());
        assert_eq!(parse_error(423, b"{}"), CashcloudError::Locked);
        assert_eq!(parse_error(404, b""), CashcloudError::NotFound);
        assert_eq!(
            parse_error(503, b""),
            CashcloudError::Unavailable { status: 503 }
        );
        assert_eq!(
            parse_error(400, b""),
            CashcloudError::Unexpected { status: 400 }
        );
        let api = |status, body: &[u8]| parse_error(status, body).to_api_error();
        assert_eq!(api(403, b"").status, 502);
        assert_eq!(api(423, b"").code, "provider_account_locked");
        assert_eq!(api(500, b"").status, 503);
        assert_eq!(api(404, b"").code, "provider_error");
    }

    #[test]
    fn validation_failures_keep_field_names_only() {
        let shapes: [&[u8]; 5] = [
            br#"{"validationFailed":{"email":"notFound"}}"#,
            br#"{"validationFailed":{"email":["notFound","invalid"]}}"#,
            br#"{"validationFailed":{"email":true}}"#,
            br#"{"validationFailed":["email.notFound"]}"#,
            br#"{"validationFailed":[{"email":"anna@example.com is not a user"}]}"#,
        ];
        for body in shapes {
            let e = parse_error(412, body);
            assert_eq!(
                e,
                CashcloudError::ValidationFailed {
                    fields: vec!["email".into()]
                },
                "{}",
                String::from_utf8_lossy(body)
            );
            let api = e.to_api_error();
            assert_eq!(
                (
                    api.status,
                    api.code.as_str(),
                    api.message.as_str(),
                    api.param.as_deref()
                ),
                (
                    400,
                    "wallet_user_unknown",
                    "We could not find that Cashcloud user.",
                    Some("cashcloud_username")
                )
            );
            assert!(!api.to_json().contains("anna"));
        }
        // Free text is never kept as a field name.
        let e = parse_error(
            412,
            br#"{"validationFailed":["anna@example.com is unknown","amount.tooLow"]}"#,
        );
        assert_eq!(
            e,
            CashcloudError::ValidationFailed {
                fields: vec!["amount".into()]
            }
        );
        assert_eq!(e.to_api_error().code, "invalid_amount");
        assert!(!format!("{e:?} {e}").contains("anna"));
        // Unreadable or other fields: the provider refused, nothing more is said.
        let e = parse_error(412, b"<html>");
        assert_eq!(e, CashcloudError::ValidationFailed { fields: vec![] });
        assert_eq!(e.to_api_error().code, "provider_error");
        let e = parse_error(412, br#"{"validationFailed":{"remark":"tooLong"}}"#);
        assert_eq!(e.to_api_error().status, 502);
    }
}
