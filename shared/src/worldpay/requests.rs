//! Request builders: our values in, one [`HttpRequest`] out. Paths are relative
//! (`payment_pages`, `api/payments/…`): the Worker joins them to the configured base
//! URL (`https://try.access.worldpay.com` or `https://access.worldpay.com`). Every
//! request carries `Authorization: Basic …`; every POST also carries
//! [`IDEMPOTENCY_HEADER`] from [`idempotency_key`].
//!
//! Two APIs with two ways of naming their version:
//! - the payments API (`api/payments/…`): `WP-Api-Version` and, with a body,
//!   `Content-Type: application/json`;
//! - the Hosted Payment Pages API (`payment_pages`): its media type
//!   [`HPP_MEDIA_TYPE`] as both `Content-Type` and `Accept`, no `WP-Api-Version`.

use serde::Serialize;

use crate::money::Money;

use crate::http::{HttpRequest, JSON_CONTENT_TYPE};

use super::{idempotency_key, Auth, BuildError, API_VERSION, IDEMPOTENCY_HEADER};

/// The Hosted Payment Pages API's media type, which is also its version: sent as
/// both `Content-Type` and `Accept` (Worldpay wants the two to match).
pub const HPP_MEDIA_TYPE: &str = "application/vnd.worldpay.payment_pages-v1.hal+json";

/// Longest `transactionReference` / settlement or refund `reference` we send.
pub const MAX_REFERENCE_LEN: usize = 64;
/// Worldpay prints `narrative.line1` on the cardholder's statement: at most 24
/// characters. Longer order references are cut.
pub const MAX_NARRATIVE_LEN: usize = 24;

/// Where Worldpay's hosted page sends the customer back to. `errorURL` gets
/// `failure`, `pendingURL` gets `success` (the page the customer lands on reads
/// the intent's real state either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnUrls<'a> {
    pub success: &'a str,
    pub failure: &'a str,
    pub cancel: &'a str,
}

impl<'a> ReturnUrls<'a> {
    /// The same URL for every outcome (API.md's one `return_url`).
    pub fn all(url: &'a str) -> ReturnUrls<'a> {
        ReturnUrls {
            success: url,
            failure: url,
            cancel: url,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentPageBody<'a> {
    transaction_reference: &'a str,
    merchant: Merchant<'a>,
    narrative: Narrative,
    value: Value,
    #[serde(rename = "resultURLs")]
    result_urls: ResultUrls<'a>,
    settlement: Settlement,
}

#[derive(Serialize)]
struct Merchant<'a> {
    entity: &'a str,
}

#[derive(Serialize)]
struct Narrative {
    line1: String,
}

/// `{amount, currency}`: minor units and the ISO 4217 code.
#[derive(Serialize)]
struct Value {
    amount: i64,
    currency: &'static str,
}

impl Value {
    fn of(amount: &Money) -> Result<Value, BuildError> {
        if amount.is_zero() {
            return Err(BuildError::ZeroAmount);
        }
        Ok(Value {
            amount: amount.to_minor_units(),
            currency: amount.currency().code(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultUrls<'a> {
    #[serde(rename = "successURL")]
    success: &'a str,
    #[serde(rename = "failureURL")]
    failure: &'a str,
    #[serde(rename = "cancelURL")]
    cancel: &'a str,
    #[serde(rename = "errorURL")]
    error: &'a str,
    #[serde(rename = "pendingURL")]
    pending: &'a str,
}

#[derive(Serialize)]
struct Settlement {
    auto: bool,
}

#[derive(Serialize)]
struct AmountAndReference<'a> {
    value: Value,
    reference: &'a str,
}

/// `POST payment_pages` (Worldpay's Hosted Payment Pages API, PROVIDERS.md): a
/// hosted payment page for one of our intents; 3DS happens on the page. Headers:
/// `Authorization`, `Content-Type` and `Accept` both [`HPP_MEDIA_TYPE`], and
/// [`IDEMPOTENCY_HEADER`]; no `WP-Api-Version`.
///
/// We ask for a reservation only (`settlement.auto=false`). Worldpay's guide says
/// HPP payments are auto-settled by default, and whether a hold can be requested
/// per payment (this field) or is an account setting is unverified: if it is an
/// account setting, drop the field here. The Worldpay stand-in implements this
/// request exactly.
///
/// Body (fields in this order):
/// `{"transactionReference": our_intent_id, "merchant": {"entity"},
///   "narrative": {"line1": order reference or intent id, ≤ 24 chars},
///   "value": {"amount": minor units, "currency": "EUR"},
///   "resultURLs": {"successURL", "failureURL", "cancelURL", "errorURL", "pendingURL"},
///   "settlement": {"auto": false}}`.
/// Reply: [`super::wire::parse_hosted_page`].
pub fn hosted_payment_page(
    auth: &Auth,
    our_intent_id: &str,
    amount: &Money,
    order_reference: Option<&str>,
    return_urls: &ReturnUrls,
    entity: &str,
    attempt: u32,
) -> Result<HttpRequest, BuildError> {
    check_reference("transactionReference", our_intent_id)?;
    check_text("entity", entity, 64)?;
    for url in [return_urls.success, return_urls.failure, return_urls.cancel] {
        check_url(url)?;
    }
    let line1 = match order_reference {
        Some(r) => {
            check_text("order_reference", r, 255)?;
            r
        }
        None => our_intent_id,
    };
    let body = PaymentPageBody {
        transaction_reference: our_intent_id,
        merchant: Merchant { entity },
        narrative: Narrative {
            line1: line1.chars().take(MAX_NARRATIVE_LEN).collect(),
        },
        value: Value::of(amount)?,
        result_urls: ResultUrls {
            success: return_urls.success,
            failure: return_urls.failure,
            cancel: return_urls.cancel,
            error: return_urls.failure,
            pending: return_urls.success,
        },
        settlement: Settlement { auto: false },
    };
    // Per attempt: after a refused card the customer gets a fresh page, while a
    // retried request of the same attempt replays the first page.
    let key = crate::http::idempotency_key(our_intent_id, "payment_page", Some(attempt));
    let headers = vec![
        ("Authorization".to_owned(), auth.header_value()),
        ("Content-Type".to_owned(), HPP_MEDIA_TYPE.to_owned()),
        ("Accept".to_owned(), HPP_MEDIA_TYPE.to_owned()),
        (IDEMPOTENCY_HEADER.to_owned(), key),
    ];
    Ok(HttpRequest {
        method: "POST",
        path: "payment_pages".to_owned(),
        headers,
        body: json(&body),
    })
}

/// `GET api/payments/{payment_id}`: the payment's state
/// ([`super::wire::parse_status`]).
pub fn status(auth: &Auth, payment_id: &str) -> Result<HttpRequest, BuildError> {
    check_payment_id(payment_id)?;
    Ok(HttpRequest::get(
        format!("api/payments/{payment_id}"),
        base_headers(auth),
    ))
}

/// `POST api/payments/{id}/partialSettlements` `{value, reference}`: our capture of
/// `amount` (at most the reserved amount). `reference` is our intent id: one
/// capture per intent, so it also keys the request (`{reference}:settle`).
pub fn partial_settlement(
    auth: &Auth,
    payment_id: &str,
    amount: &Money,
    reference: &str,
) -> Result<HttpRequest, BuildError> {
    amount_post(
        auth,
        payment_id,
        amount,
        reference,
        "partialSettlements",
        "settle",
    )
}

/// `POST api/payments/{id}/settlements` with no body: settle everything reserved.
/// Keyed `{our_intent_id}:settle`, the same as a partial settlement of this intent:
/// an intent is captured once, whichever way.
pub fn settle(
    auth: &Auth,
    payment_id: &str,
    our_intent_id: &str,
) -> Result<HttpRequest, BuildError> {
    bodyless_post(auth, payment_id, our_intent_id, "settlements", "settle")
}

/// `POST api/payments/{id}/cancellations` with no body: release the reservation.
/// Keyed `{our_intent_id}:cancel`.
pub fn cancel(
    auth: &Auth,
    payment_id: &str,
    our_intent_id: &str,
) -> Result<HttpRequest, BuildError> {
    bodyless_post(auth, payment_id, our_intent_id, "cancellations", "cancel")
}

/// `POST api/payments/{id}/partialRefunds` `{value, reference}`. `reference` is our
/// refund id (`re_…`), which also keys the request (`{reference}:refund`).
pub fn partial_refund(
    auth: &Auth,
    payment_id: &str,
    amount: &Money,
    reference: &str,
) -> Result<HttpRequest, BuildError> {
    amount_post(
        auth,
        payment_id,
        amount,
        reference,
        "partialRefunds",
        "refund",
    )
}

/// `POST api/payments/{id}/{action}` `{value, reference}`, keyed `{reference}:{operation}`.
fn amount_post(
    auth: &Auth,
    payment_id: &str,
    amount: &Money,
    reference: &str,
    action: &str,
    operation: &str,
) -> Result<HttpRequest, BuildError> {
    check_payment_id(payment_id)?;
    check_reference("reference", reference)?;
    let body = AmountAndReference {
        value: Value::of(amount)?,
        reference,
    };
    let key = idempotency_key(reference, operation);
    Ok(post(
        auth,
        format!("api/payments/{payment_id}/{action}"),
        &body,
        &key,
    ))
}

fn bodyless_post(
    auth: &Auth,
    payment_id: &str,
    our_intent_id: &str,
    action: &str,
    operation: &str,
) -> Result<HttpRequest, BuildError> {
    check_payment_id(payment_id)?;
    check_reference("our_intent_id", our_intent_id)?;
    Ok(HttpRequest {
        method: "POST",
        path: format!("api/payments/{payment_id}/{action}"),
        headers: base_headers(auth),
        body: String::new(),
    }
    .with_header(
        IDEMPOTENCY_HEADER,
        idempotency_key(our_intent_id, operation),
    ))
}

fn base_headers(auth: &Auth) -> Vec<(String, String)> {
    vec![
        ("Authorization".to_owned(), auth.header_value()),
        ("WP-Api-Version".to_owned(), API_VERSION.to_owned()),
    ]
}

fn post<T: Serialize>(auth: &Auth, path: String, body: &T, key: &str) -> HttpRequest {
    HttpRequest {
        method: "POST",
        path,
        headers: base_headers(auth),
        body: json(body),
    }
    .with_header("Content-Type", JSON_CONTENT_TYPE)
    .with_header(IDEMPOTENCY_HEADER, key)
}

fn json<T: Serialize>(body: &T) -> String {
    serde_json::to_string(body).expect("plain structs serialise")
}

/// A Worldpay payment id goes into a path: only RFC 3986 path characters that
/// need no escaping and cannot end the segment.
fn check_payment_id(id: &str) -> Result<(), BuildError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidPaymentId)
    }
}

/// Our ids as Worldpay references: `[A-Za-z0-9_-]`, 1 to 64 characters.
fn check_reference(field: &'static str, s: &str) -> Result<(), BuildError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_REFERENCE_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidField { field })
    }
}

/// Free text: non-blank, at most `max` characters, no control characters.
fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), BuildError> {
    let ok = !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidField { field })
    }
}

/// An absolute http(s) URL without whitespace or control characters.
fn check_url(url: &str) -> Result<(), BuildError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| !r.is_empty())
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidField {
            field: "return_url",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::secrets::Secret;

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    fn with_auth<T>(f: impl FnOnce(&Auth) -> T) -> T {
        let (u, p) = (Secret::new("user"), Secret::new("pass"));
        f(&Auth::new(&u, &p))
    }

    const BASIC: &str = "Basic dXNlcjpwYXNz";

    fn headers(r: &HttpRequest) -> Vec<(&str, &str)> {
        r.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn hosted_payment_page_exact_request() {
        let urls = ReturnUrls {
            success: "https://shop.example/ok",
            failure: "https://shop.example/fail",
            cancel: "https://shop.example/cancel",
        };
        let r = with_auth(|a| {
            hosted_payment_page(
                a,
                "pi_abc",
                &eur("12.50"),
                Some("Mamut order 42"),
                &urls,
                "default",
                1,
            )
        })
        .unwrap();
        // Worldpay's path, not one of ours under `api/`; its media type both ways.
        assert_eq!((r.method, r.path.as_str()), ("POST", "payment_pages"));
        assert_eq!(
            headers(&r),
            vec![
                ("Authorization", BASIC),
                (
                    "Content-Type",
                    "application/vnd.worldpay.payment_pages-v1.hal+json"
                ),
                (
                    "Accept",
                    "application/vnd.worldpay.payment_pages-v1.hal+json"
                ),
                ("Idempotency-Key", "pi_abc:payment_page:1"),
            ]
        );
        assert_eq!(
            r.body,
            concat!(
                r#"{"transactionReference":"pi_abc","merchant":{"entity":"default"},"#,
                r#""narrative":{"line1":"Mamut order 42"},"value":{"amount":1250,"currency":"EUR"},"#,
                r#""resultURLs":{"successURL":"https://shop.example/ok","failureURL":"https://shop.example/fail","#,
                r#""cancelURL":"https://shop.example/cancel","errorURL":"https://shop.example/fail","#,
                r#""pendingURL":"https://shop.example/ok"},"settlement":{"auto":false}}"#
            )
        );
        assert!(!format!("{r:?}").contains("dXNlcjpwYXNz"));
    }

    #[test]
    fn hosted_page_narrative_defaults_and_is_cut() {
        let urls = ReturnUrls::all("http://127.0.0.1:8787/return");
        let jpy = Money::parse("500", Currency::JPY).unwrap();
        let r = with_auth(|a| hosted_payment_page(a, "pi_x", &jpy, None, &urls, "e", 1)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["narrative"]["line1"], "pi_x");
        assert_eq!(
            v["value"],
            serde_json::json!({"amount": 500, "currency": "JPY"})
        );
        let long = "Order 1234567890123456789012345";
        let r =
            with_auth(|a| hosted_payment_page(a, "pi_x", &jpy, Some(long), &urls, "e", 1)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["narrative"]["line1"], &long[..24]);
    }

    #[test]
    fn hosted_page_refuses_bad_fields() {
        let good = ReturnUrls::all("https://shop.example/r");
        let run = |id: &str, amount: Money, order: Option<&str>, urls: ReturnUrls, entity: &str| {
            with_auth(|a| hosted_payment_page(a, id, &amount, order, &urls, entity, 1)).unwrap_err()
        };
        assert_eq!(
            run("pi_1", Money::zero(Currency::EUR), None, good, "e"),
            BuildError::ZeroAmount
        );
        assert_eq!(
            run("pi/1", eur("1.00"), None, good, "e"),
            BuildError::InvalidField {
                field: "transactionReference"
            }
        );
        assert_eq!(
            run("pi_1", eur("1.00"), None, good, ""),
            BuildError::InvalidField { field: "entity" }
        );
        assert_eq!(
            run("pi_1", eur("1.00"), Some("a\nb"), good, "e"),
            BuildError::InvalidField {
                field: "order_reference"
            }
        );
        for url in [
            "javascript:alert(1)",
            "https://",
            "https://a b",
            "/relative",
        ] {
            assert_eq!(
                run("pi_1", eur("1.00"), None, ReturnUrls::all(url), "e"),
                BuildError::InvalidField {
                    field: "return_url"
                },
                "{url}"
            );
        }
    }

    #[test]
    fn status_exact_request() {
        let r = with_auth(|a| status(a, "pay_123")).unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            ("GET", "api/payments/pay_123", "")
        );
        assert_eq!(
            headers(&r),
            vec![("Authorization", BASIC), ("WP-Api-Version", "2024-06-01")]
        );
    }

    #[test]
    fn partial_settlement_exact_request() {
        let r = with_auth(|a| partial_settlement(a, "pay_123", &eur("7.05"), "pi_abc")).unwrap();
        assert_eq!(
            (r.method, r.path.as_str()),
            ("POST", "api/payments/pay_123/partialSettlements")
        );
        assert_eq!(
            r.body,
            r#"{"value":{"amount":705,"currency":"EUR"},"reference":"pi_abc"}"#
        );
        assert_eq!(r.header("idempotency-key"), Some("pi_abc:settle"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("wp-api-version"), Some("2024-06-01"));
    }

    #[test]
    fn settle_and_cancel_exact_requests() {
        let r = with_auth(|a| settle(a, "pay_123", "pi_abc")).unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            ("POST", "api/payments/pay_123/settlements", "")
        );
        assert_eq!(
            headers(&r),
            vec![
                ("Authorization", BASIC),
                ("WP-Api-Version", "2024-06-01"),
                ("Idempotency-Key", "pi_abc:settle"),
            ]
        );
        let r = with_auth(|a| cancel(a, "pay_123", "pi_abc")).unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            ("POST", "api/payments/pay_123/cancellations", "")
        );
        assert_eq!(r.header("Idempotency-Key"), Some("pi_abc:cancel"));
    }

    #[test]
    fn partial_refund_exact_request() {
        let r = with_auth(|a| partial_refund(a, "pay_123", &eur("2.00"), "re_9")).unwrap();
        assert_eq!(
            (r.method, r.path.as_str()),
            ("POST", "api/payments/pay_123/partialRefunds")
        );
        assert_eq!(
            r.body,
            r#"{"value":{"amount":200,"currency":"EUR"},"reference":"re_9"}"#
        );
        assert_eq!(r.header("Idempotency-Key"), Some("re_9:refund"));
    }

    #[test]
    fn payment_ids_cannot_leave_their_path_segment() {
        for bad in ["", ".", "..", "a/b", "a?b", "a#b", "a%2f", "a b", "a\n"] {
            assert_eq!(
                with_auth(|a| status(a, bad)).unwrap_err(),
                BuildError::InvalidPaymentId,
                "{bad:?}"
            );
        }
        let long = "a".repeat(1025);
        assert!(with_auth(|a| status(a, &long)).is_err());
        for good in ["pay_1", "eyJrIjoiazNhYjYzMiJ9==", "a.b-c~d:e"] {
            assert!(with_auth(|a| status(a, good)).is_ok(), "{good}");
        }
        assert_eq!(
            with_auth(|a| partial_refund(a, "p", &Money::zero(Currency::EUR), "re_1")).unwrap_err(),
            BuildError::ZeroAmount
        );
        assert_eq!(
            with_auth(|a| cancel(a, "p", "")).unwrap_err(),
            BuildError::InvalidField {
                field: "our_intent_id"
            }
        );
    }
}
