//! What every provider adapter shares (DESIGN.md, "Sans-I/O providers"): the
//! described request the Worker sends, form encoding, idempotency keys, our
//! answers for provider trouble, and the classification of a provider's answer
//! into success, a final refusal, or an unknown outcome.
//!
//! Each provider module (`stripe`, `worldpay`, `cashcloud`) builds on these and
//! re-exports [`HttpRequest`] (and Stripe's old paths for [`Form`] and
//! [`idempotency_key`]) so callers written against those paths keep working.

use std::fmt;

use crate::error::{ApiError, ErrorType};

/// `Content-Type` of a form body (Stripe, Cashcloud).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// `Content-Type` of a plain JSON body (Worldpay's payments API).
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The header that makes a POST safe to resend with Stripe and Worldpay.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// One HTTP request for the Worker to send: `method` to the provider's base URL
/// joined with `path`, with these headers and this (possibly empty) body.
///
/// `Debug` hides the `Authorization` value (it carries a live key or token),
/// keeping only its scheme (`Bearer …`, `Basic …`, `Token …`).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    /// A `GET` with these headers and no body.
    pub fn get(path: impl Into<String>, headers: Vec<(String, String)>) -> HttpRequest {
        HttpRequest {
            method: "GET",
            path: path.into(),
            headers,
            body: String::new(),
        }
    }

    /// A `POST` of `form`: these headers, then `Content-Type` for a form.
    pub fn post_form(
        path: impl Into<String>,
        mut headers: Vec<(String, String)>,
        form: &Form,
    ) -> HttpRequest {
        headers.push(("Content-Type".to_owned(), FORM_CONTENT_TYPE.to_owned()));
        HttpRequest {
            method: "POST",
            path: path.into(),
            headers,
            body: form.encode(),
        }
    }

    /// Appends `name: value`.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Appends `Idempotency-Key: key`.
    pub fn with_idempotency_key(self, key: impl Into<String>) -> HttpRequest {
        self.with_header(IDEMPOTENCY_KEY_HEADER, key)
    }

    /// The first header of that name, compared ASCII-case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    let scheme = v.split_once(' ').map_or("", |(s, _)| s);
                    (k.as_str(), format!("{scheme} …").trim_start().to_owned())
                } else {
                    (k.as_str(), v.clone())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &masked)
            .field("body", &self.body)
            .finish()
    }
}

/// The idempotency key of one operation on one of *our* objects:
/// `{our_id}:{operation}` or `{our_id}:{operation}:{attempt}`.
///
/// Deterministic, so the Worker's retry after a timeout sends the same key and
/// the provider replays the first outcome instead of acting twice. The attempt
/// number separates operations that may legitimately repeat (a second card after
/// a decline); one-shot operations (create, capture, cancel, a refund with its own
/// id) have none. Cashcloud takes no key: there our reference plays that part.
pub fn idempotency_key(our_id: &str, operation: &str, attempt: Option<u32>) -> String {
    match attempt {
        Some(n) => format!("{our_id}:{operation}:{n}"),
        None => format!("{our_id}:{operation}"),
    }
}

/// `application/x-www-form-urlencoded` fields, in order. Order is kept so a body
/// is reproducible byte for byte (Stripe compares the bodies sent under one
/// `Idempotency-Key`). Nested values are flat keys with brackets
/// (`metadata[order]`, `payment_method_types[]`), as Stripe reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// Appends `key=value`; a repeated key (such as `payment_method_types[]`) is
    /// appended again, not replaced.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Form {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// `parent[child]=value`, e.g. `metadata[our_intent_id]=pi_…`.
    pub fn push_nested(
        &mut self,
        parent: &str,
        child: &str,
        value: impl Into<String>,
    ) -> &mut Form {
        self.push(format!("{parent}[{child}]"), value)
    }

    /// `parent[]=value`: one element of a list.
    pub fn push_list(&mut self, parent: &str, value: impl Into<String>) -> &mut Form {
        self.push(format!("{parent}[]"), value)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `k1=v1&k2=v2`, each side through [`encode_component`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, k);
            out.push('=');
            encode_into(&mut out, v);
        }
        out
    }
}

/// The WHATWG urlencoded byte serializer: ASCII alphanumerics and `*-._` stay,
/// space becomes `+`, every other UTF-8 byte becomes `%XX`. Brackets are encoded
/// too (`%5B`, `%5D`); Stripe decodes them before reading the key.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// A body that is not a form: a `%` without two hex digits after it, or a name or
/// value that is not UTF-8 once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormError;

/// Reads an `application/x-www-form-urlencoded` body (Cashcloud's callbacks): the
/// inverse of [`Form::encode`]. Stricter than the URL standard's parser, which keeps
/// a stray `%` as it is: a signed body must mean exactly one thing, so anything
/// that is not a clean encoding is refused. Empty pieces (`a=1&&b=2`) are skipped,
/// as the standard does; a piece without `=` is a name with an empty value.
pub fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let body = std::str::from_utf8(body).map_err(|_| FormError)?;
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            Ok((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

/// `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode_component(s: &str) -> Result<String, FormError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(FormError)?;
                let digit = |b: u8| char::from(b).to_digit(16).ok_or(FormError);
                out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError)
}

// --- what an answer tells ------------------------------------------------------------------

/// What a provider's answer, or its absence, says about the operation we asked for
/// (DESIGN.md, "Unknown is a state").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// 2xx: done; `body` is the provider's object.
    Success(&'a [u8]),
    /// A 4xx that is a final answer: a decline, a validation error, refused
    /// credentials, an unknown object. The operation did not happen, and resending
    /// the same request will not make it happen. Store it as the outcome.
    Final { status: u16, body: &'a [u8] },
    /// No answer (`status` `None`: timeout, lost connection), a 5xx, 429 (busy),
    /// 408 (timeout), 409 (a request with this idempotency key is in flight or
    /// clashes), or a status no provider should send (1xx, 3xx): the provider may
    /// or may not have acted. Record the attempt as unknown, resolve it by asking
    /// the provider, and resend only with the same idempotency key (Cashcloud has
    /// none: never resend, look it up).
    Unknown { status: Option<u16> },
}

impl Outcome<'_> {
    /// Whether the provider's side may still change (`Unknown`).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown { .. })
    }
}

/// Classifies an HTTP answer by its status (`None`: no answer at all). Provider
/// rules that need the body refine this ([`crate::stripe::wire::classify`]);
/// Worldpay's and Cashcloud's answers are classified by this alone.
pub fn classify(status: Option<u16>, body: &[u8]) -> Outcome<'_> {
    match status {
        Some(200..=299) => Outcome::Success(body),
        Some(408 | 409 | 429) => Outcome::Unknown { status },
        Some(s @ 400..=499) => Outcome::Final { status: s, body },
        Some(_) | None => Outcome::Unknown { status },
    }
}

// --- our answers for provider trouble ------------------------------------------------------
//
// The words every adapter uses, in one place. Codes and messages are part of API.md:
// change them only together with it.

/// 500 `provider_request_invalid`: a request we could not describe (our bug or a
/// misconfiguration, never the customer's).
pub fn request_invalid() -> ApiError {
    ApiError::new(
        500,
        ErrorType::ApiError,
        "provider_request_invalid",
        "The request to the payment provider could not be prepared.",
    )
}

/// 502 `provider_error`: the provider refused the request for a reason that is
/// neither the customer's nor a decline.
pub fn provider_refused() -> ApiError {
    ApiError::provider(
        502,
        "provider_error",
        "The payment provider refused the request.",
    )
}

/// `status` (502 or 503) `provider_unavailable`: down, overloaded or no answer.
pub fn provider_unavailable(status: u16) -> ApiError {
    ApiError::provider(
        status,
        "provider_unavailable",
        "The payment provider is unavailable. Try again shortly.",
    )
}

/// 409: the provider saw this idempotency key with other values.
pub fn provider_idempotency_conflict() -> ApiError {
    ApiError::idempotency(
        "This operation was already sent to the payment provider with different values.",
    )
}

/// 502 `provider_authentication_failed`: the merchant's credentials for
/// `provider` (as the merchant knows it, e.g. `"Worldpay"`) were refused.
pub fn provider_credentials_refused(provider: &str) -> ApiError {
    ApiError::provider(
        502,
        "provider_authentication_failed",
        format!(
            "{provider} refused this merchant's credentials. Check the {provider} configuration."
        ),
    )
}

impl From<crate::wire::ParseError> for ApiError {
    fn from(e: crate::wire::ParseError) -> ApiError {
        e.to_api_error()
    }
}

impl From<crate::stripe::BuildError> for ApiError {
    fn from(e: crate::stripe::BuildError) -> ApiError {
        e.to_api_error()
    }
}

impl From<crate::worldpay::BuildError> for ApiError {
    fn from(e: crate::worldpay::BuildError) -> ApiError {
        e.to_api_error()
    }
}

impl From<crate::cashcloud::BuildError> for ApiError {
    fn from(e: crate::cashcloud::BuildError) -> ApiError {
        e.to_api_error()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The inverse of [`Form::encode`] for a body we built (so it must decode).
    pub(crate) fn decode(body: &str) -> Vec<(String, String)> {
        decode_form(body.as_bytes()).expect("our own form decodes")
    }

    /// JSON of any shape for parser fuzzing: objects whose keys are mostly the
    /// given field names (so the parser's own paths are taken) and whose values are
    /// of every type, including strings from `words` (enum tags, currency codes)
    /// and numbers at the edges of `i64` and `f64`.
    pub(crate) fn arb_json(
        keys: &'static [&'static str],
        words: &'static [&'static str],
    ) -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                Just(-1i64),
                Just(0i64),
                -100_000i64..10_000_000
            ]
            .prop_map(Value::from),
            Just(u64::MAX).prop_map(Value::from),
            prop_oneof![Just(-0.5f64), Just(1e300), Just(0.1)].prop_map(Value::from),
            prop::sample::select(words).prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            let key = prop_oneof![
                4 => prop::sample::select(keys).prop_map(str::to_owned),
                1 => "[a-z_]{1,8}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// One step down a JSON document.
    #[derive(Debug, Clone)]
    enum Step {
        Key(String),
        Index(usize),
    }

    fn paths(v: &serde_json::Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(at.clone());
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m {
                    at.push(Step::Key(k.clone()));
                    paths(child, at, out);
                    at.pop();
                }
            }
            serde_json::Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    at.push(Step::Index(i));
                    paths(child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }

    /// Replaces the value at `path` with `new`, or removes it (`None`; an array
    /// element becomes `null`). A path that no longer exists is left alone.
    fn set(doc: &mut serde_json::Value, path: &[Step], new: Option<serde_json::Value>) {
        let Some((last, parents)) = path.split_last() else {
            if let Some(v) = new {
                *doc = v;
            }
            return;
        };
        let mut here = doc;
        for step in parents {
            let next = match step {
                Step::Key(k) => here.get_mut(k.as_str()),
                Step::Index(i) => here.get_mut(*i),
            };
            match next {
                Some(n) => here = n,
                None => return,
            }
        }
        match (last, here, new) {
            (Step::Key(k), serde_json::Value::Object(m), Some(v)) => {
                m.insert(k.clone(), v);
            }
            (Step::Key(k), serde_json::Value::Object(m), None) => {
                m.remove(k);
            }
            (Step::Index(i), serde_json::Value::Array(a), v) if *i < a.len() => {
                a[*i] = v.unwrap_or(serde_json::Value::Null);
            }
            _ => {}
        }
    }

    /// Bodies made from a valid `sample` by up to four mutations, each replacing
    /// or removing one of its values (any depth) with JSON of any shape from
    /// [`arb_json`]: close enough to the real thing to reach deep into a parser
    /// and whatever reads its result.
    pub(crate) fn mutated(
        sample: &'static str,
        keys: &'static [&'static str],
        words: &'static [&'static str],
    ) -> impl Strategy<Value = Vec<u8>> {
        let base: serde_json::Value = serde_json::from_str(sample).expect("a JSON sample");
        let mut all = Vec::new();
        paths(&base, &mut Vec::new(), &mut all);
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::option::weighted(0.6, arb_json(keys, words)),
            ),
            0..4,
        )
        .prop_map(move |changes| {
            let mut doc = base.clone();
            for (i, new) in changes {
                set(&mut doc, &all[i.index(all.len())], new);
            }
            serde_json::to_vec(&doc).expect("JSON values serialise")
        })
    }

    #[test]
    fn mutation_replaces_removes_and_keeps_the_rest() {
        let mut doc = serde_json::json!({"a": {"b": [1, 2]}, "c": "x"});
        set(
            &mut doc,
            &[Step::Key("a".into()), Step::Key("b".into()), Step::Index(1)],
            Some(serde_json::json!({"z": true})),
        );
        set(&mut doc, &[Step::Key("c".into())], None);
        set(
            &mut doc,
            &[Step::Key("gone".into()), Step::Key("x".into())],
            None,
        );
        assert_eq!(doc, serde_json::json!({"a": {"b": [1, {"z": true}]}}));
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        assert_eq!(all.len(), 6); // root, a, a.b, a.b[0], a.b[1], a.b[1].z
    }

    #[test]
    fn encodes_nested_keys_and_reserved_characters() {
        let mut f = Form::new();
        f.push("amount", "1250")
            .push_nested("metadata", "our_intent_id", "pi_1")
            .push_list("payment_method_types", "card")
            .push("description", "Tea & cake = 2×5%, ok?");
        assert_eq!(
            f.encode(),
            "amount=1250&metadata%5Bour_intent_id%5D=pi_1&payment_method_types%5B%5D=card\
             &description=Tea+%26+cake+%3D+2%C3%975%25%2C+ok%3F"
        );
        assert_eq!(Form::new().encode(), "");
        assert_eq!(encode_component("a+b/c~*-._"), "a%2Bb%2Fc%7E*-._");
    }

    proptest! {
        #[test]
        fn form_round_trips_any_strings(pairs in prop::collection::vec((".*", ".*"), 0..8)) {
            let mut f = Form::new();
            for (k, v) in &pairs {
                f.push(k.clone(), v.clone());
            }
            let body = f.encode();
            prop_assert!(body.bytes().all(|b| b.is_ascii_graphic()));
            // No form is ambiguous: an empty one is "", one empty pair is "=".
            prop_assert_eq!(decode(&body), pairs);
        }
    }

    #[test]
    fn form_decoding_is_strict_about_escapes() {
        let pairs = |l: &[(&str, &str)]| -> Vec<(String, String)> {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            decode_form(b"a=1&&b=x+y%26&c&=").unwrap(),
            pairs(&[("a", "1"), ("b", "x y&"), ("c", ""), ("", "")])
        );
        assert_eq!(decode_form(b"n=%C3%a9").unwrap(), pairs(&[("n", "\u{e9}")]));
        assert_eq!(decode_form(b"").unwrap(), pairs(&[]));
        for bad in [
            &b"a=%zz"[..],
            b"a=%4",
            b"a=%",
            b"%FF=1",
            b"a=\xff",
            b"a=%+1",
        ] {
            assert_eq!(decode_form(bad), Err(FormError), "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_name_object_operation_and_attempt() {
        assert_eq!(idempotency_key("pi_1", "cancel", None), "pi_1:cancel");
        assert_eq!(
            idempotency_key("pi_1", "confirm", Some(3)),
            "pi_1:confirm:3"
        );
    }

    #[test]
    fn requests_are_built_and_debug_hides_every_credential() {
        let mut form = Form::new();
        form.push("a", "b c");
        let r = HttpRequest::post_form(
            "/x",
            vec![("Authorization".to_owned(), "Token c2VjcmV0".to_owned())],
            &form,
        )
        .with_idempotency_key("k1");
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_str()),
            ("POST", "/x", "a=b+c")
        );
        assert_eq!(r.header("content-type"), Some(FORM_CONTENT_TYPE));
        assert_eq!(r.header("IDEMPOTENCY-KEY"), Some("k1"));
        assert_eq!(r.header("Accept"), None);
        let g = HttpRequest::get("/y", vec![]).with_header("Authorization", "Basic dTpw");
        assert_eq!((g.method, g.body.as_str()), ("GET", ""));
        for (req, secret, shown) in [(&r, "c2VjcmV0", "Token …"), (&g, "dTpw", "Basic …")] {
            let dbg = format!("{req:?}");
            assert!(!dbg.contains(secret) && dbg.contains(shown), "{dbg}");
        }
        let bare = HttpRequest::get("/z", vec![("authorization".into(), "sk_live_x".into())]);
        assert!(!format!("{bare:?}").contains("sk_live_x"));
    }

    #[test]
    fn classify_success_final_and_unknown() {
        let body = br#"{"id":"x"}"#.as_slice();
        for s in [200, 201, 202, 204] {
            assert_eq!(classify(Some(s), body), Outcome::Success(body), "{s}");
        }
        // A decline or a refused request is a final answer, not an outage.
        for s in [400, 401, 402, 403, 404, 412, 415, 422, 423] {
            assert_eq!(
                classify(Some(s), body),
                Outcome::Final { status: s, body },
                "{s}"
            );
        }
        // The provider may have acted: unknown, never "failed".
        for s in [408, 409, 429, 500, 502, 503, 504, 100, 302] {
            let o = classify(Some(s), body);
            assert_eq!(o, Outcome::Unknown { status: Some(s) }, "{s}");
            assert!(o.is_unknown());
        }
        assert_eq!(classify(None, b""), Outcome::Unknown { status: None });
        assert!(!classify(Some(402), body).is_unknown());
    }

    #[test]
    fn shared_error_answers_keep_their_codes_and_words() {
        let e = request_invalid();
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (
                500,
                "provider_request_invalid",
                "The request to the payment provider could not be prepared."
            )
        );
        let e = provider_refused();
        assert_eq!((e.status, e.code.as_str()), (502, "provider_error"));
        let e = provider_unavailable(503);
        assert_eq!((e.status, e.code.as_str()), (503, "provider_unavailable"));
        assert_eq!(
            provider_credentials_refused("Cashcloud").message,
            "Cashcloud refused this merchant's credentials. Check the Cashcloud configuration."
        );
        assert_eq!(provider_idempotency_conflict().status, 409);
        let parse = crate::wire::ParseError {
            provider: "Stripe",
            what: "refund",
            line: 1,
            column: 2,
        };
        assert_eq!(ApiError::from(parse.clone()), parse.to_api_error());
        let b = crate::stripe::BuildError::FeeMismatch;
        assert_eq!(ApiError::from(b.clone()), b.to_api_error());
        let b = crate::worldpay::BuildError::ZeroAmount;
        assert_eq!(ApiError::from(b.clone()), b.to_api_error());
        let b = crate::cashcloud::BuildError::InvalidUsername;
        assert_eq!(ApiError::from(b.clone()), b.to_api_error());
    }
}
