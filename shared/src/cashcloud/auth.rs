//! Cashcloud's credentials (PROVIDERS.md, Cashcloud, "Auth"): no API key; the
//! merchant makes a token from a salt the API hands out.
//!
//! - `passwordHash = md5_raw(sha1_raw(password))`, 16 raw bytes;
//! - `hash = md5_hex(sha1_raw(username ‖ salt ‖ passwordHash))`, the raw bytes of
//!   the password hash appended, not their hex;
//! - `Authorization: Token base64("username|device_id|hash")`;
//! - a callback's `control = base64(md5_raw(sha1_raw("method|status|time|" ‖
//!   passwordHash(api_password))))`, again with the 16 raw bytes appended. Both
//!   published vectors pass with raw bytes only (the hex reading gives
//!   `kbRejSPYInzWDlOrMd5Lwg==` for the callback vector), as the 2014 SDK does
//!   (`md5(sha1($pw, true), true)`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;

use crate::accounts::CashcloudAccount;
use crate::secrets::Secret;

/// The device id sent when the merchant configured none (API.md makes `device_id`
/// optional). The salt request and the token must use the same one; see
/// [`device_id`].
pub const DEFAULT_DEVICE_ID: &str = "edge-checkout";

/// The account's device id, or [`DEFAULT_DEVICE_ID`].
pub fn device_id(account: &CashcloudAccount) -> &str {
    account
        .device_id
        .as_deref()
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_DEVICE_ID)
}

fn sha1_raw(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn md5_raw(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// `md5_raw(sha1_raw(password))`: 16 raw bytes. Derived from a secret, so handle it
/// like one (it is what Cashcloud stores in place of the password).
pub fn password_hash(password: &Secret) -> [u8; 16] {
    md5_raw(&sha1_raw(&[password.expose().as_bytes()]))
}

/// `md5_hex(sha1_raw(username ‖ salt ‖ password_hash(password)))`: 32 lowercase hex
/// digits, the last part of the token.
pub fn token_hash(username: &str, salt: &str, password: &Secret) -> String {
    let ph = password_hash(password);
    hex::encode(md5_raw(&sha1_raw(&[
        username.as_bytes(),
        salt.as_bytes(),
        &ph,
    ])))
}

/// `"Token " + base64("username|device_id|hash")`, the `Authorization` value.
pub fn authorization_header(username: &str, device_id: &str, hash: &str) -> String {
    format!(
        "Token {}",
        STANDARD.encode(format!("{username}|{device_id}|{hash}"))
    )
}

/// A callback's `control`: `base64(md5_raw(sha1_raw(method|status|time|ph)))` with
/// `ph = password_hash(api_password)` as raw bytes. The strings are hashed exactly
/// as received (no re-formatting of `status` or `time`).
pub fn control(method: &str, status: &str, time: &str, api_password: &Secret) -> String {
    let ph = password_hash(api_password);
    let digest = md5_raw(&sha1_raw(&[
        method.as_bytes(),
        b"|",
        status.as_bytes(),
        b"|",
        time.as_bytes(),
        b"|",
        &ph,
    ]));
    STANDARD.encode(digest)
}

/// Who a request is made as: the complete `Authorization` value, a credential
/// (anyone holding it acts as the merchant until Cashcloud hands out a new salt).
///
/// Made from a salt ([`super::requests::salt`], [`super::wire::parse_salt`]); the
/// Worker may cache it (sealed, like any secret) and make a new one when a reply
/// says 403 ([`super::wire::CashcloudError::needs_new_token`]).
#[derive(Clone)]
pub struct Auth {
    authorization: Secret,
}

impl Auth {
    pub fn new(username: &str, device_id: &str, password: &Secret, salt: &str) -> Auth {
        let hash = token_hash(username, salt, password);
        Auth {
            authorization: Secret::new(authorization_header(username, device_id, &hash)),
        }
    }

    /// The merchant's configured account with a fresh salt.
    pub fn for_account(account: &CashcloudAccount, salt: &str) -> Auth {
        Auth::new(
            &account.username,
            device_id(account),
            &account.password,
            salt,
        )
    }

    /// A token made earlier and kept (`Token …`).
    pub fn from_header(authorization: Secret) -> Auth {
        Auth { authorization }
    }

    /// The `Authorization` value: hand it only to Cashcloud or to sealed storage.
    pub fn header(&self) -> &Secret {
        &self.authorization
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Auth(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::CashcloudPlan;

    const TOKEN_VECTOR: &str = "Token ZW1haWx8ZGV2SWR8M2E0ZmZhOTE3NWE2OTJjMWZmNWVkZDNkOTAyYzdkMDY=";
    const CONTROL_VECTOR: &str = "hp6szTzfYqC9cAVL66BcCA==";

    #[test]
    fn published_token_vector() {
        let pass = Secret::new("pass");
        let hash = token_hash("email", "salt", &pass);
        assert_eq!(hash, "3a4ffa9175a692c1ff5edd3d902c7d06");
        assert_eq!(authorization_header("email", "devId", &hash), TOKEN_VECTOR);
        assert_eq!(
            Auth::new("email", "devId", &pass, "salt").header().expose(),
            TOKEN_VECTOR
        );
    }

    #[test]
    fn published_control_vector_uses_the_raw_password_hash() {
        let pass = Secret::new("pass");
        assert_eq!(control("request", "3", "1700000000", &pass), CONTROL_VECTOR);
        // The other reading (hex of the password hash) is not the protocol.
        let hex_reading = {
            let ph = hex::encode(password_hash(&pass));
            let s = sha1_raw(&[b"request|3|1700000000|", ph.as_bytes()]);
            STANDARD.encode(md5_raw(&s))
        };
        assert_ne!(hex_reading, CONTROL_VECTOR);
        assert_eq!(password_hash(&pass).len(), 16);
    }

    #[test]
    fn account_token_uses_the_default_device_id_and_hides_itself() {
        let account: CashcloudAccount = serde_json::from_str(
            r#"{"username":"email","password":"pass","api_password":"x","plan":"corporate"}"#,
        )
        .unwrap();
        assert_eq!(account.plan, CashcloudPlan::Corporate);
        assert_eq!(device_id(&account), DEFAULT_DEVICE_ID);
        let auth = Auth::for_account(&account, "salt");
        let want = Auth::new("email", DEFAULT_DEVICE_ID, &Secret::new("pass"), "salt");
        assert_eq!(auth.header().expose(), want.header().expose());
        assert_eq!(format!("{auth:?}"), "Auth(…)");

        let with_device: CashcloudAccount = serde_json::from_str(
            r#"{"username":"email","password":"pass","device_id":"devId","api_password":"x","plan":"corporate"}"#,
        )
        .unwrap();
        assert_eq!(
            Auth::for_account(&with_device, "salt").header().expose(),
            TOKEN_VECTOR
        );
        let kept = Auth::from_header(Secret::new(TOKEN_VECTOR));
        assert_eq!(kept.header().expose(), TOKEN_VECTOR);
    }
}
