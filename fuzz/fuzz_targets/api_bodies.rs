//! Our API's request bodies: whatever JSON a client sends, decoding and validation
//! never panic, and an accepted body written back decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::api::{
    AdminUpdateMerchant, ConfirmRequest, CreateMerchant, CreatePaymentIntent, CreateRefund,
    CreateWebhookEndpoint, UpdateMerchant,
};
use shared::billing::{
    AdvanceTestClock, CancelSubscription, CreateCustomer, CreateSetupIntent, CreateSubscription,
    CreateTestClock,
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
    // Billing: an accepted subscription has a positive amount in its currency and an
    // interval count within the interval's bounds; the others round-trip.
    if let Ok(v) = serde_json::from_slice::<CreateSubscription>(data) {
        if let Ok(n) = v.validate(1_800_000_000) {
            assert!(!n.amount.is_zero() && n.amount.amount().is_sign_positive());
            assert!((1..=36).contains(&n.interval_count));
            assert!(v.trial_end.is_none_or(|t| t > 1_800_000_000));
        }
    }
    if let Ok(v) = serde_json::from_slice::<CreateCustomer>(data) {
        if v.validate().is_ok() {
            assert!(v.email.contains('@') && !v.email.contains(char::is_whitespace));
        }
    }
    if let Ok(v) = serde_json::from_slice::<CreateSetupIntent>(data) {
        if v.validate().is_ok() {
            assert!(shared::billing::is_id(&v.customer, "cus_"));
        }
    }
    round_trip!(data, CreateSubscription);
    round_trip!(data, CreateCustomer);
    round_trip!(data, CancelSubscription);
    round_trip!(data, CreateTestClock);
    round_trip!(data, AdvanceTestClock);
});
