//! `Stripe-Signature` (PROVIDERS.md, "Webhooks"): `t=<unix>,v1=<hex>[,v1=<hex>…]`,
//! each `v1` = hex(HMAC-SHA256(endpoint secret, "<t>.<raw body>")). Several `v1`s
//! appear while a secret is being rolled, so any one may match. Other schemes
//! (`v0`, Stripe's test-only scheme) are ignored.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ApiError;
use crate::keys::constant_time_eq;
use crate::secrets::Secret;

/// The request header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// How far `t` may be from now, in seconds, either way (Stripe's default).
pub const DEFAULT_TOLERANCE: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or an empty one.
    Missing,
    /// No `t`, several, or one that is not a unix time.
    Malformed,
    /// Only other schemes (`v0`): nothing we may check.
    NoV1Signature,
    /// Signed longer ago than the tolerance: possibly a replay.
    Stale,
    /// Signed further in the future than the tolerance.
    FromTheFuture,
    /// No `v1` matches this body under this secret.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "The Stripe-Signature header is missing.",
            SignatureError::Malformed => "The Stripe-Signature header is malformed.",
            SignatureError::NoV1Signature => "The Stripe-Signature header has no v1 signature.",
            SignatureError::Stale => "The Stripe-Signature timestamp is too old.",
            SignatureError::FromTheFuture => "The Stripe-Signature timestamp is in the future.",
            SignatureError::Mismatch => "No Stripe-Signature signature matches the body.",
        })
    }
}

impl std::error::Error for SignatureError {}

impl SignatureError {
    /// 400 `invalid_signature`; the message says which check failed (nothing secret).
    pub fn to_api_error(&self) -> ApiError {
        ApiError::invalid_request("invalid_signature", self.to_string())
    }
}

/// Checks a `Stripe-Signature` header (pass `""` when it is absent) against the raw
/// body. The signature is checked before the time, as Stripe's libraries do.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &Secret,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    if header.trim().is_empty() {
        return Err(SignatureError::Missing);
    }
    let mut t: Option<&str> = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.split_once('=') else {
            continue; // Stripe's parsers skip what they do not understand.
        };
        match k.trim() {
            "t" if t.is_some() => return Err(SignatureError::Malformed),
            "t" => t = Some(v.trim()),
            "v1" => v1.push(v.trim()),
            _ => {}
        }
    }
    let t_str = t.ok_or(SignatureError::Malformed)?;
    let t: i64 = t_str
        .parse()
        .ok()
        .filter(|_| t_str.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoV1Signature);
    }
    let expected = mac(secret, t_str, body);
    // No early exit: every candidate costs the same.
    let matched = v1.iter().fold(false, |acc, sig| {
        let ok = hex::decode(sig).is_ok_and(|bytes| constant_time_eq(&bytes, &expected));
        acc | ok
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let age = i128::from(now) - i128::from(t);
    if age > i128::from(tolerance) {
        return Err(SignatureError::Stale);
    }
    if -age > i128::from(tolerance) {
        return Err(SignatureError::FromTheFuture);
    }
    Ok(())
}

/// hex(HMAC-SHA256(secret, "<t>.<body>")): one `v1` value.
pub fn signature_hex(secret: &Secret, t: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, &t.to_string(), body))
}

/// A complete `Stripe-Signature` header value, `t=<t>,v1=<hex>`, as Stripe would
/// send it: for tests and local stand-ins.
pub fn sign(secret: &Secret, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", signature_hex(secret, t, body))
}

fn mac(secret: &Secret, t: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    m.update(t.as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const T: i64 = 1_700_000_000;
    const VECTOR: &str = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";

    fn secret() -> Secret {
        Secret::new("whsec_test_secret")
    }

    fn check(header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(header, body, &secret(), now, DEFAULT_TOLERANCE)
    }

    #[test]
    fn published_vector() {
        assert_eq!(signature_hex(&secret(), T, BODY), VECTOR);
        assert_eq!(sign(&secret(), T, BODY), format!("t={T},v1={VECTOR}"));
        assert_eq!(check(&format!("t={T},v1={VECTOR}"), BODY, T), Ok(()));
    }

    #[test]
    fn any_of_several_v1_may_match_and_other_schemes_are_ignored() {
        let other = "0".repeat(64);
        for header in [
            format!("t={T},v1={other},v1={VECTOR}"),
            format!("t={T},v1={VECTOR},v1={other}"),
            format!("v0={other}, t={T}, v1=zz, v1={VECTOR}, v9=x, junk"),
            format!("v1={VECTOR},t={T}"),
        ] {
            assert_eq!(check(&header, BODY, T + 10), Ok(()), "{header}");
        }
    }

    #[test]
    fn v0_only_is_not_enough() {
        assert_eq!(
            check(&format!("t={T},v0={VECTOR}"), BODY, T),
            Err(SignatureError::NoV1Signature)
        );
    }

    #[test]
    fn outside_the_tolerance() {
        let header = sign(&secret(), T, BODY);
        assert_eq!(check(&header, BODY, T + 300), Ok(()));
        assert_eq!(check(&header, BODY, T - 300), Ok(()));
        assert_eq!(check(&header, BODY, T + 301), Err(SignatureError::Stale));
        assert_eq!(
            check(&header, BODY, T - 301),
            Err(SignatureError::FromTheFuture)
        );
        let far = sign(&secret(), i64::MAX, BODY);
        assert_eq!(
            check(&far, BODY, i64::MIN),
            Err(SignatureError::FromTheFuture)
        );
    }

    #[test]
    fn forged_tampered_or_resigned() {
        let forged = sign(&Secret::new("whsec_other"), T, BODY);
        assert_eq!(check(&forged, BODY, T), Err(SignatureError::Mismatch));
        let header = sign(&secret(), T, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment_intent.canceled"}"#;
        assert_eq!(check(&header, tampered, T), Err(SignatureError::Mismatch));
        // The timestamp is signed too: moving it breaks the signature.
        let moved = format!("t={},v1={VECTOR}", T + 1);
        assert_eq!(check(&moved, BODY, T), Err(SignatureError::Mismatch));
        // A forged stale one says forged, not stale.
        assert_eq!(
            check(&forged, BODY, T + 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_or_malformed_headers() {
        assert_eq!(check("", BODY, T), Err(SignatureError::Missing));
        assert_eq!(check("  ", BODY, T), Err(SignatureError::Missing));
        for header in [
            format!("v1={VECTOR}"),
            format!("t=abc,v1={VECTOR}"),
            format!("t=-5,v1={VECTOR}"),
            format!("t=+{T},v1={VECTOR}"),
            format!("t={T},t={T},v1={VECTOR}"),
            "garbage".to_owned(),
        ] {
            assert_eq!(
                check(&header, BODY, T),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        let e = SignatureError::Stale.to_api_error();
        assert_eq!(
            (e.status, e.code.as_str(), e.kind),
            (
                400,
                "invalid_signature",
                crate::error::ErrorType::InvalidRequestError
            )
        );
    }

    proptest::proptest! {
        /// Fuzz-style: no header text, body or clock makes the check panic; and
        /// no header without a valid `v1` for the body passes.
        #[test]
        fn signature_check_never_panics(
            header in "[tv01=,. a-f0-9\\x{80}-\\x{10ffff}]{0,80}",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            now in proptest::prelude::any::<i64>(),
        ) {
            let r = verify(&header, &body, &secret(), now, 300);
            proptest::prop_assert!(r.is_err(), "{header:?} accepted");
        }
    }
}
