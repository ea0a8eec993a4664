//! The runtime every stackpro handler shares, the project's "Powertools for AWS Lambda":
//! configuration from the stack's environment variables, the capability's OpenAPI
//! contract (routing, 404/405, request checks), bearer-JWT auth, feature flags and
//! capability discovery over SSM, JSON logs and Embedded Metric Format metrics, the one
//! error envelope, degraded fallbacks, idempotency, and DynamoDB helpers.
//!
//! A capability supplies its contract, its model and its queries: it implements
//! [`Handler`] (one async function per `operationId`, a health read, its idempotency
//! records) and its `main` calls [`run`]. Everything else happens here, in this order,
//! for every request ([`Service::serve`]):
//! 1. route by the contract (404 unknown path, 405 with `Allow` for another method);
//! 2. authenticate and authorize (the route's access: public, read, write, admin);
//! 3. flags: `ENABLED` off is 503 CAPABILITY_DISABLED; `DEGRADED` on forces fallbacks;
//! 4. check parameters and body against the contract (INVALID_INPUT names the field);
//! 5. health is answered by the runtime; reads go through the last-good fallback
//!    ([`fallback`]); writes refuse in degraded mode and replay or reserve their
//!    Idempotency-Key;
//! 6. the handler runs in its own task (a panic is a 500 with the envelope);
//! 7. the answer gets `degraded`, the envelope on errors, a log line and an EMF line.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub mod auth;
#[cfg(feature = "s3")]
pub mod bucket;
pub mod config;
pub mod contract;
pub mod discovery;
pub mod error;
pub mod fallback;
pub mod flags;
pub mod http;
pub mod idempotency;
pub mod outbox;
pub mod peer;
pub mod store;
pub mod telemetry;
pub mod time;

pub use auth::{Access, Authenticator, Principal, Role};
pub use config::{Config, ConfigError};
pub use contract::Contract;
pub use discovery::Discovery;
pub use error::{ApiError, ErrorCode};
pub use flags::{FlagSnapshot, Flags};
pub use http::{ApiRequest, Reply};
pub use idempotency::{IdempotencyWrite, StoredResponse};
pub use store::{StoreError, Table};
pub use telemetry::Telemetry;

/// A matched route: its key for logs and metrics (`GET /v1/threads/{thread_id}`), its
/// `operationId`, what it needs from the caller, and its path parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub key: &'static str,
    pub operation: &'static str,
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
    /// The request body, already checked against the contract's schema.
    pub input: Option<Value>,
    /// The Idempotency-Key of a write that carries one: the handler writes
    /// [`RequestContext::idempotency_record`] in the same transaction as the resource.
    pub idempotency: Option<idempotency::Pending>,
}

impl RequestContext {
    /// The caller's tenant: always the token's, never the request's.
    pub fn tenant(&self) -> Result<&str, ApiError> {
        self.principal
            .as_ref()
            .map(|p| p.tenant_id.as_str())
            .ok_or_else(|| ApiError::auth_failed("this route needs a bearer token"))
    }

    /// The caller's `sub` (empty on public routes).
    pub fn subject(&self) -> String {
        self.principal
            .as_ref()
            .map(|p| p.subject.clone())
            .unwrap_or_default()
    }

    /// The `i`-th path parameter (in path order).
    pub fn param(&self, i: usize) -> &str {
        self.route.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// The checked body as `T`. The contract already checked it, so an error here is a
    /// contract looser than `T`: INVALID_INPUT naming the field all the same. Integral
    /// numbers written with a fraction (`510.0`) are integers, as JSON Schema counts
    /// them (serde would refuse them for an integer field).
    pub fn input<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut value = self
            .input
            .clone()
            .ok_or_else(|| ApiError::invalid("body", "a JSON body is required"))?;
        integral_numbers(&mut value);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." {
                "body".to_string()
            } else {
                field
            };
            ApiError::invalid(&field, format!("invalid {field}: {}", e.into_inner()))
        })
    }

    /// The idempotency record to write with the resource, answering `status` and
    /// `body` to every repeat of this request; None when the request has no key.
    pub fn idempotency_record(&self, status: u16, body: &Value) -> Option<IdempotencyWrite> {
        self.idempotency.as_ref().map(|p| p.record(status, body))
    }
}

/// Rewrites every number that is an exact integer but written as a float (`2.0`, `1e3`)
/// as that integer; JSON counts them the same.
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// A capability's logic: one async function over the request per `operationId` of its
/// contract, and the store the runtime reads for health and idempotency records.
pub trait Handler: Send + Sync + 'static {
    /// The `operationId`s this handler serves: exactly the contract's, but `health`,
    /// which the runtime answers ([`Service::new`] refuses any difference).
    const OPERATIONS: &'static [&'static str];

    /// Where health reads and idempotency records go: usually the capability's store,
    /// which gets [`StateStore`] from its home [`Table`] by `AsRef<Table>`.
    type State: StateStore;

    /// Serves one request of `ctx.route.operation`. Errors become the envelope.
    fn handle(
        &self,
        ctx: RequestContext,
        req: ApiRequest,
    ) -> impl Future<Output = Result<Reply, ApiError>> + Send;

    /// The store health pings and idempotency replays read.
    fn state(&self) -> &Self::State;
}

/// What the runtime itself reads from a capability's store. Any store that names its
/// home table (`AsRef<Table>`) has it; an in-memory store (benchmarks, unit tests)
/// implements it by hand.
pub trait StateStore: Send + Sync + 'static {
    /// A cheap read that proves the store answers (health).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live idempotency record of `key` for `tenant`, if any.
    fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredResponse>, StoreError>> + Send;
}

impl<T: AsRef<Table> + Send + Sync + 'static> StateStore for T {
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.as_ref().ping()
    }

    fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredResponse>, StoreError>> + Send {
        self.as_ref().idempotency_record(tenant, key)
    }
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
    contract: &'static Contract,
    last_good: Arc<fallback::LastGood>,
}

impl<H> Clone for Service<H> {
    fn clone(&self) -> Self {
        Service {
            runtime: self.runtime.clone(),
            handler: self.handler.clone(),
            contract: self.contract,
            last_good: self.last_good.clone(),
        }
    }
}

/// The operation the runtime answers itself.
pub const HEALTH_OPERATION: &str = "health";

/// Parses a capability's contract once for the life of the process.
pub fn load_contract(text: &'static str) -> Result<&'static Contract, ConfigError> {
    Contract::parse(text)
        .map(|c| &*Box::leak(Box::new(c)))
        .map_err(|e| ConfigError::Contract(e.to_string()))
}

impl<H: Handler> Service<H> {
    /// The service of `handler` under `contract`. Refuses a handler whose operations
    /// are not exactly the contract's, naming each one on one side only.
    pub fn new(
        runtime: Arc<Runtime>,
        handler: Arc<H>,
        contract: &'static Contract,
    ) -> Result<Self, ConfigError> {
        let declared: std::collections::BTreeSet<&str> = contract
            .operations()
            .iter()
            .map(|o| o.id.as_str())
            .filter(|id| *id != HEALTH_OPERATION)
            .collect();
        let served: std::collections::BTreeSet<&str> = H::OPERATIONS.iter().copied().collect();
        let unserved: Vec<&str> = declared.difference(&served).copied().collect();
        let undeclared: Vec<&str> = served.difference(&declared).copied().collect();
        if !unserved.is_empty() || !undeclared.is_empty() {
            return Err(ConfigError::Contract(format!(
                "the handler and its contract disagree: in the contract but not served: [{}]; served but not in the contract: [{}]",
                unserved.join(", "),
                undeclared.join(", ")
            )));
        }
        Ok(Service {
            runtime,
            handler,
            contract,
            last_good: Arc::default(),
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    pub fn contract(&self) -> &'static Contract {
        self.contract
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
                if let Some(allow) = e.allow() {
                    headers.push(("allow".to_string(), allow.to_string()));
                }
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

    /// Steps 1 to 6 of the module's list.
    async fn dispatch(
        &self,
        req: ApiRequest,
    ) -> (&'static str, Option<String>, Result<Reply, ApiError>) {
        let (operation, params) = match self.contract.route(&req.method, &req.path) {
            contract::Routed::Found { operation, params } => (operation, params),
            contract::Routed::MethodNotAllowed { allow } => {
                let e = ApiError::method_not_allowed(&req.method, &req.path, &allow);
                return ("unmatched", None, Err(e));
            }
            contract::Routed::NotFound => {
                let e = ApiError::not_found(format!("no route {} {}", req.method, req.path));
                return ("unmatched", None, Err(e));
            }
        };
        let key = operation.key.as_str();
        let rt = &self.runtime;
        let principal = match rt
            .auth
            .authenticate(req.header("authorization"), operation.access)
            .await
        {
            Ok(p) => p,
            Err(e) => return (key, None, Err(e)),
        };
        let tenant = principal.as_ref().map(|p| p.tenant_id.clone());
        let flags = rt.flags.snapshot().await;
        let prefix = rt.config.flag_prefix();
        let flag = |suffix: &str| flags.is_enabled(&format!("{prefix}{suffix}"), tenant.as_deref());
        if operation.access != Access::Public && !flag(stackpro_conventions::flags::ENABLED) {
            return (key, tenant, Err(ApiError::disabled(&rt.config.capability)));
        }
        let forced_degraded = flag(stackpro_conventions::flags::DEGRADED);
        let header = |name: &str| {
            req.headers
                .get(name)
                .map(|v| v.to_str().map(str::to_string).map_err(|_| ()))
        };
        let input = match operation.check(
            &params,
            &req.query,
            header,
            &req.body,
            rt.config.max_body_bytes,
        ) {
            Ok(input) => input,
            Err(e) => return (key, tenant, Err(e)),
        };
        let ctx = RequestContext {
            route: Route {
                key,
                operation: operation.id.as_str(),
                access: operation.access,
                params,
            },
            request_id: req.request_id.clone(),
            trace_id: req.trace_id.clone(),
            principal,
            flags,
            forced_degraded,
            input,
            idempotency: None,
        };
        let result = if operation.id == HEALTH_OPERATION {
            Ok(self.health(&ctx).await)
        } else if matches!(operation.method.as_str(), "GET" | "HEAD") {
            self.read(operation, ctx, req).await
        } else {
            self.write(operation, ctx, req).await
        };
        (key, tenant, result)
    }

    /// A read: from the handler, remembered; or, when the store cannot be used, the
    /// last good answer, or the contract's empty shape, marked degraded.
    async fn read(
        &self,
        operation: &contract::Operation,
        ctx: RequestContext,
        req: ApiRequest,
    ) -> Result<Reply, ApiError> {
        let tenant = ctx.principal.as_ref().map(|p| p.tenant_id.clone());
        let cache_key = fallback::LastGood::key(tenant.as_deref(), &req.path, &req.query);
        let failure = if ctx.forced_degraded {
            "the capability is in degraded mode".to_string()
        } else {
            match self.call_handler(ctx, req).await {
                Ok(reply) => {
                    if reply.status == 200 && !reply.degraded {
                        self.last_good.remember(cache_key, &reply.body);
                    }
                    return Ok(reply);
                }
                Err(e) if e.status == 503 && e.degraded => e.message,
                Err(e) => return Err(e),
            }
        };
        match self
            .last_good
            .recall(&cache_key)
            .or_else(|| operation.empty.clone())
        {
            Some(v) => Ok(Reply::ok(v).degraded(true)),
            None => Err(ApiError::unavailable(format!(
                "{failure}; this resource is not available until the store is back"
            ))),
        }
    }

    /// A write: refused in degraded mode; under an Idempotency-Key, a repeat replays the
    /// first answer, and a key taken by a concurrent request answers as that one did.
    async fn write(
        &self,
        operation: &contract::Operation,
        mut ctx: RequestContext,
        req: ApiRequest,
    ) -> Result<Reply, ApiError> {
        if ctx.forced_degraded {
            return Err(ApiError::unavailable(
                "the capability is in degraded mode and does not accept writes; retry later",
            ));
        }
        let key = if operation.idempotent {
            idempotency::parse_key(req.header("idempotency-key"))?
        } else {
            None
        };
        let Some(key) = key else {
            return self.call_handler(ctx, req).await;
        };
        let tenant = ctx.tenant()?.to_string();
        let fingerprint = idempotency::fingerprint(&req.method, &req.path, &req.body);
        if let Some(record) = self.record(&tenant, &key).await? {
            return replay(&record, &fingerprint);
        }
        ctx.idempotency = Some(idempotency::Pending::new(
            key.clone(),
            fingerprint.clone(),
            self.runtime.config.idempotency_ttl,
        ));
        match self.call_handler(ctx, req).await {
            // A concurrent request with the same key won: answer as it did.
            Err(e) if e.status == 409 => match self.record(&tenant, &key).await? {
                Some(record) => replay(&record, &fingerprint),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn record(&self, tenant: &str, key: &str) -> Result<Option<StoredResponse>, ApiError> {
        self.handler
            .state()
            .idempotency_record(tenant, key)
            .await
            .map_err(|e| e.answer(&format!("the {} store", self.runtime.config.capability)))
    }

    /// Runs the handler in its own task, so that a panic becomes a 500 with the
    /// envelope instead of an invocation error without one.
    async fn call_handler(&self, ctx: RequestContext, req: ApiRequest) -> Result<Reply, ApiError> {
        let key = ctx.route.key;
        let handler = self.handler.clone();
        match tokio::spawn(async move { handler.handle(ctx, req).await }).await {
            Ok(result) => result,
            Err(join) => {
                tracing::error!(route = key, "handler panicked: {join}");
                Err(ApiError::internal())
            }
        }
    }

    /// `GET /v1/health`: the capability's state; 200 even when degraded or disabled.
    async fn health(&self, ctx: &RequestContext) -> Reply {
        let store = if ctx.forced_degraded {
            "skipped"
        } else {
            match self.handler.state().ping().await {
                Ok(()) => "ok",
                Err(e) => {
                    tracing::warn!("health: store check failed: {e:?}");
                    "unreachable"
                }
            }
        };
        let enabled = ctx.flags.is_enabled(
            &format!(
                "{}{}",
                self.runtime.config.flag_prefix(),
                stackpro_conventions::flags::ENABLED
            ),
            None,
        );
        let status = if !enabled {
            "disabled"
        } else if ctx.forced_degraded || store != "ok" {
            "degraded"
        } else {
            "ok"
        };
        Reply::ok(json!({
            "status": status,
            "capability": self.runtime.config.capability,
            "version": self.contract.version,
            "checks": {
                "store": store,
                "flags": if ctx.flags.from_store { "store" } else { "defaults" },
            },
        }))
        .degraded(status != "ok")
    }
}

/// The stored first response, replayed (or 409 for another request under the key).
fn replay(record: &StoredResponse, fingerprint: &str) -> Result<Reply, ApiError> {
    let first = idempotency::replay(record, fingerprint)?;
    let body: Value = serde_json::from_str(&first.body).map_err(|e| {
        tracing::error!("stored idempotent response does not parse: {e}");
        ApiError::internal()
    })?;
    Ok(Reply {
        status: first.status,
        ..Reply::ok(body)
    }
    .header("idempotent-replayed", "true"))
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
    use std::collections::HashMap;
    use std::sync::Mutex;

    const CONTRACT: &str = r#"
openapi: 3.1.0
info: { title: fragile, version: 1.0.0 }
security: [ { bearer: [] } ]
paths:
  /v1/health:
    get: { operationId: health, security: [], responses: {} }
  /boom:
    get: { operationId: boom, security: [], responses: {} }
  /ok:
    get:
      operationId: ok
      x-stackpro-empty: { items: [] }
      responses: {}
    post:
      operationId: create
      parameters:
        - { name: Idempotency-Key, in: header, schema: { type: string } }
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [n], properties: { n: { type: integer } } }
      responses: {}
"#;

    /// Panics on one route, answers on another, fails reads while `down`, keeps
    /// idempotency records in memory.
    #[derive(Default)]
    struct Fragile {
        down: Mutex<bool>,
        records: Mutex<HashMap<String, StoredResponse>>,
        writes: Mutex<u32>,
    }

    impl Handler for Fragile {
        const OPERATIONS: &'static [&'static str] = &["boom", "ok", "create"];
        type State = Self;

        async fn handle(&self, ctx: RequestContext, _req: ApiRequest) -> Result<Reply, ApiError> {
            if *self.down.lock().unwrap() {
                return Err(ApiError::unavailable("the store is down"));
            }
            match ctx.route.operation {
                "boom" => panic!("a bug"),
                "ok" => Ok(Reply::ok(json!({"tenant": ctx.tenant()?}))),
                _ => {
                    let n = *self.writes.lock().unwrap() + 1;
                    *self.writes.lock().unwrap() = n;
                    let body = json!({"write": n, "n": ctx.input.as_ref().unwrap()["n"]});
                    if let Some(r) = ctx.idempotency_record(201, &body) {
                        self.records.lock().unwrap().insert(r.key, r.response);
                    }
                    Ok(Reply::created(body))
                }
            }
        }

        fn state(&self) -> &Self {
            self
        }
    }

    impl StateStore for Fragile {
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }

        async fn idempotency_record(
            &self,
            _tenant: &str,
            key: &str,
        ) -> Result<Option<StoredResponse>, StoreError> {
            Ok(self.records.lock().unwrap().get(key).cloned())
        }
    }

    fn service_with(flags: &[(&str, &str)]) -> Service<Fragile> {
        let mut vars = vec![
            ("STACKPRO_ENV", "local"),
            ("STACKPRO_CAPABILITY", "messaging"),
            ("STACKPRO_JWT_SECRET", "k"),
        ];
        vars.extend_from_slice(flags);
        let config = Config::from_vars(
            vars.into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        let mut runtime = Runtime::offline(config);
        runtime.telemetry.emit = false;
        let contract = load_contract(CONTRACT).unwrap();
        Service::new(Arc::new(runtime), Arc::new(Fragile::default()), contract).unwrap()
    }

    fn service(enabled: &str) -> Service<Fragile> {
        service_with(&[("CAP_MESSAGING_ENABLED", enabled)])
    }

    fn request(method: &str, path: &str, token: Option<&str>) -> ApiRequest {
        let mut headers = lambda_http::http::HeaderMap::new();
        if let Some(t) = token {
            headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        ApiRequest {
            method: method.into(),
            path: path.into(),
            query: Default::default(),
            headers,
            body: Vec::new(),
            request_id: "req-7".into(),
            trace_id: None,
        }
    }

    fn post(body: &str, key: Option<&str>) -> ApiRequest {
        let mut r = request("POST", "/ok", Some(&token()));
        r.body = body.as_bytes().to_vec();
        if let Some(k) = key {
            r.headers.insert("idempotency-key", k.parse().unwrap());
        }
        r
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
                scope: "messaging:read messaging:write".into(),
                exp: 4_102_444_800,
                aud: "stackpro".into(),
            },
            "k",
        )
    }

    #[tokio::test]
    async fn the_response_document_is_an_api_gateway_v2_response() {
        let r = service("true").serve(request("GET", "/nope", None)).await;
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
        let (status, v) = body(service("true").serve(request("GET", "/boom", None)).await).await;
        assert_eq!(status, 500);
        assert_eq!(v["error"]["code"], "INTERNAL_ERROR");
        assert_eq!(v["error"]["request_id"], "req-7");
        assert_eq!(v["degraded"], false);
    }

    #[tokio::test]
    async fn unknown_paths_404_other_methods_405_with_allow() {
        let s = service("true");
        let (status, v) = body(s.serve(request("GET", "/nope", None)).await).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (404, Some("NOT_FOUND"))
        );
        let r = s.serve(request("TRACE", "/ok", None)).await;
        assert_eq!(r.headers()["allow"], "GET, POST");
        let (status, v) = body(r).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (405, Some("METHOD_NOT_ALLOWED"))
        );
        let (status, v) = body(s.serve(request("GET", "/ok", Some(&token()))).await).await;
        assert_eq!(status, 200);
        assert_eq!(v, json!({"tenant": "acme", "degraded": false}));
    }

    #[tokio::test]
    async fn disabled_by_default_flag_is_503_capability_disabled() {
        let r = service("false")
            .serve(request("GET", "/ok", Some(&token())))
            .await;
        assert_eq!(r.headers()["retry-after"], "60");
        let (status, v) = body(r).await;
        assert_eq!(
            (status, v["error"]["code"].as_str(), v["degraded"].as_bool()),
            (503, Some("CAPABILITY_DISABLED"), Some(true))
        );
        // Health is public and answers even when the capability is off.
        let (status, v) = body(
            service("false")
                .serve(request("GET", "/v1/health", None))
                .await,
        )
        .await;
        assert_eq!((status, v["status"].as_str()), (200, Some("disabled")));
        assert_eq!(v["version"], "v1");
        assert_eq!(v["capability"], "messaging");
    }

    #[tokio::test]
    async fn reads_fall_back_to_the_last_good_answer_then_the_contracts_empty_shape() {
        let s = service("true");
        let get = || request("GET", "/ok", Some(&token()));
        let (_, first) = body(s.serve(get()).await).await;
        *s.handler().down.lock().unwrap() = true;
        let (status, v) = body(s.serve(get()).await).await;
        assert_eq!(status, 200);
        assert_eq!(v["tenant"], first["tenant"]);
        assert_eq!(v["degraded"], true);
        // Nothing remembered for this query: the contract's empty shape.
        let mut other = get();
        other.query.insert("page".into(), "2".into());
        let (status, v) = body(s.serve(other).await).await;
        assert_eq!((status, v), (200, json!({"items": [], "degraded": true})));
        // Forced degraded: writes 503 with Retry-After, health says degraded.
        let s = service_with(&[
            ("CAP_MESSAGING_ENABLED", "true"),
            ("CAP_MESSAGING_DEGRADED", "true"),
        ]);
        let r = s.serve(post(r#"{"n": 1}"#, None)).await;
        assert_eq!(r.headers()["retry-after"], "5");
        assert_eq!(body(r).await.0, 503);
        assert_eq!(*s.handler().writes.lock().unwrap(), 0);
        let (_, v) = body(s.serve(request("GET", "/v1/health", None)).await).await;
        assert_eq!(
            (v["status"].as_str(), v["checks"]["store"].as_str()),
            (Some("degraded"), Some("skipped"))
        );
    }

    #[tokio::test]
    async fn bodies_are_checked_and_idempotency_keys_replay() {
        let s = service("true");
        let (status, v) = body(s.serve(post(r#"{"n": "x"}"#, None)).await).await;
        assert_eq!(
            (status, v["error"]["details"]["field"].as_str()),
            (400, Some("n"))
        );
        let (status, first) = body(s.serve(post(r#"{"n": 1}"#, Some("k1"))).await).await;
        assert_eq!(status, 201);
        let r = s.serve(post(r#"{"n": 1}"#, Some("k1"))).await;
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        let (status, again) = body(r).await;
        assert_eq!((status, &again), (201, &first));
        let (status, v) = body(s.serve(post(r#"{"n": 2}"#, Some("k1"))).await).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (409, Some("CONFLICT"))
        );
        assert_eq!(*s.handler().writes.lock().unwrap(), 1);
    }

    #[test]
    fn integral_floats_are_integers_as_json_schema_counts_them() {
        let mut v = json!({"a": 510.0, "b": [1.5, 2.0, -3e2], "c": {"d": 7}, "e": 1e300});
        integral_numbers(&mut v);
        assert_eq!(
            v,
            json!({"a": 510, "b": [1.5, 2, -300], "c": {"d": 7}, "e": 1e300})
        );
        assert!(v["a"].is_u64() && v["b"][2].is_i64());
    }

    #[test]
    fn a_handler_that_disagrees_with_its_contract_is_refused() {
        struct Partial(Fragile);
        impl Handler for Partial {
            const OPERATIONS: &'static [&'static str] = &["ok", "extra"];
            type State = Fragile;
            async fn handle(&self, _: RequestContext, _: ApiRequest) -> Result<Reply, ApiError> {
                Err(ApiError::internal())
            }
            fn state(&self) -> &Fragile {
                &self.0
            }
        }
        let config = Config::from_vars(
            [("STACKPRO_ENV", "local"), ("STACKPRO_CAPABILITY", "x")]
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        let e = Service::new(
            Arc::new(Runtime::offline(config)),
            Arc::new(Partial(Fragile::default())),
            load_contract(CONTRACT).unwrap(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not served: [boom, create]"), "{e}");
        assert!(e.contains("not in the contract: [extra]"), "{e}");
    }
}
