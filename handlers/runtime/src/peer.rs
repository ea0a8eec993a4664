//! Calls from one capability to another: the base URL from [`crate::Discovery`], a
//! service token from [`crate::Authenticator::service_token`], one bounded attempt.
//! Nothing here retries or panics: the caller decides what a failure means (the
//! metering outbox keeps the message for later).

use std::time::Duration;

use serde_json::Value;

/// Why a call to another capability did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// Its URL is not known here: discovery fell back to the same-origin `/api`, which a
    /// function cannot call.
    NotDiscovered(String),
    /// No answer in time: refused, reset, DNS, timeout.
    Unreachable(String),
    /// It answered with this status and body (a 4xx or 5xx; a 503 when it is disabled
    /// or degraded).
    Status(u16, Value),
    /// It answered 2xx with a body that is not JSON.
    Undecodable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotDiscovered(cap) => write!(
                f,
                "the {cap} capability's URL is not discovered (set CAP_{}_BASE_URL or deploy it)",
                cap.to_ascii_uppercase()
            ),
            CallError::Unreachable(why) => write!(f, "unreachable: {why}"),
            CallError::Status(status, body) => {
                let code = body["error"]["code"].as_str().unwrap_or("no envelope");
                write!(f, "answered {status} {code}")
            }
            CallError::Undecodable(why) => write!(f, "answered a body that is not JSON: {why}"),
        }
    }
}

/// An HTTP client for other capabilities, built once per instance; every call is one
/// attempt within its time limit.
#[derive(Clone)]
pub struct Peer {
    http: reqwest::Client,
    timeout: Duration,
}

impl Peer {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500).min(timeout))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .unwrap_or_default();
        Peer { http, timeout }
    }

    /// `POST <base_url><path>` with `body` as JSON, `token` as the bearer and, when given,
    /// an `Idempotency-Key`; the JSON answer of a 2xx, or why not, within the time limit.
    pub async fn post(
        &self,
        capability: &str,
        base_url: &str,
        path: &str,
        token: &str,
        idempotency_key: Option<&str>,
        body: &Value,
    ) -> Result<Value, CallError> {
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(CallError::NotDiscovered(capability.to_string()));
        }
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        let mut request = self
            .http
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .timeout(self.timeout);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::Unreachable(format!("POST {url}: {}", chain(&e))))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError::Unreachable(format!("POST {url}: {}", chain(&e))))?;
        let value: Result<Value, _> = serde_json::from_slice(&bytes);
        match (status, value) {
            (200..=299, Ok(v)) => Ok(v),
            (200..=299, Err(e)) => Err(CallError::Undecodable(e.to_string())),
            (_, v) => Err(CallError::Status(status, v.unwrap_or(Value::Null))),
        }
    }
}

/// An error with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
