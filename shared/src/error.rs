//! The API's error shape (`../shared/API.md`, Conventions):
//! `{"error": {"type", "code", "message", "param"?}}` with an HTTP status.

use serde::Serialize;

/// The `type` of an API error: what class of problem the caller has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    PermissionError,
    IdempotencyError,
    ProviderError,
    RateLimitError,
    ApiError,
}

/// One API error: status plus the JSON body the caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorType,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    #[serde(rename = "type")]
    kind: ErrorType,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: u16, kind: ErrorType, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: code.to_owned(),
            message: message.into(),
            param: None,
        }
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400: the request is wrong in a way the caller can fix.
    pub fn invalid_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, ErrorType::InvalidRequestError, code, message)
    }

    /// 404: missing, or another merchant's (the two are indistinguishable on purpose).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            404,
            ErrorType::InvalidRequestError,
            "resource_missing",
            format!("No such {what}."),
        )
    }

    /// 404 for a path no route serves.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(
            404,
            ErrorType::InvalidRequestError,
            "route_not_found",
            format!("No route for {method} {path}."),
        )
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            ErrorType::InvalidRequestError,
            "method_not_allowed",
            format!("{method} is not allowed on {path}."),
        )
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(
            401,
            ErrorType::AuthenticationError,
            "invalid_api_key",
            message,
        )
    }

    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(403, ErrorType::PermissionError, "forbidden", message)
    }

    pub fn idempotency(message: impl Into<String>) -> Self {
        Self::new(
            409,
            ErrorType::IdempotencyError,
            "idempotency_key_in_use",
            message,
        )
    }

    pub fn provider(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::new(status, ErrorType::ProviderError, code, message)
    }

    pub fn rate_limit(message: impl Into<String>) -> Self {
        Self::new(429, ErrorType::RateLimitError, "rate_limited", message)
    }

    /// 500: our fault. The message never carries internals (they may hold secrets).
    pub fn internal() -> Self {
        Self::new(
            500,
            ErrorType::ApiError,
            "internal_error",
            "Something went wrong on our side. It is safe to retry with the same Idempotency-Key.",
        )
    }

    /// The JSON body of this error.
    pub fn to_json(&self) -> String {
        let body = Body {
            error: Inner {
                kind: self.kind,
                code: &self.code,
                message: &self.message,
                param: self.param.as_deref(),
            },
        };
        serde_json::to_string(&body).expect("error body serialises")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_has_type_code_message_and_optional_param() {
        let e = ApiError::invalid_request("invalid_amount", "too many digits").with_param("amount");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "invalid_amount");
        assert_eq!(v["error"]["message"], "too many digits");
        assert_eq!(v["error"]["param"], "amount");

        let v: serde_json::Value = serde_json::from_str(&ApiError::internal().to_json()).unwrap();
        assert!(v["error"].get("param").is_none());
        assert_eq!(v["error"]["type"], "api_error");
    }
}
