//! Secrets as a type (`../shared/DESIGN.md`, "Secrets are a type"): credentials that
//! must never be printed, how a merchant sees them back (masked), and how provider
//! configs are sealed at rest (AES-256-GCM under a rotating master key).
//!
//! Pure: every nonce comes from the caller, who owns the randomness.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// A credential (provider key, webhook secret, password, our own API key).
///
/// There is deliberately no `Display`, no `Serialize` and no content in `Debug`, so
/// a secret cannot end up in a log line or a response body by accident; reading it
/// takes a visible [`Secret::expose`]. `Deserialize` exists because request bodies
/// carry secrets in. No `PartialEq` either: comparing secrets goes through
/// [`crate::keys::constant_time_eq`].
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value. Call only where it is handed to its provider or sealed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What a merchant may see of it; see [`mask`].
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

const ELLIPSIS: &str = "…";

/// How a stored secret is shown back to its merchant: enough to recognise which key
/// it is, never enough to use it.
///
/// - 8 chars or fewer: `"…"` (a short secret has no tail to spare).
/// - A type/mode prefix (`sk_`, `whsec_`, `sk_test_`, `rk_live_`, …) is kept, then
///   `…`, then the last 4 chars if at least 8 chars follow the prefix (so at least
///   as much is hidden as shown): `sk_test_51Habc…4242` → `sk_test_…4242`.
/// - Anything else: `"…"` plus the last 4 chars if it has at least 12 chars.
///
/// The prefix is a first segment of 2–5 lowercase letters, optionally followed by
/// `test`/`live`. Only those shapes: passwords may contain `_` too, and a longer or
/// free-form "prefix" would reveal part of them.
pub fn mask(secret: &str) -> String {
    let total = secret.chars().count();
    if total <= 8 {
        return ELLIPSIS.to_owned();
    }
    let prefix = &secret[..recognisable_prefix_len(secret)];
    let body = &secret[prefix.len()..];
    let body_chars = body.chars().count();
    let min_body = if prefix.is_empty() { 12 } else { 8 };
    let tail = if body_chars >= min_body {
        let start = body
            .char_indices()
            .nth(body_chars - 4)
            .map_or(body.len(), |(i, _)| i);
        &body[start..]
    } else {
        ""
    };
    format!("{prefix}{ELLIPSIS}{tail}")
}

/// Byte length of the `sk_` / `sk_test_` style prefix, 0 if there is none.
fn recognisable_prefix_len(s: &str) -> usize {
    let is_type =
        |seg: &str| (2..=5).contains(&seg.len()) && seg.bytes().all(|b| b.is_ascii_lowercase());
    let Some((first, rest)) = s.split_once('_') else {
        return 0;
    };
    if !is_type(first) {
        return 0;
    }
    let mut len = first.len() + 1;
    if let Some((second, _)) = rest.split_once('_') {
        if second == "test" || second == "live" {
            len += second.len() + 1;
        }
    }
    len
}

/// Why sealing material or a sealed value was refused. No variant carries key
/// material or plaintext, so these may be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The configured master key is not standard base64.
    MasterKeyNotBase64,
    /// The configured master key does not decode to 32 bytes.
    MasterKeyLength { len: usize },
    /// Two keys in one keyring claim the same version.
    DuplicateKeyVersion(u8),
    /// Shorter than version ‖ nonce ‖ tag: not something we sealed.
    TooShort { len: usize },
    /// Sealed under a key version this keyring no longer (or never) had.
    UnknownKeyVersion(u8),
    /// The GCM tag does not verify: wrong AAD (e.g. copied to another merchant's
    /// row) or modified bytes. GCM cannot tell these two apart, by design.
    AuthenticationFailed,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::MasterKeyNotBase64 => f.write_str("master key is not valid base64"),
            SealError::MasterKeyLength { len } => {
                write!(f, "master key must be 32 bytes, got {len}")
            }
            SealError::DuplicateKeyVersion(v) => write!(f, "key version {v} appears twice"),
            SealError::TooShort { len } => write!(f, "sealed value too short ({len} bytes)"),
            SealError::UnknownKeyVersion(v) => write!(f, "no master key with version {v}"),
            SealError::AuthenticationFailed => {
                f.write_str("sealed value does not authenticate (wrong context or tampered)")
            }
        }
    }
}

impl std::error::Error for SealError {}

/// Sealing failures are our misconfiguration or corrupted storage, never the
/// caller's fault: a plain 500 that reveals nothing.
impl From<SealError> for ApiError {
    fn from(_: SealError) -> Self {
        ApiError::internal()
    }
}

/// A 256-bit master key (from a Worker secret). Its `Debug` shows nothing.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// Standard base64 (e.g. `openssl rand -base64 32`); surrounding whitespace is
    /// ignored because secrets pasted into a config often end in a newline.
    pub fn from_base64(encoded: &str) -> Result<MasterKey, SealError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SealError::MasterKeyNotBase64)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SealError::MasterKeyLength { len: bytes.len() })?;
        Ok(MasterKey(key))
    }

    /// A subkey for one purpose: HMAC-SHA256(master, label). Different labels give
    /// independent keys, so e.g. the API-key pepper never equals the sealing key.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// The current master key plus the ones it replaced, each with a version byte, so
/// the master key can rotate: new values are sealed under `current`, old values
/// still open until they are re-sealed and the old key is dropped.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: (u8, MasterKey),
    previous: Vec<(u8, MasterKey)>,
}

impl Keyring {
    pub fn new(version: u8, key: MasterKey) -> Self {
        Keyring {
            current: (version, key),
            previous: Vec::new(),
        }
    }

    /// Adds a retired key that may still open old values.
    pub fn with_previous(mut self, version: u8, key: MasterKey) -> Result<Self, SealError> {
        if self.key(version).is_some() {
            return Err(SealError::DuplicateKeyVersion(version));
        }
        self.previous.push((version, key));
        Ok(self)
    }

    pub fn current_version(&self) -> u8 {
        self.current.0
    }

    pub fn current_key(&self) -> &MasterKey {
        &self.current.1
    }

    /// [`MasterKey::derive`] under every key, current first. A value derived from
    /// the master key (the API-key pepper) changes when it rotates, so lookups try
    /// each until the old hashes have been recomputed.
    pub fn derive_each(&self, label: &str) -> Vec<(u8, [u8; 32])> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|(v, k)| (*v, k.derive(label)))
            .collect()
    }

    fn key(&self, version: u8) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
    }

    /// `version ‖ nonce ‖ ciphertext+tag` under the current key.
    ///
    /// `nonce` must be fresh random bytes for every call: reusing a nonce under one
    /// key breaks GCM's confidentiality and integrity. `aad` binds the value to its
    /// place (see [`provider_aad`]); it is authenticated, not stored.
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let (version, key) = &self.current;
        let ciphertext = key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM only fails on plaintexts beyond 64 GiB");
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(*version);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens what [`Keyring::seal`] produced, with the key its version byte names.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(SealError::TooShort { len: sealed.len() });
        }
        let version = sealed[0];
        let key = self
            .key(version)
            .ok_or(SealError::UnknownKeyVersion(version))?;
        let nonce = Nonce::from_slice(&sealed[1..HEADER_LEN]);
        key.cipher()
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad,
                },
            )
            .map_err(|_| SealError::AuthenticationFailed)
    }

    /// Whether `sealed` is under the current key; if not, re-seal it after opening.
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.first() == Some(&self.current.0)
    }
}

/// The AAD for one merchant's config of one provider. Each part is length-prefixed
/// so no two (merchant, provider) pairs encode alike, and a ciphertext copied to
/// another merchant's row, or another provider's column, fails to open.
pub fn provider_aad(merchant_id: &str, provider: &str) -> Vec<u8> {
    aad(
        b"edge-checkout/provider-config/v1",
        &[merchant_id, provider],
    )
}

/// The AAD for one webhook endpoint's signing secret: another domain, so a sealed
/// provider config can never be opened as a webhook secret or the other way round.
pub fn webhook_secret_aad(merchant_id: &str, endpoint_id: &str) -> Vec<u8> {
    aad(
        b"edge-checkout/webhook-secret/v1",
        &[merchant_id, endpoint_id],
    )
}

fn aad(domain: &[u8], parts: &[&str]) -> Vec<u8> {
    let mut aad =
        Vec::with_capacity(domain.len() + parts.iter().map(|p| 4 + p.len()).sum::<usize>());
    aad.extend_from_slice(domain);
    for part in parts {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_debug_hides_content() {
        let s = Secret::new("sk_test_51Habcdefgh4242");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(…))");
        assert_eq!(s.expose(), "sk_test_51Habcdefgh4242");
        assert_eq!(s.masked(), "sk_test_…4242");
    }

    #[test]
    fn secret_deserializes_from_a_plain_string() {
        #[derive(Deserialize)]
        struct Body {
            secret_key: Secret,
        }
        let b: Body = serde_json::from_str(r#"{"secret_key":"sk_live_abc"}"#).unwrap();
        assert_eq!(b.secret_key.expose(), "sk_live_abc");
    }

    #[test]
    fn mask_examples() {
        assert_eq!(mask("sk_test_51Habc4242"), "sk_test_…4242");
        assert_eq!(mask("sk_test_51Habcdefghijklmnop4242"), "sk_test_…4242");
        assert_eq!(mask("whsec_abcdef1234"), "whsec_…1234");
        assert_eq!(mask("rk_live_0123456789"), "rk_live_…6789");
        assert_eq!(mask("acct_1NabcdefXYZ9"), "acct_…XYZ9");
        // Short values show nothing at all.
        assert_eq!(mask(""), "…");
        assert_eq!(mask("hunter22"), "…");
        assert_eq!(mask("sk_test_"), "…");
        // A prefix with too little behind it keeps its tail hidden.
        assert_eq!(mask("sk_test_abcd"), "sk_test_…");
        assert_eq!(mask("whsec_abcd123"), "whsec_…");
        // Unprefixed: tail only from 12 chars on.
        assert_eq!(mask("correcthorse"), "…orse");
        assert_eq!(mask("correcthors"), "…");
        // Free-form underscores are not a prefix: passwords may have them.
        assert_eq!(mask("password_with_underscores"), "…ores");
        assert_eq!(mask("ab_secretword_x9y8z7"), "ab_…y8z7");
        // Multi-byte chars are counted as chars, not bytes.
        assert_eq!(mask("pässwörtchen-ünd-mehr"), "…mehr");
        assert_eq!(mask("ééééééééé"), "…");
    }

    proptest! {
        #[test]
        fn mask_shows_at_most_a_type_prefix_and_four_tail_chars(
            secret in "([a-z]{1,6}_){0,3}[a-zA-Z0-9_é]{0,30}"
        ) {
            let m = mask(&secret);
            let (prefix, tail) = m.split_once(ELLIPSIS).expect("always has an ellipsis");
            prop_assert!(secret.starts_with(prefix));
            prop_assert!(secret.ends_with(tail));
            let tail_chars = tail.chars().count();
            prop_assert!(tail_chars == 0 || tail_chars == 4);
            // The prefix is only type/mode markers, never payload.
            prop_assert!(prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            let prefix_segments = prefix.split('_').filter(|s| !s.is_empty()).count();
            prop_assert!(prefix_segments <= 2);
            // Whatever is shown, at least as much of the middle stays hidden.
            let hidden = secret.chars().count() - prefix.len() - tail_chars;
            prop_assert!(tail.is_empty() || hidden >= 4);
            if secret.chars().count() <= 8 {
                prop_assert_eq!(m.as_str(), ELLIPSIS);
            }
        }
    }

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    #[test]
    fn master_key_from_base64_checks_length_and_encoding() {
        let good = STANDARD.encode([7u8; 32]);
        assert!(MasterKey::from_base64(&good).is_ok());
        assert!(MasterKey::from_base64(&format!("{good}\n")).is_ok());
        assert_eq!(
            MasterKey::from_base64(&STANDARD.encode([7u8; 16])).unwrap_err(),
            SealError::MasterKeyLength { len: 16 }
        );
        assert_eq!(
            MasterKey::from_base64(&STANDARD.encode([7u8; 33])).unwrap_err(),
            SealError::MasterKeyLength { len: 33 }
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SealError::MasterKeyNotBase64
        );
        assert_eq!(format!("{:?}", key(1)), "MasterKey(…)");
    }

    #[test]
    fn derive_is_deterministic_and_label_separated() {
        assert_eq!(
            key(1).derive("api-key-pepper"),
            key(1).derive("api-key-pepper")
        );
        assert_ne!(key(1).derive("api-key-pepper"), key(1).derive("other"));
        assert_ne!(
            key(1).derive("api-key-pepper"),
            key(2).derive("api-key-pepper")
        );
        assert_ne!(key(1).derive("x"), [1u8; 32]);
    }

    #[test]
    fn seal_round_trips_and_has_the_documented_layout() {
        let ring = Keyring::new(3, key(1));
        let aad = provider_aad("acct_A", "stripe");
        let plaintext = br#"{"secret_key":"sk_test_51Habcdefgh4242"}"#;
        let sealed = ring.seal([9; 12], &aad, plaintext);
        assert_eq!(sealed[0], 3);
        assert_eq!(&sealed[1..13], &[9; 12]);
        assert_eq!(sealed.len(), 1 + 12 + plaintext.len() + 16);
        assert_eq!(ring.open(&sealed, &aad).unwrap(), plaintext);
        assert!(ring.is_current(&sealed));
    }

    #[test]
    fn plaintext_never_appears_in_sealed_bytes() {
        let ring = Keyring::new(1, key(1));
        let plaintext = b"sk_live_THIS_MUST_NOT_LEAK_4242";
        let sealed = ring.seal([0; 12], b"", plaintext);
        for window in [
            &plaintext[..],
            &plaintext[..8],
            &plaintext[plaintext.len() - 8..],
        ] {
            assert!(!sealed.windows(window.len()).any(|w| w == window));
        }
    }

    #[test]
    fn wrong_aad_fails() {
        let ring = Keyring::new(1, key(1));
        let sealed = ring.seal([1; 12], &provider_aad("acct_A", "stripe"), b"config");
        for aad in [
            provider_aad("acct_B", "stripe"),
            provider_aad("acct_A", "worldpay"),
            Vec::new(),
        ] {
            assert_eq!(
                ring.open(&sealed, &aad).unwrap_err(),
                SealError::AuthenticationFailed
            );
        }
    }

    #[test]
    fn flipping_any_byte_fails() {
        let ring = Keyring::new(1, key(1)).with_previous(2, key(2)).unwrap();
        let aad = provider_aad("acct_A", "stripe");
        let sealed = ring.seal([5; 12], &aad, b"a provider config");
        for i in 0..sealed.len() {
            for bit in [0x01, 0x80] {
                let mut tampered = sealed.clone();
                tampered[i] ^= bit;
                let err = ring.open(&tampered, &aad).unwrap_err();
                if i == 0 {
                    // The version byte picks another (or no) key: still refused.
                    assert!(matches!(
                        err,
                        SealError::UnknownKeyVersion(_) | SealError::AuthenticationFailed
                    ));
                } else {
                    assert_eq!(err, SealError::AuthenticationFailed);
                }
            }
        }
    }

    #[test]
    fn truncated_values_are_too_short() {
        let ring = Keyring::new(1, key(1));
        let sealed = ring.seal([5; 12], b"", b"");
        assert_eq!(sealed.len(), 29);
        assert!(ring.open(&sealed, b"").is_ok());
        assert_eq!(
            ring.open(&sealed[..28], b"").unwrap_err(),
            SealError::TooShort { len: 28 }
        );
        assert_eq!(
            ring.open(&[], b"").unwrap_err(),
            SealError::TooShort { len: 0 }
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable_until_the_old_key_is_dropped() {
        let aad = provider_aad("acct_A", "stripe");
        let v1 = Keyring::new(1, key(1));
        let sealed = v1.seal([7; 12], &aad, b"old config");

        let v2 = Keyring::new(2, key(2)).with_previous(1, key(1)).unwrap();
        assert!(!v2.is_current(&sealed));
        assert_eq!(v2.open(&sealed, &aad).unwrap(), b"old config");
        let resealed = v2.seal([8; 12], &aad, &v2.open(&sealed, &aad).unwrap());
        assert!(v2.is_current(&resealed));

        let v2_only = Keyring::new(2, key(2));
        assert_eq!(
            v2_only.open(&sealed, &aad).unwrap_err(),
            SealError::UnknownKeyVersion(1)
        );
        assert_eq!(v2_only.open(&resealed, &aad).unwrap(), b"old config");

        assert_eq!(
            Keyring::new(2, key(2))
                .with_previous(2, key(1))
                .unwrap_err(),
            SealError::DuplicateKeyVersion(2)
        );
        let peppers = v2.derive_each("pepper");
        assert_eq!(peppers[0], (2, key(2).derive("pepper")));
        assert_eq!(peppers[1], (1, key(1).derive("pepper")));
    }

    #[test]
    fn errors_print_no_key_material() {
        let ring = Keyring::new(1, key(0xAB));
        let printed = format!(
            "{ring:?} {} {:?}",
            SealError::AuthenticationFailed,
            SealError::UnknownKeyVersion(9)
        );
        assert!(!printed.to_lowercase().contains("abab"));
        assert!(!printed.contains("171"));
        let api: ApiError = SealError::AuthenticationFailed.into();
        assert_eq!(api.status, 500);
    }

    #[test]
    fn provider_aad_is_unambiguous() {
        assert_ne!(provider_aad("acct_ab", "c"), provider_aad("acct_a", "bc"));
        assert_ne!(provider_aad("", "x"), provider_aad("x", ""));
        assert_eq!(
            provider_aad("acct_A", "stripe"),
            provider_aad("acct_A", "stripe")
        );
    }
}
