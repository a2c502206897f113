//! The platform's own credentials and ids (`../shared/API.md`, Conventions: Auth and
//! Ids): API keys `sk_test_…`/`sk_live_…`/`pk_test_…`/`pk_live_…`, their lookup
//! hashes, object ids and intent client secrets.
//!
//! Pure: callers pass the random bytes in. Every random body is fixed-width base62,
//! so it never contains `_` and the prefixes/separators stay unambiguous.
//!
//! Keys and the ids of a merchant's objects carry the merchant's id body in front of
//! their random part, so the Worker finds the merchant's Durable Object without a
//! lookup (DESIGN.md, "One writer per merchant"); whether the key is valid is still
//! decided by its hash, which only that object holds.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secrets::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `sk_…`: everything server-side.
    Secret,
    /// `pk_…`: the widget's calls only, together with a client secret.
    Publishable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Live,
}

/// What an API key's shape says about it (not whether it exists: that is the
/// lookup by [`key_lookup_hash`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyInfo {
    pub kind: KeyKind,
    pub mode: Mode,
    /// `acct_…`: the merchant the key claims to belong to.
    pub merchant_id: String,
}

const KEY_RANDOM_LEN: usize = 24;
const ID_RANDOM_LEN: usize = 16;
/// Base62 digits of 24 bytes (62^33 ≥ 2^192 > 62^32).
pub const KEY_BODY_LEN: usize = 33;
/// Base62 digits of 16 bytes (62^22 ≥ 2^128 > 62^21).
pub const ID_BODY_LEN: usize = 22;

const CLIENT_SECRET_SEPARATOR: &str = "_secret_";

fn key_prefix(kind: KeyKind, mode: Mode) -> &'static str {
    match (kind, mode) {
        (KeyKind::Secret, Mode::Test) => "sk_test_",
        (KeyKind::Secret, Mode::Live) => "sk_live_",
        (KeyKind::Publishable, Mode::Test) => "pk_test_",
        (KeyKind::Publishable, Mode::Live) => "pk_live_",
    }
}

/// Classifies a presented key. Strict: the prefix plus exactly what
/// [`generate_api_key`] can produce (the merchant's 22-digit id body, then 33 base62
/// digits encoding at most 192 bits), so malformed tokens are refused before any lookup.
pub fn parse_api_key(s: &str) -> Option<ApiKeyInfo> {
    let (kind, rest) = if let Some(rest) = s.strip_prefix("sk_") {
        (KeyKind::Secret, rest)
    } else if let Some(rest) = s.strip_prefix("pk_") {
        (KeyKind::Publishable, rest)
    } else {
        return None;
    };
    let (mode, body) = if let Some(body) = rest.strip_prefix("test_") {
        (Mode::Test, body)
    } else if let Some(body) = rest.strip_prefix("live_") {
        (Mode::Live, body)
    } else {
        return None;
    };
    if body.len() != ID_BODY_LEN + KEY_BODY_LEN || !body.is_ascii() {
        return None;
    }
    let (merchant, random) = body.split_at(ID_BODY_LEN);
    (is_base62_body(merchant, ID_RANDOM_LEN) && is_base62_body(random, KEY_RANDOM_LEN)).then(|| {
        ApiKeyInfo {
            kind,
            mode,
            merchant_id: format!("acct_{merchant}"),
        }
    })
}

/// A new API key for `merchant_id` (`acct_…`): its prefix, the merchant's id body,
/// and the 24 random bytes (192 bits) in base62.
pub fn generate_api_key(kind: KeyKind, mode: Mode, merchant_id: &str, random: &[u8; 24]) -> Secret {
    let merchant = id_body("acct", merchant_id).expect("a merchant id of new_id's shape");
    Secret::new(format!(
        "{}{merchant}{}",
        key_prefix(kind, mode),
        base62(random)
    ))
}

/// `text` with every API key and webhook signing secret in it masked to its prefix
/// and last four characters (`sk_test_…AbCd`, `whsec_…AbCd`): for answers that are
/// stored (idempotent replays) or shown again.
pub fn mask_api_keys(text: &str) -> String {
    const PREFIXES: [&str; 5] = ["sk_test_", "sk_live_", "pk_test_", "pk_live_", "whsec_"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, p)) = PREFIXES
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, *p)))
        .min()
    {
        out.push_str(&rest[..i]);
        let candidate = &rest[i..];
        let len = p.len()
            + candidate[p.len()..]
                .bytes()
                .take_while(u8::is_ascii_alphanumeric)
                .count();
        let key = &candidate[..len];
        let secret = if p == "whsec_" {
            len >= p.len() + 8
        } else {
            key.starts_with("sk_") && parse_api_key(key).is_some()
        };
        if secret {
            out.push_str(p);
            out.push('…');
            out.push_str(&key[len - 4..]);
        } else {
            out.push_str(key);
        }
        rest = &candidate[len..];
    }
    out.push_str(rest);
    out
}

/// The body of an unscoped id of `prefix` (`acct_…` → the 22 digits after `acct_`).
fn id_body<'a>(prefix: &str, id: &'a str) -> Option<&'a str> {
    let prefix = prefix.strip_suffix('_').unwrap_or(prefix);
    let body = id.strip_prefix(prefix)?.strip_prefix('_')?;
    is_base62_body(body, ID_RANDOM_LEN).then_some(body)
}

/// What the database stores instead of a key: hex(HMAC-SHA256(pepper, key)).
///
/// Keys carry 192 random bits, so a plain hash would already resist guessing; the
/// pepper (derived from the master key, never in the database) additionally makes a
/// leaked table useless for checking candidate keys offline.
pub fn key_lookup_hash(pepper: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes any key length");
    mac.update(key.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares secrets (admin token, signatures, client secrets) without leaking where
/// they first differ. The *length* may leak (unequal lengths return early); the
/// content does not. Fine for tokens of fixed or public length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new object id: `prefix` + `_` + 22 base62 digits of 16 random bytes, e.g.
/// `new_id("pi_", r)` → `pi_4f0Xb…`. The prefix may be given with or without its
/// trailing `_` (`"pi"` and `"pi_"` give the same id shape).
pub fn new_id(prefix: &str, random: &[u8; 16]) -> String {
    let prefix = prefix.strip_suffix('_').unwrap_or(prefix);
    debug_assert!(is_id_prefix(prefix), "id prefixes are lowercase letters");
    format!("{prefix}_{}", base62(random))
}

/// An id of an object that lives in `merchant_id`'s Durable Object:
/// `prefix` + `_` + the merchant's 22-digit id body + 22 random digits, so a request
/// that names only the object (a CORS preflight) still reaches the right merchant.
pub fn new_scoped_id(prefix: &str, merchant_id: &str, random: &[u8; 16]) -> String {
    let prefix = prefix.strip_suffix('_').unwrap_or(prefix);
    let merchant = id_body("acct", merchant_id).expect("a merchant id of new_id's shape");
    format!("{prefix}_{merchant}{}", base62(random))
}

/// The merchant (`acct_…`) a scoped id of [`new_scoped_id`]'s shape belongs to.
pub fn scoped_id_merchant(prefix: &str, id: &str) -> Option<String> {
    let prefix = prefix.strip_suffix('_').unwrap_or(prefix);
    let body = id.strip_prefix(prefix)?.strip_prefix('_')?;
    if body.len() != 2 * ID_BODY_LEN || !body.is_ascii() {
        return None;
    }
    let (merchant, random) = body.split_at(ID_BODY_LEN);
    (is_base62_body(merchant, ID_RANDOM_LEN) && is_base62_body(random, ID_RANDOM_LEN))
        .then(|| format!("acct_{merchant}"))
}

/// Whether `s` has the exact shape [`new_id`] or [`new_scoped_id`] gives with this
/// prefix (with or without its `_`). Lets handlers refuse malformed ids before a lookup.
pub fn is_id(prefix: &str, s: &str) -> bool {
    id_body(prefix, s).is_some() || scoped_id_merchant(prefix, s).is_some()
}

/// An intent's client secret: `{intent_id}_secret_{33 base62 digits}`. Only ASCII
/// alphanumerics and `_`; the random part has no `_`, so splitting at `_secret_`
/// (as the widget does) always recovers the intent id.
pub fn client_secret(intent_id: &str, random: &[u8; 24]) -> String {
    debug_assert!(
        !intent_id.contains(CLIENT_SECRET_SEPARATOR),
        "intent ids never contain the separator"
    );
    format!("{intent_id}{CLIENT_SECRET_SEPARATOR}{}", base62(random))
}

/// The intent id inside a well-formed client secret, `None` for anything
/// [`client_secret`] cannot have produced from an id of [`new_id`]'s shape.
/// Checking that the secret is *the* intent's still takes [`constant_time_eq`].
pub fn client_secret_intent_id(s: &str) -> Option<&str> {
    let (id, body) = s.split_once(CLIENT_SECRET_SEPARATOR)?;
    let (prefix, _) = id.split_once('_')?;
    (is_id_prefix(prefix) && is_id(prefix, id) && is_base62_body(body, KEY_RANDOM_LEN))
        .then_some(id)
}

fn is_id_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase())
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_width(n_bytes: usize) -> usize {
    match n_bytes {
        ID_RANDOM_LEN => ID_BODY_LEN,
        KEY_RANDOM_LEN => KEY_BODY_LEN,
        _ => unreachable!("only ids and keys are encoded"),
    }
}

/// Big-endian bytes as a fixed-width base62 number (left-padded with `0`), so every
/// output of one input length has the same length and can be checked strictly.
fn base62(bytes: &[u8]) -> String {
    let mut num = bytes.to_vec();
    let mut digits = vec![b'0'; base62_width(bytes.len())];
    for digit in digits.iter_mut().rev() {
        // Long division of the whole number by 62; the remainder is the next digit.
        let mut rem = 0u32;
        for b in num.iter_mut() {
            let acc = (rem << 8) | u32::from(*b);
            *b = (acc / 62) as u8;
            rem = acc % 62;
        }
        *digit = BASE62[rem as usize];
    }
    debug_assert!(num.iter().all(|&b| b == 0), "width fits the input");
    String::from_utf8(digits).expect("base62 is ASCII")
}

/// Whether `body` is exactly what [`base62`] gives for some `n_bytes` input:
/// the right width, the alphabet, and a value below 256^n_bytes.
fn is_base62_body(body: &str, n_bytes: usize) -> bool {
    if body.len() != base62_width(n_bytes) {
        return false;
    }
    let mut num = vec![0u8; n_bytes];
    for c in body.bytes() {
        let Some(d) = BASE62.iter().position(|&a| a == c) else {
            return false;
        };
        // num = num * 62 + d, refusing a carry out of the top byte.
        let mut carry = d as u32;
        for b in num.iter_mut().rev() {
            let acc = u32::from(*b) * 62 + carry;
            *b = acc as u8;
            carry = acc >> 8;
        }
        if carry != 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn merchant() -> String {
        new_id("acct_", &[0x5a; 16])
    }

    const R24: [u8; 24] = [
        0x3a, 0x91, 0x07, 0xff, 0x10, 0x22, 0x5e, 0xc4, 0x00, 0x01, 0x80, 0x7f, 0x42, 0x13, 0x99,
        0xab, 0xcd, 0xef, 0x55, 0x66, 0x77, 0x88, 0x99, 0x0a,
    ];

    #[test]
    fn base62_widths_are_tight() {
        assert_eq!(base62(&[0xff; 24]).len(), KEY_BODY_LEN);
        assert_ne!(&base62(&[0xff; 24])[..1], "0", "33 digits are needed");
        assert_ne!(&base62(&[0xff; 16])[..1], "0", "22 digits are needed");
        assert_eq!(base62(&[0; 16]), "0".repeat(ID_BODY_LEN));
        assert_eq!(
            base62(&[0; 23].iter().chain(&[61]).copied().collect::<Vec<_>>()),
            format!("{}z", "0".repeat(32))
        );
        assert!(is_base62_body(&base62(&[0xff; 24]), 24));
        // One past the largest 24-byte value does not decode.
        let max = base62(&[0xff; 24]);
        let last = max.as_bytes()[KEY_BODY_LEN - 1];
        let pos = BASE62.iter().position(|&a| a == last).unwrap();
        if pos < 61 {
            let bumped = format!("{}{}", &max[..KEY_BODY_LEN - 1], BASE62[pos + 1] as char);
            assert!(!is_base62_body(&bumped, 24));
        }
        assert!(!is_base62_body(&"z".repeat(KEY_BODY_LEN), 24));
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for (kind, mode, prefix) in [
            (KeyKind::Secret, Mode::Test, "sk_test_"),
            (KeyKind::Secret, Mode::Live, "sk_live_"),
            (KeyKind::Publishable, Mode::Test, "pk_test_"),
            (KeyKind::Publishable, Mode::Live, "pk_live_"),
        ] {
            let key = generate_api_key(kind, mode, &merchant(), &R24);
            let s = key.expose();
            assert!(s.starts_with(prefix));
            assert_eq!(s.len(), prefix.len() + ID_BODY_LEN + KEY_BODY_LEN);
            assert!(s[prefix.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(
                parse_api_key(s),
                Some(ApiKeyInfo {
                    kind,
                    mode,
                    merchant_id: merchant()
                })
            );
        }
        assert_ne!(
            generate_api_key(KeyKind::Secret, Mode::Test, &merchant(), &R24).expose(),
            generate_api_key(KeyKind::Secret, Mode::Test, &merchant(), &[0; 24]).expose()
        );
    }

    #[test]
    fn parse_api_key_is_strict() {
        let good = generate_api_key(KeyKind::Secret, Mode::Live, &merchant(), &R24);
        let good = good.expose();
        let body = &good[8..];
        let (merchant_part, random_part) = body.split_at(ID_BODY_LEN);
        for bad in [
            "",
            "sk_live_",
            "sk_test",
            &format!("sk_prod_{body}"),
            &format!("rk_live_{body}"),
            &format!("SK_live_{body}"),
            &format!("sk_live_{}", &body[1..]),
            &format!("{good}0"),
            &format!("sk_live_{}-", &body[1..]),
            &format!("sk_live_{}_", &body[1..]),
            &format!(" {good}"),
            &format!("{good}\n"),
            &format!("sk_live_{}", "z".repeat(KEY_BODY_LEN)),
            &format!("sk_live_{random_part}"),
            &format!("sk_live_{merchant_part}"),
            &format!("sk_live_{}{random_part}", "z".repeat(ID_BODY_LEN)),
            &format!("sk_live_{merchant_part}{}", "z".repeat(KEY_BODY_LEN)),
            &format!("sk_live_{}é", &body[2..]),
        ] {
            assert_eq!(parse_api_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lookup_hash_is_hex_hmac_and_depends_on_the_pepper() {
        // RFC 4231 test case 2.
        assert_eq!(
            key_lookup_hash(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = generate_api_key(KeyKind::Secret, Mode::Test, &merchant(), &R24);
        let h = key_lookup_hash(b"pepper", key.expose());
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(h, key_lookup_hash(b"other pepper", key.expose()));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"admin-token", b"admin-token"));
        assert!(!constant_time_eq(b"admin-token", b"admin-tokeN"));
        assert!(!constant_time_eq(b"admin-token", b"admin-toke"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn ids_have_prefix_and_fixed_base62_body() {
        let r16 = [0xab; 16];
        let id = new_id("pi_", &r16);
        assert_eq!(id, new_id("pi", &r16));
        assert!(id.starts_with("pi_"));
        assert_eq!(id.len(), 3 + ID_BODY_LEN);
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        for prefix in ["acct_", "pi_", "re_", "cus_", "seti_", "sub_", "evt_"] {
            let id = new_id(prefix, &[0; 16]);
            assert!(is_id(prefix, &id));
            assert!(is_id(prefix.trim_end_matches('_'), &id));
        }
        assert!(!is_id("re_", &id));
        assert!(!is_id("pi_", &format!("{id}0")));
        assert!(!is_id("pi_", &id[..id.len() - 1]));
        assert!(!is_id("pi_", &format!("pi__{}", &id[4..])));
        assert_ne!(new_id("pi_", &[0; 16]), new_id("pi_", &[1; 16]));
    }

    #[test]
    fn secret_keys_are_masked_in_stored_text() {
        let sk = generate_api_key(KeyKind::Secret, Mode::Test, &merchant(), &R24);
        let pk = generate_api_key(KeyKind::Publishable, Mode::Test, &merchant(), &R24);
        let body = format!(
            r#"{{"secret_key":"{}","publishable_key":"{}"}}"#,
            sk.expose(),
            pk.expose()
        );
        let masked = mask_api_keys(&body);
        assert!(!masked.contains(sk.expose()), "{masked}");
        let last4 = &sk.expose()[sk.expose().len() - 4..];
        assert!(masked.contains(&format!("sk_test_…{last4}")), "{masked}");
        // Publishable keys are not secret; text without keys is unchanged.
        assert!(masked.contains(pk.expose()));
        assert_eq!(mask_api_keys("sk_test_ and pi_1"), "sk_test_ and pi_1");
        // A webhook endpoint's signing secret, shown once, is masked when stored.
        assert_eq!(
            mask_api_keys(r#"{"secret":"whsec_0123456789abcdefWXYZ"}"#),
            r#"{"secret":"whsec_…WXYZ"}"#
        );
    }

    #[test]
    fn keys_and_scoped_ids_name_their_merchant() {
        let m = merchant();
        let other = new_id("acct_", &[1; 16]);
        let key = generate_api_key(KeyKind::Secret, Mode::Test, &m, &R24);
        assert_eq!(parse_api_key(key.expose()).unwrap().merchant_id, m);
        let pi = new_scoped_id("pi_", &m, &[9; 16]);
        assert!(pi.starts_with("pi_"));
        assert_eq!(pi.len(), 3 + 2 * ID_BODY_LEN);
        assert!(is_id("pi_", &pi));
        assert!(!is_id("re_", &pi));
        assert_eq!(scoped_id_merchant("pi_", &pi), Some(m.clone()));
        assert_ne!(
            scoped_id_merchant("pi_", &new_scoped_id("pi", &other, &[9; 16])),
            Some(m)
        );
        // An unscoped id names no merchant; a truncated scoped one is no id at all.
        assert_eq!(scoped_id_merchant("pi_", &new_id("pi_", &[9; 16])), None);
        assert!(!is_id("pi_", &pi[..pi.len() - 1]));
        let cs = client_secret(&pi, &R24);
        assert_eq!(client_secret_intent_id(&cs), Some(pi.as_str()));
    }

    #[test]
    fn client_secret_splits_back_to_its_intent() {
        let intent = new_id("pi_", &[7; 16]);
        let cs = client_secret(&intent, &R24);
        assert!(cs.starts_with(&format!("{intent}_secret_")));
        assert!(cs.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(cs.matches("_secret_").count(), 1);
        assert_eq!(cs.split_once("_secret_").unwrap().0, intent);
        assert_eq!(client_secret_intent_id(&cs), Some(intent.as_str()));

        let seti = new_id("seti", &[1; 16]);
        assert_eq!(
            client_secret_intent_id(&client_secret(&seti, &R24)),
            Some(seti.as_str())
        );
        for bad in [
            intent.clone(),
            format!("{intent}_secret_"),
            format!("{cs}x"),
            format!("{intent}_secret_{}", "z".repeat(KEY_BODY_LEN)),
            cs.replacen("pi_", "PI_", 1),
            cs.replacen("_secret_", "_secreT_", 1),
        ] {
            assert_eq!(client_secret_intent_id(&bad), None, "{bad:?}");
        }
    }

    fn kind_and_mode() -> impl Strategy<Value = (KeyKind, Mode)> {
        (
            prop_oneof![Just(KeyKind::Secret), Just(KeyKind::Publishable)],
            prop_oneof![Just(Mode::Test), Just(Mode::Live)],
        )
    }

    proptest! {
        #[test]
        fn generated_keys_parse_back((kind, mode) in kind_and_mode(), random in any::<[u8; 24]>()) {
            let key = generate_api_key(kind, mode, &merchant(), &random);
            prop_assert_eq!(parse_api_key(key.expose()), Some(ApiKeyInfo { kind, mode, merchant_id: merchant() }));
        }

        #[test]
        fn one_char_off_is_another_hash(
            (kind, mode) in kind_and_mode(),
            random in any::<[u8; 24]>(),
            pepper in any::<[u8; 32]>(),
            index in any::<prop::sample::Index>(),
            c in prop_oneof![
                proptest::char::range('0', '9'),
                proptest::char::range('A', 'Z'),
                proptest::char::range('a', 'z'),
                Just('_'),
                any::<char>(),
            ],
            append in any::<bool>(),
        ) {
            let key = generate_api_key(kind, mode, &merchant(), &random);
            let key = key.expose();
            let mutated = if append {
                format!("{key}{c}")
            } else {
                let i = index.index(key.len());
                let original = key.as_bytes()[i] as char;
                prop_assume!(original != c);
                format!("{}{c}{}", &key[..i], &key[i + 1..])
            };
            if append {
                prop_assert_eq!(parse_api_key(&mutated), None);
            }
            prop_assert_ne!(key_lookup_hash(&pepper, &mutated), key_lookup_hash(&pepper, key));
        }

        #[test]
        fn client_secrets_always_split_at_the_separator(
            id_random in any::<[u8; 16]>(),
            random in any::<[u8; 24]>(),
        ) {
            let intent = new_id("pi_", &id_random);
            let cs = client_secret(&intent, &random);
            prop_assert_eq!(cs.matches("_secret_").count(), 1);
            prop_assert_eq!(client_secret_intent_id(&cs), Some(intent.as_str()));
        }
    }
}
