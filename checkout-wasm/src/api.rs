//! The widget's calls to the Worker: publishable key plus the intent's client secret,
//! nothing else (API.md, Conventions: Auth).

use shared::api::{Checkout, PaymentIntent};
use shared::keys::client_secret_intent_id;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, RequestMode, Response};

pub struct Client {
    base: String,
    publishable_key: String,
    client_secret: String,
    id: String,
}

const UNREACHABLE: &str =
    "We could not reach the payment service. Check your connection and try again.";
const GARBLED: &str = "The payment service answered in a way this page does not understand.";

impl Client {
    pub fn new(
        base: String,
        publishable_key: String,
        client_secret: String,
    ) -> Result<Self, String> {
        let id = client_secret_intent_id(&client_secret)
            .ok_or("This payment link is not valid.")?
            .to_owned();
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            publishable_key,
            client_secret,
            id,
        })
    }

    pub async fn checkout(&self) -> Result<Checkout, String> {
        let url = format!(
            "{}/v1/payment_intents/{}/checkout?client_secret={}",
            self.base,
            self.id,
            js_sys::encode_uri_component(&self.client_secret)
        );
        self.call("GET", &url, None).await
    }

    /// The intent as the Worker knows it now (it asks the provider where the outcome
    /// is still open: the browser's word never settles a payment).
    pub async fn intent(&self) -> Result<PaymentIntent, String> {
        let url = format!(
            "{}/v1/payment_intents/{}?client_secret={}",
            self.base,
            self.id,
            js_sys::encode_uri_component(&self.client_secret)
        );
        self.call("GET", &url, None).await
    }

    /// `POST /v1/payment_intents/{id}/confirm` with the provider's fields.
    pub async fn confirm(&self, fields: &[(&str, &str)]) -> Result<PaymentIntent, String> {
        let url = format!("{}/v1/payment_intents/{}/confirm", self.base, self.id);
        let body = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &body,
            &"client_secret".into(),
            &self.client_secret.as_str().into(),
        );
        for (k, v) in fields {
            let _ = js_sys::Reflect::set(&body, &(*k).into(), &(*v).into());
        }
        let text = js_sys::JSON::stringify(&body).map_err(|_| GARBLED.to_owned())?;
        self.call("POST", &url, Some(String::from(text))).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<T, String> {
        match self.send(method, url, body).await {
            Ok(r) => r,
            Err(_) => Err(UNREACHABLE.to_owned()),
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<Result<T, String>, JsValue> {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_mode(RequestMode::Cors);
        if let Some(b) = &body {
            init.set_body(&JsValue::from_str(b));
        }
        let req = Request::new_with_str_and_init(url, &init)?;
        req.headers()
            .set("Authorization", &format!("Bearer {}", self.publishable_key))?;
        if body.is_some() {
            req.headers().set("Content-Type", "application/json")?;
        }
        let window = web_sys::window().ok_or("no window")?;
        let resp: Response = JsFuture::from(window.fetch_with_request(&req))
            .await?
            .dyn_into()?;
        let json = JsFuture::from(resp.json()?).await?;
        if resp.ok() {
            Ok(serde_wasm_bindgen::from_value(json).map_err(|_| GARBLED.to_owned()))
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
