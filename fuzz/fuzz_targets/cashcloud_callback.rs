//! Cashcloud callbacks (form bodies with a control hash): parsing and verification
//! never panic, and a callback whose fields parse twice the same way is read the
//! same way (the parser is a function of the bytes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::cashcloud::callback::{verify_callback, CallbackFields};
use shared::secrets::Secret;

fuzz_target!(|data: &[u8]| {
    let Ok(fields) = CallbackFields::parse(data) else {
        return;
    };
    let again = CallbackFields::parse(data).expect("the same bytes parse again");
    assert_eq!(fields, again);
    let _ = verify_callback(
        &fields,
        &Secret::new("fuzz-api-password"),
        1_700_000_000,
        300,
    );
});
