//! Stripe, sans I/O (DESIGN.md, "Sans-I/O providers"; PROVIDERS.md, "Stripe").
//!
//! - [`requests`] turns our values into [`HttpRequest`]s the Worker sends as they are
//!   (after prepending the configured base URL);
//! - [`wire`] holds Stripe's JSON shapes, [`events`] maps them onto the intent
//!   state machine's events;
//! - [`webhook`] checks `Stripe-Signature`.
//!
//! Money becomes minor units only here, and a key is exposed only while a request
//! is being described.

pub mod events;
pub mod form;
pub mod requests;
pub mod webhook;
pub mod wire;

use std::fmt;

use crate::error::ApiError;
use crate::money::Money;
use crate::secrets::Secret;

/// Moved to [`crate::http`]; Stripe's keys are `{our_id}:{operation}[:{attempt}]`.
pub use crate::http::idempotency_key;
/// The described request, shared by every adapter (moved to [`crate::http`]).
pub use crate::http::HttpRequest;

/// Who a request is made as: the merchant's key in direct mode, the platform's in
/// connect mode (see [`Auth::for_account`]). `Secret`'s own `Debug` keeps the key out.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    pub secret_key: &'a Secret,
    /// Sent as `Stripe-Version` when set; otherwise the account's default applies.
    pub stripe_version: Option<&'a str>,
}

impl<'a> Auth<'a> {
    pub fn new(secret_key: &'a Secret) -> Auth<'a> {
        Auth {
            secret_key,
            stripe_version: None,
        }
    }

    pub fn with_version(self, version: &'a str) -> Auth<'a> {
        Auth {
            stripe_version: Some(version),
            ..self
        }
    }

    /// Destination charges run on the platform's key; direct ones on the merchant's.
    pub fn for_account(
        account: &'a crate::accounts::StripeAccount,
        platform_key: &'a Secret,
    ) -> Auth<'a> {
        use crate::accounts::StripeMode;
        match account.mode {
            StripeMode::Direct => Auth::new(&account.secret_key),
            StripeMode::Connect => Auth::new(platform_key),
        }
    }
}

/// Why a request could not be described. Each is our bug or a misconfiguration,
/// never the customer's, hence 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// An id that is not `prefix` + `[A-Za-z0-9_]`: it would be spliced into a path.
    InvalidId { expected_prefix: &'static str },
    /// Connect mode without `connected_account_id`.
    MissingConnectedAccount,
    /// The application fee is in another currency than the charge, or larger.
    FeeMismatch,
    /// Stripe takes three-decimal currencies (KWD, BHD) only in steps of 10 minor
    /// units.
    UnsupportedPrecision { amount: Money },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidId { expected_prefix } => {
                write!(f, "not a Stripe id of the form {expected_prefix}…")
            }
            BuildError::MissingConnectedAccount => {
                f.write_str("connect mode needs a connected account id")
            }
            BuildError::FeeMismatch => f.write_str(
                "the application fee must be in the charge's currency and at most the charge",
            ),
            BuildError::UnsupportedPrecision { amount } => write!(
                f,
                "Stripe accepts {} {} only to two decimal places",
                amount,
                amount.currency()
            ),
        }
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            // The caller can fix this one by choosing another amount.
            BuildError::UnsupportedPrecision { amount } => ApiError::invalid_request(
                "invalid_amount",
                format!(
                    "Stripe accepts {} amounts only to two decimal places (a last digit of 0).",
                    amount.currency()
                ),
            )
            .with_param("amount"),
            BuildError::InvalidId { .. }
            | BuildError::MissingConnectedAccount
            | BuildError::FeeMismatch => crate::http::request_invalid(),
        }
    }
}
