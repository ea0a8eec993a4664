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

    /// Serves one Lambda HTTP request.
    pub async fn call(&self, req: lambda_http::Request) -> Response<Body> {
        self.serve(ApiRequest::from_lambda(req)).await
    }

    /// Serves one request already in the runtime's form.
    pub async fn serve(&self, req: ApiRequest) -> Response<Body> {
        let started = Instant::now();
        let request_id = req.request_id.clone();
        let trace_id = req.trace_id.clone();
        let (route_key, tenant, result) = self.dispatch(req).await;
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
            tenant_id: tenant.as_deref(),
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
    lambda_http::run(lambda_http::service_fn(move |req| {
        let service = service.clone();
        async move { Ok::<_, std::convert::Infallible>(service.call(req).await) }
    }))
    .await
}
