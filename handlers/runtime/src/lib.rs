//! The runtime every stackpro handler shares: configuration from the stack's
//! environment variables, bearer-JWT auth, feature flags and capability discovery over
//! SSM, JSON logs and Embedded Metric Format metrics, the one error envelope, degraded
//! fallbacks and idempotency helpers.
//!
//! A capability implements [`Handler`] (a router and one async fn) and its `main`
//! calls [`run`]; [`Service::call`] is the entry point both Lambda and the tests use.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use serde_json::Value;

pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod flags;
pub mod http;
pub mod idempotency;
pub mod telemetry;

pub use auth::{Access, Authenticator, Principal, Role};
pub use config::{Config, ConfigError};
pub use discovery::Discovery;
pub use error::{ApiError, ErrorCode};
pub use flags::{FlagSnapshot, Flags};
pub use http::{ApiRequest, Reply};
pub use telemetry::Telemetry;

/// A matched route: its key for logs and metrics (`GET /v1/threads/{thread_id}`), what
/// it needs from the caller, and its path parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub key: &'static str,
    pub access: Access,
    pub params: Vec<String>,
}

/// What the runtime hands a capability with each request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub route: Route,
    pub request_id: String,
    pub trace_id: Option<String>,
    /// None on public routes.
    pub principal: Option<Principal>,
    pub flags: FlagSnapshot,
    /// `CAP_<X>_DEGRADED` is on: reads answer what they can without the store, writes 503.
    pub forced_degraded: bool,
}

impl RequestContext {
    /// The caller's tenant: always the token's, never the request's.
    pub fn tenant(&self) -> Result<&str, ApiError> {
        self.principal
            .as_ref()
            .map(|p| p.tenant_id.as_str())
            .ok_or_else(|| ApiError::auth_failed("this route needs a bearer token"))
    }
}

/// A capability's logic: a router and one async function over the request.
pub trait Handler: Send + Sync + 'static {
    /// The route `method path` matches, or None (404).
    fn route(&self, method: &str, path: &str) -> Option<Route>;

    /// Serves one request. Errors become the envelope.
    fn handle(
        &self,
        ctx: RequestContext,
        req: ApiRequest,
    ) -> impl Future<Output = Result<Reply, ApiError>> + Send;
}

/// The shared pieces, built once per Lambda instance.
pub struct Runtime {
    pub config: Config,
    pub auth: Authenticator,
    pub flags: Flags,
    pub discovery: Discovery,
    pub telemetry: Telemetry,
}

impl Runtime {
    /// Builds the SSM client once and everything over it; loads the JWT secret.
    pub async fn init(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let ssm = aws_sdk_ssm::Client::new(sdk);
        let rt = Self::build(config, Some(ssm));
        rt.auth.warm().await;
        rt
    }

    /// Without any SSM access: flags are the environment's defaults, the JWT secret
    /// must be in `STACKPRO_JWT_SECRET` (overhead benchmarks, unit tests).
    pub fn offline(config: Config) -> Self {
        Self::build(config, None)
    }

    fn build(config: Config, ssm: Option<aws_sdk_ssm::Client>) -> Self {
        let auth = Authenticator::new(&config, ssm.clone());
        let flags = Flags::new(
            ssm.clone(),
            &config.ssm_prefix,
            config.cache_ttl,
            config.flag_defaults.clone(),
        );
        let discovery = Discovery::new(
            ssm,
            &config.ssm_prefix,
            config.cache_ttl,
            config.flag_defaults.clone(),
        );
        let telemetry = Telemetry {
            namespace: config.metrics_namespace.clone(),
            env: config.env.clone(),
            capability: config.capability.clone(),
            emit: true,
        };
        Runtime {
            config,
            auth,
            flags,
            discovery,
            telemetry,
        }
    }
}

/// SDK configuration for handlers: the default chain (so `AWS_ENDPOINT_URL` reaches the
/// local emulator), tuned by [`tune`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    tune(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await,
    )
}

/// Short timeouts and two attempts, so an unreachable store turns into a degraded
/// answer within about a second instead of holding the request.
pub fn tune(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    sdk.to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(4))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .build()
}

/// How an AWS call failed, for choosing the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer: connection refused, DNS, timeout.
    Unreachable,
    /// The service asked us to slow down.
    Throttled,
    /// Any other service error, with its code.
    Service(String),
}

/// Classifies an SDK error of any AWS service.
pub fn classify<E, R>(e: &aws_sdk_ssm::error::SdkError<E, R>) -> Failure
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata,
{
    use aws_sdk_ssm::error::SdkError;
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Failure::Unreachable,
        SdkError::ServiceError(s) => match s.err().code() {
            Some(
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException",
            ) => Failure::Throttled,
            code => Failure::Service(code.unwrap_or("unknown").to_string()),
        },
        // A response that does not parse (an emulator's HTML 500, a proxy) counts as
        // the store being unavailable.
        _ => Failure::Unreachable,
    }
}

/// The full cause chain of an SDK error, for logs.
pub fn describe_sdk_error<E, R>(e: &aws_sdk_ssm::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    aws_sdk_ssm::error::DisplayErrorContext(e).to_string()
}

/// The entry point: turns any request into a response with the envelope on every
/// error, and records the request's log line and metrics.
pub struct Service<H> {
    runtime: Arc<Runtime>,
    handler: Arc<H>,
}

impl<H> Clone for Service<H> {
    fn clone(&self) -> Self {
        Service {
            runtime: self.runtime.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<H: Handler> Service<H> {
    pub fn new(runtime: Arc<Runtime>, handler: Arc<H>) -> Self {
        Service { runtime, handler }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The entry point Lambda calls: one raw API Gateway HTTP API (payload 2.0) event in,
    /// its response document out. The event is decoded here rather than by the runtime,
    /// so an event `lambda_http` cannot decode (a header value outside visible ASCII, for
    /// one) is a 400 with the envelope, not an invocation error API Gateway turns into a
    /// bare 500.
    pub async fn call_event(&self, event: lambda_http::LambdaEvent<Value>) -> Value {
        let (payload, context) = event.into_parts();
        let response = match serde_json::from_value::<lambda_http::request::LambdaRequest>(payload)
        {
            Ok(request) => {
                use lambda_http::RequestExt;
                let request: lambda_http::Request = request.into();
                self.call(request.with_lambda_context(context)).await
            }
            Err(e) => {
                tracing::warn!(request_id = %context.request_id, "undecodable event: {e}");
                let request = ApiRequest {
                    method: String::new(),
                    path: String::new(),
                    query: Default::default(),
                    headers: Default::default(),
                    body: Vec::new(),
                    request_id: context.request_id.clone(),
                    trace_id: context.xray_trace_id.clone(),
                };
                let error = ApiError::invalid(
                    "headers",
                    "the request could not be read: header values must be visible ASCII",
                );
                self.respond(request, "undecodable", None, Err(error), Instant::now())
            }
        };
        gateway_response(response)
    }

    /// Serves one Lambda HTTP request.
    pub async fn call(&self, req: lambda_http::Request) -> Response<Body> {
        self.serve(ApiRequest::from_lambda(req)).await
    }

    /// Serves one request already in the runtime's form.
    pub async fn serve(&self, req: ApiRequest) -> Response<Body> {
        let started = Instant::now();
        let head = ApiRequest {
            body: Vec::new(),
            ..req.clone()
        };
        let (route_key, tenant, result) = self.dispatch(req).await;
        self.respond(head, route_key, tenant.as_deref(), result, started)
    }

    /// Renders a result (the envelope for errors) and records its log and metrics lines.
    fn respond(
        &self,
        req: ApiRequest,
        route_key: &str,
        tenant: Option<&str>,
        result: Result<Reply, ApiError>,
        started: Instant,
    ) -> Response<Body> {
        let request_id = req.request_id;
        let trace_id = req.trace_id;
        let (status, body, degraded, headers) = match result {
            Ok(reply) => {
                let mut body = reply.body;
                if let Value::Object(map) = &mut body {
                    map.insert("degraded".into(), Value::Bool(reply.degraded));
                }
                (reply.status, body, reply.degraded, reply.headers)
            }
            Err(e) => {
                let mut headers = Vec::new();
                if let Some(s) = e.retry_after {
                    headers.push(("retry-after".to_string(), s.to_string()));
                }
                (e.status, e.envelope(&request_id), e.degraded, headers)
            }
        };
        self.runtime.telemetry.record(&telemetry::Outcome {
            route: route_key,
            status,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            degraded,
            tenant_id: tenant,
            request_id: &request_id,
            trace_id: trace_id.as_deref(),
        });
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-request-id", request_id.as_str());
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| {
                let mut r = Response::new(Body::Text(
                    ApiError::internal().envelope(&request_id).to_string(),
                ));
                *r.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
                r
            })
    }

    async fn dispatch(
        &self,
        req: ApiRequest,
    ) -> (&'static str, Option<String>, Result<Reply, ApiError>) {
        let Some(route) = self.handler.route(&req.method, &req.path) else {
            let e = ApiError::not_found(format!("no route {} {}", req.method, req.path));
            return ("unmatched", None, Err(e));
        };
        let key = route.key;
        let rt = &self.runtime;
        let principal = match rt
            .auth
            .authenticate(req.header("authorization"), route.access)
            .await
        {
            Ok(p) => p,
            Err(e) => return (key, None, Err(e)),
        };
        let tenant = principal.as_ref().map(|p| p.tenant_id.clone());
        let flags = rt.flags.snapshot().await;
        let prefix = rt.config.flag_prefix();
        if route.access != Access::Public
            && !flags.is_enabled(&format!("{prefix}ENABLED"), tenant.as_deref())
        {
            return (key, tenant, Err(ApiError::disabled(&rt.config.capability)));
        }
        let forced_degraded = flags.is_enabled(&format!("{prefix}DEGRADED"), tenant.as_deref());
        let ctx = RequestContext {
            route,
            request_id: req.request_id.clone(),
            trace_id: req.trace_id.clone(),
            principal,
            flags,
            forced_degraded,
        };
        // The handler runs in its own task so that a panic becomes a 500 with the
        // envelope instead of an invocation error without one.
        let handler = self.handler.clone();
        let result = match tokio::spawn(async move { handler.handle(ctx, req).await }).await {
            Ok(result) => result,
            Err(join) => {
                tracing::error!(route = key, "handler panicked: {join}");
                Err(ApiError::internal())
            }
        };
        (key, tenant, result)
    }
}

/// Runs the service on the Lambda runtime (or `cargo lambda watch`) until it stops.
pub async fn run<H: Handler>(service: Service<H>) -> Result<(), lambda_http::Error> {
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<Value>| {
            let service = service.clone();
            async move { Ok::<_, std::convert::Infallible>(service.call_event(event).await) }
        },
    ))
    .await
}

/// The API Gateway HTTP API (payload 2.0) response document of a response.
pub fn gateway_response(response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let body = match body {
        Body::Empty => String::new(),
        Body::Text(t) => t,
        Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    serde_json::json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "multiValueHeaders": {},
        "body": body,
        "isBase64Encoded": false,
        "cookies": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics on one route, answers on another.
    struct Fragile;

    impl Handler for Fragile {
        fn route(&self, method: &str, path: &str) -> Option<Route> {
            match (method, path) {
                ("GET", "/boom") => Some(Route {
                    key: "GET /boom",
                    access: Access::Public,
                    params: vec![],
                }),
                ("GET", "/ok") => Some(Route {
                    key: "GET /ok",
                    access: Access::Read,
                    params: vec![],
                }),
                _ => None,
            }
        }

        async fn handle(&self, ctx: RequestContext, _req: ApiRequest) -> Result<Reply, ApiError> {
            if ctx.route.key == "GET /boom" {
                panic!("a bug");
            }
            Ok(Reply::ok(serde_json::json!({"tenant": ctx.tenant()?})))
        }
    }

    fn service(enabled: &str) -> Service<Fragile> {
        let config = Config::from_vars(
            [
                ("STACKPRO_ENV", "local"),
                ("STACKPRO_CAPABILITY", "messaging"),
                ("STACKPRO_JWT_SECRET", "k"),
                ("CAP_MESSAGING_ENABLED", enabled),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        let mut runtime = Runtime::offline(config);
        runtime.telemetry.emit = false;
        Service::new(Arc::new(runtime), Arc::new(Fragile))
    }

    fn request(path: &str, token: Option<&str>) -> ApiRequest {
        let mut headers = lambda_http::http::HeaderMap::new();
        if let Some(t) = token {
            headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        ApiRequest {
            method: "GET".into(),
            path: path.into(),
            query: Default::default(),
            headers,
            body: Vec::new(),
            request_id: "req-7".into(),
            trace_id: None,
        }
    }

    async fn body(r: Response<Body>) -> (u16, Value) {
        let status = r.status().as_u16();
        (status, serde_json::from_slice(r.body().as_ref()).unwrap())
    }

    fn token() -> String {
        auth::sign(
            &auth::Claims {
                sub: "u".into(),
                tenant_id: "acme".into(),
                role: "member".into(),
                scope: "messaging:read".into(),
                exp: 4_102_444_800,
                aud: "stackpro".into(),
            },
            "k",
        )
    }

    #[tokio::test]
    async fn the_response_document_is_an_api_gateway_v2_response() {
        let r = service("true").serve(request("/nope", None)).await;
        let doc = gateway_response(r);
        let parsed: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse =
            serde_json::from_value(doc.clone())
                .expect("API Gateway (and cargo lambda) can read it");
        assert_eq!(parsed.status_code, 404);
        assert_eq!(doc["headers"]["content-type"], "application/json");
        assert_eq!(doc["headers"]["x-request-id"], "req-7");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_with_the_envelope() {
        let (status, v) = body(service("true").serve(request("/boom", None)).await).await;
        assert_eq!(status, 500);
        assert_eq!(v["error"]["code"], "INTERNAL_ERROR");
        assert_eq!(v["error"]["request_id"], "req-7");
        assert_eq!(v["degraded"], false);
    }

    #[tokio::test]
    async fn unknown_routes_404_and_replies_carry_degraded() {
        let s = service("true");
        let (status, v) = body(s.serve(request("/nope", None)).await).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (404, Some("NOT_FOUND"))
        );
        let (status, v) = body(s.serve(request("/ok", Some(&token()))).await).await;
        assert_eq!(status, 200);
        assert_eq!(v, serde_json::json!({"tenant": "acme", "degraded": false}));
    }

    #[tokio::test]
    async fn disabled_by_default_flag_is_503_capability_disabled() {
        let r = service("false").serve(request("/ok", Some(&token()))).await;
        assert_eq!(r.headers()["retry-after"], "60");
        let (status, v) = body(r).await;
        assert_eq!(
            (status, v["error"]["code"].as_str(), v["degraded"].as_bool()),
            (503, Some("CAPABILITY_DISABLED"), Some(true))
        );
    }
}
