//! `Idempotency-Key` on POSTs (API.md, Conventions): the first response is kept for
//! 24 h and replayed byte for byte; the same key with another body is a 409; a twin
//! arriving while the first is still running waits for its answer, so concurrent
//! repeats make exactly one object. The claim is one `INSERT … ON CONFLICT DO
//! NOTHING`: D1 (SQLite) serialises writes, so exactly one request wins it.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::error::ApiError;
use std::time::Duration;
use worker::D1Database;

use crate::http::{ApiResult, Reply};

pub const MAX_KEY_LEN: usize = 255;
const TTL_SECONDS: i64 = 24 * 60 * 60;
/// How long a twin waits for the first request before giving up with a 409.
const WAIT_STEPS: u32 = 100;
const WAIT_STEP: Duration = Duration::from_millis(100);

pub enum Begin {
    /// This request owns the key: run it, then `finish`.
    Fresh,
    Replay(Reply),
}

#[derive(Deserialize)]
struct Row {
    request_hash: String,
    status: Option<i64>,
    body: Option<String>,
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

pub async fn begin(
    db: &D1Database,
    scope: &str,
    key: &str,
    hash: &str,
    now: i64,
) -> ApiResult<Begin> {
    check_key(key)?;
    db.prepare("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND created < ?3")
        .bind(&[
            scope.into(),
            key.into(),
            ((now - TTL_SECONDS) as f64).into(),
        ])?
        .run()
        .await?;
    let claimed = db
        .prepare(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(&[scope.into(), key.into(), hash.into(), (now as f64).into()])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if claimed == 1 {
        return Ok(Begin::Fresh);
    }
    for _ in 0..WAIT_STEPS {
        let row = db
            .prepare("SELECT request_hash, status, body FROM idempotency_keys WHERE scope = ?1 AND key = ?2")
            .bind(&[scope.into(), key.into()])?
            .first::<Row>(None)
            .await?;
        let Some(row) = row else {
            // The first request failed with a 5xx and released the key: a retry.
            return Err(ApiError::idempotency(
                "The first request with this Idempotency-Key failed; retry it.",
            )
            .into());
        };
        if row.request_hash != hash {
            return Err(ApiError::idempotency(
                "This Idempotency-Key was already used with a different request.",
            )
            .into());
        }
        if let (Some(status), Some(body)) = (row.status, row.body) {
            return Ok(Begin::Replay(Reply {
                status: status as u16,
                body,
            }));
        }
        worker::Delay::from(WAIT_STEP).await;
    }
    Err(ApiError::idempotency("A request with this Idempotency-Key is still in progress.").into())
}

/// Stores the answer for replays. A 5xx is not stored: the key is released so the
/// caller's retry runs again (our provider calls carry their own idempotency keys,
/// so the retry cannot charge twice).
pub async fn finish(db: &D1Database, scope: &str, key: &str, reply: &Reply) -> ApiResult<()> {
    if reply.status >= 500 {
        db.prepare("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2")
            .bind(&[scope.into(), key.into()])?
            .run()
            .await?;
    } else {
        db.prepare(
            "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE scope = ?1 AND key = ?2",
        )
        .bind(&[
            scope.into(),
            key.into(),
            (reply.status as f64).into(),
            reply.body.as_str().into(),
        ])?
        .run()
        .await?;
    }
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
