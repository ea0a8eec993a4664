//! Client SDKs generated from the capabilities' contracts (`handlers/<cap>/openapi.yaml`,
//! OpenAPI 3.1): the contract read into a small model (types, operations, the error
//! envelope, each list's empty shape), rendered with the project's own templates
//! (`templates/sdk/typescript/`, `templates/sdk/rust/`), and compared with what is
//! committed (`stackpro sdk check`). No network, no writes: the command writes.
//!
//! Only the part of JSON Schema the contracts use is understood (objects, arrays,
//! strings with `enum`/`const`, numbers, booleans, `type: [T, "null"]`, `$ref` to
//! `#/components/...`); anything else is an error naming the schema, never a silent
//! `unknown`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Catalogue;
use crate::config::CONTRACT_FILE;
use crate::error::{Error, Result};
use crate::project::Project;

/// The languages clients are generated in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Typescript,
    Rust,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Typescript, Lang::Rust];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Typescript => "typescript",
            Lang::Rust => "rust",
        }
    }

    /// Where the committed clients live, relative to the project: one directory per
    /// capability below it.
    pub fn default_dir(self) -> &'static str {
        match self {
            Lang::Typescript => "sdk/typescript",
            Lang::Rust => "sdk/rust",
        }
    }

    fn template_dir(self) -> String {
        format!("templates/sdk/{}", self.as_str())
    }
}

/// One generated file, in memory.
#[derive(Debug, Clone)]
pub struct File {
    /// Relative to the language's output directory: `messaging/src/index.ts`.
    pub path: PathBuf,
    pub text: String,
}

/// The capabilities that have a contract, in name order.
pub fn with_contract(project: &Project, catalogue: &Catalogue) -> Vec<String> {
    catalogue
        .names()
        .into_iter()
        .filter(|n| contract_path(project, n).is_file())
        .collect()
}

pub fn contract_path(project: &Project, capability: &str) -> PathBuf {
    project.handlers_dir().join(capability).join(CONTRACT_FILE)
}

/// Every file of `capability`'s client in `lang`.
pub fn generate(project: &Project, capability: &str, lang: Lang) -> Result<Vec<File>> {
    let path = contract_path(project, capability);
    let shown = project.display_path(&path).display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        action: "read the contract",
        path: path.clone(),
        source,
    })?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| Error::Config {
        message: format!("{shown} does not parse: {e}"),
        help: Some("fix the YAML; `stackpro validate` reads the same file".into()),
    })?;
    let model = Model::read(capability, &doc).map_err(|message| Error::Config {
        message: format!("{shown}: {message}"),
        help: Some(
            "the client generator reads the OpenAPI 3.1 subset the contracts use (see docs/ARCHITECTURE.md, Client SDKs)"
                .into(),
        ),
    })?;
    render(project, &model, lang)
}

/// Renders every `*.j2` under the language's template directory with the model.
fn render(project: &Project, model: &Model, lang: Lang) -> Result<Vec<File>> {
    let dir = project.root().join(lang.template_dir());
    let mut templates = Vec::new();
    walk(&dir, &mut templates).map_err(|source| Error::Io {
        action: "read the SDK templates in",
        path: dir.clone(),
        source,
    })?;
    templates.sort();
    if templates.is_empty() {
        return Err(Error::Config {
            message: format!(
                "this project has no {} SDK templates ({}/)",
                lang.as_str(),
                lang.template_dir()
            ),
            help: Some(format!(
                "copy {}/ from the stackpro repository into the project",
                lang.template_dir()
            )),
        });
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("tojson_compact", |v: minijinja::Value| -> String {
        serde_json::to_string(&v).unwrap_or_default()
    });
    let ctx = minijinja::Value::from_serialize(model);
    let mut files = Vec::new();
    for file in templates {
        let relative = file.strip_prefix(&dir).unwrap_or(&file);
        let source = std::fs::read_to_string(&file).map_err(|source| Error::Io {
            action: "read the SDK template",
            path: file.clone(),
            source,
        })?;
        let text = env
            .render_str(&source, &ctx)
            .map_err(|source| Error::Render {
                template: project.display_path(&file).display().to_string(),
                capability: model.capability.clone(),
                environment: "the SDK".into(),
                source,
            })?;
        let out = relative.to_string_lossy();
        let out = out.strip_suffix(".j2").unwrap_or(&out).to_string();
        let text = if out.ends_with(".rs") {
            rustfmt(&text, &out)?
        } else {
            text
        };
        files.push(File {
            path: Path::new(&model.capability).join(out),
            text,
        });
    }
    Ok(files)
}

/// The Rust laid out as `cargo fmt` lays it out, so that formatting the workspace
/// never makes the committed clients stale.
fn rustfmt(text: &str, name: &str) -> Result<String> {
    let tool_error = |message: String| Error::Tool {
        tool: "rustfmt",
        message,
        help: Some("install it with `rustup component add rustfmt`".into()),
    };
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tool_error(format!("{e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| tool_error(format!("{e}")))?;
    let _ = writer.join();
    if !out.status.success() {
        // Either the toolchain cannot be found (rustup without RUSTUP_HOME) or the
        // template rendered something that is not Rust; rustfmt's own words say which.
        return Err(Error::Tool {
            tool: "rustfmt",
            message: format!(
                "it failed on the generated {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            help: Some(
                "check that `rustfmt --version` works here; if it does, templates/sdk/rust/ renders invalid Rust"
                    .into(),
            ),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| tool_error(format!("answered non-UTF-8: {e}")))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "j2") {
            out.push(path);
        }
    }
    Ok(())
}

/// A committed file that is not what the contract generates now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    Missing,
    Differs,
}

/// The generated files of `capability` in `lang` that differ from what is under `dir`.
pub fn stale_files(files: &[File], dir: &Path) -> Vec<(PathBuf, Staleness)> {
    files
        .iter()
        .filter_map(|f| match std::fs::read_to_string(dir.join(&f.path)) {
            Ok(text) if text == f.text => None,
            Ok(_) => Some((f.path.clone(), Staleness::Differs)),
            Err(_) => Some((f.path.clone(), Staleness::Missing)),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The model the templates render.

/// Names the generated code defines itself; a contract schema by one of them would clash.
const RESERVED: &[&str] = &[
    "Client",
    "ClientOptions",
    "Reply",
    "Failure",
    "FailureKind",
    "Unavailable",
    "MarksDegraded",
    "BoxFuture",
    "Source",
    "Call",
    // What the TypeScript client names from the language and the platform.
    "Fields",
    "Pick",
    "Promise",
    "Array",
    "ReturnType",
    "Object",
    "String",
    "JSON",
    "AbortController",
    "URLSearchParams",
    "RequestInit",
];

#[derive(Debug, Serialize)]
pub struct Model {
    pub capability: String,
    /// `Messaging`.
    pub pascal: String,
    /// `CAP_MESSAGING_BASE_URL`.
    pub base_url_var: String,
    pub title: String,
    pub version: String,
    pub description: String,
    /// Named types: the contract's schemas, then (Rust) the inline objects they hold.
    pub types: Vec<TypeDef>,
    pub operations: Vec<Operation>,
    /// The schema of every 4xx answer (the error envelope).
    pub error_type: TypeRef,
    /// The envelope's `error.code` values, when the contract lists them.
    pub error_codes: Vec<String>,
    /// The envelope carries a required boolean `degraded`.
    pub error_has_degraded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeRef {
    pub ts: String,
    pub rust: String,
}

#[derive(Debug, Serialize)]
pub struct TypeDef {
    pub name: String,
    pub doc: String,
    /// `object` (fields), or `alias` (`target`).
    pub kind: &'static str,
    pub fields: Vec<Field>,
    pub target: TypeRef,
    /// Only the Rust side needs it declared (an inline object TypeScript writes in place).
    pub rust_only: bool,
    /// A required boolean `degraded`: the body says whether it is a fallback.
    pub has_degraded: bool,
}

#[derive(Debug, Serialize)]
pub struct Field {
    /// As in the contract.
    pub name: String,
    /// A TypeScript property name (quoted when it is not an identifier).
    pub ts_name: String,
    pub rust_name: String,
    /// The Rust name differs from the contract's (serde renames it).
    pub rename: bool,
    pub doc: String,
    pub required: bool,
    pub ty: TypeRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    pub ts_name: String,
    /// How the generated TypeScript reads it from its options: `.limit`, `["x-y"]`.
    pub ts_access: String,
    pub rust_name: String,
    pub doc: String,
    pub required: bool,
    pub ty: TypeRef,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    pub id: String,
    pub ts_name: String,
    pub rust_name: String,
    /// `ListThreads`, for the Rust options struct.
    pub pascal: String,
    pub summary: String,
    pub method: String,
    pub path: String,
    /// `/v1/threads/${encodeURIComponent(threadId)}`-style pieces: literal text and
    /// parameters, in order.
    pub segments: Vec<Segment>,
    pub path_params: Vec<Param>,
    pub query: Vec<Param>,
    pub headers: Vec<Param>,
    pub body: Option<Body>,
    pub ok_status: u16,
    pub ok: TypeRef,
    /// The ok body requires a boolean `degraded`.
    pub ok_has_degraded: bool,
    /// `x-stackpro-empty`: what a caller gets when the capability cannot answer.
    pub empty: Option<Value>,
    /// `empty` with `degraded: true`, as a Rust string literal.
    pub empty_rust: Option<String>,
    /// The keys of `empty`, for the TypeScript fallback type.
    pub empty_keys: Vec<String>,
    /// Sends the bearer token (the operation or the contract requires it).
    pub auth: bool,
    /// The query then the header parameters: the options argument's fields.
    pub options: Vec<Param>,
    /// Has query or header parameters (an options argument).
    pub has_options: bool,
    /// The TypeScript arguments for the query and the headers: `{ "limit": params.limit }`
    /// or `undefined`.
    pub ts_query: String,
    pub ts_headers: String,
    /// One of them is required, so the options argument is too.
    pub options_required: bool,
    /// The TypeScript type of the fallback's fields: `Pick<ThreadPage, "items" | ...>`.
    pub ts_fallback: String,
}

#[derive(Debug, Serialize)]
pub struct Segment {
    pub literal: String,
    /// A path parameter's names, when this piece is one.
    pub param: Option<Param>,
}

#[derive(Debug, Serialize)]
pub struct Body {
    pub ty: TypeRef,
    pub required: bool,
}

impl Model {
    fn read(capability: &str, doc: &Value) -> std::result::Result<Model, String> {
        let version = doc["openapi"].as_str().unwrap_or("");
        if !version.starts_with("3.1") {
            return Err(format!(
                "openapi is `{version}`; the client generator reads OpenAPI 3.1 contracts"
            ));
        }
        let mut reader = Reader {
            doc,
            extra: Vec::new(),
        };
        let mut types = Vec::new();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, schema) in &schemas {
            if RESERVED.contains(&name.as_str()) || !is_pascal(name) {
                return Err(format!(
                    "schema `{name}` cannot name a generated type: use a PascalCase name other than {}",
                    RESERVED.join(", ")
                ));
            }
            types.push(reader.type_def(name, schema, false)?);
        }
        let mut operations = Vec::new();
        let mut error_type: Option<(String, TypeRef)> = None;
        let global_auth = doc["security"].as_array().is_some_and(|s| !s.is_empty());
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get(method) else { continue };
                let at = format!("{} {path}", method.to_ascii_uppercase());
                let operation = reader
                    .operation(path, method, item, op, global_auth, &mut error_type)
                    .map_err(|e| format!("{at}: {e}"))?;
                operations.push(operation);
            }
        }
        for (i, a) in operations.iter().enumerate() {
            if let Some(b) = operations[..i].iter().find(|b| b.rust_name == a.rust_name) {
                return Err(format!(
                    "operations {} and {} give the same method name {}",
                    b.id, a.id, a.rust_name
                ));
            }
        }
        let (error_name, error_type) = error_type.unwrap_or_else(|| {
            (
                String::new(),
                TypeRef {
                    ts: "{ error: { code: string; message: string }; degraded: boolean }".into(),
                    rust: "serde_json::Value".into(),
                },
            )
        });
        let error_codes: Vec<String> = schemas
            .get(&error_name)
            .and_then(|s| s["properties"]["error"]["properties"]["code"]["enum"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let error_has_degraded = types.iter().any(|t| t.name == error_name && t.has_degraded);
        types.extend(reader.extra);
        Ok(Model {
            error_has_degraded,
            capability: capability.to_string(),
            pascal: pascal(capability),
            base_url_var: stackpro_conventions::flags::flag_name(
                capability,
                stackpro_conventions::flags::BASE_URL,
            ),
            title: doc["info"]["title"]
                .as_str()
                .unwrap_or(capability)
                .to_string(),
            version: doc["info"]["version"].as_str().unwrap_or("").to_string(),
            description: one_line(doc["info"]["description"].as_str().unwrap_or("")),
            types,
            operations,
            error_type,
            error_codes,
        })
    }
}

struct Reader<'a> {
    doc: &'a Value,
    /// Rust structs for inline objects (`HealthChecks`).
    extra: Vec<TypeDef>,
}

impl Reader<'_> {
    /// `#/components/<kind>/<name>` resolved, with its name.
    fn resolve<'v>(
        &'v self,
        value: &'v Value,
    ) -> std::result::Result<(&'v Value, Option<String>), String> {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok((value, None));
        };
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("`$ref: {reference}` points outside the contract"))?;
        let target = self
            .doc
            .pointer(pointer)
            .ok_or_else(|| format!("`$ref: {reference}` names nothing"))?;
        Ok((target, reference.rsplit('/').next().map(String::from)))
    }

    fn type_def(
        &mut self,
        name: &str,
        schema: &Value,
        rust_only: bool,
    ) -> std::result::Result<TypeDef, String> {
        let doc = one_line(schema["description"].as_str().unwrap_or(""));
        if schema["type"] == "object" && schema.get("properties").is_some() {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut fields = Vec::new();
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (field, sub) in &properties {
                let ty = self
                    .type_of(sub, &format!("{name}{}", pascal(field)))
                    .map_err(|e| format!("schema {name}, property {field}: {e}"))?;
                let rust_name = rust_ident(&snake(field));
                fields.push(Field {
                    rename: rust_name.trim_start_matches("r#") != field,
                    name: field.clone(),
                    ts_name: ts_property(field),
                    rust_name,
                    doc: one_line(sub["description"].as_str().unwrap_or("")),
                    required: required.contains(&field.as_str()),
                    ty,
                });
            }
            let has_degraded = fields.iter().any(|f| {
                f.name == "degraded"
                    && f.required
                    && (f.ty.rust == "bool" || f.ty.rust == "Degraded")
            });
            return Ok(TypeDef {
                name: name.to_string(),
                doc,
                kind: "object",
                fields,
                target: TypeRef {
                    ts: String::new(),
                    rust: String::new(),
                },
                rust_only,
                has_degraded,
            });
        }
        let target = self
            .type_of(schema, name)
            .map_err(|e| format!("schema {name}: {e}"))?;
        Ok(TypeDef {
            name: name.to_string(),
            doc,
            kind: "alias",
            fields: Vec::new(),
            target,
            rust_only,
            has_degraded: false,
        })
    }

    /// The type of a schema in both languages; `inline_name` names a Rust struct for an
    /// inline object.
    fn type_of(
        &mut self,
        schema: &Value,
        inline_name: &str,
    ) -> std::result::Result<TypeRef, String> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (_, name) = self.resolve(schema)?;
            let name = name.ok_or_else(|| format!("`$ref: {reference}` has no name"))?;
            if name == "Degraded" {
                // The conventional `degraded` flag: a plain boolean in both languages.
                return Ok(TypeRef {
                    ts: "boolean".into(),
                    rust: "bool".into(),
                });
            }
            return Ok(TypeRef {
                ts: name.clone(),
                rust: name,
            });
        }
        if let Some(c) = schema.get("const") {
            return Ok(TypeRef {
                ts: serde_json::to_string(c).unwrap_or_default(),
                rust: rust_scalar(c)?,
            });
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let first = values.first().ok_or("an empty `enum`")?;
            return Ok(TypeRef {
                ts: values
                    .iter()
                    .map(|v| serde_json::to_string(v).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" | "),
                rust: rust_scalar(first)?,
            });
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            Value::Null => vec![],
            other => return Err(format!("`type: {other}` is not a type name")),
        };
        let nullable = types.contains(&"null");
        let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        let base = match types.as_slice() {
            [] if schema.get("properties").is_none() => TypeRef {
                ts: "unknown".into(),
                rust: "serde_json::Value".into(),
            },
            [] | ["object"] => {
                if schema.get("properties").is_some() {
                    let def = self.type_def(inline_name, schema, true)?;
                    let ts = ts_inline(&def);
                    self.extra.push(def);
                    TypeRef {
                        ts,
                        rust: inline_name.to_string(),
                    }
                } else {
                    TypeRef {
                        ts: "{ [key: string]: unknown }".into(),
                        rust: "serde_json::Map<String, serde_json::Value>".into(),
                    }
                }
            }
            ["string"] => TypeRef {
                ts: "string".into(),
                rust: "String".into(),
            },
            ["integer"] => TypeRef {
                ts: "number".into(),
                rust: "i64".into(),
            },
            ["number"] => TypeRef {
                ts: "number".into(),
                rust: "f64".into(),
            },
            ["boolean"] => TypeRef {
                ts: "boolean".into(),
                rust: "bool".into(),
            },
            ["array"] => {
                let item = self.type_of(&schema["items"], &format!("{inline_name}Item"))?;
                let ts = if item.ts.contains(' ') {
                    format!("Array<{}>", item.ts)
                } else {
                    format!("{}[]", item.ts)
                };
                TypeRef {
                    ts,
                    rust: format!("Vec<{}>", item.rust),
                }
            }
            other => return Err(format!("`type: {other:?}` (a union) is not supported")),
        };
        Ok(if nullable {
            TypeRef {
                ts: format!("{} | null", base.ts),
                rust: format!("Option<{}>", base.rust),
            }
        } else {
            base
        })
    }

    fn param(&mut self, value: &Value) -> std::result::Result<(String, Param), String> {
        let (p, _) = self.resolve(value)?;
        let p = p.clone();
        let name = p["name"]
            .as_str()
            .ok_or("a parameter without `name`")?
            .to_string();
        let location = p["in"].as_str().unwrap_or("").to_string();
        let ty = self.type_of(&p["schema"], &pascal(&name))?;
        if !["String", "i64", "f64", "bool"].contains(&ty.rust.as_str()) {
            return Err(format!(
                "parameter {name} is a {}: the clients send strings, numbers and booleans as parameters",
                ty.rust
            ));
        }
        let ts_name = if location == "header" {
            camel(&name)
        } else {
            name.clone()
        };
        let ts_access = if is_ts_identifier(&ts_name) {
            format!(".{ts_name}")
        } else {
            format!("[{}]", serde_json::to_string(&ts_name).unwrap_or_default())
        };
        Ok((
            location.clone(),
            Param {
                ts_access,
                ts_name: if location == "path" {
                    ts_ident(&camel(&name))
                } else {
                    ts_property(&ts_name)
                },
                rust_name: rust_ident(&snake(&name)),
                doc: one_line(p["description"].as_str().unwrap_or("")),
                required: p["required"].as_bool().unwrap_or(location == "path"),
                ty,
                name,
            },
        ))
    }

    fn operation(
        &mut self,
        path: &str,
        method: &str,
        item: &Value,
        op: &Value,
        global_auth: bool,
        error_type: &mut Option<(String, TypeRef)>,
    ) -> std::result::Result<Operation, String> {
        let id = op["operationId"]
            .as_str()
            .ok_or("no operationId: the clients name their methods after it")?
            .to_string();
        let mut params: Vec<(String, Param)> = Vec::new();
        for p in item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
        {
            let (location, param) = self.param(p)?;
            params.retain(|(l, q)| !(l == &location && q.name == param.name));
            params.push((location, param));
        }
        let mut path_params = Vec::new();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for (location, param) in params {
            match location.as_str() {
                "path" => path_params.push(param),
                "query" => query.push(param),
                "header" => headers.push(param),
                other => {
                    return Err(format!(
                        "parameter {} is in `{other}`, which the clients do not send",
                        param.name
                    ))
                }
            }
        }
        let mut segments = Vec::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .ok_or("an unclosed `{` in the path")?
                + start;
            let name = &rest[start + 1..end];
            let index = path_params
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| format!("path parameter {{{name}}} is not declared"))?;
            let p = &path_params[index];
            segments.push(Segment {
                literal: rest[..start].to_string(),
                param: Some(Param {
                    name: p.name.clone(),
                    ts_name: p.ts_name.clone(),
                    ts_access: p.ts_access.clone(),
                    rust_name: p.rust_name.clone(),
                    doc: p.doc.clone(),
                    required: true,
                    ty: p.ty.clone(),
                }),
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment {
                literal: rest.to_string(),
                param: None,
            });
        }
        let op_pascal = pascal(&id);
        let body = match op.get("requestBody") {
            None => None,
            Some(rb) => {
                let (rb, _) = self.resolve(rb)?;
                let rb = rb.clone();
                let schema = &rb["content"]["application/json"]["schema"];
                if schema.is_null() {
                    return Err("a request body that is not application/json".into());
                }
                Some(Body {
                    ty: self.type_of(schema, &format!("{op_pascal}Body"))?,
                    required: rb["required"].as_bool().unwrap_or(false),
                })
            }
        };
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        let mut ok: Option<(u16, TypeRef, bool)> = None;
        for (status, response) in &responses {
            let code: u16 = status.parse().unwrap_or(0);
            let (response, _) = self.resolve(response)?;
            let response = response.clone();
            let schema = &response["content"]["application/json"]["schema"];
            if (200..300).contains(&code) && ok.is_none() {
                let (resolved, _) = self.resolve(schema)?;
                let has_degraded = resolved["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|v| v == "degraded"));
                let ty = if schema.is_null() {
                    TypeRef {
                        ts: "unknown".into(),
                        rust: "serde_json::Value".into(),
                    }
                } else {
                    self.type_of(schema, &format!("{op_pascal}Response"))?
                };
                ok = Some((code, ty, has_degraded));
            } else if (400..500).contains(&code) && !schema.is_null() {
                let (_, name) = self.resolve(schema)?;
                let name =
                    name.ok_or("a 4xx answer whose schema is not a `$ref` to a named schema")?;
                match error_type {
                    Some((known, _)) if *known != name => {
                        return Err(format!(
                            "{status} answers {name}, another 4xx answers {known}: the clients return one error envelope"
                        ))
                    }
                    Some(_) => {}
                    None => {
                        *error_type = Some((name.clone(), TypeRef { ts: name.clone(), rust: name }));
                    }
                }
            }
        }
        let (ok_status, ok, ok_has_degraded) = ok.ok_or("no 2xx answer")?;
        let empty = op.get("x-stackpro-empty").cloned();
        let empty_keys: Vec<String> = match &empty {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(_) => return Err("x-stackpro-empty is not an object".into()),
            None => Vec::new(),
        };
        if let Some(Value::Object(m)) = &empty {
            self.check_empty(&ok, m)?;
        }
        let auth = match op.get("security") {
            Some(Value::Array(s)) => !s.is_empty(),
            _ => global_auth,
        };
        let ts_fallback = if empty_keys.is_empty() {
            "{}".to_string()
        } else {
            let keys: Vec<String> = empty_keys
                .iter()
                .map(|k| serde_json::to_string(k).unwrap_or_default())
                .collect();
            format!("Pick<{}, {}>", ok.ts, keys.join(" | "))
        };
        let empty_rust = match &empty {
            Some(Value::Object(m)) => {
                let mut whole = m.clone();
                whole.insert("degraded".into(), Value::Bool(true));
                Some(format!("{:?}", Value::Object(whole).to_string()))
            }
            _ => None,
        };
        let ts_fields = |params: &[Param]| {
            if params.is_empty() {
                return "undefined".to_string();
            }
            let fields: Vec<String> = params
                .iter()
                .map(|p| {
                    format!(
                        "{}: params{}",
                        serde_json::to_string(&p.name).unwrap_or_default(),
                        p.ts_access
                    )
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        };
        Ok(Operation {
            ts_query: ts_fields(&query),
            ts_headers: ts_fields(&headers),
            empty_rust,
            options_required: query.iter().chain(&headers).any(|p| p.required),
            ts_fallback,
            ts_name: ts_ident(&camel(&id)),
            rust_name: rust_ident(&snake(&id)),
            pascal: op_pascal,
            summary: one_line(op["summary"].as_str().unwrap_or("")),
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            segments,
            has_options: !query.is_empty() || !headers.is_empty(),
            options: query.iter().chain(&headers).cloned().collect(),
            path_params,
            query,
            headers,
            body,
            ok_status,
            ok,
            ok_has_degraded,
            empty,
            empty_keys,
            auth,
            id,
        })
    }

    /// The empty shape with `degraded: true` must be a whole answer: every required
    /// field of the ok schema given, or the Rust fallback could not be built.
    fn check_empty(
        &self,
        ok: &TypeRef,
        empty: &Map<String, Value>,
    ) -> std::result::Result<(), String> {
        let schema = &self.doc["components"]["schemas"][&ok.rust];
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        for r in required.iter().filter_map(Value::as_str) {
            if r != "degraded" && !empty.contains_key(r) {
                return Err(format!(
                    "x-stackpro-empty lacks `{r}`, which {} requires: a caller could not be given the empty answer",
                    ok.rust
                ));
            }
        }
        Ok(())
    }
}

/// An inline object as a TypeScript type literal.
fn ts_inline(def: &TypeDef) -> String {
    let fields: Vec<String> = def
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}{}: {}",
                f.ts_name,
                if f.required { "" } else { "?" },
                f.ty.ts
            )
        })
        .collect();
    format!("{{ {} }}", fields.join("; "))
}

fn rust_scalar(v: &Value) -> std::result::Result<String, String> {
    Ok(match v {
        Value::String(_) => "String",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "i64",
        Value::Number(_) => "f64",
        other => return Err(format!("`{other}` in an enum or const is not a scalar")),
    }
    .into())
}

fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn capitalized(w: &str) -> String {
    let mut chars = w.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `list_threads` / `listThreads` / `Idempotency-Key` to `ListThreads`, `IdempotencyKey`.
pub fn pascal(name: &str) -> String {
    words(name).iter().map(|w| capitalized(w)).collect()
}

fn camel(name: &str) -> String {
    let p = pascal(name);
    let mut chars = p.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn snake(name: &str) -> String {
    words(name).join("_")
}

fn is_pascal(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield", "try", "gen",
];

fn rust_ident(name: &str) -> String {
    let name = if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name.to_string()
    };
    if matches!(name.as_str(), "self" | "super" | "crate" | "Self") {
        format!("{name}_")
    } else if RUST_KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

const TS_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "private",
    "protected",
    "public",
    "await",
];

fn is_ts_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A variable or method name.
fn ts_ident(name: &str) -> String {
    if TS_RESERVED.contains(&name) || !is_ts_identifier(name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// A property name: as is when it is an identifier, quoted otherwise.
fn ts_property(name: &str) -> String {
    if is_ts_identifier(name) {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_default()
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where each language's clients are written when `--out` is not given.
pub fn output_dir(project: &Project, lang: Lang, out: Option<&Path>) -> PathBuf {
    match out {
        Some(dir) => dir.to_path_buf(),
        None => project.root().join(lang.default_dir()),
    }
}

/// The Rust crates' directories relative to the project root, for the workspace's
/// members: `sdk/rust/messaging`.
pub fn rust_member(capability: &str) -> String {
    format!("{}/{capability}", Lang::Rust.default_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_each_language() {
        assert_eq!(pascal("listThreads"), "ListThreads");
        assert_eq!(snake("listThreads"), "list_threads");
        assert_eq!(camel("Idempotency-Key"), "idempotencyKey");
        assert_eq!(pascal("thread_id"), "ThreadId");
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(ts_property("Retry-After"), "\"Retry-After\"");
        assert_eq!(ts_ident("delete"), "delete_");
    }

    #[test]
    fn an_empty_shape_missing_a_required_field_is_refused() {
        let doc: Value = serde_yaml::from_str(
            r##"
openapi: 3.1.0
info: { title: t, version: "1" }
paths:
  /v1/items:
    get:
      operationId: listItems
      x-stackpro-empty: { items: [] }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Page" }
components:
  schemas:
    Page:
      type: object
      required: [items, next_cursor, degraded]
      properties:
        items: { type: array, items: { type: string } }
        next_cursor: { type: [string, "null"] }
        degraded: { type: boolean }
"##,
        )
        .unwrap();
        let e = Model::read("inventory", &doc).unwrap_err();
        assert!(e.contains("x-stackpro-empty lacks `next_cursor`"), "{e}");
    }

    #[test]
    fn openapi_3_0_is_named_as_unsupported() {
        let doc = serde_json::json!({ "openapi": "3.0.3", "paths": {} });
        let e = Model::read("x", &doc).unwrap_err();
        assert!(e.contains("reads OpenAPI 3.1"), "{e}");
    }
}
