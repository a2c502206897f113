//! The widget's calls to the Worker: publishable key plus the intent's client secret,
//! nothing else (API.md, Conventions: Auth). A payment intent's (`pi_…`) or, in
//! save-card mode, a setup intent's (`seti_…`): the same calls under another path.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, RequestMode, Response};

use crate::i18n::{Key, Strings};
use crate::model::{read_checkout, read_error_message, Intent, Json, Setup};

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
        let (kind, id) = intent_of_secret(&client_secret)?;
        Some(Client {
            intent_url: [base.trim_end_matches('/'), "/v1/", kind, "/", id].concat(),
            publishable_key,
            client_secret,
        })
    }

    /// The intent and its provider's set-up. `prefetched` is the bootstrap's fetch of
    /// the same URL, started while the wasm was still compiling, and already read:
    /// `{status, body}` (the bootstrap reads it to start the provider's script at once).
    pub async fn checkout(
        &self,
        prefetched: Option<js_sys::Promise>,
    ) -> Result<(Intent, Setup), ApiError> {
        let json = match prefetched {
            Some(p) => prefetched_answer(JsFuture::from(p).await)?,
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
        let url = [&self.intent_url, "/confirm"].concat();
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

    /// A GET's URL. The key rides in `?key=` (the Worker takes only a publishable key
    /// there): without an `Authorization` header the GET is a CORS "simple" request,
    /// sent without a preflight, so each poll is one round trip, not two.
    fn url(&self, tail: &str) -> String {
        let secret = String::from(js_sys::encode_uri_component(&self.client_secret));
        let key = String::from(js_sys::encode_uri_component(&self.publishable_key));
        [
            &self.intent_url,
            tail,
            "?client_secret=",
            &secret,
            "&key=",
            &key,
        ]
        .concat()
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
        if body.is_some() {
            let headers = req.headers();
            let _ = headers.set(
                "Authorization",
                &["Bearer ", &self.publishable_key].concat(),
            );
            let _ = headers.set("Content-Type", "application/json");
        }
        let window = web_sys::window().ok_or(ApiError::Unreachable)?;
        answer(JsFuture::from(window.fetch_with_request(&req)).await).await
    }
}

/// The API path and the intent id of a client secret, `{intent_id}_secret_{random}`
/// with `pi_…` (`payment_intents`) or `seti_…` (`setup_intents`) ids: `None` unless it
/// has exactly the shape the Worker gives (shared::keys, `client_secret`). The same
/// check as `shared::keys::client_secret_intent_id` (a test holds the two equal), with
/// `char` patterns and no formatting, which the widget's wasm would otherwise carry.
fn intent_of_secret(secret: &str) -> Option<(&'static str, &str)> {
    let mut parts = secret.split('_');
    let (prefix, body) = (parts.next()?, parts.next()?);
    let kind = match prefix {
        "pi" => "payment_intents",
        "seti" => "setup_intents",
        _ => return None,
    };
    let (tag, random) = (parts.next()?, parts.next()?);
    if tag != "secret" || parts.next().is_some() {
        return None;
    }
    // An id's body is one 16-byte number in 22 base62 digits, or two (a merchant's
    // object: the merchant's and its own); the secret's random part is 24 bytes in 33.
    let id_ok = match (body.len(), body.get(..22), body.get(22..)) {
        (22, _, _) => base62_fits(body, 16),
        (44, Some(merchant), Some(own)) => base62_fits(merchant, 16) && base62_fits(own, 16),
        _ => false,
    };
    if !id_ok || random.len() != 33 || !base62_fits(random, 24) {
        return None;
    }
    Some((kind, secret.get(..prefix.len() + 1 + body.len())?))
}

/// Whether `digits` are base62 digits whose value fits in `n_bytes` bytes (at most 24).
fn base62_fits(digits: &str, n_bytes: usize) -> bool {
    let mut num = [0u8; 24];
    digits.bytes().all(|c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return false,
        };
        // num = num * 62 + d, refusing a carry out of the top byte.
        let mut carry = u32::from(d);
        for b in num.iter_mut().rev().take(n_bytes) {
            let acc = u32::from(*b) * 62 + carry;
            *b = acc as u8;
            carry = acc >> 8;
        }
        carry == 0
    })
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
    verdict(resp.status(), json)
}

/// The bootstrap's `{status, body}` of its fetch (`body` absent when it was not JSON),
/// as [`answer`] would have read the response itself.
fn prefetched_answer(fetched: Result<JsValue, JsValue>) -> Result<JsValue, ApiError> {
    let read = fetched.map_err(|_| ApiError::Unreachable)?;
    let status = read.field("status").and_then(|s| s.as_f64());
    verdict(status.ok_or(ApiError::Garbled)? as u16, read.field("body"))
}

/// The JSON of a 2xx answer, or why not.
fn verdict(status: u16, json: Option<JsValue>) -> Result<JsValue, ApiError> {
    if (200..300).contains(&status) {
        return json.ok_or(ApiError::Garbled);
    }
    if status >= 500 {
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

#[cfg(test)]
mod tests {
    use super::intent_of_secret;
    use shared::keys::{client_secret, client_secret_intent_id, new_id, new_scoped_id};

    /// Ours against the domain crate's, on the secrets the Worker makes and on every
    /// one-byte change, cut and extension of them.
    #[test]
    fn reads_client_secrets_exactly_as_the_domain_crate_does() {
        let merchant = new_id("acct", &[7; 16]);
        let mut secrets = vec![];
        for (n, fill) in [(0u8, 0u8), (1, 255), (2, 17), (3, 200)] {
            let random = [fill.wrapping_add(n); 24];
            for prefix in ["pi", "seti", "cus"] {
                secrets.push(client_secret(&new_id(prefix, &[fill; 16]), &random));
                secrets.push(client_secret(
                    &new_scoped_id(prefix, &merchant, &[fill; 16]),
                    &random,
                ));
            }
        }
        let mut cases: Vec<String> = vec![
            String::new(),
            "pi__secret_".into(),
            "pi_secret_secret_x".into(),
        ];
        for s in &secrets {
            cases.push(s.clone());
            for i in 0..s.len() {
                cases.push([&s[..i], &s[i + 1..]].concat());
                cases.push(s[..i].to_owned());
                for c in ["_", "0", "z", "Z", "9", "é", "-", "_secret_"] {
                    cases.push([&s[..i], c, &s[i + 1..]].concat());
                    cases.push([&s[..i], c, &s[i..]].concat());
                }
            }
        }
        let mut accepted = 0;
        for s in &cases {
            let theirs = client_secret_intent_id(s).filter(|id| {
                let prefix = id.split('_').next().unwrap_or_default();
                prefix == "pi" || prefix == "seti"
            });
            assert_eq!(intent_of_secret(s).map(|(_, id)| id), theirs, "{s}");
            accepted += usize::from(theirs.is_some());
        }
        assert!(
            accepted > secrets.len() / 2,
            "the valid secrets are among the cases"
        );
        assert_eq!(
            intent_of_secret(&secrets[1]).map(|(kind, _)| kind),
            Some("payment_intents")
        );
        assert_eq!(
            intent_of_secret(&secrets[2]).map(|(kind, _)| kind),
            Some("setup_intents")
        );
    }
}
