//! A capability's contract (`handlers/<name>/openapi.yaml`, OpenAPI 3.1) as a checker of
//! responses: the operation by method and path template, the status code, the content
//! type, the body against its JSON Schema (formats included) and the documented
//! response headers. The harness runs it on every response it returns, so a test
//! cannot forget it.
//!
//! A request no operation serves must still be answered in the one error envelope
//! (`#/components/schemas/Error`): 404 for a path the contract does not know, 405 with
//! `Allow` naming the path's methods for a method it does not serve there.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::Response;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The schema every error body has.
const ERROR_SCHEMA: &str = "/components/schemas/Error";

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
struct PathItem {
    template: String,
    segments: Vec<Segment>,
    /// Upper case, in the contract's order.
    methods: Vec<String>,
}

/// Which documented path a concrete path is, and its parameters (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch {
    pub template: String,
    pub params: Vec<(String, String)>,
    /// The methods the contract documents for this path, upper case.
    pub methods: Vec<String>,
}

/// One capability's `openapi.yaml`, with its compiled validators.
pub struct Contract {
    file: PathBuf,
    doc: Value,
    paths: Vec<PathItem>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("file", &self.file)
            .finish()
    }
}

impl Contract {
    /// `handlers/<capability>/openapi.yaml` of this project, loaded once per process.
    pub fn of(capability: &str) -> Arc<Contract> {
        static LOADED: OnceLock<Mutex<HashMap<String, Arc<Contract>>>> = OnceLock::new();
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap();
        loaded
            .entry(capability.to_string())
            .or_insert_with(|| {
                let file = stackpro_tests::project_root()
                    .join("handlers")
                    .join(capability)
                    .join("openapi.yaml");
                Arc::new(Contract::load(&file).unwrap_or_else(|e| panic!("{e}")))
            })
            .clone()
    }

    pub fn load(file: &Path) -> Result<Contract, String> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            format!(
                "{}: {e}; every capability with a crate has a contract",
                file.display()
            )
        })?;
        let doc: Value = serde_yaml::from_str(&text)
            .map_err(|e| format!("{} does not parse: {e}", file.display()))?;
        Self::from_doc(file.to_path_buf(), doc)
    }

    pub fn from_doc(file: PathBuf, doc: Value) -> Result<Contract, String> {
        let mut paths = Vec::new();
        for (template, item) in doc["paths"]
            .as_object()
            .ok_or_else(|| format!("{}: no `paths`", file.display()))?
        {
            let segments = template
                .trim_start_matches('/')
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.to_string()),
                        None => Segment::Literal(s.to_string()),
                    },
                )
                .collect();
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            paths.push(PathItem {
                template: template.clone(),
                segments,
                methods,
            });
        }
        if doc.pointer(ERROR_SCHEMA).is_none() {
            return Err(format!(
                "{}: no {ERROR_SCHEMA}; every capability answers errors in the one envelope",
                file.display()
            ));
        }
        Ok(Contract {
            file,
            doc,
            paths,
            validators: Mutex::new(HashMap::new()),
        })
    }

    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// Every operation, `METHOD /path/{param}`, in the contract's order.
    pub fn operations(&self) -> Vec<String> {
        self.paths
            .iter()
            .flat_map(|p| p.methods.iter().map(move |m| format!("{m} {}", p.template)))
            .collect()
    }

    /// The documented path `path` is (a literal segment wins over a parameter).
    pub fn route(&self, path: &str) -> Option<PathMatch> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // (which segments are literal, the item, its parameters) of the best fit so far.
        type Fit<'a> = (Vec<bool>, &'a PathItem, Vec<(String, String)>);
        let mut best: Option<Fit> = None;
        for item in &self.paths {
            if item.segments.len() != parts.len() {
                continue;
            }
            let mut literal = Vec::new();
            let mut params = Vec::new();
            let fits = item
                .segments
                .iter()
                .zip(&parts)
                .all(|(seg, part)| match seg {
                    Segment::Literal(l) => {
                        literal.push(true);
                        l == part
                    }
                    Segment::Param(name) => {
                        literal.push(false);
                        params.push((
                            name.clone(),
                            stackpro_runtime::contract::percent_decode(part),
                        ));
                        !part.is_empty()
                    }
                });
            if fits && best.as_ref().is_none_or(|(score, _, _)| literal > *score) {
                best = Some((literal, item, params));
            }
        }
        best.map(|(_, item, params)| PathMatch {
            template: item.template.clone(),
            params,
            methods: item.methods.clone(),
        })
    }

    /// Checks one response to `method path` against the contract.
    pub fn check(&self, method: &str, path: &str, r: &Response) -> Result<(), String> {
        let what = format!("{method} {path} answered {}", r.status);
        let fail = |e: String| Err(format!("{what}: {e}\n  body: {}", r.text));
        let Some(m) = self.route(path) else {
            if r.status != 404 {
                return fail(format!(
                    "{} documents no such path, so the answer must be 404 in the error envelope",
                    self.file.display()
                ));
            }
            return self.check_envelope(r).or_else(fail);
        };
        let method = method.to_ascii_uppercase();
        if !m.methods.contains(&method) {
            let ok = match r.status {
                405 => self.check_allow(&m, r),
                _ => Err(format!(
                    "{} serves {} on {}, so the answer must be 405 with `Allow`",
                    self.file.display(),
                    m.methods.join(", "),
                    m.template
                )),
            };
            return ok.and_then(|_| self.check_envelope(r)).or_else(fail);
        }
        let op = format!(
            "/paths/{}/{}",
            escape(&m.template),
            method.to_ascii_lowercase()
        );
        self.check_operation(&op, r)
            .or_else(|e| fail(format!("{e} (operation {method} {})", m.template)))
    }

    fn check_operation(&self, op: &str, r: &Response) -> Result<(), String> {
        let responses = &self.doc.pointer(op).expect("the operation exists")["responses"];
        let status = r.status.to_string();
        let range = format!("{}XX", r.status / 100);
        let key = [status.as_str(), range.as_str(), "default"]
            .into_iter()
            .find(|k| responses.get(*k).is_some())
            .ok_or_else(|| {
                format!(
                    "status {status} is not documented (documented: {})",
                    responses
                        .as_object()
                        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                )
            })?;
        let (resp_ptr, response) = self.resolve(&format!("{op}/responses/{}", escape(key)))?;
        // Documented headers.
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let (ptr, header) = self.resolve_value(header)?;
                let value = r.header(name);
                match value {
                    None if header["required"] == Value::Bool(true) => {
                        return Err(format!("the required header {name} is missing"))
                    }
                    None => {}
                    Some(v) => {
                        if let Some(schema) = header.get("schema") {
                            let typed = match schema["type"].as_str() {
                                Some("integer") | Some("number") => v
                                    .parse::<f64>()
                                    .ok()
                                    .and_then(|n| {
                                        serde_json::Number::from_f64(n).map(Value::Number)
                                    })
                                    .unwrap_or_else(|| Value::String(v.to_string())),
                                _ => Value::String(v.to_string()),
                            };
                            self.validate(&format!("{ptr}/schema"), schema, &typed)
                                .map_err(|e| format!("header {name}: `{v}` {e}"))?;
                        }
                    }
                }
            }
        }
        // Content type and body.
        let content = response.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if r.text.is_empty() {
                Ok(())
            } else {
                Err("the contract documents no body for this status".into())
            };
        };
        let Some(ct) = r.header("content-type") else {
            return Err("no content-type header".into());
        };
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some((key, media_object)) = content.iter().find(|(k, _)| media_matches(k, &media))
        else {
            return Err(format!(
                "content-type {ct} is not documented (documented: {})",
                content.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        let Some(schema) = media_object.get("schema") else {
            return Ok(());
        };
        if !(media == "application/json" || media.ends_with("+json")) {
            return Ok(());
        }
        let body: Value =
            serde_json::from_str(&r.text).map_err(|e| format!("the body is not JSON ({e})"))?;
        let ptr = format!("{resp_ptr}/content/{}/schema", escape(key));
        self.validate(&ptr, schema, &body)
    }

    /// The body is the error envelope.
    fn check_envelope(&self, r: &Response) -> Result<(), String> {
        let ct = r.header("content-type").unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(format!("content-type `{ct}`, expected application/json"));
        }
        let body: Value =
            serde_json::from_str(&r.text).map_err(|e| format!("the body is not JSON ({e})"))?;
        let schema = self.doc.pointer(ERROR_SCHEMA).expect("checked at load");
        self.validate(ERROR_SCHEMA, schema, &body)
    }

    fn check_allow(&self, m: &PathMatch, r: &Response) -> Result<(), String> {
        let allow = r.header("allow").ok_or("405 without an Allow header")?;
        let got: BTreeSet<String> = allow
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect();
        let want: BTreeSet<String> = m.methods.iter().cloned().collect();
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "Allow: {allow}, but the contract serves {} on {}",
                m.methods.join(", "),
                m.template
            ))
        }
    }

    /// The object at `ptr`, following `$ref`s; and where it really is.
    fn resolve(&self, ptr: &str) -> Result<(String, &Value), String> {
        let v = self
            .doc
            .pointer(ptr)
            .ok_or_else(|| format!("{}: nothing at #{ptr}", self.file.display()))?;
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r.trim_start_matches('#')),
            None => Ok((ptr.to_string(), v)),
        }
    }

    fn resolve_value<'a>(&'a self, v: &'a Value) -> Result<(String, &'a Value), String> {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r.trim_start_matches('#')),
            // An inline object: its own identity is its text.
            None => Ok((format!("inline:{v}"), v)),
        }
    }

    /// Validates `instance` against `schema` (found at `ptr`), with the whole document
    /// as the root so its `$ref`s resolve.
    fn validate(&self, ptr: &str, schema: &Value, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            match cache.get(ptr) {
                Some(v) => v.clone(),
                None => {
                    let mut root = self.doc.clone();
                    root["x-testkit-schema"] = schema.clone();
                    root["$ref"] = Value::String("#/x-testkit-schema".into());
                    let v = Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft202012)
                            .should_validate_formats(true)
                            .build(&root)
                            .map_err(|e| {
                                format!(
                                    "{}: the schema at {ptr} does not compile: {e}",
                                    self.file.display()
                                )
                            })?,
                    );
                    cache.insert(ptr.to_string(), v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("breaks {ptr}: {}", errors.join("; ")))
        }
    }
}

/// A JSON Pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn media_matches(documented: &str, actual: &str) -> bool {
    let documented = documented.to_ascii_lowercase();
    documented == actual
        || documented == "*/*"
        || documented
            .strip_suffix("/*")
            .is_some_and(|kind| actual.split('/').next() == Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract() -> Contract {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {
                "/v1/things/{id}": {
                    "get": {"responses": {
                        "200": {"description": "a thing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                        "503": {"$ref": "#/components/responses/Unavailable"}
                    }},
                    "post": {"responses": {"204": {"description": "done"}}}
                },
                "/v1/things/special": {
                    "get": {"responses": {"200": {"description": "the special one", "content": {"application/json": {"schema": {"type": "object"}}}}}}
                }
            },
            "components": {
                "schemas": {
                    "Thing": {"type": "object", "required": ["id"], "additionalProperties": false,
                              "properties": {"id": {"type": "string", "format": "uuid"}}},
                    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object"}}}
                },
                "responses": {"Unavailable": {
                    "description": "try later",
                    "headers": {"Retry-After": {"required": true, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }}
            }
        });
        Contract::from_doc(PathBuf::from("test.yaml"), doc).unwrap()
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            text: body.to_string(),
        }
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn paths_match_literal_segments_first_and_decode_parameters() {
        let c = contract();
        assert_eq!(
            c.route("/v1/things/special").unwrap().template,
            "/v1/things/special"
        );
        let m = c.route("/v1/things/a%20b").unwrap();
        assert_eq!(m.template, "/v1/things/{id}");
        assert_eq!(m.params, vec![("id".to_string(), "a b".to_string())]);
        assert_eq!(m.methods, ["GET", "POST"]);
        assert!(c.route("/v1/things").is_none());
        assert!(c.route("/v1/things/").is_none());
        assert_eq!(c.operations().len(), 3);
    }

    #[test]
    fn a_conforming_response_passes() {
        let c = contract();
        let id = "01930000-0000-7000-8000-000000000000";
        let ok = response(200, &[JSON], &format!("{{\"id\": \"{id}\"}}"));
        c.check("GET", "/v1/things/x", &ok).unwrap();
        let busy = response(503, &[JSON, ("retry-after", "5")], r#"{"error": {}}"#);
        c.check("get", "/v1/things/x", &busy).unwrap();
        c.check("POST", "/v1/things/x", &response(204, &[], ""))
            .unwrap();
    }

    #[test]
    fn each_rule_is_enforced() {
        let c = contract();
        let cases = [
            // An undocumented status.
            (
                "GET",
                "/v1/things/x",
                response(404, &[JSON], r#"{"error": {}}"#),
                "not documented",
            ),
            // A format violation.
            (
                "GET",
                "/v1/things/x",
                response(200, &[JSON], r#"{"id": "7"}"#),
                "uuid",
            ),
            // An undocumented property.
            (
                "GET",
                "/v1/things/x",
                response(
                    200,
                    &[JSON],
                    r#"{"id": "01930000-0000-7000-8000-000000000000", "x": 1}"#,
                ),
                "Additional properties",
            ),
            // Not JSON.
            (
                "GET",
                "/v1/things/x",
                response(200, &[JSON], "oops"),
                "not JSON",
            ),
            // Another content type.
            (
                "GET",
                "/v1/things/x",
                response(200, &[("content-type", "text/plain")], "{}"),
                "content-type text/plain",
            ),
            // A required header missing, or breaking its schema.
            (
                "GET",
                "/v1/things/x",
                response(503, &[JSON], r#"{"error": {}}"#),
                "Retry-After is missing",
            ),
            (
                "GET",
                "/v1/things/x",
                response(503, &[JSON, ("retry-after", "soon")], r#"{"error": {}}"#),
                "header Retry-After",
            ),
            // A body where none is documented.
            (
                "POST",
                "/v1/things/x",
                response(204, &[JSON], "{}"),
                "no body",
            ),
            // An unknown path answered with anything but the 404 envelope.
            ("GET", "/v2/nothing", response(200, &[JSON], "{}"), "404"),
            (
                "GET",
                "/v2/nothing",
                response(404, &[("content-type", "text/plain")], "no"),
                "application/json",
            ),
            // A method the path does not serve: 405 needs Allow with the path's methods.
            (
                "DELETE",
                "/v1/things/x",
                response(405, &[JSON], r#"{"error": {}}"#),
                "Allow",
            ),
            (
                "DELETE",
                "/v1/things/x",
                response(405, &[JSON, ("allow", "GET")], r#"{"error": {}}"#),
                "Allow: GET",
            ),
            (
                "DELETE",
                "/v1/things/x",
                response(200, &[JSON], r#"{"error": {}}"#),
                "405",
            ),
        ];
        for (method, path, r, expected) in cases {
            let e = c
                .check(method, path, &r)
                .expect_err(&format!("{method} {path} {} {}", r.status, r.text));
            assert!(e.contains(expected), "`{e}` does not say `{expected}`");
        }
        let allowed = response(405, &[JSON, ("allow", "post, GET")], r#"{"error": {}}"#);
        c.check("DELETE", "/v1/things/x", &allowed).unwrap();
    }
}
