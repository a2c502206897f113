//! The slice of Stripe.js the widget uses — real Stripe.js methods only, so the same
//! widget runs on Stripe's own script in production and on the local stand-in in
//! tests. Card data lives in Stripe's iframe; we only ever see a PaymentMethod id.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::dom::OwnTime;
use crate::i18n::{Key, Strings};

#[wasm_bindgen]
extern "C" {
    pub type StripeJs;
    #[wasm_bindgen(js_name = Stripe)]
    fn stripe_new(publishable_key: &str, options: &JsValue) -> StripeJs;
    #[wasm_bindgen(method)]
    fn elements(this: &StripeJs, options: &JsValue) -> Elements;
    #[wasm_bindgen(method, js_name = createPaymentMethod)]
    fn create_payment_method(this: &StripeJs, data: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = handleNextAction)]
    fn handle_next_action(this: &StripeJs, data: &JsValue) -> Promise;

    pub type Elements;
    #[wasm_bindgen(method)]
    fn create(this: &Elements, kind: &str, options: &JsValue) -> CardElement;

    pub type CardElement;
    #[wasm_bindgen(method)]
    pub fn mount(this: &CardElement, target: &web_sys::Element);
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &key.into(), value);
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Stripe's `{error: {message}}`, if the result holds one (in the customer's
/// language: Stripe.js was started with their `locale`).
fn error_message(result: &JsValue, t: &Strings) -> Option<String> {
    let err = get(result, "error");
    if err.is_undefined() || err.is_null() {
        return None;
    }
    Some(
        get(&err, "message")
            .as_string()
            .unwrap_or_else(|| t.get(Key::CardUnusable).to_owned()),
    )
}

/// How the provider's fields should look: our theme's resolved colours and font.
pub struct Look {
    /// `default`, `night` or `flat`: Stripe's `appearance.theme` names them `stripe`,
    /// `night`, `flat`.
    pub theme: String,
    pub variables: JsValue,
    pub text: Option<String>,
    pub danger: Option<String>,
    pub font_family: Option<String>,
    pub font_size: Option<String>,
}

pub struct Stripe {
    js: StripeJs,
    locale: &'static str,
}

impl Stripe {
    /// Loads Stripe.js from `js_url` (once per page; `loading`: the bootstrap's load
    /// of it, under way) and starts it in the customer's language. `Err` when the
    /// script cannot load (blocked, offline).
    pub async fn load(
        js_url: &str,
        loading: Option<Promise>,
        publishable_key: &str,
        account: Option<&str>,
        locale: &'static str,
    ) -> Result<Stripe, JsValue> {
        if Reflect::get(&js_sys::global(), &"Stripe".into())?.is_undefined() {
            match loading {
                Some(script) => {
                    JsFuture::from(script).await?;
                }
                None => crate::dom::load_script(js_url).await?,
            }
        }
        let opts = Object::new();
        set(&opts, "locale", &locale.into());
        if let Some(acct) = account {
            set(&opts, "stripeAccount", &acct.into());
        }
        Ok(Stripe {
            js: stripe_new(publishable_key, &opts),
            locale,
        })
    }

    /// Stripe's hosted card field, mounted into `target`, looking like the widget.
    /// Stripe's own calls run under `clock.provider` (they build the field's iframe).
    pub fn card(&self, target: &web_sys::Element, look: &Look, clock: &OwnTime) -> CardElement {
        let appearance = Object::new();
        let theme = if look.theme == "default" {
            "stripe"
        } else {
            &look.theme
        };
        set(&appearance, "theme", &theme.into());
        if !look.variables.is_undefined() {
            set(&appearance, "variables", &look.variables);
        }
        let elements_opts = Object::new();
        set(&elements_opts, "appearance", &appearance);
        set(&elements_opts, "locale", &self.locale.into());
        // The Card Element takes `style` rather than `appearance`.
        let base = Object::new();
        for (k, v) in [
            ("color", &look.text),
            ("iconColor", &look.text),
            ("fontFamily", &look.font_family),
            ("fontSize", &look.font_size),
        ] {
            if let Some(v) = v {
                set(&base, k, &v.as_str().into());
            }
        }
        let invalid = Object::new();
        if let Some(d) = &look.danger {
            set(&invalid, "color", &d.as_str().into());
        }
        let style = Object::new();
        set(&style, "base", &base);
        set(&style, "invalid", &invalid);
        let opts = Object::new();
        set(&opts, "hidePostalCode", &true.into());
        set(&opts, "style", &style);
        clock.provider(|| {
            let card = self.js.elements(&elements_opts).create("card", &opts);
            card.mount(target);
            card
        })
    }

    /// The PaymentMethod id for what the customer typed, or a message for them.
    pub async fn payment_method(&self, card: &CardElement, t: &Strings) -> Result<String, String> {
        let data = Object::new();
        set(&data, "type", &"card".into());
        set(&data, "card", card.as_ref());
        let result = JsFuture::from(self.js.create_payment_method(&data))
            .await
            .map_err(|_| t.get(Key::CardNoAnswer).to_owned())?;
        if let Some(m) = error_message(&result, t) {
            return Err(m);
        }
        get(&get(&result, "paymentMethod"), "id")
            .as_string()
            .ok_or_else(|| t.get(Key::CardUnusable).to_owned())
    }

    /// Runs the bank's 3-D Secure challenge. `Err` carries Stripe's message; the
    /// outcome itself is read back from our Worker, never taken from here.
    pub async fn authenticate(
        &self,
        provider_client_secret: &str,
        t: &Strings,
    ) -> Result<(), String> {
        let data = Object::new();
        set(&data, "clientSecret", &provider_client_secret.into());
        let result = JsFuture::from(self.js.handle_next_action(&data))
            .await
            .map_err(|_| t.get(Key::AuthClosed).to_owned())?;
        match error_message(&result, t) {
            Some(m) => Err(m),
            None => Ok(()),
        }
    }
}
