//! The widget's calls to the Worker: publishable key plus the intent's client secret,
//! nothing else (API.md, Conventions: Auth).

use shared::api::PaymentIntent;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, RequestMode, Response};

use shared::keys::client_secret_intent_id;

pub struct Client {
    base: String,
    publishable_key: String,
    client_secret: String,
}

impl Client {
    pub fn new(base: String, publishable_key: String, client_secret: String) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Client {
            base,
            publishable_key,
            client_secret,
        }
    }

    /// `GET /v1/payment_intents/{id}?client_secret=…`. Errors are messages fit for the customer.
    pub async fn fetch_intent(&self) -> Result<PaymentIntent, String> {
        let id = client_secret_intent_id(&self.client_secret)
            .ok_or("This payment link is not valid.")?;
        let url = format!(
            "{}/v1/payment_intents/{}?client_secret={}",
            self.base,
            id,
            js_sys::encode_uri_component(&self.client_secret)
        );
        let body = self.get(&url).await.map_err(|_| {
            "We could not reach the payment service. Check your connection and try again."
                .to_owned()
        })?;
        body
    }

    async fn get(&self, url: &str) -> Result<Result<PaymentIntent, String>, JsValue> {
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_mode(RequestMode::Cors);
        let req = Request::new_with_str_and_init(url, &init)?;
        req.headers()
            .set("Authorization", &format!("Bearer {}", self.publishable_key))?;
        let window = web_sys::window().ok_or("no window")?;
        let resp: Response = JsFuture::from(window.fetch_with_request(&req))
            .await?
            .dyn_into()?;
        let json = JsFuture::from(resp.json()?).await?;
        if resp.ok() {
            Ok(serde_wasm_bindgen::from_value(json).map_err(|_| {
                "The payment service answered in a way this page does not understand.".to_owned()
            }))
        } else {
            Ok(Err(error_message(&json)))
        }
    }
}

/// The API's `error.message`, which is written for people; a fallback otherwise.
fn error_message(json: &JsValue) -> String {
    js_sys::Reflect::get(json, &"error".into())
        .and_then(|e| js_sys::Reflect::get(&e, &"message".into()))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "The payment could not be loaded.".to_owned())
}
