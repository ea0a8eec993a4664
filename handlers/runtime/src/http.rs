//! The request a handler sees and the reply it gives, independent of the event format:
//! built from the API Gateway HTTP API (payload 2.0) request `lambda_http` decodes.

use std::collections::BTreeMap;

use lambda_http::http::HeaderMap;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// One HTTP request, owned, with the ids that follow it through logs.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// Upper-case method.
    pub method: String,
    pub path: String,
    /// First value of each query parameter.
    pub query: BTreeMap<String, String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// API Gateway's request id (or the Lambda invocation's when there is none).
    pub request_id: String,
    /// `X-Amzn-Trace-Id`, or the invocation's X-Ray trace id.
    pub trace_id: Option<String>,
}

impl ApiRequest {
    pub fn from_lambda(req: lambda_http::Request) -> Self {
        let gateway_id = match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
            _ => None,
        };
        let lambda = req.lambda_context_ref();
        let request_id = gateway_id
            .or_else(|| {
                lambda
                    .map(|c| c.request_id.clone())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(uuid_like);
        let trace_id = req
            .headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| lambda.and_then(|c| c.xray_trace_id.clone()));
        let query = req
            .query_string_parameters_ref()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let (parts, body) = req.into_parts();
        ApiRequest {
            method: parts.method.as_str().to_ascii_uppercase(),
            path: parts.uri.path().to_string(),
            query,
            headers: parts.headers,
            body: body.as_ref().to_vec(),
            request_id,
            trace_id,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header that must be visible ASCII when present: INVALID_INPUT naming it otherwise.
    pub fn header_checked(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).map_err(|_| {
                ApiError::invalid(name, format!("the {name} header must be visible ASCII"))
            }),
        }
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A whole-number query parameter (the contract bounds it), or `default`.
    pub fn query_int(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        self.query(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| ApiError::invalid(name, format!("{name} must be a whole number")))
        })
    }

    /// An RFC 3339 query parameter as epoch milliseconds, or `default`.
    pub fn query_time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        crate::time::millis_of(name, self.query(name), default)
    }

    /// Parses the JSON body into `T`. A body over `max_bytes`, a body that is not JSON,
    /// or a field of the wrong type is INVALID_INPUT naming the field.
    pub fn json<T: DeserializeOwned>(&self, max_bytes: usize) -> Result<T, ApiError> {
        if self.body.len() > max_bytes {
            return Err(ApiError::invalid(
                "body",
                format!(
                    "the body is {} bytes; the limit is {max_bytes}",
                    self.body.len()
                ),
            ));
        }
        if self.body.is_empty() {
            return Err(ApiError::invalid("body", "a JSON body is required"));
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let syntax = matches!(
                inner.classify(),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            );
            let field = if syntax || path == "?" {
                "body".to_string()
            } else if path == "." || path.is_empty() {
                missing_field(&inner.to_string()).unwrap_or_else(|| "body".to_string())
            } else {
                path
            };
            let message = if syntax {
                format!("the body is not valid JSON: {inner}")
            } else {
                format!("invalid {field}: {inner}")
            };
            ApiError::invalid(&field, message)
        })
    }
}

/// serde says "missing field `title`"; the envelope names `title`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("local-{nanos:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A successful reply: a JSON object the runtime adds `degraded` to.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub degraded: bool,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: 200,
            body,
            degraded: false,
            headers: Vec::new(),
        }
    }

    pub fn created(body: Value) -> Self {
        Reply {
            status: 201,
            ..Reply::ok(body)
        }
    }

    pub fn degraded(mut self, degraded: bool) -> Self {
        self.degraded = degraded;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        count: u32,
    }

    fn request(body: &str) -> ApiRequest {
        ApiRequest {
            method: "POST".into(),
            path: "/".into(),
            query: BTreeMap::new(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            request_id: "r".into(),
            trace_id: None,
        }
    }

    fn field(body: &str, max: usize) -> String {
        let e = request(body).json::<Body>(max).unwrap_err();
        assert_eq!(e.status, 400);
        e.details["field"].as_str().unwrap().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"title": 1, "count": 1}"#, 1000), "title");
        assert_eq!(field(r#"{"count": 1}"#, 1000), "title");
        assert_eq!(field(r#"{"title": "a", "count": -1}"#, 1000), "count");
        assert_eq!(field(r#"{"title": "a""#, 1000), "body");
        assert_eq!(field("", 1000), "body");
        assert_eq!(field(r#"{"title": "a", "count": 1}"#, 5), "body");
        assert!(request(r#"{"title": "a", "count": 1}"#)
            .json::<Body>(1000)
            .is_ok());
    }
}
