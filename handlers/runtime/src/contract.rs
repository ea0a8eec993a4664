//! The capability's OpenAPI 3.1 contract, read once at init: the routes (with their
//! access and path parameters), the schemas requests are checked against, and the
//! shapes the runtime answers with on its own (the empty page of a degraded listing).
//!
//! The contract is the only place a route is declared: the runtime routes by it (404
//! for an unknown path, 405 with `Allow` for a known path and another method), the CLI
//! derives the API Gateway routes from it, and a capability binds a function to each
//! `operationId`.
//!
//! Extensions the runtime reads, all optional:
//! - `x-stackpro-access: public | read | write | admin` on an operation (default: public
//!   when `security: []`, read for GET, write otherwise);
//! - `x-stackpro-empty: <value>` on a GET: what it answers, marked degraded, when the
//!   store is unavailable and no earlier answer is remembered (a listing's empty page);
//! - `x-stackpro-max-body-bytes: N` on an operation: its own body limit.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::auth::Access;
use crate::error::ApiError;

/// The contract does not parse or uses something the runtime cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("the contract {0}")]
pub struct ContractError(String);

fn bad(message: impl Into<String>) -> ContractError {
    ContractError(message.into())
}

/// One operation of the contract.
#[derive(Debug)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// `GET /v1/threads/{thread_id}`: the route key of logs and metrics.
    pub key: String,
    pub method: String,
    pub access: Access,
    /// Path parameter names, in path order.
    pub path_params: Vec<String>,
    params: Vec<Param>,
    body: Option<Schema>,
    /// Whether the body is required when the operation takes one.
    body_required: bool,
    /// Whether it takes an `Idempotency-Key` header.
    pub idempotent: bool,
    /// `x-stackpro-empty`.
    pub empty: Option<Value>,
    /// `x-stackpro-max-body-bytes`.
    pub max_body_bytes: Option<usize>,
    /// Whether the contract lists a 413 answer (else an oversize body is a 400).
    pub answers_413: bool,
}

#[derive(Debug)]
struct Param {
    name: String,
    location: Location,
    required: bool,
    schema: Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Header,
}

/// A compiled schema and whether the value it checks is a number (query and path
/// parameters arrive as strings).
struct Schema {
    validator: jsonschema::Validator,
    numeric: bool,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("numeric", &self.numeric)
            .finish()
    }
}

#[derive(Debug)]
struct PathTemplate {
    segments: Vec<Segment>,
    /// Operations by method.
    methods: BTreeMap<String, usize>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

/// The result of routing a request.
#[derive(Debug)]
pub enum Routed<'c> {
    Found {
        operation: &'c Operation,
        params: Vec<String>,
    },
    /// The path exists; the method does not: 405 with `Allow`.
    MethodNotAllowed {
        allow: String,
    },
    NotFound,
}

/// A parsed contract.
#[derive(Debug)]
pub struct Contract {
    /// `info.title`.
    pub title: String,
    /// `v<major>` of `info.version`: what health reports.
    pub version: String,
    operations: Vec<Operation>,
    paths: Vec<PathTemplate>,
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

impl Contract {
    /// Parses a contract (YAML or JSON text).
    pub fn parse(text: &str) -> Result<Contract, ContractError> {
        let doc: Value =
            serde_yaml::from_str(text).map_err(|e| bad(format!("does not parse: {e}")))?;
        Self::from_value(doc)
    }

    /// Builds a contract from its document.
    pub fn from_value(doc: Value) -> Result<Contract, ContractError> {
        let info = doc.get("info").ok_or_else(|| bad("has no `info`"))?;
        let title = info["title"].as_str().unwrap_or_default().to_string();
        let version = info["version"]
            .as_str()
            .and_then(|v| v.split('.').next())
            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))
            .map(|m| format!("v{m}"))
            .ok_or_else(|| bad("has no `info.version` of the form MAJOR.MINOR.PATCH"))?;
        let default_public = doc["security"].as_array().is_some_and(|s| {
            s.is_empty() || s.iter().any(|r| r.as_object().is_some_and(Map::is_empty))
        });
        let components = doc.get("components").cloned().unwrap_or(Value::Null);
        let resolver = Resolver { doc: &doc };
        let compile =
            |schema: &Value, numeric_hint: bool| compile(schema, &components, numeric_hint);

        let paths = doc["paths"]
            .as_object()
            .ok_or_else(|| bad("has no `paths`"))?;
        let mut operations = Vec::new();
        let mut templates = Vec::new();
        for (path, item) in paths {
            let item = resolver.resolve(item)?;
            let segments = parse_path(path)?;
            let shared = item["parameters"].as_array().cloned().unwrap_or_default();
            let mut methods = BTreeMap::new();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let op = resolver.resolve(op)?;
                let upper = method.to_ascii_uppercase();
                let key = format!("{upper} {path}");
                let id = op["operationId"]
                    .as_str()
                    .ok_or_else(|| bad(format!("operation {key} has no operationId")))?
                    .to_string();
                let public = match op.get("security") {
                    Some(Value::Array(s)) => s.is_empty(),
                    _ => default_public,
                };
                let access = match op.get("x-stackpro-access").and_then(Value::as_str) {
                    Some("public") => Access::Public,
                    Some("read") => Access::Read,
                    Some("write") => Access::Write,
                    Some("admin") => Access::Admin,
                    Some(other) => {
                        return Err(bad(format!(
                            "operation {key}: x-stackpro-access `{other}` is not public, read, write or admin"
                        )))
                    }
                    None if public => Access::Public,
                    None if upper == "GET" || upper == "HEAD" => Access::Read,
                    None => Access::Write,
                };
                let mut params = Vec::new();
                let own = op["parameters"].as_array().cloned().unwrap_or_default();
                for p in shared.iter().chain(own.iter()) {
                    let p = resolver.resolve(p)?;
                    let name = p["name"]
                        .as_str()
                        .ok_or_else(|| bad(format!("operation {key}: a parameter has no name")))?;
                    let location = match p["in"].as_str() {
                        Some("path") => Location::Path,
                        Some("query") => Location::Query,
                        Some("header") => Location::Header,
                        _ => continue,
                    };
                    let schema_doc = p.get("schema").cloned().unwrap_or(Value::Bool(true));
                    let numeric = is_numeric(&resolver.resolve(&schema_doc)?);
                    params.push(Param {
                        name: name.to_string(),
                        location,
                        required: p["required"]
                            .as_bool()
                            .unwrap_or(location == Location::Path),
                        schema: compile(&schema_doc, numeric)
                            .map_err(|e| bad(format!("operation {key}, parameter {name}: {e}")))?,
                    });
                }
                let (body, body_required) = match op.get("requestBody") {
                    Some(b) => {
                        let b = resolver.resolve(b)?;
                        let schema = b["content"]["application/json"]
                            .get("schema")
                            .ok_or_else(|| {
                                bad(format!(
                                    "operation {key}: the request body has no application/json schema"
                                ))
                            })?;
                        (
                            Some(
                                compile(schema, false).map_err(|e| {
                                    bad(format!("operation {key}, request body: {e}"))
                                })?,
                            ),
                            b["required"].as_bool().unwrap_or(false),
                        )
                    }
                    None => (None, false),
                };
                let idempotent = params.iter().any(|p| {
                    p.location == Location::Header && p.name.eq_ignore_ascii_case("idempotency-key")
                });
                let answers_413 = op["responses"].get("413").is_some();
                methods.insert(upper.clone(), operations.len());
                operations.push(Operation {
                    id,
                    key,
                    method: upper,
                    access,
                    path_params: segments_params(path),
                    params,
                    body,
                    body_required,
                    idempotent,
                    empty: op.get("x-stackpro-empty").cloned(),
                    max_body_bytes: op
                        .get("x-stackpro-max-body-bytes")
                        .and_then(Value::as_u64)
                        .map(|n| n as usize),
                    answers_413,
                });
            }
            templates.push(PathTemplate { segments, methods });
        }
        // Literal segments win over parameters: `/v1/datasets/export` before `/v1/datasets/{id}`.
        templates.sort_by_key(|t| {
            t.segments
                .iter()
                .map(|s| matches!(s, Segment::Param))
                .collect::<Vec<_>>()
        });
        Ok(Contract {
            title,
            version,
            operations,
            paths: templates,
        })
    }

    /// Every operation, in contract order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    /// Routes `method path`.
    pub fn route(&self, method: &str, path: &str) -> Routed<'_> {
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        for t in &self.paths {
            let Some(params) = t.matches(&parts) else {
                continue;
            };
            let wanted = if method == "HEAD" && !t.methods.contains_key("HEAD") {
                "GET"
            } else {
                method
            };
            return match t.methods.get(wanted) {
                Some(&i) => Routed::Found {
                    operation: &self.operations[i],
                    params,
                },
                None => Routed::MethodNotAllowed {
                    allow: t.methods.keys().cloned().collect::<Vec<_>>().join(", "),
                },
            };
        }
        Routed::NotFound
    }
}

impl PathTemplate {
    fn matches(&self, parts: &[&str]) -> Option<Vec<String>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Param if !part.is_empty() => params.push(percent_decode(part)),
                _ => return None,
            }
        }
        Some(params)
    }
}

impl Operation {
    /// Checks the request's parameters and body against the contract; on success the
    /// body, when the operation takes one, is returned parsed. Errors are INVALID_INPUT
    /// naming the parameter or the body field (`records[3].value`).
    pub fn check(
        &self,
        params: &[String],
        query: &BTreeMap<String, String>,
        header: impl Fn(&str) -> Option<Result<String, ()>>,
        body: &[u8],
        max_body_bytes: usize,
    ) -> Result<Option<Value>, ApiError> {
        for p in &self.params {
            let raw = match p.location {
                Location::Path => self
                    .path_params
                    .iter()
                    .position(|n| *n == p.name)
                    .and_then(|i| params.get(i))
                    .cloned(),
                Location::Query => query.get(&p.name).cloned(),
                Location::Header => match header(&p.name.to_ascii_lowercase()) {
                    None => None,
                    Some(Ok(v)) => Some(v),
                    Some(Err(())) => {
                        return Err(ApiError::invalid(
                            &p.name,
                            format!("the {} header must be visible ASCII", p.name),
                        ))
                    }
                },
            };
            let Some(raw) = raw else {
                if p.required {
                    return Err(ApiError::invalid(
                        &p.name,
                        format!("{} is required", p.name),
                    ));
                }
                continue;
            };
            let value = if p.schema.numeric {
                match raw.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => match raw.parse::<f64>() {
                        Ok(f) if f.is_finite() => Value::from(f),
                        _ => {
                            return Err(ApiError::invalid(
                                &p.name,
                                format!("{} must be a number, not `{raw}`", p.name),
                            ))
                        }
                    },
                }
            } else {
                Value::String(raw)
            };
            let problem = p
                .schema
                .validator
                .iter_errors(&value)
                .next()
                .map(|e| e.to_string());
            if let Some(e) = problem {
                return Err(ApiError::invalid(
                    &p.name,
                    format!("{} `{}` is not allowed: {e}", p.name, display(&value)),
                ));
            }
        }
        let Some(schema) = &self.body else {
            return Ok(None);
        };
        let limit = self.max_body_bytes.unwrap_or(max_body_bytes);
        if body.len() > limit {
            let e = ApiError::invalid(
                "body",
                format!("the body is {} bytes; the limit is {limit}", body.len()),
            );
            return Err(if self.answers_413 { e.too_large() } else { e });
        }
        if body.is_empty() {
            if self.body_required {
                return Err(ApiError::invalid("body", "a JSON body is required"));
            }
            return Ok(None);
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            let why = if std::str::from_utf8(body).is_err() {
                "the body is not UTF-8 text".to_string()
            } else {
                e.to_string()
            };
            ApiError::invalid("body", format!("the body is not valid JSON: {why}"))
        })?;
        let problem = schema
            .validator
            .iter_errors(&value)
            .next()
            .map(|e| describe(&e));
        if let Some((field, message)) = problem {
            return Err(ApiError::invalid(&field, message));
        }
        Ok(Some(value))
    }
}

/// Field name and message of a schema violation: `records[3].value`, "... is required".
pub fn describe(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    let mut field = pointer_to_field(&e.instance_path().to_string());
    if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
        let name = property.as_str().unwrap_or_default();
        field = if field == "body" {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
        return (field.clone(), format!("{field} is required"));
    }
    if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() {
        let names = unexpected.join(", ");
        return (
            if field == "body" {
                unexpected.first().cloned().unwrap_or(field)
            } else {
                field.clone()
            },
            format!("unknown field(s) {names}: the contract does not allow them here"),
        );
    }
    (field.clone(), format!("invalid {field}: {e}"))
}

/// `/records/3/value` → `records[3].value`; the root is `body`.
pub fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    if out.is_empty() {
        "body".to_string()
    } else {
        out
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.chars().take(80).collect(),
        other => other.to_string(),
    }
}

/// Compiles a schema of the contract: `#/components/...` references resolve against the
/// document's components, formats are checked (JSON Schema 2020-12, as OpenAPI 3.1).
fn compile(schema: &Value, components: &Value, numeric: bool) -> Result<Schema, String> {
    let mut root = match schema {
        Value::Object(m) => Value::Object(m.clone()),
        Value::Bool(b) => Value::Bool(*b),
        _ => return Err("a schema must be an object".into()),
    };
    if let (Value::Object(m), false) = (&mut root, components.is_null()) {
        m.insert("components".into(), components.clone());
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| e.to_string())?;
    Ok(Schema { validator, numeric })
}

/// Compiles a schema given at run time (a dataset's record schema): JSON Schema
/// 2020-12 unless it names another draft, formats checked.
pub fn compile_user_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Schemas given at run time, compiled once per instance by key (bounded).
#[derive(Default)]
pub struct SchemaCache {
    map: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

/// Schemas a [`SchemaCache`] keeps at most.
const SCHEMA_CACHE_ENTRIES: usize = 256;

impl SchemaCache {
    /// The compiled `schema` remembered under `key`.
    pub fn get(
        &self,
        key: &str,
        schema: &Value,
    ) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.map.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(v);
        }
        let v = std::sync::Arc::new(compile_user_schema(schema)?);
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= SCHEMA_CACHE_ENTRIES {
                m.clear();
            }
            m.insert(key.to_string(), v.clone());
        }
        Ok(v)
    }
}

/// The first violation of `value` against `validator` as INVALID_INPUT, its field
/// under `at` (`records[3]` + `.value`).
pub fn check_value(
    validator: &jsonschema::Validator,
    value: &Value,
    at: &str,
) -> Result<(), ApiError> {
    let Some((field, message)) = validator.iter_errors(value).next().map(|e| describe(&e)) else {
        return Ok(());
    };
    let field = if field == "body" {
        at.to_string()
    } else {
        format!("{at}.{field}")
    };
    Err(ApiError::invalid(&field, format!("{at}: {message}")))
}

fn is_numeric(schema: &Value) -> bool {
    matches!(schema["type"].as_str(), Some("integer" | "number"))
}

/// Follows one `$ref` to a local component (`#/components/parameters/Limit`).
struct Resolver<'d> {
    doc: &'d Value,
}

impl Resolver<'_> {
    fn resolve(&self, v: &Value) -> Result<Value, ContractError> {
        let mut v = v.clone();
        for _ in 0..8 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return Ok(v);
            };
            let target = r
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
                .ok_or_else(|| bad(format!("refers to {r}, which it does not define")))?;
            v = target.clone();
        }
        Err(bad("has a $ref chain longer than 8"))
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, ContractError> {
    if !path.starts_with('/') {
        return Err(bad(format!("path `{path}` does not start with /")));
    }
    Ok(path
        .split('/')
        .skip(1)
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect())
}

fn segments_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

/// Percent-decodes a path segment (API Gateway passes path parameters decoded); a `%`
/// not followed by two hex digits stays as it is, and bytes that are not UTF-8 become
/// U+FFFD. Works on bytes, so any text after a `%` is safe.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
openapi: 3.1.0
info: { title: t, version: 2.3.0 }
security: [ { bearer: [] } ]
paths:
  /v1/health:
    get: { operationId: health, security: [], responses: {} }
  /v1/things:
    get:
      operationId: listThings
      parameters:
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
      x-stackpro-empty: { items: [] }
      responses: {}
    post:
      operationId: createThing
      parameters:
        - { name: Idempotency-Key, in: header, schema: { type: string, pattern: "^[!-~]{1,128}$" } }
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Thing" }
      responses: { "413": { description: too large } }
  /v1/things/{id}:
    get: { operationId: getThing, responses: {} }
  /v1/things/export:
    post: { operationId: exportThings, x-stackpro-access: admin, responses: {} }
components:
  schemas:
    Thing:
      type: object
      additionalProperties: false
      required: [name, parts]
      properties:
        name: { type: string, minLength: 1 }
        parts:
          type: array
          items: { type: object, required: [n], properties: { n: { type: integer } } }
"##;

    fn contract() -> Contract {
        Contract::parse(DOC).unwrap()
    }

    fn check(op: &str, query: &[(&str, &str)], body: &str) -> Result<Option<Value>, ApiError> {
        let c = contract();
        let q = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.operation(op)
            .unwrap()
            .check(&[], &q, |_| None, body.as_bytes(), 1000)
    }

    #[test]
    fn routes_by_the_contract() {
        let c = contract();
        assert_eq!(c.version, "v2");
        match c.route("GET", "/v1/things/abc/") {
            Routed::Found { operation, params } => {
                assert_eq!(operation.id, "getThing");
                assert_eq!(operation.key, "GET /v1/things/{id}");
                assert_eq!(operation.access, Access::Read);
                assert_eq!(params, vec!["abc".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        match c.route("POST", "/v1/things/export") {
            Routed::Found { operation, .. } => {
                assert_eq!(operation.id, "exportThings");
                assert_eq!(operation.access, Access::Admin);
            }
            other => panic!("{other:?}"),
        }
        match c.route("TRACE", "/v1/things") {
            Routed::MethodNotAllowed { allow } => assert_eq!(allow, "GET, POST"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.route("GET", "/v1/nothing"), Routed::NotFound));
        assert!(matches!(
            c.route("HEAD", "/v1/health"),
            Routed::Found { .. }
        ));
        let health = c.operation("health").unwrap();
        assert_eq!(health.access, Access::Public);
        assert!(c.operation("createThing").unwrap().idempotent);
        assert_eq!(
            c.operation("listThings").unwrap().empty,
            Some(serde_json::json!({"items": []}))
        );
    }

    #[test]
    fn parameters_and_bodies_are_checked_naming_the_field() {
        assert!(check("listThings", &[("limit", "5")], "").is_ok());
        let e = check("listThings", &[("limit", "0")], "").unwrap_err();
        assert_eq!(e.details["field"], "limit");
        let e = check("listThings", &[("limit", "many")], "").unwrap_err();
        assert!(e.message.contains("must be a number"), "{}", e.message);

        let ok = check("createThing", &[], r#"{"name":"a","parts":[{"n":1}]}"#).unwrap();
        assert_eq!(ok.unwrap()["name"], "a");
        let e = check(
            "createThing",
            &[],
            r#"{"name":"a","parts":[{"n":1},{"n":"x"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.details["field"], "parts[1].n");
        let e = check("createThing", &[], r#"{"parts":[]}"#).unwrap_err();
        assert_eq!(e.details["field"], "name");
        assert!(e.message.contains("name is required"), "{}", e.message);
        let e = check("createThing", &[], r#"{"name":"a","parts":[{}]}"#).unwrap_err();
        assert_eq!(e.details["field"], "parts[0].n");
        let e = check("createThing", &[], r#"{"name":"a","parts":[],"x":1}"#).unwrap_err();
        assert_eq!(e.details["field"], "x");
        let e = check("createThing", &[], "").unwrap_err();
        assert_eq!(e.details["field"], "body");
        let e = check("createThing", &[], "{").unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);

        let c = contract();
        let op = c.operation("createThing").unwrap();
        let e = op
            .check(&[], &BTreeMap::new(), |_| None, &[0xff, 0xfe, b'{'], 1000)
            .unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        let e = op
            .check(&[], &BTreeMap::new(), |_| None, &[b' '; 2000], 1000)
            .unwrap_err();
        assert_eq!(e.status, 413);
        let e = op
            .check(&[], &BTreeMap::new(), |_| Some(Err(())), b"{}", 1000)
            .unwrap_err();
        assert_eq!(e.details["field"], "Idempotency-Key");
    }

    #[test]
    fn field_names_from_pointers() {
        assert_eq!(pointer_to_field(""), "body");
        assert_eq!(pointer_to_field("/records/3/value"), "records[3].value");
        assert_eq!(pointer_to_field("/a~1b"), "a/b");
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
        // Text after a `%` that is not two hex digits, even a multi-byte character, is kept.
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("x%C3%A9"), "xé");
    }
}
