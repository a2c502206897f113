//! `Idempotency-Key` on POSTs (API.md, Conventions). The record lives in the object
//! that owns the objects the request changes, so the claim is one synchronous
//! insert: exactly one of several concurrent repeats runs; the others wait for its
//! answer and replay it byte for byte (status included, a 5xx too). A claim whose
//! request never finished (the isolate died) is released after 60 s; records are
//! purged after 24 h; a stored answer never holds a plaintext API key.

use sha2::{Digest, Sha256};
use shared::error::ApiError;
use std::time::Duration;

use crate::http::{ApiResult, Reply};
use crate::merchant::store::Store;

pub const MAX_KEY_LEN: usize = 255;
const TTL_SECONDS: i64 = 24 * 60 * 60;
/// An unfinished claim older than this belongs to a request that died.
const STALE_SECONDS: i64 = 60;
/// How long a twin waits for the first request before giving up with a 409.
const WAIT_STEPS: u32 = 300;
const WAIT_STEP: Duration = Duration::from_millis(100);

pub enum Begin {
    /// This request owns the key: run it, then `finish`.
    Fresh,
    Replay(Reply),
}

pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_request(
            "idempotency_key_invalid",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters."),
        ));
    }
    Ok(())
}

pub async fn begin(store: &Store, scope: &str, key: &str, hash: &str) -> ApiResult<Begin> {
    check_key(key)?;
    let claim = || {
        store.claim_idempotency(
            scope,
            key,
            hash,
            crate::ctx::now(),
            TTL_SECONDS,
            STALE_SECONDS,
        )
    };
    if claim()? {
        return Ok(Begin::Fresh);
    }
    for _ in 0..WAIT_STEPS {
        let Some(row) = store.idempotency_record(scope, key)? else {
            // Released as stale while we waited: this request takes it over.
            if claim()? {
                return Ok(Begin::Fresh);
            }
            continue;
        };
        if row.request_hash != hash {
            return Err(ApiError::idempotency(
                "This Idempotency-Key was already used with a different request.",
            )
            .into());
        }
        if let (Some(status), Some(body)) = (row.status, row.body) {
            return Ok(Begin::Replay(Reply::json_text(status as u16, body)));
        }
        if crate::ctx::now() - row.created >= STALE_SECONDS && claim()? {
            return Ok(Begin::Fresh);
        }
        worker::Delay::from(WAIT_STEP).await;
    }
    Err(ApiError::idempotency("A request with this Idempotency-Key is still in progress.").into())
}

/// Stores the answer for replays, every status included: a repeat never runs again
/// (Stripe's rule). API keys in it are stored masked.
pub fn finish(store: &Store, scope: &str, key: &str, reply: &Reply) -> ApiResult<()> {
    store.finish_idempotency(
        scope,
        key,
        reply.status,
        &shared::keys::mask_api_keys(&reply.body),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_hash_separates_method_path_and_body() {
        let a = request_hash("POST", "/v1/a", b"{}");
        assert_eq!(a, request_hash("POST", "/v1/a", b"{}"));
        assert_ne!(a, request_hash("POST", "/v1/a", b"{ }"));
        assert_ne!(a, request_hash("POST", "/v1/b", b"{}"));
        // No ambiguity between where the path ends and the body starts.
        assert_ne!(
            request_hash("POST", "/v1/a", b"b"),
            request_hash("POST", "/v1/ab", b"")
        );
    }

    #[test]
    fn keys_are_bounded_printable_ascii() {
        assert!(check_key("order-42").is_ok());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key("").is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key("ключ").is_err());
    }
}
