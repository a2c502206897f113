//! The few fields of the Worker's JSON the widget reads (API.md's intent and the
//! `…/checkout` answer), read field by field instead of through serde: serde and its
//! derives cost the widget a third of its bytes. A native test reads what the domain
//! crate writes, so the two cannot drift apart.

use shared::intent::IntentStatus;

/// A JSON object, as the browser or a test hands it over.
pub trait Json: Sized {
    fn field(&self, name: &str) -> Option<Self>;
    fn text(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;

    fn text_at(&self, name: &str) -> Option<String> {
        self.field(name).and_then(|v| v.text())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    pub id: String,
    pub status: IntentStatus,
    /// The API's exact decimal string.
    pub amount: String,
    pub currency: String,
    pub next_action: Option<NextAction>,
    /// The Worker's sentence about the last failed attempt (English).
    pub last_error: Option<String>,
    /// A SetupIntent's saved card, `pm_…` (save-card mode: no amount, nothing charged).
    pub payment_method: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NextAction {
    ThreeDSecure {
        provider_client_secret: String,
    },
    Redirect {
        url: String,
    },
    /// Cashcloud: when the money request expires, in ms since the epoch.
    AwaitWalletApproval {
        expires_at_ms: Option<f64>,
    },
}

/// The provider's browser-side set-up.
#[derive(Clone, Debug, PartialEq)]
pub enum Setup {
    Stripe {
        js_url: String,
        publishable_key: String,
        account: Option<String>,
    },
    Worldpay,
    Cashcloud,
}

impl Intent {
    pub fn read(v: &impl Json) -> Option<Intent> {
        let next_action = v
            .field("next_action")
            .and_then(|a| match a.text_at("type")?.as_str() {
                "three_d_secure" => Some(NextAction::ThreeDSecure {
                    provider_client_secret: a.text_at("provider_client_secret")?,
                }),
                "redirect" => Some(NextAction::Redirect {
                    url: a.text_at("url")?,
                }),
                "await_wallet_approval" => Some(NextAction::AwaitWalletApproval {
                    expires_at_ms: a
                        .field("expires_at")
                        .and_then(|e| e.number())
                        .map(|s| s * 1000.0),
                }),
                _ => None,
            });
        let id = v.text_at("id")?;
        let (amount, currency) = if id.starts_with("seti_") {
            Default::default()
        } else {
            (v.text_at("amount")?, v.text_at("currency")?)
        };
        Some(Intent {
            id,
            status: v.text_at("status")?.parse().ok()?,
            amount,
            currency,
            next_action,
            last_error: v.field("last_error").and_then(|e| e.text_at("message")),
            payment_method: v.text_at("payment_method"),
        })
    }
}

/// `GET /v1/payment_intents/{id}/checkout` (or `/v1/setup_intents/{id}/checkout`): the
/// intent and its provider's set-up.
pub fn read_checkout(v: &impl Json) -> Option<(Intent, Setup)> {
    let intent = Intent::read(
        &v.field("payment_intent")
            .or_else(|| v.field("setup_intent"))?,
    )?;
    let p = v.field("provider")?;
    let setup = match p.text_at("type")?.as_str() {
        "stripe" => Setup::Stripe {
            js_url: p.text_at("js_url")?,
            publishable_key: p.text_at("publishable_key")?,
            account: p.text_at("account"),
        },
        "worldpay" => Setup::Worldpay,
        "cashcloud" => Setup::Cashcloud,
        _ => return None,
    };
    Some((intent, setup))
}

/// A refusal's `{"error": {"message": …}}`: the sentence the widget shows.
pub fn read_error_message(v: &impl Json) -> Option<String> {
    v.field("error")?.text_at("message")
}

impl Json for wasm_bindgen::JsValue {
    fn field(&self, name: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        js_sys::Reflect::get(self, &name.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }
    fn text(&self) -> Option<String> {
        self.as_string()
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    impl Json for Value {
        fn field(&self, name: &str) -> Option<Self> {
            self.get(name).filter(|v| !v.is_null()).cloned()
        }
        fn text(&self) -> Option<String> {
            self.as_str().map(str::to_owned)
        }
        fn number(&self) -> Option<f64> {
            self.as_f64()
        }
    }

    fn intent_json(next_action: Value) -> Value {
        json!({
            "id": "pi_1", "client_secret": "pi_1_secret_x", "status": "requires_action",
            "amount": "1234.50", "currency": "CHF", "amount_capturable": "0.00",
            "amount_received": "0.00", "amount_refunded": "0.00", "platform_fee": "0.50",
            "provider": "stripe", "provider_reference": null, "capture_method": "automatic",
            "next_action": next_action, "last_error": {"code": "payment_failed", "message": "Declined."},
            "created": 1, "livemode": false
        })
    }

    #[test]
    fn reads_what_the_domain_crate_writes() {
        // The Worker's own types, serialised as the Worker does.
        for action in [
            shared::api::NextAction::ThreeDSecure {
                provider_client_secret: "pi_s_secret".into(),
            },
            shared::api::NextAction::Redirect {
                url: "https://pay.example/x".into(),
            },
            shared::api::NextAction::AwaitWalletApproval { expires_at: 1_700 },
        ] {
            let v = intent_json(serde_json::to_value(&action).unwrap());
            let shared: shared::api::PaymentIntent = serde_json::from_value(v.clone()).unwrap();
            let ours = Intent::read(&v).unwrap();
            assert_eq!(ours.status, shared.status);
            assert_eq!(ours.amount, shared.amount);
            assert_eq!(ours.currency, shared.currency.code());
            assert_eq!(ours.last_error.as_deref(), Some("Declined."));
            let want = match action {
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
            };
            assert_eq!(ours.next_action, Some(want));
        }
        for setup in [
            shared::api::ProviderSetup::Stripe {
                js_url: "https://js.stripe.com/v3/".into(),
                publishable_key: "pk_test_1".into(),
                account: Some("acct_1".into()),
            },
            shared::api::ProviderSetup::Worldpay,
            shared::api::ProviderSetup::Cashcloud,
        ] {
            let v = json!({"payment_intent": intent_json(Value::Null), "provider": setup});
            let (intent, ours) = read_checkout(&v).unwrap();
            assert_eq!(intent.next_action, None);
            let want = match setup {
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
            assert_eq!(ours, want);
        }
    }

    #[test]
    fn reads_a_setup_intent_as_the_domain_crate_writes_it() {
        use shared::billing::{SetupCheckout, SetupIntent, SetupIntentStatus};
        let mut seti = SetupIntent {
            id: "seti_1".into(),
            object: "setup_intent".into(),
            client_secret: "seti_1_secret_x".into(),
            status: SetupIntentStatus::Succeeded,
            customer: Some("cus_1".into()),
            payment_method: Some("pm_1".into()),
            usage: "off_session".into(),
            next_action: None,
            last_error: None,
            created: 1,
            livemode: false,
        };
        let v = serde_json::to_value(SetupCheckout {
            setup_intent: seti.clone(),
            provider: shared::api::ProviderSetup::Stripe {
                js_url: "https://js.stripe.com/v3/".into(),
                publishable_key: "pk_test_1".into(),
                account: None,
            },
        })
        .unwrap();
        let (intent, setup) = read_checkout(&v).unwrap();
        assert_eq!(intent.status, IntentStatus::Succeeded);
        assert_eq!(intent.payment_method.as_deref(), Some("pm_1"));
        // Saving a card charges nothing: no amount to read.
        assert_eq!((intent.amount.as_str(), intent.currency.as_str()), ("", ""));
        assert!(matches!(setup, Setup::Stripe { account: None, .. }));
        seti.status = SetupIntentStatus::RequiresAction;
        seti.next_action = Some(shared::api::NextAction::ThreeDSecure {
            provider_client_secret: "seti_S_secret_s".into(),
        });
        seti.last_error = Some(shared::api::LastError {
            code: "card_declined".into(),
            message: "Declined.".into(),
        });
        let read = Intent::read(&serde_json::to_value(&seti).unwrap()).unwrap();
        assert_eq!(read.status, IntentStatus::RequiresAction);
        assert_eq!(
            read.next_action,
            Some(NextAction::ThreeDSecure {
                provider_client_secret: "seti_S_secret_s".into()
            })
        );
        assert_eq!(read.last_error.as_deref(), Some("Declined."));
        // A payment intent still needs its amount.
        assert_eq!(
            Intent::read(&json!({"id": "pi_1", "status": "succeeded"})),
            None
        );
    }

    #[test]
    fn an_answer_without_the_needed_fields_is_refused() {
        let mut v = intent_json(Value::Null);
        v["status"] = json!("paid");
        assert_eq!(Intent::read(&v), None);
        assert_eq!(Intent::read(&json!({"id": "pi_1"})), None);
        assert_eq!(
            read_checkout(&json!({"payment_intent": intent_json(Value::Null)})),
            None
        );
    }
}
