//! The JSON Schema of every command's `--output json`: derived from the report types
//! (with their serde attributes, as serialized), committed under `docs/schemas/`, and
//! checked two ways by the tests: the committed files equal what this module derives
//! (a change of output is a reviewed diff of a schema), and every JSON document or line
//! a test run of the real binary prints is valid against its command's file.
//!
//! Two shapes: most commands print **one JSON document** on stdout; the commands that
//! follow something as it happens (`deploy`, `rollback`, `destroy`, `tail`) print **one
//! JSON object per line** (NDJSON), each with a `type` (`tail`'s lines are log events and
//! carry none), and the operations' last line is `{"type": "summary", ...}`. An error is
//! one more line or document, `{"error": {...}}` ([`ErrorDocument`]), in either shape.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::commands;

/// How a command prints its `--output json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One JSON document.
    Document,
    /// One JSON object per line (NDJSON).
    Lines,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Document => "document",
            Shape::Lines => "lines",
        }
    }
}

/// One command's output schema.
pub struct OutputSchema {
    /// The command as typed, subcommands joined by a space: `deploy`, `flags set`.
    pub command: &'static str,
    pub shape: Shape,
    pub schema: Value,
}

impl OutputSchema {
    /// The file it is committed as under `docs/schemas/`: `flags-set.schema.json`.
    pub fn file_name(&self) -> String {
        format!("{}.schema.json", self.command.replace(' ', "-"))
    }
}

/// The commands that print no JSON at all: their output is a script or a manual page
/// whatever `--output` says.
pub const WITHOUT_JSON: &[&str] = &["completions", "man"];

/// Every command's output schema, in the order of `stackpro --help`, and the error
/// document's last.
pub fn all() -> Vec<OutputSchema> {
    use commands::*;
    vec![
        document::<render::RenderReport>("render", "the files rendered per capability"),
        document::<validate::ValidateReport>(
            "validate",
            "per capability and environment: parsed, cfn-lint findings, checkov results",
        ),
        document::<bootstrap::BootstrapReport>("bootstrap", "the artifact bucket's stack"),
        document::<build::BuildReport>("build", "the Lambda zips built and skipped"),
        lines(
            "deploy",
            "steps, stack events, each capability's plan, result and outputs, then the summary",
            |g| {
                vec![
                    line::<Step>(g, "step"),
                    line::<crate::stack::Event>(g, "event"),
                    line::<deploy::PlanLine>(g, "plan"),
                    line::<crate::deploy::Outcome>(g, "result"),
                    line::<std::collections::BTreeMap<String, String>>(g, "outputs"),
                    line::<deploy::DeployReport>(g, "summary"),
                ]
            },
        ),
        document::<status::StatusReport>(
            "status",
            "per capability: the stack, last deployment, live version, canary, alarms, API",
        ),
        document::<metrics::MetricsReport>(
            "metrics",
            "per capability: requests, error rate, p95 latency, degraded share, throttles",
        ),
        document::<crate::cost::CostReport>(
            "cost",
            "per capability: the fixed monthly cost by resource, the free resources, per-use prices",
        ),
        document::<drift::DriftReport>("drift", "per capability: drifted resources"),
        document::<gc::GcReport>("gc", "the objects kept and deleted, with reasons"),
        lines("destroy", "steps and stack events, then the summary", |g| {
            vec![
                line::<Step>(g, "step"),
                line::<crate::stack::Event>(g, "event"),
                line::<destroy::DestroyReport>(g, "summary"),
            ]
        }),
        lines(
            "rollback",
            "steps and stack events, then the summary",
            |g| {
                vec![
                    line::<Step>(g, "step"),
                    line::<crate::stack::Event>(g, "event"),
                    line::<rollback::RollbackReport>(g, "summary"),
                ]
            },
        ),
        document::<promote::PromoteReport>("promote", "the canary promoted"),
        document::<flags::FlagsReport>("flags list", "every flag's effective value"),
        document::<flags::FlagsReport>("flags get", "one flag's effective value"),
        document::<flags::ChangeReport>("flags set", "the flags written"),
        document::<flags::ChangeReport>("flags unset", "the flags removed"),
        document::<flags::HistoryReport>("flags history", "a flag's stored versions"),
        tail_lines(),
        document::<doctor::DoctorReport>("doctor", "credentials, region, endpoint, tools"),
        document::<list::ListReport>("list", "the project's capabilities and environments"),
        document::<new::NewReport>("new capability", "the files created and edited"),
        document::<dev::DevReport>("dev", "what is served where (the plan with --dry-run)"),
        document::<sdk::GenerateReport>("sdk generate", "the clients written per capability and language"),
        document::<sdk::CheckReport>(
            "sdk check",
            "per capability and language: the committed client's stale files",
        ),
        document::<schema::SchemaList>("schema", "the commands and the shape of their output"),
        document::<crate::printer::ErrorDocument>(
            "error",
            "any command that fails, after whatever it printed before",
        ),
    ]
}

/// The schema of one command, by its name as typed (`flags set`).
pub fn find(command: &str) -> Option<OutputSchema> {
    all().into_iter().find(|s| s.command == command)
}

/// A step line's body: `{"type": "step", "message": ...}`.
#[derive(serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub message: String,
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
}

fn document<T: JsonSchema>(command: &'static str, what: &str) -> OutputSchema {
    let mut schema = generator().into_root_schema_for::<T>();
    let object = schema.ensure_object();
    object.insert(
        "title".into(),
        format!("stackpro {command} --output json").into(),
    );
    object.insert(
        "description".into(),
        format!("One JSON document on stdout: {what}.").into(),
    );
    object.insert("x-stackpro-shape".into(), Shape::Document.as_str().into());
    OutputSchema {
        command,
        shape: Shape::Document,
        schema: finish(schema.to_value()),
    }
}

/// A streaming command's schema: each line is one of `kinds`, made by [`line`] with one
/// generator so their shared definitions land once in `$defs`.
fn lines(
    command: &'static str,
    what: &str,
    kinds: impl FnOnce(&mut SchemaGenerator) -> Vec<Value>,
) -> OutputSchema {
    let mut g = generator();
    let variants = kinds(&mut g);
    let defs: Map<String, Value> = g.definitions().clone();
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("stackpro {command} --output json"),
        "description": format!(
            "One JSON object per line on stdout (NDJSON): {what}. Each line's `type` says which."
        ),
        "x-stackpro-shape": Shape::Lines.as_str(),
        "oneOf": variants,
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    OutputSchema {
        command,
        shape: Shape::Lines,
        schema: finish(schema),
    }
}

/// One kind of line: `T`'s object with the fields every line has added (`type` fixed to
/// `kind`, `time`, and the capability when the line is about one). A body that is not
/// an object is printed as `{"value": ...}`.
fn line<T: JsonSchema>(g: &mut SchemaGenerator, kind: &str) -> Value {
    let mut body = g.root_schema_for::<T>().to_value();
    if let Some(object) = body.as_object_mut() {
        object.remove("$defs");
        object.remove("$schema");
        object.insert("title".into(), format!("{kind} line").into());
    }
    let bare = !has_properties(&body)
        && ["oneOf", "anyOf", "additionalProperties"]
            .iter()
            .all(|k| body.get(k).is_none());
    if bare {
        // A bare value, wrapped by the printer.
        body = json!({
            "title": format!("{kind} line"),
            "type": "object",
            "properties": { "value": body },
            "required": ["value"],
        });
    }
    add_line_fields(&mut body, kind);
    body
}

fn has_properties(schema: &Value) -> bool {
    schema.get("properties").is_some()
}

fn add_line_fields(schema: &mut Value, kind: &str) {
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = schema.get_mut(key) {
            for v in variants {
                add_line_fields(v, kind);
            }
            return;
        }
    }
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.insert("type".into(), "object".into());
    let properties = object
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("properties is an object");
    properties.insert("type".into(), json!({ "const": kind }));
    properties.insert(
        "time".into(),
        json!({ "type": "string", "description": "When the line was written (RFC 3339, UTC)" }),
    );
    properties
        .entry("capability")
        .or_insert_with(|| json!({ "type": "string" }));
    let required = object
        .entry("required")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("required is an array");
    for field in ["type", "time"] {
        if !required.iter().any(|r| r == field) {
            required.push(field.into());
        }
    }
}

/// `tail --output json`: one log event per line, without a `type`.
fn tail_lines() -> OutputSchema {
    let mut schema = generator().into_root_schema_for::<crate::tail::LogLine>();
    let object = schema.ensure_object();
    object.insert("title".into(), "stackpro tail --output json".into());
    object.insert(
        "description".into(),
        "One JSON object per line on stdout (NDJSON): each log event of the capabilities' \
         log groups, merged in time order."
            .into(),
    );
    object.insert("x-stackpro-shape".into(), Shape::Lines.as_str().into());
    OutputSchema {
        command: "tail",
        shape: Shape::Lines,
        schema: finish(schema.to_value()),
    }
}

/// Closes every object that lists its properties (a field the schema does not name is
/// an output change the schema must show), unless it says otherwise already.
fn finish(mut schema: Value) -> Value {
    close_objects(&mut schema);
    schema
}

fn close_objects(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.contains_key("properties") && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), false.into());
            }
            for (key, child) in object.iter_mut() {
                // A property named `properties` is a name, not a keyword.
                if key == "properties" {
                    if let Value::Object(props) = child {
                        for p in props.values_mut() {
                            close_objects(p);
                        }
                    }
                } else {
                    close_objects(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The text of a schema as committed: pretty JSON and a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_names_its_shape_and_closes_its_objects() {
        for s in all() {
            assert_eq!(
                s.schema["x-stackpro-shape"],
                s.shape.as_str(),
                "{}",
                s.command
            );
            let text = to_text(&s.schema);
            assert!(
                text.contains("\"additionalProperties\": false"),
                "{}",
                s.command
            );
        }
    }

    #[test]
    fn a_line_carries_type_time_and_capability() {
        let mut g = generator();
        let step = line::<Step>(&mut g, "step");
        assert_eq!(step["properties"]["type"]["const"], "step");
        assert!(step["properties"]["time"].is_object());
        assert!(step["properties"]["capability"].is_object());
        let required: Vec<&str> = step["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["message", "type", "time"]);
        // A map body stays an object with its own values.
        let outputs = line::<std::collections::BTreeMap<String, String>>(&mut g, "outputs");
        assert_eq!(outputs["properties"]["type"]["const"], "outputs");
    }

    #[test]
    fn command_names_are_unique_and_files_follow_them() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|s| s.command).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(
            find("flags set").unwrap().file_name(),
            "flags-set.schema.json"
        );
    }
}
