//! `Idempotency-Key` helpers. The record itself is written by the capability's store in
//! the same transaction as the write it guards, so two concurrent requests with one key
//! can never both write; this module decides what a found record means.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The first response given for a key, replayed for a repeat of the same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// SHA-256 of what identifies the request: method, path and body.
    pub fingerprint: String,
    pub status: u16,
    /// The JSON body of the first response.
    pub body: String,
}

/// An idempotency record to write in the same transaction as the resource it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyWrite {
    pub key: String,
    pub response: StoredResponse,
    /// Epoch seconds after which DynamoDB's TTL may delete it.
    pub expires_at: i64,
}

/// The key of a write in progress: what the runtime found and the handler records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub key: String,
    pub fingerprint: String,
    pub expires_at: i64,
}

impl Pending {
    pub fn new(key: String, fingerprint: String, ttl: std::time::Duration) -> Self {
        Pending {
            key,
            fingerprint,
            expires_at: now_epoch_seconds() + ttl.as_secs() as i64,
        }
    }

    /// The record answering `status` and `body` to every repeat of the request.
    pub fn record(&self, status: u16, body: &serde_json::Value) -> IdempotencyWrite {
        IdempotencyWrite {
            key: self.key.clone(),
            response: StoredResponse {
                fingerprint: self.fingerprint.clone(),
                status,
                body: body.to_string(),
            },
            expires_at: self.expires_at,
        }
    }
}

/// Now, in epoch seconds (TTL attributes).
pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A validated `Idempotency-Key` header value: 1 to 128 printable ASCII characters.
pub fn parse_key(header: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(key) = header else {
        return Ok(None);
    };
    let key = key.trim();
    if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 128 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(key.to_string()))
}

/// The fingerprint of a request: the same method, path and body give the same value.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A record found for the key: replay it for the same request, 409 for another one.
pub fn replay(record: &StoredResponse, fingerprint: &str) -> Result<StoredResponse, ApiError> {
    if record.fingerprint == fingerprint {
        Ok(record.clone())
    } else {
        Err(ApiError::conflict(
            "this Idempotency-Key was already used with a different request body; use a new key for a new request",
        )
        .with_details(serde_json::json!({"field": "Idempotency-Key"})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_request_replays_other_body_conflicts() {
        let f1 = fingerprint("POST", "/v1/threads", br#"{"title":"a"}"#);
        let f2 = fingerprint("POST", "/v1/threads", br#"{"title":"b"}"#);
        assert_ne!(f1, f2);
        let rec = StoredResponse {
            fingerprint: f1.clone(),
            status: 201,
            body: "{}".into(),
        };
        assert_eq!(replay(&rec, &f1).unwrap().status, 201);
        assert_eq!(replay(&rec, &f2).unwrap_err().status, 409);
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(parse_key(None).unwrap(), None);
        assert_eq!(parse_key(Some("k-1")).unwrap().as_deref(), Some("k-1"));
        assert!(parse_key(Some("")).is_err());
        assert!(parse_key(Some("has space")).is_err());
        assert!(parse_key(Some(&"x".repeat(129))).is_err());
    }
}
