//! Worldpay event notifications and their `Event-Signature` header: parsing never
//! panics, and a header is accepted only if one of its entries for our keyId carries
//! the exact HMAC of the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::secrets::Secret;
use shared::worldpay::webhook::{parse_notification, signature_hex, verify, KEY_ID};

fuzz_target!(|data: &[u8]| {
    let _ = parse_notification(data);
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let secret = Secret::new("fuzz-worldpay-secret");
    if verify(header, body, KEY_ID, &secret).is_ok() {
        let want = signature_hex(&secret, body);
        assert!(
            header.split(',').any(|e| {
                let p: Vec<&str> = e.trim().split('/').collect();
                p.len() == 3 && p[0] == KEY_ID && p[2].eq_ignore_ascii_case(&want)
            }),
            "accepted without our keyId's signature"
        );
    }
});
