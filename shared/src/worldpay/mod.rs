//! Worldpay (Access Worldpay JSON API), sans I/O (DESIGN.md, "Sans-I/O providers";
//! PROVIDERS.md, "Worldpay").
//!
//! The flow: the customer is sent to Worldpay's hosted payment page, where the
//! amount is only reserved (`settlement.auto=false`); when the goods ship the
//! merchant captures (a partial or full settlement); the rest is cancelled or
//! refunded later.
//!
//! - [`requests`]: our values in, one [`HttpRequest`] out (JSON bodies; the Worker
//!   prepends the configured base URL, as for Stripe and Cashcloud);
//! - [`wire`]: Worldpay's JSON replies (payment status, hosted page) and errors;
//! - [`events`]: `lastEvent` names onto the one intent state machine;
//! - [`webhook`]: event notifications and their `Event-Signature` check.
//!
//! Money becomes minor units only here; the credentials are exposed only while a
//! request is being described.

pub mod events;
pub mod requests;
pub mod webhook;
pub mod wire;

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::accounts::WorldpayAccount;
use crate::error::ApiError;
use crate::secrets::Secret;

/// The described request, shared by every adapter ([`crate::http`]).
pub use crate::http::HttpRequest;

/// Sent as `WP-Api-Version` on every request.
pub const API_VERSION: &str = "2024-06-01";

/// The header that makes a POST safe to resend (see [`idempotency_key`]).
///
/// We send `Idempotency-Key`, not `WP-CorrelationId`: Worldpay's correlation id is
/// a tracing id it echoes back, and the notes promise no replay for it, whereas
/// `Idempotency-Key` means "replay the first outcome" everywhere else in this
/// stack (our API, Stripe), and the Worldpay stand-in implements exactly that.
/// If the real API wants another header, change this constant only.
pub const IDEMPOTENCY_HEADER: &str = crate::http::IDEMPOTENCY_KEY_HEADER;

/// The merchant's API credentials: HTTP Basic `username:password`.
/// `Secret`'s own `Debug` keeps both out of logs.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    pub username: &'a Secret,
    pub password: &'a Secret,
}

impl<'a> Auth<'a> {
    pub fn new(username: &'a Secret, password: &'a Secret) -> Auth<'a> {
        Auth { username, password }
    }

    pub fn for_account(account: &'a WorldpayAccount) -> Auth<'a> {
        Auth::new(&account.username, &account.password)
    }

    /// `Basic base64(username:password)`.
    pub fn header_value(&self) -> String {
        let pair = format!("{}:{}", self.username.expose(), self.password.expose());
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// Why a request could not be described. Each is our bug or a misconfiguration,
/// never the customer's, except a zero amount (the caller's to fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Worldpay moves only positive amounts.
    ZeroAmount,
    /// A Worldpay payment id that could break out of its path segment (empty,
    /// `.`/`..`, or characters other than `A-Za-z0-9-._~:=`), or longer than 1024.
    InvalidPaymentId,
    /// One of our fields (intent id, reference, entity, narrative, URL) is empty,
    /// too long or has characters Worldpay does not take.
    InvalidField { field: &'static str },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroAmount => f.write_str("Worldpay amounts must be above zero"),
            BuildError::InvalidPaymentId => f.write_str("not a usable Worldpay payment id"),
            BuildError::InvalidField { field } => write!(f, "{field} is not usable for Worldpay"),
        }
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            BuildError::ZeroAmount => crate::money::AmountError::Zero.to_api_error("amount"),
            BuildError::InvalidPaymentId | BuildError::InvalidField { .. } => {
                crate::http::request_invalid()
            }
        }
    }
}

/// The idempotency key of one operation on one of *our* objects:
/// `{our_id}:{operation}`. Deterministic, so the Worker's resend after a timeout
/// carries the same key and the provider replays the first outcome. Each
/// operation we send to Worldpay is one-shot per object (one hosted page per
/// intent, one settlement per capture, one cancellation, one refund per refund id),
/// except the hosted page, which is one per attempt
/// (`{our_intent_id}:payment_page:{attempt}`). Built by [`crate::http::idempotency_key`].
pub fn idempotency_key(our_id: &str, operation: &str) -> String {
    crate::http::idempotency_key(our_id, operation, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header() {
        let (u, p) = (Secret::new("user"), Secret::new("pass:word"));
        // base64("user:pass:word")
        assert_eq!(
            Auth::new(&u, &p).header_value(),
            "Basic dXNlcjpwYXNzOndvcmQ="
        );
        assert!(!format!("{:?}", Auth::new(&u, &p)).contains("pass:word"));
    }

    #[test]
    fn build_errors_map_to_api_errors() {
        assert_eq!(BuildError::ZeroAmount.to_api_error().code, "invalid_amount");
        assert_eq!(BuildError::InvalidPaymentId.to_api_error().status, 500);
        let e = BuildError::InvalidField { field: "entity" }.to_api_error();
        assert_eq!(
            (e.status, e.code.as_str()),
            (500, "provider_request_invalid")
        );
        assert_eq!(idempotency_key("pi_1", "cancel"), "pi_1:cancel");
    }
}
