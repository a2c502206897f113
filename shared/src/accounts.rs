//! Merchants' provider credentials (API.md, "Merchants and provider keys"): the
//! request shapes, their validation, the masked view a merchant reads back, and
//! the plaintext document that is sealed at rest. Secrets stay in `Secret` until
//! the moment `sealed_document` (or a request builder) needs them.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::fees::CashcloudPlan;
use crate::intent::Provider;
use crate::secrets::{mask, Secret};

const MAX_FIELD: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StripeMode {
    /// The merchant's own Stripe account and key.
    Direct,
    /// A destination charge to the merchant's connected account; the platform fee
    /// is taken as Stripe's application fee.
    Connect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeAccount {
    pub mode: StripeMode,
    /// Direct mode: the merchant's own keys. Connect mode has none: the platform's
    /// key makes destination charges and the platform's endpoint gets the events.
    #[serde(default = "no_secret")]
    pub secret_key: Secret,
    #[serde(default)]
    pub publishable_key: String,
    #[serde(default = "no_secret")]
    pub webhook_secret: Secret,
    /// Connect mode: the account the platform's onboarding created, never typed in.
    #[serde(default)]
    pub connected_account_id: Option<String>,
}

fn no_secret() -> Secret {
    Secret::new(String::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldpayAccount {
    pub username: Secret,
    pub password: Secret,
    pub entity: String,
    pub webhook_secret: Secret,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashcloudAccount {
    pub username: String,
    pub password: Secret,
    #[serde(default)]
    pub device_id: Option<String>,
    pub api_password: Secret,
    pub plan: CashcloudPlan,
}

/// One provider's credentials for one merchant.
#[derive(Debug)]
pub enum ProviderAccount {
    Stripe(StripeAccount),
    Worldpay(WorldpayAccount),
    Cashcloud(CashcloudAccount),
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request("parameter_invalid", message).with_param(param)
}

fn check_len(param: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(invalid(param, format!("{param} must not be empty.")));
    }
    if value.len() > MAX_FIELD || value.chars().any(char::is_control) {
        return Err(invalid(
            param,
            format!("{param} must be at most {MAX_FIELD} characters, without control characters."),
        ));
    }
    Ok(())
}

/// `sk_test_…` → Some(false), `sk_live_…` → Some(true), anything else None.
fn key_mode(key: &str, prefix: &str) -> Option<bool> {
    let rest = key.strip_prefix(prefix)?;
    let (live, body) = if let Some(b) = rest.strip_prefix("live_") {
        (true, b)
    } else {
        (false, rest.strip_prefix("test_")?)
    };
    (!body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(live)
}

impl StripeAccount {
    /// The account Connect onboarding made for a merchant (`POST /v1/merchants/me/stripe_connect`).
    pub fn connected(account_id: String) -> StripeAccount {
        StripeAccount {
            mode: StripeMode::Connect,
            secret_key: no_secret(),
            publishable_key: String::new(),
            webhook_secret: no_secret(),
            connected_account_id: Some(account_id),
        }
    }

    /// What a merchant may send (`PUT /v1/merchants/me/providers/stripe`): their own
    /// keys, direct mode. A connected account is never typed in: a mistyped or someone
    /// else's `acct_` would route their customers' money there.
    fn validate(&self, livemode: bool) -> Result<(), ApiError> {
        if self.mode == StripeMode::Connect || self.connected_account_id.is_some() {
            return Err(invalid(
                "mode",
                "Connect accounts come only from onboarding: POST /v1/merchants/me/stripe_connect. It needs no Stripe keys of yours.",
            ));
        }
        check_len("secret_key", self.secret_key.expose())?;
        check_len("publishable_key", &self.publishable_key)?;
        check_len("webhook_secret", self.webhook_secret.expose())?;
        let sk = key_mode(self.secret_key.expose(), "sk_").ok_or_else(|| {
            invalid(
                "secret_key",
                "secret_key must be a Stripe secret key (sk_test_… or sk_live_…).",
            )
        })?;
        let pk = key_mode(&self.publishable_key, "pk_").ok_or_else(|| {
            invalid(
                "publishable_key",
                "publishable_key must be a Stripe publishable key (pk_test_… or pk_live_…).",
            )
        })?;
        if sk != pk {
            return Err(invalid(
                "publishable_key",
                "The secret and publishable keys must both be test keys or both live keys.",
            ));
        }
        if sk != livemode {
            let want = if livemode { "live" } else { "test" };
            return Err(invalid(
                "secret_key",
                format!("This merchant is in {want} mode: use Stripe {want} keys."),
            ));
        }
        if !self.webhook_secret.expose().starts_with("whsec_") {
            return Err(invalid(
                "webhook_secret",
                "webhook_secret must be a Stripe endpoint secret (whsec_…).",
            ));
        }
        Ok(())
    }
}

impl ProviderAccount {
    pub fn provider(&self) -> Provider {
        match self {
            ProviderAccount::Stripe(_) => Provider::Stripe,
            ProviderAccount::Worldpay(_) => Provider::Worldpay,
            ProviderAccount::Cashcloud(_) => Provider::Cashcloud,
        }
    }

    /// Checks shapes and that test and live credentials never mix within a merchant.
    pub fn validate(&self, livemode: bool) -> Result<(), ApiError> {
        match self {
            ProviderAccount::Stripe(a) => a.validate(livemode),
            ProviderAccount::Worldpay(a) => {
                check_len("username", a.username.expose())?;
                check_len("password", a.password.expose())?;
                check_len("webhook_secret", a.webhook_secret.expose())?;
                check_len("entity", &a.entity)?;
                if !a.entity.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "entity",
                        "entity is the Worldpay entity reference: letters and digits only.",
                    ));
                }
                Ok(())
            }
            ProviderAccount::Cashcloud(a) => {
                check_len("username", &a.username)?;
                check_len("password", a.password.expose())?;
                check_len("api_password", a.api_password.expose())?;
                if let Some(d) = &a.device_id {
                    check_len("device_id", d)?;
                }
                Ok(())
            }
        }
    }

    /// What a merchant reads back: identifiers in full, secrets masked.
    pub fn masked(&self) -> Value {
        match self {
            ProviderAccount::Stripe(a) => json!({
                "provider": "stripe",
                "mode": match a.mode { StripeMode::Direct => "direct", StripeMode::Connect => "connect" },
                "secret_key": mask(a.secret_key.expose()),
                "publishable_key": a.publishable_key,
                "webhook_secret": mask(a.webhook_secret.expose()),
                "connected_account_id": a.connected_account_id,
            }),
            ProviderAccount::Worldpay(a) => json!({
                "provider": "worldpay",
                "username": mask(a.username.expose()),
                "password": mask(a.password.expose()),
                "entity": a.entity,
                "webhook_secret": mask(a.webhook_secret.expose()),
            }),
            ProviderAccount::Cashcloud(a) => json!({
                "provider": "cashcloud",
                "username": a.username,
                "password": mask(a.password.expose()),
                "device_id": a.device_id,
                "api_password": mask(a.api_password.expose()),
                "plan": match a.plan { CashcloudPlan::Corporate => "corporate", CashcloudPlan::CorporatePlus => "corporate_plus" },
            }),
        }
    }

    /// The plaintext that gets sealed (AES-256-GCM) at rest. Handle it as a secret:
    /// it exists only between here and the sealing call.
    pub fn sealed_document(&self) -> Secret {
        let doc = match self {
            ProviderAccount::Stripe(a) => json!({
                "mode": match a.mode { StripeMode::Direct => "direct", StripeMode::Connect => "connect" },
                "secret_key": a.secret_key.expose(),
                "publishable_key": a.publishable_key,
                "webhook_secret": a.webhook_secret.expose(),
                "connected_account_id": a.connected_account_id,
            }),
            ProviderAccount::Worldpay(a) => json!({
                "username": a.username.expose(),
                "password": a.password.expose(),
                "entity": a.entity,
                "webhook_secret": a.webhook_secret.expose(),
            }),
            ProviderAccount::Cashcloud(a) => json!({
                "username": a.username,
                "password": a.password.expose(),
                "device_id": a.device_id,
                "api_password": a.api_password.expose(),
                "plan": match a.plan { CashcloudPlan::Corporate => "corporate", CashcloudPlan::CorporatePlus => "corporate_plus" },
            }),
        };
        Secret::from(doc.to_string())
    }

    /// Parses a request body or an opened sealed document for `provider`.
    pub fn from_json(
        provider: Provider,
        body: &[u8],
    ) -> Result<ProviderAccount, serde_json::Error> {
        Ok(match provider {
            Provider::Stripe => ProviderAccount::Stripe(serde_json::from_slice(body)?),
            Provider::Worldpay => ProviderAccount::Worldpay(serde_json::from_slice(body)?),
            Provider::Cashcloud => ProviderAccount::Cashcloud(serde_json::from_slice(body)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(body: Value) -> ProviderAccount {
        ProviderAccount::from_json(Provider::Stripe, body.to_string().as_bytes()).unwrap()
    }

    fn good_stripe() -> Value {
        json!({"mode": "direct", "secret_key": "sk_test_51Habcdefghijkl4242",
               "publishable_key": "pk_test_51Habcdefgh", "webhook_secret": "whsec_abcdefgh1234"})
    }

    #[test]
    fn a_valid_stripe_account_masks_its_secrets() {
        let a = stripe(good_stripe());
        a.validate(false).unwrap();
        let masked = a.masked().to_string();
        assert!(!masked.contains("51Habcdefghijkl4242"), "{masked}");
        assert!(!masked.contains("abcdefgh1234"), "{masked}");
        assert!(masked.contains("4242"));
        // The sealed document round-trips to the same account.
        let doc = a.sealed_document();
        let back = ProviderAccount::from_json(Provider::Stripe, doc.expose().as_bytes()).unwrap();
        assert_eq!(back.masked(), a.masked());
    }

    #[test]
    fn stripe_keys_are_checked_for_shape_and_mode() {
        let cases = [
            ("secret_key", json!("rk_test_abc")),
            ("secret_key", json!("sk_live_abc")), // live key on a test merchant
            ("publishable_key", json!("pk_live_abc")),
            ("publishable_key", json!("sk_test_abc")),
            ("webhook_secret", json!("secret")),
            ("secret_key", json!("")),
        ];
        for (field, value) in cases {
            let mut body = good_stripe();
            body[field] = value.clone();
            let err = stripe(body).validate(false).unwrap_err();
            assert_eq!(err.status, 400, "{field}={value}");
            assert!(err.param.is_some(), "{field}={value}");
        }
        // Test keys on a live merchant are refused too.
        assert!(stripe(good_stripe()).validate(true).is_err());
    }

    #[test]
    fn connect_accounts_are_never_typed_in() {
        let mut body = good_stripe();
        body["mode"] = json!("connect");
        let refuse = |b: &Value| stripe(b.clone()).validate(false).unwrap_err().param;
        assert_eq!(refuse(&body).as_deref(), Some("mode"));
        body["connected_account_id"] = json!("acct_1Abc");
        assert_eq!(refuse(&body).as_deref(), Some("mode"));
        body["mode"] = json!("direct");
        assert_eq!(refuse(&body).as_deref(), Some("mode"));
        // Onboarding's own account needs no keys of the merchant's.
        let made = StripeAccount::connected("acct_1Made".into());
        assert_eq!(made.mode, StripeMode::Connect);
        let doc = ProviderAccount::Stripe(made).sealed_document();
        let back = ProviderAccount::from_json(Provider::Stripe, doc.expose().as_bytes()).unwrap();
        let ProviderAccount::Stripe(back) = back else {
            panic!()
        };
        assert_eq!(back.connected_account_id.as_deref(), Some("acct_1Made"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut body = good_stripe();
        body["api_base"] = json!("https://evil.example");
        assert!(ProviderAccount::from_json(Provider::Stripe, body.to_string().as_bytes()).is_err());
    }

    #[test]
    fn worldpay_and_cashcloud_accounts_validate_and_mask() {
        let wp = ProviderAccount::from_json(
            Provider::Worldpay,
            br#"{"username":"merchant-user-1","password":"correct horse battery","entity":"default","webhook_secret":"wp-hook-secret-123456"}"#,
        )
        .unwrap();
        wp.validate(false).unwrap();
        assert!(!wp.masked().to_string().contains("horse"));
        let cc = ProviderAccount::from_json(
            Provider::Cashcloud,
            br#"{"username":"shop@example.com","password":"wallet-pass-123","api_password":"api-pass-987654","plan":"corporate"}"#,
        )
        .unwrap();
        cc.validate(false).unwrap();
        let m = cc.masked().to_string();
        assert!(!m.contains("wallet-pass") && !m.contains("api-pass"), "{m}");
        let bad = ProviderAccount::from_json(
            Provider::Worldpay,
            br#"{"username":"u","password":"p","entity":"bad entity!","webhook_secret":"s"}"#,
        )
        .unwrap();
        assert_eq!(
            bad.validate(false).unwrap_err().param.as_deref(),
            Some("entity")
        );
    }
}
