//! Requests in, responses out: body limits and JSON decoding with the contract's
//! errors, and the last stop that turns anything else into the error shape.

use serde::de::DeserializeOwned;
use shared::error::ApiError;
use worker::{js_sys, wasm_bindgen_futures, web_sys, Request, Response, Result};

/// Bodies above this are refused before they are read in full (API.md: 64 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// A handler's failure: either a contract error for the caller, or an internal
/// fault that is logged and answered with an opaque 500.
pub enum Fail {
    Api(ApiError),
    Internal(worker::Error),
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Fail::Api(e)
    }
}

impl From<worker::wasm_bindgen::JsValue> for Fail {
    fn from(e: worker::wasm_bindgen::JsValue) -> Self {
        Fail::Internal(worker::Error::from(e))
    }
}

impl From<worker::Error> for Fail {
    fn from(e: worker::Error) -> Self {
        Fail::Internal(e)
    }
}

impl Fail {
    /// The error to send. Internal detail goes to the log only.
    pub fn into_api(self, method: &str, path: &str) -> ApiError {
        match self {
            Fail::Api(e) => e,
            Fail::Internal(e) => {
                worker::console_error!("{method} {path}: {e}");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = std::result::Result<T, Fail>;

/// A domain result whose error has the contract's shape (a request a provider
/// module could not describe, a reply it could not read) as the Worker's.
pub fn domain<T, E: Into<ApiError>>(r: std::result::Result<T, E>) -> ApiResult<T> {
    r.map_err(|e| Fail::Api(e.into()))
}

/// A finished answer: status and the exact JSON bytes (idempotent replays send
/// these again unchanged), or a CSV download.
pub struct Reply {
    pub status: u16,
    pub body: String,
    csv: Option<&'static str>,
}

impl Reply {
    pub fn json<T: serde::Serialize>(status: u16, body: &T) -> ApiResult<Reply> {
        let body =
            serde_json::to_string(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
        Ok(Reply::json_text(status, body))
    }

    /// JSON that is text already (a stored answer or event).
    pub fn json_text(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            csv: None,
        }
    }

    /// A `text/csv` download named `filename`.
    pub fn csv(filename: &'static str, body: String) -> Reply {
        Reply {
            status: 200,
            body,
            csv: Some(filename),
        }
    }

    pub fn error(e: &ApiError) -> Reply {
        Reply::json_text(e.status, e.to_json())
    }

    pub fn into_response(self) -> Result<Response> {
        let Some(filename) = self.csv else {
            return json_text(self.status, self.body);
        };
        let mut resp = Response::ok(self.body)?.with_status(self.status);
        let h = resp.headers_mut();
        h.set("content-type", "text/csv; charset=utf-8")?;
        h.set(
            "content-disposition",
            &format!("attachment; filename=\"{filename}\""),
        )?;
        h.set("cache-control", "no-store")?;
        h.set("x-content-type-options", "nosniff")?;
        Ok(resp)
    }
}

pub fn json<T: serde::Serialize>(status: u16, body: &T) -> Result<Response> {
    let text = serde_json::to_string(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    json_text(status, text)
}

pub fn json_text(status: u16, body: String) -> Result<Response> {
    let mut resp = Response::ok(body)?.with_status(status);
    let h = resp.headers_mut();
    h.set("content-type", "application/json; charset=utf-8")?;
    h.set("cache-control", "no-store")?;
    h.set("x-content-type-options", "nosniff")?;
    Ok(resp)
}

pub fn error(e: &ApiError) -> Result<Response> {
    json_text(e.status, e.to_json())
}

/// Reads the body, refusing more than `MAX_BODY` bytes: by its `Content-Length`
/// before reading, and without one (chunked) while reading, so an endless body is
/// never held whole.
pub async fn read_body(req: &mut Request) -> ApiResult<Vec<u8>> {
    use worker::wasm_bindgen::JsCast;
    let too_large = || {
        ApiError::invalid_request(
            "body_too_large",
            format!("The request body is larger than {MAX_BODY} bytes."),
        )
    };
    if let Some(len) = req.headers().get("content-length")? {
        if len.trim().parse::<usize>().map_or(true, |n| n > MAX_BODY) {
            return Err(too_large().into());
        }
    }
    let mut body = Vec::new();
    let Some(stream) = req.inner().body() else {
        return Ok(body); // no body at all
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut seen = 0usize;
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.as_bool() == Some(true) {
            break;
        }
        let value = js_sys::Uint8Array::new(&js_sys::Reflect::get(&chunk, &"value".into())?);
        seen += value.length() as usize;
        if seen <= MAX_BODY {
            body.extend_from_slice(&value.to_vec());
        } else if seen > MAX_DRAIN {
            // Past this, stop reading altogether: the caller gets its 400 now.
            let _ = wasm_bindgen_futures::JsFuture::from(reader.cancel()).await;
            break;
        }
        // Between the two, the rest is read and dropped, never kept: answering
        // before a sender has finished sending makes some proxies fail the request.
    }
    if seen > MAX_BODY {
        return Err(too_large().into());
    }
    Ok(body)
}

/// How much of an oversized body without `Content-Length` is read (and dropped)
/// before the stream is cancelled.
const MAX_DRAIN: usize = 4 * 1024 * 1024;

/// Decodes a JSON body into a request type that denies unknown fields, naming the
/// offending field in the error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let text = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| Fail::Api(decode_error(&e)))
}

pub fn decode_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let field = |marker: &str| {
        msg.split_once(marker)
            .and_then(|(_, rest)| rest.split('`').next())
            .map(str::to_owned)
    };
    // serde's messages name the field between backticks; keep only that, not the
    // input (which could hold a secret).
    if let Some(f) = field("unknown field `") {
        ApiError::invalid_request(
            "parameter_unknown",
            format!("Received unknown parameter: {f}."),
        )
        .with_param(f)
    } else if let Some(f) = field("missing field `") {
        ApiError::invalid_request(
            "parameter_missing",
            format!("Missing required parameter: {f}."),
        )
        .with_param(f)
    } else if e.is_syntax() || e.is_eof() {
        ApiError::invalid_request("invalid_json", "The request body is not valid JSON.")
    } else if let Some(f) = field("unknown variant `") {
        ApiError::invalid_request("parameter_invalid", format!("Invalid value: {f}."))
    } else {
        ApiError::invalid_request(
            "parameter_invalid",
            "A parameter has the wrong type: amounts are decimal strings, flags are booleans, lists are arrays.",
        )
    }
}

/// Last stop for every response: the router's own plain-text 404/405 become
/// the contract's error shape (a 405 names the allowed methods in `Allow`), and an
/// internal failure becomes an opaque 500. Our own answers (JSON, and the pages the
/// Worker serves to customers) pass as they are.
pub fn finish(resp: Result<Response>, method: &str, path: &str) -> Result<Response> {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return error(&Fail::Internal(e).into_api(method, path)),
    };
    let ours = resp
        .headers()
        .get("content-type")?
        .is_some_and(|c| c.starts_with("application/json") || c.starts_with("text/html"));
    match resp.status_code() {
        404 if !ours => error(&ApiError::no_route(method, path)),
        405 if !ours => method_not_allowed(method, path, &[]),
        _ => Ok(resp),
    }
}

pub fn method_not_allowed(method: &str, path: &str, allow: &[&str]) -> Result<Response> {
    let mut resp = error(&ApiError::method_not_allowed(method, path))?;
    if !allow.is_empty() {
        resp.headers_mut().set("allow", &allow.join(", "))?;
    }
    Ok(resp)
}
