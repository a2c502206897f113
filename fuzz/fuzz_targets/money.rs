//! Amounts from outside (API bodies): whatever parses is a non-negative amount with no
//! more places than its currency has, and writing it back and parsing again gives it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::money::{Currency, Money};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for c in Currency::ALL {
        if let Ok(m) = Money::parse(s, c) {
            let text = m.to_amount_string();
            let again = Money::parse(&text, c).expect("a written amount parses");
            assert_eq!(again, m, "{s:?} -> {text:?}");
            assert_eq!(again.to_amount_string(), text);
            let places = text.split_once('.').map_or(0, |(_, f)| f.len());
            assert!(places <= c.exponent() as usize, "{text} in {c:?}");
            assert!(!text.starts_with('-'));
        }
    }
});
