//! Worldpay's API replies (payment status, hosted page, errors): reading never
//! panics; an accepted status agrees with a plain JSON reading and its event name
//! reads back to itself; a hosted page is accepted only for our reference and with an
//! absolute http(s) URL free of whitespace; an error keeps only its name and paths
//! (written back, they read the same) and our answer is a 4xx/5xx.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use shared::worldpay::wire::{
    parse_error, parse_hosted_page, parse_status, WorldpayError, WorldpayEvent,
};

const OURS: &str = "pi_1";

fuzz_target!(|data: &[u8]| {
    // Where a plain reading refuses the bytes (a lone surrogate in an ignored field,
    // which serde skips unchecked: see stripe_wire), there is nothing to compare.
    let plain: Option<Value> = serde_json::from_slice(data).ok();
    if let (Ok(s), Some(v)) = (parse_status(data), &plain) {
        assert_eq!(v["value"]["amount"].as_i64(), Some(s.value.amount));
        assert_eq!(
            v["value"]["currency"].as_str(),
            Some(s.value.currency.as_str())
        );
        assert_eq!(v["lastEvent"].as_str(), Some(s.last_event.as_str()));
        assert_eq!(
            WorldpayEvent::from_name(s.last_event.as_str()),
            s.last_event
        );
        for rel in s.links.keys() {
            assert_eq!(s.link(rel), v["_links"][rel]["href"].as_str());
        }
        assert_eq!(
            s.belongs_to(OURS),
            v.get("transactionReference")
                .is_none_or(|r| r.is_null() || r.as_str() == Some(OURS))
        );
    }

    if let Ok(page) = parse_hosted_page(data, OURS) {
        assert_eq!(page.transaction_reference, OURS);
        assert!(page.url.starts_with("https://") || page.url.starts_with("http://"));
        assert!(!page
            .url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control()));
    }

    // The body is read the same whatever the status; the status only picks our answer.
    let e = parse_error(400, data);
    let written = json!({
        "errorName": e.error_name,
        "message": "not kept",
        "validationErrors": e.invalid_paths.iter().map(|p| json!({"jsonPath": p})).collect::<Vec<_>>(),
    });
    assert_eq!(parse_error(400, written.to_string().as_bytes()), e);
    for status in [400, 401, 402, 409, 422, 429, 500] {
        let e = WorldpayError {
            status,
            ..e.clone()
        };
        let api = e.to_api_error();
        assert!((400..=599).contains(&api.status), "{api:?}");
    }
});
