//! Stripe events and their `Stripe-Signature` header: parsing never panics, and a
//! header is accepted only if it carries the exact v1 of (t, body) under our secret —
//! no forged signature is ever accepted.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::secrets::Secret;
use shared::stripe::webhook::{signature_hex, verify};

const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = shared::stripe::events::parse_event(data);
    // First line: the header; the rest: the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let secret = Secret::new("whsec_fuzz_secret");
    if verify(header, body, &secret, NOW, 300).is_ok() {
        let t = header
            .split(',')
            .find_map(|kv| kv.split_once('=').filter(|(k, _)| k.trim() == "t"))
            .map(|(_, v)| v.trim())
            .expect("an accepted header has t");
        let t: i64 = t.parse().expect("an accepted t is a number");
        let want = signature_hex(&secret, t, body);
        assert!(
            header.split(',').any(|kv| kv
                .split_once('=')
                .is_some_and(|(k, v)| k.trim() == "v1" && v.trim().eq_ignore_ascii_case(&want))),
            "accepted without the right v1"
        );
        assert!((NOW - t).abs() <= 300);
    }
});
