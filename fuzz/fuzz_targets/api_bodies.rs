//! Our API's request bodies: whatever JSON a client sends, decoding and validation
//! never panic, and an accepted body written back decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::api::{
    AdminUpdateMerchant, ConfirmRequest, CreateMerchant, CreatePaymentIntent, CreateRefund,
    CreateWebhookEndpoint, UpdateMerchant,
};

macro_rules! round_trip {
    ($data:expr, $ty:ty) => {
        if let Ok(v) = serde_json::from_slice::<$ty>($data) {
            let text = serde_json::to_string(&v).expect("a decoded body encodes");
            let again: $ty = serde_json::from_str(&text).expect("an encoded body decodes");
            assert_eq!(again, v);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<CreatePaymentIntent>(data) {
        let _ = v.validate();
    }
    if let Ok(v) = serde_json::from_slice::<CreateMerchant>(data) {
        let _ = v.validate();
    }
    if let Ok(v) = serde_json::from_slice::<UpdateMerchant>(data) {
        let _ = v.validate();
    }
    if let Ok(v) = serde_json::from_slice::<AdminUpdateMerchant>(data) {
        let _ = v.validate();
    }
    round_trip!(data, CreateRefund);
    round_trip!(data, CreateWebhookEndpoint);
    round_trip!(data, AdminUpdateMerchant);
    let _ = serde_json::from_slice::<ConfirmRequest>(data);
});
