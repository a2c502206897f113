//! The slice of Stripe.js the widget uses — real Stripe.js methods only, so the same
//! widget runs on Stripe's own script in production and on the local stand-in in
//! tests. Card data lives in Stripe's iframe; we only ever see a PaymentMethod id.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    pub type StripeJs;
    #[wasm_bindgen(js_name = Stripe)]
    fn stripe_new(publishable_key: &str, options: &JsValue) -> StripeJs;
    #[wasm_bindgen(method)]
    fn elements(this: &StripeJs) -> Elements;
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
    #[wasm_bindgen(method)]
    pub fn on(this: &CardElement, event: &str, handler: &js_sys::Function);
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &key.into(), value);
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Stripe's `{error: {message}}`, if the result holds one.
fn error_message(result: &JsValue) -> Option<String> {
    let err = get(result, "error");
    if err.is_undefined() || err.is_null() {
        return None;
    }
    Some(
        get(&err, "message")
            .as_string()
            .unwrap_or_else(|| "The card could not be used.".to_owned()),
    )
}

pub struct Stripe {
    js: StripeJs,
}

impl Stripe {
    /// Loads Stripe.js from `js_url` (once per page) and starts it.
    pub async fn load(
        js_url: &str,
        publishable_key: &str,
        account: Option<&str>,
    ) -> Result<Stripe, JsValue> {
        if Reflect::get(&js_sys::global(), &"Stripe".into())?.is_undefined() {
            crate::dom::load_script(js_url).await?;
        }
        let opts = Object::new();
        if let Some(acct) = account {
            set(&opts, "stripeAccount", &acct.into());
        }
        Ok(Stripe {
            js: stripe_new(publishable_key, &opts),
        })
    }

    /// Stripe's hosted card field, mounted into `target`.
    pub fn card(&self, target: &web_sys::Element) -> CardElement {
        let opts = Object::new();
        set(&opts, "hidePostalCode", &true.into());
        let card = self.js.elements().create("card", &opts);
        card.mount(target);
        card
    }

    /// The PaymentMethod id for what the customer typed, or a message for them.
    pub async fn payment_method(&self, card: &CardElement) -> Result<String, String> {
        let data = Object::new();
        set(&data, "type", &"card".into());
        set(&data, "card", card.as_ref());
        let result = JsFuture::from(self.js.create_payment_method(&data))
            .await
            .map_err(|_| {
                "The card field did not answer. Reload the page and try again.".to_owned()
            })?;
        if let Some(m) = error_message(&result) {
            return Err(m);
        }
        get(&get(&result, "paymentMethod"), "id")
            .as_string()
            .ok_or_else(|| "The card could not be used.".to_owned())
    }

    /// Runs the bank's 3-D Secure challenge. `Err` carries Stripe's message; the
    /// outcome itself is read back from our Worker, never taken from here.
    pub async fn authenticate(&self, provider_client_secret: &str) -> Result<(), String> {
        let data = Object::new();
        set(&data, "clientSecret", &provider_client_secret.into());
        let result = JsFuture::from(self.js.handle_next_action(&data))
            .await
            .map_err(|_| "The authentication window closed unexpectedly.".to_owned())?;
        match error_message(&result) {
            Some(m) => Err(m),
            None => Ok(()),
        }
    }
}
