//! What every capability's handler tests share, so that they read like the capability:
//!
//! - [`Harness`]: a private emulator (moto, `stackpro-tests`) with the capability's
//!   tables created as its `capability.yaml` declares them, and the handler built by
//!   its own `service` function from the variables `stackpro render` gives its stack;
//! - [`Event`]: API Gateway HTTP API (payload 2.0) events by method, path, query,
//!   headers and body; the route key and path parameters are filled in when sent;
//! - [`Token`]: bearer tokens for any tenant, role, scope, audience and expiry, or
//!   with a bad signature;
//! - [`Contract`]: every response the harness returns has been checked against the
//!   capability's `openapi.yaml` (status, content type, body schema with formats,
//!   documented headers); a test cannot skip it;
//! - [`overhead`]: the handler's own overhead in process, for each capability's
//!   overhead example;
//! - [`serve`]: the handler over HTTP on a loopback port, for the generated clients.
//!
//! ```ignore
//! let h = Harness::setup("messaging")
//!     .start(|config, sdk| async move { stackpro_messaging::service(config, &sdk).await })
//!     .await;
//! let t = Token::writer("messaging", "acme").sign();
//! let a = h.send(Event::post("/v1/threads").token(&t).json(json!({"title": "x"}))).await;
//! assert_eq!(a.status, 201);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use stackpro_runtime::Config;

pub use stackpro_tests::Emulator;

pub mod contract;
pub mod event;
pub mod loopback;
pub mod overhead;
pub mod serve;
pub mod token;

pub use contract::{Contract, PathMatch};
pub use event::Event;
pub use loopback::{Answer, Loopback, Seen};
pub use token::{Token, AUDIENCE, SECRET};

/// The environment the harness renders the stack's variables for.
pub const ENV: &str = "local";

/// A response as the client of API Gateway sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    /// The body parsed as JSON, or `Null` when it is empty or not JSON.
    pub body: Value,
    /// The body as sent.
    pub text: String,
}

impl Response {
    /// API Gateway's reading of the function's response document.
    pub fn from_gateway(doc: &Value) -> Result<Response, String> {
        let status = doc["statusCode"]
            .as_u64()
            .ok_or_else(|| format!("the response document has no statusCode: {doc}"))?
            as u16;
        let mut headers: HashMap<String, String> = doc["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(multi) = doc["multiValueHeaders"].as_object() {
            for (k, vs) in multi {
                let joined: Vec<&str> = vs
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !joined.is_empty() {
                    headers.insert(k.to_ascii_lowercase(), joined.join(","));
                }
            }
        }
        let raw = doc["body"].as_str().unwrap_or("");
        let text = if doc["isBase64Encoded"] == Value::Bool(true) {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("isBase64Encoded, but the body is not base64: {e}"))?;
            String::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?
        } else {
            raw.to_string()
        };
        Ok(Response {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
            text,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The error envelope's `error.code`, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The error envelope's `error.details.field`, or "".
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }

    /// `degraded`, which every body carries.
    pub fn degraded(&self) -> bool {
        self.body["degraded"]
            .as_bool()
            .expect("every body carries `degraded`")
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Value> + Send>>;
type Invoke = Arc<dyn Fn(lambda_http::LambdaEvent<Value>) -> BoxFuture + Send + Sync>;

/// What a capability's `service` function returns: something that answers one API
/// Gateway event with its response document, as Lambda calls it.
pub trait Endpoint: Clone + Send + Sync + 'static {
    fn call_event(
        &self,
        event: lambda_http::LambdaEvent<Value>,
    ) -> impl Future<Output = Value> + Send;
}

impl<H: stackpro_runtime::Handler> Endpoint for stackpro_runtime::Service<H> {
    fn call_event(
        &self,
        event: lambda_http::LambdaEvent<Value>,
    ) -> impl Future<Output = Value> + Send {
        stackpro_runtime::Service::call_event(self, event)
    }
}

/// Sends events to the handler and checks every answer against the contract. Cheap to
/// clone into tasks.
#[derive(Clone)]
pub struct Client {
    invoke: Invoke,
    contract: Arc<Contract>,
    routes: Arc<Vec<(String, String)>>,
}

impl Client {
    /// The event through the entry point Lambda calls, routed as API Gateway routes it
    /// (route key and path parameters from the routes the capability declares). Panics,
    /// naming the rule, when the answer breaks the contract.
    pub async fn send(&self, event: Event) -> Response {
        let method = event.method().to_string();
        let path = event.path().to_string();
        let event = self.route(event);
        let doc = (self.invoke)(lambda_http::LambdaEvent::new(
            event.into_json(),
            lambda_http::Context::default(),
        ))
        .await;
        let response =
            Response::from_gateway(&doc).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.contract
            .check(&method, &path, &response)
            .unwrap_or_else(|e| panic!("contract violation: {e}"));
        response
    }

    fn route(&self, event: Event) -> Event {
        let method = event.method().to_string();
        match self.contract.route(event.path()) {
            Some(m)
                if self
                    .routes
                    .iter()
                    .any(|(rm, rp)| *rm == method && *rp == m.template) =>
            {
                let key = format!("{method} {}", m.template);
                event.routed(Some(&key), &m.params)
            }
            _ => event.routed(None, &[]),
        }
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }
}

/// How to start a [`Harness`]: the capability, variables to change, the emulator's mode.
pub struct Setup {
    capability: String,
    changes: Vec<(String, Option<String>)>,
    serialized: bool,
}

impl Setup {
    /// Sets (or adds) one of the function's environment variables.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.changes.push((name.into(), Some(value.into())));
        self
    }

    /// Removes one of the function's environment variables.
    pub fn unset(mut self, name: &str) -> Self {
        self.changes.push((name.into(), None));
        self
    }

    /// An emulator that serves one request at a time, as atomic as DynamoDB, for tests
    /// of concurrent conditional writes (moto's threads share its tables unlocked).
    pub fn serialized(mut self) -> Self {
        self.serialized = true;
        self
    }

    /// Starts the emulator, creates the tables, and builds the handler with `service`
    /// (the capability's own `service(config, &sdk)`).
    pub async fn start<S, E, F, Fut>(self, service: F) -> Harness
    where
        S: Endpoint,
        E: Display,
        F: FnOnce(Config, aws_config::SdkConfig) -> Fut,
        Fut: Future<Output = Result<S, E>>,
    {
        // The handler's JSON log lines land in the test's captured output.
        stackpro_runtime::telemetry::init_logging();
        let emulator = if self.serialized {
            Emulator::start_serialized()
        } else {
            Emulator::start()
        };
        let sdk = loaded_machine_budget(&stackpro_runtime::tune(&emulator.sdk_config()));
        let stack = Stack::load(&self.capability);

        let mut vars = stack.variables.clone();
        vars.insert("STACKPRO_JWT_SECRET".into(), SECRET.into());
        // Flag changes are seen after a second rather than a minute.
        vars.insert("STACKPRO_FLAGS_TTL_SECONDS".into(), "1".into());
        for (name, value) in self.changes {
            match value {
                Some(v) => vars.insert(name, v),
                None => vars.remove(&name),
            };
        }

        let ctx = aws_context(&emulator);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let tables = stack.create_tables(&ctx, &dynamodb).await;

        let config = Config::from_vars(vars.clone()).unwrap_or_else(|e| {
            panic!(
                "{}: the stack's variables do not configure the runtime: {e}",
                self.capability
            )
        });
        let endpoint = service(config, sdk.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: service() failed: {e}", self.capability));
        let invoke: Invoke = Arc::new(move |event| {
            let endpoint = endpoint.clone();
            Box::pin(async move { endpoint.call_event(event).await })
        });
        let client = Client {
            invoke,
            contract: Contract::of(&self.capability),
            routes: Arc::new(
                stack
                    .capability
                    .routes
                    .iter()
                    .map(|r| (r.method.clone(), r.path.clone()))
                    .collect(),
            ),
        };
        Harness {
            ssm: aws_sdk_ssm::Client::new(&sdk),
            dynamodb,
            sdk,
            client,
            tables,
            vars,
            stack,
            emulator,
        }
    }
}

/// The handlers' own retry policy with longer time limits. A deployed handler gives its
/// store 2 s per attempt; a test's emulator shares 2 cores with every other test binary,
/// and one DynamoDB call to it was measured outrunning 2 s in CI, turning a test about
/// isolation into a 503. A stopped emulator still fails at once (connection refused), so
/// the fault tests keep their speed; a hung one is not what these tests are about.
fn loaded_machine_budget(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    sdk.to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build()
}

/// A capability's handler over a private emulator.
pub struct Harness {
    pub emulator: Emulator,
    /// Tuned as the handler's own clients are (two attempts), with the time limits of
    /// [`loaded_machine_budget`].
    pub sdk: aws_config::SdkConfig,
    pub ssm: aws_sdk_ssm::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Logical table name (`threads`) to its name on the emulator.
    pub tables: BTreeMap<String, String>,
    /// The function's environment variables, as the handler was given them.
    pub vars: BTreeMap<String, String>,
    client: Client,
    stack: Stack,
}

impl Harness {
    /// The capability named as its folder under `handlers/`.
    pub fn setup(capability: &str) -> Setup {
        Setup {
            capability: capability.to_string(),
            changes: Vec::new(),
            serialized: false,
        }
    }

    /// See [`Client::send`].
    pub async fn send(&self, event: Event) -> Response {
        self.client.send(event).await
    }

    /// Every event from its own task, at most `in_flight` at a time; the answers in the
    /// order of the events. Concurrency tests keep 20 writers in flight: as many as the
    /// single-threaded emulator answers within a deployed handler's 4 s store timeout on 2
    /// shared cores (100 at once measure the emulator's queue, not the handler).
    pub async fn send_concurrently(&self, events: Vec<Event>, in_flight: usize) -> Vec<Response> {
        let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
        let tasks: Vec<_> = events
            .into_iter()
            .map(|e| {
                let (client, gate) = (self.client(), gate.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire().await;
                    client.send(e).await
                })
            })
            .collect();
        let mut answers = Vec::with_capacity(tasks.len());
        for t in tasks {
            answers.push(
                t.await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
            );
        }
        answers
    }

    /// The handler served over HTTP on a loopback port ([`serve::Served`]), for
    /// clients that speak HTTP.
    pub async fn serve(&self) -> serve::Served {
        serve::Served::start(self.client()).await
    }

    /// A handle to send from other tasks.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn contract(&self) -> &Contract {
        self.client.contract()
    }

    /// The capability as the CLI's catalogue reads its `capability.yaml`.
    pub fn capability(&self) -> &stackpro::config::Capability {
        &self.stack.capability
    }

    /// A member of `tenant` who may read and write this capability.
    pub fn writer(&self, tenant: &str) -> String {
        Token::writer(&self.stack.capability.name, tenant).sign()
    }

    /// The physical name of table `name`.
    pub fn table(&self, name: &str) -> &str {
        self.tables
            .get(name)
            .unwrap_or_else(|| panic!("{} declares no table {name}", self.stack.capability.name))
    }

    /// What `stackpro flags set NAME=VALUE --env local [--tenant T]` writes (`None`:
    /// `stackpro flags unset`), through the CLI's own flag code: the name and value are
    /// checked as the CLI checks them.
    pub async fn set_flag(&self, tenant: Option<&str>, name: &str, value: Option<&str>) {
        let catalogue = &self.stack.catalogue;
        let spec = stackpro::flags::resolve(catalogue, name).unwrap_or_else(|e| panic!("{e}"));
        if let Some(v) = value {
            stackpro::flags::parse_value(&spec, v).unwrap_or_else(|e| panic!("{e}"));
        }
        stackpro::flags::write(
            &aws_context(&self.emulator),
            ENV,
            tenant,
            name,
            value,
            "arn:aws:iam::123456789012:user/stackpro-testkit",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Puts the token secret into the SSM SecureString the stack names
    /// (`STACKPRO_JWT_SECRET_PARAMETER`), where the handler reads it on AWS.
    pub async fn put_jwt_secret(&self, secret: &str) {
        let name = self
            .stack
            .variables
            .get("STACKPRO_JWT_SECRET_PARAMETER")
            .expect("the stack names the secret's parameter");
        self.ssm
            .put_parameter()
            .name(name)
            .value(secret)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {name}: {e}"));
    }

    /// The items of table `table` in partition `partition` whose sort key starts with
    /// `sort_prefix` ("" for all), counted straight from the emulator.
    pub async fn count_items(&self, table: &str, partition: &str, sort_prefix: &str) -> usize {
        let spec = self
            .stack
            .capability
            .tables
            .iter()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("no table {table}"));
        let mut query = self
            .dynamodb
            .query()
            .table_name(self.table(table))
            .expression_attribute_names("#pk", &spec.partition_key.name)
            .expression_attribute_values(":pk", AttributeValue::S(partition.into()));
        query = match (&spec.sort_key, sort_prefix) {
            (Some(sort), p) if !p.is_empty() => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
                .expression_attribute_names("#sk", &sort.name)
                .expression_attribute_values(":p", AttributeValue::S(p.into())),
            _ => query.key_condition_expression("#pk = :pk"),
        };
        let mut n = 0;
        let mut pages = query.into_paginator().send();
        while let Some(page) = pages.next().await {
            n += page
                .unwrap_or_else(|e| panic!("query {table}: {e}"))
                .items
                .unwrap_or_default()
                .len();
        }
        n
    }

    /// Checks that the capability's `capability.yaml`, its contract and its handler
    /// agree on the routes: the declared routes are the contract's operations, the
    /// handler serves each of them (without a token it answers something other than
    /// 404 or 405) and no other method on the contract's paths.
    pub async fn assert_routes_agree(&self) {
        let mut declared: Vec<String> = self.capability().routes.iter().map(|r| r.key()).collect();
        let mut documented = self.contract().operations();
        declared.sort();
        documented.sort();
        assert_eq!(
            declared, documented,
            "capability.yaml's routes and openapi.yaml's operations"
        );
        for key in &documented {
            let (method, template) = key.split_once(' ').expect("METHOD /path");
            let path = sample_path(template);
            let a = self.send(Event::new(method, &path)).await;
            assert!(
                !matches!(a.status, 404 | 405),
                "{key} is in the contract, but the handler does not serve {method} {path}: {} {}",
                a.status,
                a.text
            );
        }
        for template in documented
            .iter()
            .filter_map(|k| k.split_once(' '))
            .map(|(_, p)| p)
        {
            let path = sample_path(template);
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if documented.contains(&format!("{method} {template}")) {
                    continue;
                }
                // The contract check inside `send` requires 405 (or, for now, 404).
                let a = self.send(Event::new(method, &path)).await;
                assert!(
                    matches!(a.status, 404 | 405),
                    "{method} {template} is not in the contract, but the handler answered {}",
                    a.status
                );
            }
        }
    }
}

/// A concrete path for a template: each parameter replaced by a well-formed id.
fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                uuid::Uuid::now_v7().to_string()
            } else {
                s.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The capability as the CLI reads it, and its stack's variables for [`ENV`].
struct Stack {
    catalogue: stackpro::config::Catalogue,
    capability: stackpro::config::Capability,
    env: stackpro::config::EnvConfig,
    variables: BTreeMap<String, String>,
}

impl Stack {
    fn load(name: &str) -> Stack {
        let root = stackpro_tests::project_root();
        let project = stackpro::project::Project::discover(Some(&root), &root)
            .unwrap_or_else(|e| panic!("{e}"));
        let catalogue =
            stackpro::config::Catalogue::load(&project).unwrap_or_else(|e| panic!("{e}"));
        let env = catalogue
            .load_env(&project, ENV)
            .unwrap_or_else(|e| panic!("{e}"));
        let capability = catalogue
            .get(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .clone();
        let variables = stackpro::render::environment_variables(
            &capability,
            &env,
            stackpro_tests::EMULATOR_ACCOUNT,
        );
        Stack {
            catalogue,
            capability,
            env,
            variables,
        }
    }

    /// The capability's tables, created by the code `stackpro dev` uses, plus the TTL
    /// attribute the stack sets; logical name to physical name.
    async fn create_tables(
        &self,
        ctx: &stackpro::aws::AwsContext,
        dynamodb: &aws_sdk_dynamodb::Client,
    ) -> BTreeMap<String, String> {
        stackpro::commands::dev::ensure_tables(ctx, &self.capability, &self.env)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Its buckets too, as `stackpro dev` creates them.
        stackpro::commands::dev::ensure_buckets(
            ctx,
            &self.capability,
            &self.env,
            stackpro_tests::EMULATOR_ACCOUNT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut tables = BTreeMap::new();
        for t in &self.capability.tables {
            let var = stackpro_conventions::vars::table(&t.name);
            let physical = self.variables[&var].clone();
            if let Some(attr) = &t.ttl_attribute {
                dynamodb
                    .update_time_to_live()
                    .table_name(&physical)
                    .time_to_live_specification(
                        aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                            .enabled(true)
                            .attribute_name(attr)
                            .build()
                            .expect("both fields are set"),
                    )
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("TTL on {physical}: {e}"));
            }
            tables.insert(t.name.clone(), physical);
        }
        tables
    }
}

/// What the CLI's AWS code needs to talk to the emulator.
fn aws_context(emulator: &Emulator) -> stackpro::aws::AwsContext {
    stackpro::aws::AwsContext::from_config(
        emulator.sdk_config(),
        "us-east-1",
        Some(emulator.url.clone()),
    )
}
