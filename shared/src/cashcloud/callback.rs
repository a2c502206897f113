//! Cashcloud's callbacks (PROVIDERS.md, "Callback"): a form POST with `method`,
//! `status`, `time`, `control` and `hash`, where
//! `control = base64(md5_raw(sha1_raw(method|status|time|passwordHash)))` under the
//! merchant's API password ([`super::auth::control`]).
//!
//! The old module skipped the check for refunds, compared with `!=` and never
//! looked at `time`. Here every callback, refunds included, is checked, in
//! constant time, within a time tolerance.
//!
//! `control` does not cover `hash`: a valid callback can be replayed within the
//! tolerance with another transaction's hash. So a callback is only ever a hint:
//! the Worker reads the transaction with `GET transactions?hash=` and acts on what
//! that says ([`super::events::transaction_events`],
//! [`super::events::refund_outcome`]), never on `status` itself.

use std::fmt;

use crate::error::ApiError;
use crate::keys::constant_time_eq;
use crate::secrets::Secret;

use super::auth::control;
use super::events::CashcloudState;

/// How far `time` may be from now, in seconds, either way.
pub const DEFAULT_TOLERANCE: i64 = 300;

const MAX_HASH: usize = 255;
const MAX_METHOD: usize = 64;

/// The callback's fields as received (form-decoded), not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackFields {
    pub method: Option<String>,
    pub status: Option<String>,
    pub time: Option<String>,
    pub control: Option<String>,
    pub hash: Option<String>,
}

impl CallbackFields {
    /// From decoded form pairs. Other fields are ignored; a field given twice is
    /// malformed (which one would Cashcloud have signed?).
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: &[(K, V)],
    ) -> Result<CallbackFields, CallbackError> {
        let mut f = CallbackFields::default();
        for (k, v) in pairs {
            let slot = match k.as_ref() {
                "method" => &mut f.method,
                "status" => &mut f.status,
                "time" => &mut f.time,
                "control" => &mut f.control,
                "hash" => &mut f.hash,
                _ => continue,
            };
            if slot.is_some() {
                return Err(CallbackError::Malformed);
            }
            *slot = Some(v.as_ref().to_owned());
        }
        Ok(f)
    }

    /// From the raw `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Result<CallbackFields, CallbackError> {
        let pairs = crate::http::decode_form(body).map_err(|_| CallbackError::Malformed)?;
        CallbackFields::from_pairs(&pairs)
    }
}

/// What the callback is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackMethod {
    /// A payment request (`request`).
    Request,
    /// A refund (`refund`): `hash` is the refund's own transaction.
    Refund,
    /// Another method, checked all the same; the Worker records it and does nothing.
    Other(String),
}

/// A callback whose `control` matched and whose `time` is recent. Still only a hint:
/// re-check with `GET transactions?hash=` before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub method: CallbackMethod,
    /// The state Cashcloud says the transaction reached; not to be acted on.
    pub status: CashcloudState,
    pub time: i64,
    /// The transaction (payment request, or refund) to re-check. Not covered by
    /// `control`.
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackError {
    /// A required field is absent or empty.
    Missing,
    /// A field given twice, not the expected shape, or a body that is not a form.
    Malformed,
    /// `time` is older than the tolerance: possibly a replay.
    Stale,
    /// `time` is further in the future than the tolerance.
    FromTheFuture,
    /// `control` does not match these fields under this API password.
    Mismatch,
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallbackError::Missing => "The Cashcloud callback lacks a required field.",
            CallbackError::Malformed => "The Cashcloud callback is malformed.",
            CallbackError::Stale => "The Cashcloud callback's time is too old.",
            CallbackError::FromTheFuture => "The Cashcloud callback's time is in the future.",
            CallbackError::Mismatch => "The Cashcloud callback's control does not match.",
        })
    }
}

impl std::error::Error for CallbackError {}

impl CallbackError {
    /// 400 `invalid_signature`; the message says which check failed (nothing secret).
    pub fn to_api_error(&self) -> ApiError {
        ApiError::invalid_request("invalid_signature", self.to_string())
    }
}

fn required(v: &Option<String>) -> Result<&str, CallbackError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(CallbackError::Missing)
}

fn digits(s: &str, max_len: usize) -> Result<i64, CallbackError> {
    if s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CallbackError::Malformed);
    }
    s.parse().map_err(|_| CallbackError::Malformed)
}

/// Checks a callback: every field present, each in its shape, `control` equal (in
/// constant time) to the one [`control`] computes from `method`, `status` and
/// `time` exactly as received, then `time` within `tolerance` seconds of `now`
/// either way. The control is checked before the time, so a forged old callback
/// reads as forged.
///
/// Refund callbacks are checked like any other.
///
/// **Before acting, the Worker must read the transaction with
/// `GET transactions?hash=`** ([`super::requests::transaction`]) and map what that
/// says: `hash` is not covered by `control`, and `status` is only Cashcloud's word
/// at sending time.
pub fn verify_callback(
    fields: &CallbackFields,
    api_password: &Secret,
    now: i64,
    tolerance: i64,
) -> Result<Callback, CallbackError> {
    let method_s = required(&fields.method)?;
    let status_s = required(&fields.status)?;
    let time_s = required(&fields.time)?;
    let control_s = required(&fields.control)?;
    let hash = required(&fields.hash)?;

    // Shapes first: `|` or anything odd in a field could make two different field
    // sets hash alike.
    if method_s.len() > MAX_METHOD
        || !method_s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(CallbackError::Malformed);
    }
    let status = digits(status_s, 9)?;
    let time = digits(time_s, 12)?;
    let control_ok_shape = control_s.len() == 24
        && control_s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !control_ok_shape {
        return Err(CallbackError::Malformed);
    }
    if hash.len() > MAX_HASH || hash.chars().any(|c| c.is_control() || c == ' ') {
        return Err(CallbackError::Malformed);
    }

    // Compared as text: any change to the received characters is a mismatch, even
    // one base64 would decode to the same bytes.
    let expected = control(method_s, status_s, time_s, api_password);
    if !constant_time_eq(expected.as_bytes(), control_s.as_bytes()) {
        return Err(CallbackError::Mismatch);
    }

    let age = i128::from(now) - i128::from(time);
    if age > i128::from(tolerance) {
        return Err(CallbackError::Stale);
    }
    if -age > i128::from(tolerance) {
        return Err(CallbackError::FromTheFuture);
    }

    let method = match method_s {
        "request" => CallbackMethod::Request,
        "refund" => CallbackMethod::Refund,
        other => CallbackMethod::Other(other.to_owned()),
    };
    Ok(Callback {
        method,
        status: CashcloudState::from_id(status),
        time,
        hash: hash.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_700_000_000;
    const VECTOR: &str = "hp6szTzfYqC9cAVL66BcCA==";

    fn pass() -> Secret {
        Secret::new("pass")
    }

    fn fields(method: &str, status: &str, time: &str, control: &str) -> CallbackFields {
        CallbackFields {
            method: Some(method.into()),
            status: Some(status.into()),
            time: Some(time.into()),
            control: Some(control.into()),
            hash: Some("9f8e7d".into()),
        }
    }

    fn valid() -> CallbackFields {
        fields("request", "3", "1700000000", VECTOR)
    }

    fn check(f: &CallbackFields, now: i64) -> Result<Callback, CallbackError> {
        verify_callback(f, &pass(), now, DEFAULT_TOLERANCE)
    }

    #[test]
    fn published_vector_verifies() {
        let cb = check(&valid(), T).unwrap();
        assert_eq!(
            cb,
            Callback {
                method: CallbackMethod::Request,
                status: CashcloudState::Completed,
                time: T,
                hash: "9f8e7d".into(),
            }
        );
    }

    #[test]
    fn parses_the_form_body() {
        let body = format!(
            "method=request&status=3&time=1700000000&control={}&hash=9f8e7d&extra=1",
            crate::http::encode_component(VECTOR)
        );
        assert!(body.contains("%3D%3D"));
        let f = CallbackFields::parse(body.as_bytes()).unwrap();
        assert_eq!(f, valid());
        assert!(check(&f, T).is_ok());
        // Unencoded '=' in a value is fine too (split at the first one).
        let raw = format!("method=request&status=3&time=1700000000&control={VECTOR}&hash=9f8e7d");
        assert_eq!(CallbackFields::parse(raw.as_bytes()).unwrap(), valid());
        for bad in [
            &b"method=request&method=refund"[..],
            b"control=%zz",
            b"control=%4",
            b"hash=%FF",
            b"\xff=1",
        ] {
            assert_eq!(
                CallbackFields::parse(bad),
                Err(CallbackError::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            CallbackFields::parse(b"").unwrap(),
            CallbackFields::default()
        );
    }

    #[test]
    fn refunds_are_checked_too() {
        let control = control("refund", "3", "1700000000", &pass());
        let f = fields("refund", "3", "1700000000", &control);
        assert_eq!(check(&f, T).unwrap().method, CallbackMethod::Refund);
        // The old module accepted any refund callback; here a forged one fails.
        let forged = fields("refund", "3", "1700000000", VECTOR);
        assert_eq!(check(&forged, T), Err(CallbackError::Mismatch));
        let other = fields(
            "transfer",
            "3",
            "1700000000",
            &control_for("transfer", "3", "1700000000"),
        );
        assert_eq!(
            check(&other, T).unwrap().method,
            CallbackMethod::Other("transfer".into())
        );
    }

    fn control_for(method: &str, status: &str, time: &str) -> String {
        control(method, status, time, &pass())
    }

    #[test]
    fn forged_callbacks_are_mismatches() {
        let wrong_password = verify_callback(&valid(), &Secret::new("other"), T, 300);
        assert_eq!(wrong_password, Err(CallbackError::Mismatch));
        // Changing the status (say, declined → completed) breaks the control.
        let f = fields("request", "4", "1700000000", VECTOR);
        assert_eq!(check(&f, T), Err(CallbackError::Mismatch));
        // A forged stale callback reads as forged, not stale.
        let f = fields("request", "3", "1699990000", VECTOR);
        assert_eq!(check(&f, T), Err(CallbackError::Mismatch));
        // Lowercase or otherwise re-spelled controls do not pass.
        let f = fields("request", "3", "1700000000", &VECTOR.to_lowercase());
        assert_eq!(check(&f, T), Err(CallbackError::Mismatch));
    }

    #[test]
    fn stale_and_future_times() {
        assert!(check(&valid(), T + 300).is_ok());
        assert!(check(&valid(), T - 300).is_ok());
        assert_eq!(check(&valid(), T + 301), Err(CallbackError::Stale));
        assert_eq!(check(&valid(), T - 301), Err(CallbackError::FromTheFuture));
        assert_eq!(check(&valid(), i64::MAX), Err(CallbackError::Stale));
        assert_eq!(check(&valid(), i64::MIN), Err(CallbackError::FromTheFuture));
        let far = control_for("request", "3", "999999999999");
        let f = fields("request", "3", "999999999999", &far);
        assert_eq!(check(&f, T), Err(CallbackError::FromTheFuture));
    }

    #[test]
    fn missing_and_malformed_fields() {
        let without = |k: &str| {
            let mut f = valid();
            match k {
                "method" => f.method = None,
                "status" => f.status = None,
                "time" => f.time = None,
                "control" => f.control = Some(String::new()),
                _ => f.hash = None,
            }
            f
        };
        for k in ["method", "status", "time", "control", "hash"] {
            assert_eq!(check(&without(k), T), Err(CallbackError::Missing), "{k}");
        }
        let good = control_for("request", "3", "1700000000");
        for f in [
            fields("request|3", "3", "1700000000", &good),
            fields("request", "+3", "1700000000", &good),
            fields("request", "3", "1700000000.0", &good),
            fields("request", "3", "-1", &good),
            fields("request", "3", "1700000000", "not base64 at all!!!!!!!"),
            fields("request", "3", "1700000000", &format!("{good}=")),
            fields("request", "3", "17000000000000", &good),
        ] {
            assert_eq!(check(&f, T), Err(CallbackError::Malformed), "{f:?}");
        }
        let mut spaced = valid();
        spaced.hash = Some("a b".into());
        assert_eq!(check(&spaced, T), Err(CallbackError::Malformed));
        let dup = CallbackFields::from_pairs(&[("hash", "a"), ("hash", "b")]);
        assert_eq!(dup, Err(CallbackError::Malformed));
        let e = CallbackError::Mismatch.to_api_error();
        assert_eq!(
            (e.status, e.code.as_str(), e.kind),
            (
                400,
                "invalid_signature",
                crate::error::ErrorType::InvalidRequestError
            )
        );
        assert!(!e.message.contains("pass"));
    }

    proptest! {
        /// Any single-byte change to a field `control` covers (method, status,
        /// time) or to `control` itself is refused. `hash` is not covered by the
        /// protocol; the Worker's re-check through `GET transactions` covers it.
        #[test]
        fn any_single_byte_change_is_rejected(
            field in 0usize..4,
            index in any::<prop::sample::Index>(),
            byte in 0x20u8..0x7f,
            status in 1u32..9,
            method in prop::sample::select(vec!["request", "refund"]),
        ) {
            let status = status.to_string();
            let time = T.to_string();
            let good = control_for(method, &status, &time);
            let mut values = [method.to_owned(), status.clone(), time.clone(), good.clone()];
            let target = &mut values[field];
            let i = index.index(target.len());
            prop_assume!(target.as_bytes()[i] != byte);
            let mut bytes = target.clone().into_bytes();
            bytes[i] = byte;
            *target = String::from_utf8(bytes).unwrap();
            let f = fields(&values[0], &values[1], &values[2], &values[3]);
            let result = check(&f, T);
            prop_assert!(result.is_err(), "{:?} accepted", f);
            // The unchanged fields still pass.
            prop_assert!(check(&fields(method, &status, &time, &good), T).is_ok());
        }
    }

    proptest! {
        /// Fuzz-style: no byte string makes the callback parser, or the check of
        /// what it read, panic; and none passes the check without the right
        /// `control` (here: unless it is the published vector's own fields).
        #[test]
        fn callback_parser_never_panics_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..256), now in any::<i64>()) {
            if let Ok(f) = CallbackFields::parse(&body) {
                let _ = check(&f, now);
            }
        }

        /// Form-shaped bodies: our field names with any values, %-escapes
        /// (valid, truncated, non-hex, non-UTF-8), `+`, repeats and stray `&`/`=`.
        #[test]
        fn callback_parser_never_panics_on_form_like_bodies(
            parts in prop::collection::vec(
                (
                    prop::sample::select(vec!["method", "status", "time", "control", "hash", "x", ""]),
                    prop_oneof![
                        Just("=".to_owned()),
                        Just("".to_owned()),
                        Just("==".to_owned()),
                    ],
                    "([A-Za-z0-9+/=|.-]|%[0-9A-Fa-f]{2}|%[0-9A-Fa-f]?|%[g-z]{2}|%[89A-F][0-9A-F]|\\x{e9})*",
                ),
                0..8,
            ),
            now in prop_oneof![Just(T), any::<i64>()],
        ) {
            let body = parts
                .iter()
                .map(|(k, eq, v)| format!("{k}{eq}{v}"))
                .collect::<Vec<_>>()
                .join("&");
            if let Ok(f) = CallbackFields::parse(body.as_bytes()) {
                if let Ok(cb) = check(&f, now) {
                    // Only the published vector's method, status, time and control pass.
                    prop_assert_eq!(
                        (f.method.as_deref(), f.status.as_deref(), f.time.as_deref(), f.control.as_deref()),
                        (Some("request"), Some("3"), Some("1700000000"), Some(VECTOR))
                    );
                    prop_assert_eq!(cb.time, T);
                }
            }
        }

        /// What our form encoder writes, the callback parser reads back unchanged.
        #[test]
        fn form_encoding_round_trips_through_the_callback_parser(
            method in ".{0,20}", status in ".{0,5}", time in ".{0,12}",
            control in ".{0,30}", hash in ".{0,20}", extra in "[a-z]{1,6}",
        ) {
            let mut form = crate::http::Form::new();
            form.push("method", method.clone())
                .push("status", status.clone())
                .push(format!("x{extra}"), "ignored")
                .push("time", time.clone())
                .push("control", control.clone())
                .push("hash", hash.clone());
            let parsed = CallbackFields::parse(form.encode().as_bytes()).unwrap();
            prop_assert_eq!(parsed, CallbackFields {
                method: Some(method),
                status: Some(status),
                time: Some(time),
                control: Some(control),
                hash: Some(hash),
            });
        }
    }
}
