//! What the providers' wire modules share: the error for a reply we cannot read.

use std::fmt;

use crate::error::ApiError;

/// Why a provider's body could not be read: whose body, what we were reading,
/// and serde's position. Never the offending text, which may be
/// provider-written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The provider's name as the message shows it, e.g. `"Stripe"`.
    pub provider: &'static str,
    pub what: &'static str,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not read {}'s {} (line {}, column {})",
            self.provider, self.what, self.line, self.column
        )
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// 502: the provider answered something we cannot read.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::provider(
            502,
            "provider_unreadable",
            "The payment provider's answer could not be read.",
        )
    }

    /// Readable JSON that is not what we expect (a field missing, a value out
    /// of place): no position to give.
    pub(crate) fn invalid(provider: &'static str, what: &'static str) -> ParseError {
        ParseError {
            provider,
            what,
            line: 0,
            column: 0,
        }
    }

    /// From serde's error, keeping only its position.
    pub(crate) fn json(
        provider: &'static str,
        what: &'static str,
        e: &serde_json::Error,
    ) -> ParseError {
        ParseError {
            provider,
            what,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Reads `body` as JSON, or says (without its text) why not.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    body: &[u8],
    what: &'static str,
) -> Result<T, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::json(provider, what, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_whose_body_and_where_never_its_text() {
        let e =
            parse_json::<serde_json::Value>("Stripe", b"{\"secret\": nope}", "refund").unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not read Stripe's refund (line 1, column 13)"
        );
        assert!(!format!("{e:?}").contains("nope"));
        assert_eq!(e.to_api_error().status, 502);
        assert_eq!(
            ParseError::invalid("Cashcloud", "salt").to_string(),
            "could not read Cashcloud's salt (line 0, column 0)"
        );
    }
}
