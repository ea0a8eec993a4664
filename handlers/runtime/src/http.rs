//! The request a handler sees and the reply it gives, independent of the event format:
//! built from the API Gateway HTTP API (payload 2.0) request `lambda_http` decodes.

use std::collections::BTreeMap;

use lambda_http::http::HeaderMap;
use lambda_http::RequestExt;
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

    const TRACE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn invocation() -> lambda_http::Context {
        let mut context = lambda_http::Context::default();
        context.request_id = "lambda-request".into();
        context.xray_trace_id = Some(TRACE.into());
        context
    }

    #[test]
    fn the_invocations_xray_trace_id_follows_the_request() {
        let request = lambda_http::Request::default().with_lambda_context(invocation());
        let request = ApiRequest::from_lambda(request);
        assert_eq!(request.trace_id.as_deref(), Some(TRACE));
        assert_eq!(request.request_id, "lambda-request");
    }

    #[test]
    fn a_trace_header_the_caller_sent_comes_first() {
        let mut request = lambda_http::Request::default();
        request.headers_mut().insert(
            "x-amzn-trace-id",
            "Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb".parse().unwrap(),
        );
        let request = ApiRequest::from_lambda(request.with_lambda_context(invocation()));
        assert_eq!(
            request.trace_id.as_deref(),
            Some("Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb")
        );
    }
}
