use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_json::Value;
use stackpro_messaging::{DynamoStore, Messaging};
use stackpro_runtime::auth::{sign, Claims};
use stackpro_runtime::{Config, Service};
use stackpro_tests::Emulator;

pub const SECRET: &str = "test-secret-0123456789abcdef";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environment variables the `local` stack gives the messaging function, as
/// `stackpro render` computes them.
pub fn stack_variables() -> BTreeMap<String, String> {
    let root = stackpro_tests::project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let env = catalogue.load_env(&project, "local").unwrap();
    let cap = catalogue.get("messaging").unwrap();
    stackpro::render::environment_variables(cap, &env, stackpro_tests::EMULATOR_ACCOUNT)
}

/// An API Gateway HTTP API (payload 2.0) event from a fixture, adjusted per test.
#[derive(Clone)]
pub struct Event {
    pub json: Value,
}

const FIXTURE_THREAD: &str = "01930000-0000-7000-8000-000000000000";

impl Event {
    pub fn fixture(name: &str) -> Self {
        let path = crate_dir()
            .join("tests/fixtures")
            .join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut json: Value = serde_json::from_str(&text).unwrap();
        json["requestContext"]["requestId"] = Value::String(uuid::Uuid::new_v4().to_string());
        Event { json }
    }

    pub fn route_key(&self) -> String {
        self.json["routeKey"].as_str().unwrap().to_string()
    }

    pub fn token(mut self, token: &str) -> Self {
        self.json["headers"]["authorization"] = Value::String(format!("Bearer {token}"));
        self
    }

    pub fn without_auth(mut self) -> Self {
        self.json["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.json["headers"][name] = Value::String(value.to_string());
        self
    }

    /// Points the event at `thread_id` (path, http.path and pathParameters).
    pub fn thread(mut self, thread_id: &str) -> Self {
        for ptr in ["/rawPath", "/requestContext/http/path"] {
            let v = self.json.pointer_mut(ptr).unwrap();
            *v = Value::String(v.as_str().unwrap().replace(FIXTURE_THREAD, thread_id));
        }
        self.json["pathParameters"]["thread_id"] = Value::String(thread_id.to_string());
        self
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.json["body"] = Value::String(body.to_string());
        self
    }

    pub fn body(self, body: Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        if !self.json["queryStringParameters"].is_object() {
            self.json["queryStringParameters"] = serde_json::json!({});
        }
        self.json["queryStringParameters"][name] = Value::String(value.to_string());
        let raw = self.json["queryStringParameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect::<Vec<_>>()
            .join("&");
        self.json["rawQueryString"] = Value::String(raw);
        self
    }
}

/// A response as a client sees it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn degraded(&self) -> bool {
        self.body["degraded"]
            .as_bool()
            .expect("every body carries `degraded`")
    }
}

/// `openapi.yaml`, compiled into one validator per response schema.
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn get() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let text = std::fs::read_to_string(crate_dir().join("openapi.yaml")).unwrap();
            Contract {
                doc: serde_yaml::from_str(&text).expect("openapi.yaml parses"),
                validators: Mutex::new(HashMap::new()),
            }
        })
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("openapi.yaml: dangling $ref {r}")),
            None => v,
        }
    }

    /// Checks that `status` is documented for `route_key` and `body` fits its schema.
    pub fn check(&self, route_key: &str, status: u16, body: &Value) -> Result<(), String> {
        let (method, path) = route_key.split_once(' ').unwrap();
        let op = self
            .doc
            .pointer(&format!(
                "/paths/{}/{}",
                path.replace('~', "~0").replace('/', "~1"),
                method.to_ascii_lowercase()
            ))
            .ok_or_else(|| format!("{route_key} is not in openapi.yaml"))?;
        let response = op["responses"].get(status.to_string()).ok_or_else(|| {
            format!("{route_key} answered {status}, which openapi.yaml does not document")
        })?;
        let response = self.resolve(response);
        let schema_ref = response["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .ok_or_else(|| format!("{route_key} {status}: the response schema is not a $ref"))?
            .to_string();
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(schema_ref.clone())
                .or_insert_with(|| {
                    let mut root = self.doc.clone();
                    root["$ref"] = Value::String(schema_ref.clone());
                    Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft202012)
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("{schema_ref}: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{route_key} {status} breaks {schema_ref}: {}\nbody: {body}",
                errors.join("; ")
            ))
        }
    }
}

/// A private emulator with the messaging table, and the handler over it.
pub struct Harness {
    pub emulator: Emulator,
    pub service: Service<Messaging<DynamoStore>>,
    pub ssm: aws_sdk_ssm::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// `overrides` replace or add environment variables of the function.
    pub async fn start_with(overrides: &[(&str, &str)]) -> Self {
        Self::on(Emulator::start(), overrides).await
    }

    /// Over an emulator that serves one request at a time (as atomic as DynamoDB).
    pub async fn start_serialized() -> Self {
        Self::on(Emulator::start_serialized(), &[]).await
    }

    async fn on(emulator: Emulator, overrides: &[(&str, &str)]) -> Self {
        // The handler's JSON log lines land in the test's captured output.
        stackpro_runtime::telemetry::init_logging();
        let sdk = stackpro_runtime::tune(&emulator.sdk_config());
        let mut vars = stack_variables();
        vars.insert("STACKPRO_JWT_SECRET".into(), SECRET.into());
        vars.insert("STACKPRO_FLAGS_TTL_SECONDS".into(), "1".into());
        for (k, v) in overrides {
            if v.is_empty() {
                vars.remove(*k);
            } else {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        let table = vars["STACKPRO_TABLE_THREADS"].clone();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&dynamodb, &table).await;
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let config = Config::from_vars(vars).unwrap();
        let service = stackpro_messaging::service(config, &sdk).await.unwrap();
        Harness {
            emulator,
            service,
            ssm,
            dynamodb,
            table,
        }
    }

    /// Sends the event through the entry point and validates the answer against the contract.
    pub async fn send(&self, event: Event) -> Answer {
        let answer = send(&self.service, &event).await;
        Contract::get()
            .check(&event.route_key(), answer.status, &answer.body)
            .unwrap_or_else(|e| panic!("{e}"));
        answer
    }

    pub async fn put_flag(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(format!("/stackpro/local/flags/{name}"))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }

    /// Creates a thread as `token`, returning its id.
    pub async fn thread(&self, token: &str, title: &str) -> String {
        let a = self
            .send(
                Event::fixture("create_thread")
                    .token(token)
                    .body(serde_json::json!({"title": title})),
            )
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    /// Every item of the tenant's partition whose sort key starts with `prefix`.
    pub async fn count_items(&self, tenant: &str, prefix: &str) -> usize {
        let mut n = 0;
        let mut query = self.dynamodb.query().table_name(&self.table);
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(
                    ":p",
                    aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()),
                )
        };
        let mut pages = query
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{tenant}")),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            n += page.unwrap().items.unwrap_or_default().len();
        }
        n
    }
}

/// One event through the entry point Lambda calls (`Service::call_event`), answered
/// with the API Gateway response document.
pub async fn send(service: &Service<Messaging<DynamoStore>>, event: &Event) -> Answer {
    let doc = service
        .call_event(lambda_http::LambdaEvent::new(
            event.json.clone(),
            lambda_http::Context::default(),
        ))
        .await;
    let status = doc["statusCode"].as_u64().expect("statusCode") as u16;
    let headers = doc["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(doc["isBase64Encoded"], false);
    let text = doc["body"].as_str().expect("a text body");
    let body: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}"));
    Answer {
        status,
        headers,
        body,
    }
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    // The key schema of handlers/messaging/capability.yaml.
    let root = stackpro_tests::project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let spec = &catalogue.get("messaging").unwrap().tables[0];
    let sort = spec.sort_key.as_ref().expect("threads has a sort key");
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&spec.partition_key.name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&sort.name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(&spec.partition_key.name)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(&sort.name)
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A signed token for `tenant` with `role` and `scope`, valid for 10 minutes.
pub fn token_for(tenant: &str, role: &str, scope: &str) -> String {
    token_with(tenant, role, scope, 600, "stackpro", SECRET)
}

pub fn token_with(
    tenant: &str,
    role: &str,
    scope: &str,
    ttl: i64,
    aud: &str,
    secret: &str,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    sign(
        &Claims {
            sub: format!("user@{tenant}"),
            tenant_id: tenant.into(),
            role: role.into(),
            scope: scope.into(),
            exp: (now + ttl) as u64,
            aud: aud.into(),
        },
        secret,
    )
}

/// A member of `tenant` who may read and write.
pub fn writer(tenant: &str) -> String {
    token_for(tenant, "member", "messaging:read messaging:write")
}
