//! Cashcloud, sans I/O (DESIGN.md, "Sans-I/O providers"; PROVIDERS.md, "Cashcloud").
//!
//! Cashcloud is a wallet: we ask for money from a customer's wallet username, the
//! customer approves in the Cashcloud app with a PIN, and the money moves at once.
//! There is no reserve-then-capture, so Cashcloud intents are always
//! `capture_method=automatic` ([`check_intent`]).
//!
//! - [`auth`]: the token (`Authorization: Token …`) built from a salt, and the
//!   callback `control` hash;
//! - [`requests`]: our values in, one [`HttpRequest`] out (form bodies; the Worker
//!   prepends the configured base URL, as for Stripe);
//! - [`wire`]: Cashcloud's JSON replies and error statuses;
//! - [`events`]: transaction states onto the one intent state machine, and refund
//!   rows' own states;
//! - [`callback`]: the callback's `control` check (then always re-check the state
//!   with `GET transactions?hash=` before acting).
//!
//! Money becomes cents only here; a password is exposed only while a hash is made.

pub mod auth;
pub mod callback;
pub mod events;
pub mod requests;
pub mod wire;

use std::fmt;

use crate::error::ApiError;
use crate::fees::{cashcloud_check, CashcloudPlan, LimitError};
use crate::intent::CaptureMethod;
use crate::money::Money;

/// The described request, shared by every adapter ([`crate::http`]).
pub use crate::http::HttpRequest;

/// Cashcloud's `currency_id` for EUR, the only currency we send.
pub const CURRENCY_ID_EUR: u32 = 1;

/// Why a request could not be described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Cashcloud moves only EUR (or the amount is zero): the limit check was skipped.
    Limit(LimitError),
    /// A zero amount: Cashcloud asks for and refunds only positive amounts.
    ZeroAmount,
    /// The customer's wallet username is empty, too long or has control characters.
    InvalidUsername,
    /// A Cashcloud transaction hash that is empty, too long or has control
    /// characters: our stored data is wrong.
    InvalidHash,
    /// A field we fill (intent id, order reference, remark, callback URL) is empty
    /// or has control characters: our bug or misconfiguration.
    InvalidField { field: &'static str },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Limit(e) => fmt::Display::fmt(e, f),
            BuildError::ZeroAmount => f.write_str("Cashcloud amounts must be above zero"),
            BuildError::InvalidUsername => f.write_str("not a usable Cashcloud username"),
            BuildError::InvalidHash => f.write_str("not a usable Cashcloud transaction hash"),
            BuildError::InvalidField { field } => write!(f, "{field} is not usable for Cashcloud"),
        }
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            BuildError::Limit(e) => e.to_api_error(),
            BuildError::ZeroAmount => crate::money::AmountError::Zero.to_api_error("amount"),
            BuildError::InvalidUsername => ApiError::invalid_request(
                "parameter_invalid",
                "cashcloud_username must be the customer's Cashcloud username (usually their email address).",
            )
            .with_param("cashcloud_username"),
            BuildError::InvalidHash | BuildError::InvalidField { .. } => {
                crate::http::request_invalid()
            }
        }
    }
}

/// Checks a new Cashcloud intent (`POST /v1/payment_intents` with
/// `provider=cashcloud`): automatic capture only, then the plan's currency, minimum,
/// maximum and daily count ([`cashcloud_check`]; `transactions_today` excludes
/// this one).
///
/// For a non-EUR amount API.md wants the EUR equivalent quoted: call
/// [`cashcloud_check`] instead to keep the [`LimitError`], ask
/// [`requests::currency_rate`], and answer
/// `err.with_eur_equivalent(wire::parse_currency_rate(body)?).to_api_error()`.
pub fn check_intent(
    plan: CashcloudPlan,
    amount: &Money,
    capture_method: CaptureMethod,
    transactions_today: u32,
) -> Result<(), ApiError> {
    match capture_method {
        CaptureMethod::Automatic => {}
        CaptureMethod::Manual => {
            return Err(ApiError::invalid_request(
                "capture_method_not_supported",
                "Cashcloud payments are complete as soon as the customer approves them in the \
                 Cashcloud app, so they cannot be captured later: use capture_method automatic.",
            )
            .with_param("capture_method"))
        }
    }
    cashcloud_check(plan, amount, transactions_today).map_err(|e| e.to_api_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    #[test]
    fn manual_capture_is_refused_before_limits() {
        let e = check_intent(
            CashcloudPlan::Corporate,
            &eur("10.00"),
            CaptureMethod::Manual,
            0,
        )
        .unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.param.as_deref()),
            (400, "capture_method_not_supported", Some("capture_method"))
        );
        // Even when the amount would be refused too, the capture method is named.
        let e = check_intent(
            CashcloudPlan::Corporate,
            &eur("500.00"),
            CaptureMethod::Manual,
            9,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("capture_method"));
    }

    #[test]
    fn limits_come_from_the_plan() {
        let check = |plan, amount: Money, n| {
            check_intent(plan, &amount, CaptureMethod::Automatic, n).map_err(|e| e.code)
        };
        assert_eq!(check(CashcloudPlan::Corporate, eur("10.00"), 0), Ok(()));
        assert_eq!(
            check(CashcloudPlan::Corporate, eur("0.19"), 0),
            Err("amount_too_small".into())
        );
        assert_eq!(
            check(CashcloudPlan::Corporate, eur("200.01"), 0),
            Err("amount_too_large".into())
        );
        assert_eq!(
            check(CashcloudPlan::Corporate, eur("10.00"), 5),
            Err("daily_limit_exceeded".into())
        );
        assert_eq!(
            check(CashcloudPlan::CorporatePlus, eur("900.00"), 50),
            Ok(())
        );
        let chf = Money::parse("10.00", Currency::CHF).unwrap();
        assert_eq!(
            check(CashcloudPlan::Corporate, chf, 0),
            Err("currency_not_supported".into())
        );
    }

    #[test]
    fn build_errors_map_to_api_errors() {
        let e = BuildError::InvalidUsername.to_api_error();
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("cashcloud_username"))
        );
        assert_eq!(BuildError::InvalidHash.to_api_error().status, 500);
        assert_eq!(
            BuildError::InvalidField { field: "remark" }
                .to_api_error()
                .status,
            500
        );
        assert_eq!(BuildError::ZeroAmount.to_api_error().code, "invalid_amount");
        let limit = LimitError::CurrencyNotSupported {
            currency: Currency::CHF,
            eur_equivalent: None,
        };
        assert_eq!(
            BuildError::Limit(limit).to_api_error(),
            limit.to_api_error()
        );
    }
}
