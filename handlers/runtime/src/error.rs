//! The one error envelope every handler answers with:
//! `{"error": {"code", "message", "details", "request_id"}, "degraded": bool}`.
//!
//! Handlers return [`ApiError`]; the runtime fills in the request id and renders it, so
//! no response leaves a handler without the envelope.

use serde::Serialize;
use serde_json::{json, Value};

/// The error codes of the contract, with the HTTP status each one answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 401: missing, malformed, expired or wrong-audience token.
    AuthFailed,
    /// 403: a valid token without the role or scope the route needs.
    Unauthorized,
    /// 400: a body too large, invalid JSON, a bad field, query or header.
    InvalidInput,
    /// 404: no such route or resource (for this tenant).
    NotFound,
    /// 409: an idempotency key reused with another body, or a conflicting write.
    Conflict,
    /// 429: throttled by the store; retry after the given delay.
    RateLimit,
    /// 405: a known path called with a method it does not serve (`Allow` lists them).
    MethodNotAllowed,
    /// 413: a body over the operation's limit (where the contract lists a 413).
    PayloadTooLarge,
    /// 503: the capability is switched off by its `ENABLED` flag.
    CapabilityDisabled,
    /// 503: an upstream the capability depends on (a model provider) is throttled,
    /// failing or unreachable, and no fallback answer exists; retry after `Retry-After`.
    CapabilityDegraded,
    /// 500, or 503 with `Retry-After` when the store is unavailable.
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "AUTH_FAILED",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimit => "RATE_LIMIT",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::CapabilityDisabled => "CAPABILITY_DISABLED",
            ErrorCode::CapabilityDegraded => "CAPABILITY_DEGRADED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }

    fn default_status(self) -> u16 {
        match self {
            ErrorCode::AuthFailed => 401,
            ErrorCode::Unauthorized => 403,
            ErrorCode::InvalidInput => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimit => 429,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::CapabilityDisabled => 503,
            ErrorCode::CapabilityDegraded => 503,
            ErrorCode::InternalError => 500,
        }
    }
}

/// An error a handler answers with. Built with the constructors below so the status,
/// code and degraded marker stay consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    pub details: Value,
    pub degraded: bool,
    /// Seconds for the `Retry-After` header.
    pub retry_after: Option<u32>,
}

/// Seconds a client is asked to wait before retrying a write the store could not take.
pub const RETRY_AFTER_SECONDS: u32 = 5;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.default_status(),
            code,
            message: message.into(),
            details: json!({}),
            degraded: false,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn auth_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AuthFailed, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 400 naming the offending field (`body`, `title`, `limit`, a header...).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message).with_details(json!({ "field": field }))
    }

    /// 405: `path` exists, but not for `method`; `details.allow` lists the methods it
    /// serves, which the runtime also sends as the `Allow` header.
    pub fn method_not_allowed(method: &str, path: &str, allow: &str) -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            format!("{path} does not answer {method}; it answers {allow}"),
        )
        .with_details(json!({ "allow": allow }))
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<&str> {
        match self.code {
            ErrorCode::MethodNotAllowed => self.details["allow"].as_str(),
            _ => None,
        }
    }

    /// The same error as 413 PAYLOAD_TOO_LARGE (an oversize body).
    pub fn too_large(mut self) -> Self {
        self.code = ErrorCode::PayloadTooLarge;
        self.status = 413;
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn rate_limited(message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::RateLimit, message);
        e.retry_after = Some(1);
        e
    }

    /// 503 CAPABILITY_DISABLED, degraded.
    pub fn disabled(capability: &str) -> Self {
        let mut e = Self::new(
            ErrorCode::CapabilityDisabled,
            format!("the {capability} capability is switched off; try again later"),
        );
        e.degraded = true;
        e.retry_after = Some(60);
        e
    }

    /// 503 for a write the store cannot take now (degraded mode or store unreachable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::InternalError, message);
        e.status = 503;
        e.degraded = true;
        e.retry_after = Some(RETRY_AFTER_SECONDS);
        e
    }

    /// 503 CAPABILITY_DEGRADED, degraded, with `Retry-After`: what the capability
    /// depends on (not its store) cannot answer and there is no fallback.
    pub fn upstream_degraded(message: impl Into<String>, retry_after: u32) -> Self {
        let mut e = Self::new(ErrorCode::CapabilityDegraded, message);
        e.degraded = true;
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// The same error asking the client to wait `seconds` before retrying.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 500 with the envelope; the cause goes to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "the request failed unexpectedly; it was logged with its request id",
        )
    }

    /// The envelope body for `request_id`.
    pub fn envelope(&self, request_id: &str) -> Value {
        json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "details": self.details,
                "request_id": request_id,
            },
            "degraded": self.degraded,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            self.code.as_str(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let e = ApiError::invalid("title", "title must not be empty");
        assert_eq!(e.status, 400);
        assert_eq!(
            e.envelope("req-1"),
            json!({"error": {"code": "INVALID_INPUT", "message": "title must not be empty",
                   "details": {"field": "title"}, "request_id": "req-1"}, "degraded": false})
        );
    }

    #[test]
    fn unavailable_writes_are_degraded_503_with_retry_after() {
        let e = ApiError::unavailable("store unreachable");
        assert_eq!((e.status, e.degraded, e.retry_after), (503, true, Some(5)));
        let d = ApiError::disabled("messaging");
        assert_eq!(
            (d.status, d.code, d.degraded),
            (503, ErrorCode::CapabilityDisabled, true)
        );
    }

    #[test]
    fn every_code_has_its_status() {
        for (code, status) in [
            (ErrorCode::AuthFailed, 401),
            (ErrorCode::Unauthorized, 403),
            (ErrorCode::InvalidInput, 400),
            (ErrorCode::NotFound, 404),
            (ErrorCode::Conflict, 409),
            (ErrorCode::RateLimit, 429),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::CapabilityDisabled, 503),
            (ErrorCode::InternalError, 500),
        ] {
            assert_eq!(ApiError::new(code, "x").status, status);
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::String(code.as_str().into())
            );
        }
    }
}
