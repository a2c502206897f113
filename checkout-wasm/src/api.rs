//! The widget's calls to the Worker: publishable key plus the intent's client secret,
//! nothing else (API.md, Conventions: Auth). A payment intent's (`pi_…`) or, in
//! save-card mode, a setup intent's (`seti_…`): the same calls under another path.

use shared::keys::client_secret_intent_id;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, RequestMode, Response};

use crate::i18n::{Key, Strings};
use crate::model::{read_checkout, read_error_message, Intent, Setup};

/// Why a call gave no answer the widget can use.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// No answer at all (offline, dropped connection), or the Worker failed (5xx):
    /// for a confirm, the payment may have gone through.
    Unreachable,
    /// An answer this widget cannot read.
    Garbled,
    /// The Worker refused the request; its `error.message` is for people (English).
    Refused(String),
}

impl ApiError {
    pub fn say(&self, t: &Strings) -> String {
        match self {
            ApiError::Unreachable => t.get(Key::Unreachable).to_owned(),
            ApiError::Garbled => t.get(Key::Garbled).to_owned(),
            ApiError::Refused(m) => t.fill(Key::ApiError, "reason", m),
        }
    }
}

pub struct Client {
    /// `{base}/v1/payment_intents/{id}` or `{base}/v1/setup_intents/{id}`.
    intent_url: String,
    publishable_key: String,
    client_secret: String,
}

impl Client {
    /// `None` when the client secret is not one of a payment or setup intent (the link
    /// is broken).
    pub fn new(base: &str, publishable_key: String, client_secret: String) -> Option<Self> {
        let id = client_secret_intent_id(&client_secret)?;
        let kind = match id.split_once('_')?.0 {
            "pi" => "payment_intents",
            "seti" => "setup_intents",
            _ => return None,
        };
        Some(Client {
            intent_url: format!("{}/v1/{kind}/{id}", base.trim_end_matches('/')),
            publishable_key,
            client_secret,
        })
    }

    /// The intent and its provider's set-up. `prefetched` is the bootstrap's fetch of
    /// the same URL, started while the wasm was still compiling.
    pub async fn checkout(
        &self,
        prefetched: Option<js_sys::Promise>,
    ) -> Result<(Intent, Setup), ApiError> {
        let json = match prefetched {
            Some(p) => answer(JsFuture::from(p).await).await?,
            None => {
                let url = self.url("/checkout");
                self.call("GET", &url, None).await?
            }
        };
        read_checkout(&json).ok_or(ApiError::Garbled)
    }

    /// The intent as the Worker knows it now (it asks the provider where the outcome
    /// is still open: the browser's word never settles a payment).
    pub async fn intent(&self) -> Result<Intent, ApiError> {
        let url = self.url("");
        let json = self.call("GET", &url, None).await?;
        Intent::read(&json).ok_or(ApiError::Garbled)
    }

    /// `POST …/{id}/confirm` with the provider's fields.
    pub async fn confirm(&self, fields: &[(&str, &str)]) -> Result<Intent, ApiError> {
        let url = format!("{}/confirm", self.intent_url);
        let body = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &body,
            &"client_secret".into(),
            &self.client_secret.as_str().into(),
        );
        for (k, v) in fields {
            let _ = js_sys::Reflect::set(&body, &(*k).into(), &(*v).into());
        }
        let text = js_sys::JSON::stringify(&body).map_err(|_| ApiError::Garbled)?;
        let json = self.call("POST", &url, Some(String::from(text))).await?;
        Intent::read(&json).ok_or(ApiError::Garbled)
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}{tail}?client_secret={}",
            self.intent_url,
            js_sys::encode_uri_component(&self.client_secret)
        )
    }

    async fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<JsValue, ApiError> {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_mode(RequestMode::Cors);
        if let Some(b) = &body {
            init.set_body(&JsValue::from_str(b));
        }
        let req = Request::new_with_str_and_init(url, &init).map_err(|_| ApiError::Garbled)?;
        let headers = req.headers();
        let _ = headers.set("Authorization", &format!("Bearer {}", self.publishable_key));
        if body.is_some() {
            let _ = headers.set("Content-Type", "application/json");
        }
        let window = web_sys::window().ok_or(ApiError::Unreachable)?;
        answer(JsFuture::from(window.fetch_with_request(&req)).await).await
    }
}

/// A fetch's outcome as the widget sees it: the JSON of a 2xx, or why not.
async fn answer(fetched: Result<JsValue, JsValue>) -> Result<JsValue, ApiError> {
    let resp: Response = fetched
        .map_err(|_| ApiError::Unreachable)?
        .dyn_into()
        .map_err(|_| ApiError::Garbled)?;
    let json = match resp.json() {
        Ok(p) => JsFuture::from(p).await.ok(),
        Err(_) => None,
    };
    if resp.ok() {
        return json.ok_or(ApiError::Garbled);
    }
    if resp.status() >= 500 {
        // The Worker answers an unknown provider outcome with 200 and a pending
        // intent; a 5xx is the Worker itself failing, which proves nothing either way.
        return Err(ApiError::Unreachable);
    }
    Err(json
        .as_ref()
        .and_then(read_error_message)
        .map(ApiError::Refused)
        .unwrap_or(ApiError::Garbled))
}
