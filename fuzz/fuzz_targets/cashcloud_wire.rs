//! Cashcloud's API replies (salt, request and refund replies, transactions, currency
//! rates, errors): reading never panics; a salt or hash is never empty; a transaction
//! is accepted only if it is the one asked about; a rate is a non-negative EUR amount
//! that reads back from both of its written forms; a 412 keeps only identifier-like
//! field names, once each, which written back read the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shared::cashcloud::wire::{
    parse_currency_rate, parse_error, parse_refund_reply, parse_request_reply, parse_salt,
    parse_transaction, CashcloudError,
};
use shared::money::Currency;

const HASH: &str = "h";

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = parse_salt(data) {
        assert!(!s.is_empty());
    }
    if let Ok(h) = parse_request_reply(data) {
        assert!(!h.is_empty());
    }
    if let Ok(Some(h)) = parse_refund_reply(data) {
        assert!(!h.is_empty());
    }
    if let Ok(t) = parse_transaction(data, HASH) {
        assert!(t.hash.as_deref().is_none_or(|h| h == HASH), "{:?}", t.hash);
    }
    if let Ok(m) = parse_currency_rate(data) {
        assert_eq!(m.currency(), Currency::EUR);
        let text = m.to_amount_string();
        assert!(!text.starts_with('-'));
        // Euros as a decimal string, or cents as a number: the same amount.
        let euros = json!({ "amount": text }).to_string();
        let cents = json!({ "amount": m.to_minor_units() }).to_string();
        assert_eq!(parse_currency_rate(euros.as_bytes()), Ok(m));
        assert_eq!(parse_currency_rate(cents.as_bytes()), Ok(m));
    }
    for status in [400, 403, 404, 412, 423, 500] {
        let e = parse_error(status, data);
        assert!((400..=599).contains(&e.to_api_error().status));
        if let CashcloudError::ValidationFailed { fields } = &e {
            for (i, f) in fields.iter().enumerate() {
                assert!(!f.is_empty() && f.len() <= 64);
                assert!(f
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
                assert!(!fields[..i].contains(f), "{f} twice");
            }
            let written = json!({ "validationFailed": fields }).to_string();
            assert_eq!(parse_error(status, written.as_bytes()), e);
        }
    }
});
