//! The widget's reading of the Worker's answers (`checkout-wasm/src/model.rs`, the
//! same code the browser runs, fed by a plain JSON parse here instead of the
//! browser's): reading never panics; whatever the Worker's own types accept as an
//! intent or a checkout answer, the widget reads too, and reads the same.
#![no_main]
use checkout_wasm::model::{read_checkout, read_error_message, Intent, Json, NextAction, Setup};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The browser's `JSON.parse` result, as the widget sees it: null is absent.
struct J(Value);

impl Json for J {
    fn field(&self, name: &str) -> Option<Self> {
        self.0.get(name).filter(|v| !v.is_null()).cloned().map(J)
    }
    fn text(&self) -> Option<String> {
        self.0.as_str().map(str::to_owned)
    }
    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }
}

fn same_intent(ours: &Intent, theirs: &shared::api::PaymentIntent) {
    assert_eq!(ours.id, theirs.id);
    assert_eq!(ours.status, theirs.status);
    assert_eq!(ours.amount, theirs.amount);
    assert_eq!(ours.currency, theirs.currency.code());
    let want = theirs.next_action.clone().map(|a| match a {
        shared::api::NextAction::ThreeDSecure {
            provider_client_secret,
        } => NextAction::ThreeDSecure {
            provider_client_secret,
        },
        shared::api::NextAction::Redirect { url } => NextAction::Redirect { url },
        shared::api::NextAction::AwaitWalletApproval { expires_at } => {
            NextAction::AwaitWalletApproval {
                expires_at_ms: Some(expires_at as f64 * 1000.0),
            }
        }
    });
    assert_eq!(ours.next_action, want);
    assert_eq!(
        ours.last_error,
        theirs.last_error.as_ref().map(|e| e.message.clone())
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let j = J(v.clone());
    let intent = Intent::read(&j);
    let checkout = read_checkout(&j);
    if let Some(m) = read_error_message(&j) {
        assert_eq!(v["error"]["message"].as_str(), Some(m.as_str()));
    }
    if let Some(i) = &intent {
        assert_eq!(v["id"].as_str(), Some(i.id.as_str()));
        assert_eq!(v["amount"].as_str(), Some(i.amount.as_str()));
    }
    if let Ok(theirs) = serde_json::from_slice::<shared::api::PaymentIntent>(data) {
        same_intent(
            intent.as_ref().expect("the widget reads any intent"),
            &theirs,
        );
    }
    if let Ok(theirs) = serde_json::from_slice::<shared::api::Checkout>(data) {
        let (i, setup) = checkout.expect("the widget reads any checkout answer");
        same_intent(&i, &theirs.payment_intent);
        let want = match theirs.provider {
            shared::api::ProviderSetup::Stripe {
                js_url,
                publishable_key,
                account,
            } => Setup::Stripe {
                js_url,
                publishable_key,
                account,
            },
            shared::api::ProviderSetup::Worldpay => Setup::Worldpay,
            shared::api::ProviderSetup::Cashcloud => Setup::Cashcloud,
        };
        assert_eq!(setup, want);
    }
});
