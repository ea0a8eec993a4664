//! One capability's declaration: `handlers/<name>/capability.yaml`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::flags::{self, FlagKind, FlagValue};
use super::yaml::Source;
use crate::error::{nearest, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilityFile {
    description: String,
    handler: Handler,
    routes: Vec<String>,
    tables: Vec<TableFile>,
    #[serde(default)]
    iam: Vec<IamStatement>,
    #[serde(default)]
    alarms: AlarmOverrides,
    #[serde(default)]
    lambda: LambdaOverrides,
    #[serde(default)]
    flags: BTreeMap<String, FlagValue>,
}

/// The handler crate and binary that serve a capability.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub package: String,
    pub binary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    name: String,
    partition_key: KeyAttribute,
    #[serde(default)]
    sort_key: Option<KeyAttribute>,
    #[serde(default)]
    ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
}

/// DynamoDB key attribute types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum AttributeType {
    S,
    N,
    B,
}

/// An extra IAM statement the handler needs beyond its tables, SSM path and logs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IamStatement {
    pub sid: String,
    pub actions: Vec<String>,
    /// ARNs; `${AWS::Region}`-style references are substituted by CloudFormation.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmOverrides {
    pub error_rate_percent: Option<f64>,
    pub p95_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaOverrides {
    pub memory_mb: Option<u32>,
    pub timeout_seconds: Option<u32>,
}

/// A DynamoDB table of a capability.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Short name, unique within the capability (`threads`).
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub ttl_attribute: Option<String>,
}

/// An API route: `GET /v1/threads/{thread_id}`.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A capability, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Capability {
    pub name: String,
    pub description: String,
    pub handler: Handler,
    pub routes: Vec<Route>,
    pub tables: Vec<Table>,
    pub iam: Vec<IamStatement>,
    pub alarms: AlarmOverrides,
    pub lambda: LambdaOverrides,
    /// Flag defaults declared by the capability (its VERSION, DEGRADED and extra flags).
    pub flags: BTreeMap<String, FlagValue>,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

impl Capability {
    pub fn load(name: &str, path: &Path, root: &Path) -> Result<Self> {
        let source = Source::read(path, root)?;
        if !is_name(name) {
            return Err(source.error_at(
                &[],
                format!("capability name `{name}` (the folder name) is not allowed"),
                Some(
                    "use lower-case letters and digits, starting with a letter (e.g. `messaging`)"
                        .into(),
                ),
            ));
        }
        if name == "bootstrap" {
            return Err(source.error_at(
                &[],
                "capability name `bootstrap` is reserved for the environment's bootstrap stack"
                    .into(),
                Some("rename the folder under handlers/".into()),
            ));
        }
        let file: CapabilityFile = source.parse("a capability declaration")?;

        let mut routes = Vec::new();
        for raw in &file.routes {
            let route = parse_route(raw).map_err(|why| {
                source.error_at(
                    &["routes", raw],
                    format!("route `{raw}` {why}"),
                    Some(
                        "write a route as `METHOD /path`, e.g. `GET /v1/threads/{thread_id}`"
                            .into(),
                    ),
                )
            })?;
            if routes.iter().any(|r: &Route| r.key() == route.key()) {
                return Err(source.error_at(
                    &["routes", raw],
                    format!("route `{raw}` is declared twice"),
                    None,
                ));
            }
            routes.push(route);
        }
        if routes.is_empty() {
            return Err(source.error_at(
                &["routes"],
                "`routes` is empty; a capability serves at least one route".into(),
                None,
            ));
        }

        let mut tables: Vec<Table> = Vec::new();
        for t in file.tables {
            if !is_name(&t.name) {
                return Err(source.error_at(
                    &["tables", "name"],
                    format!("table name `{}` is not allowed", t.name),
                    Some("use lower-case letters and digits, starting with a letter".into()),
                ));
            }
            if tables.iter().any(|x| x.name == t.name) {
                return Err(source.error_at(
                    &["tables"],
                    format!("table `{}` is declared twice", t.name),
                    None,
                ));
            }
            tables.push(Table {
                name: t.name,
                partition_key: t.partition_key,
                sort_key: t.sort_key,
                ttl_attribute: t.ttl_attribute,
            });
        }

        for statement in &file.iam {
            for resource in &statement.resources {
                if resource.trim() == "*" {
                    return Err(source.error_at(
                        &["iam", "resources"],
                        format!("IAM statement `{}` grants `*`; name the resources", statement.sid),
                        Some("write the ARN (or ARN pattern) of what the handler uses, e.g. arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/*".into()),
                    ));
                }
            }
            for action in &statement.actions {
                if !action.contains(':') || action.starts_with(':') || action.ends_with(':') {
                    return Err(source.error_at(
                        &["iam", "actions"],
                        format!(
                            "IAM action `{action}` in statement `{}` is not `service:Action`",
                            statement.sid
                        ),
                        None,
                    ));
                }
            }
        }

        let prefix = flags::prefix(name);
        for (key, value) in &file.flags {
            let Some(suffix) = key
                .strip_prefix(&prefix)
                .filter(|_| flags::is_well_formed(key))
            else {
                return Err(source.error_at(
                    &["flags", key],
                    format!("flag `{key}` does not belong to capability {name}"),
                    Some(format!(
                        "a capability's flags are named {prefix}<NAME> in upper case"
                    )),
                ));
            };
            if suffix == "ENABLED" {
                return Err(source.error_at(
                    &["flags", key],
                    format!("flag `{key}` is decided per environment, not by the capability"),
                    Some(format!("set {key} under flags.values in envs/<env>.yaml")),
                ));
            }
            let kind = conventional_kind(suffix).unwrap_or(value.kind());
            if let Err(why) = kind.check(value) {
                return Err(source.error_at(&["flags", key], format!("flag `{key}`: {why}"), None));
            }
        }

        if let Some(ms) = file.alarms.p95_latency_ms.filter(|v| *v <= 0.0) {
            return Err(source.error_at(
                &["alarms", "p95_latency_ms"],
                format!("p95_latency_ms must be above 0, found {ms}"),
                None,
            ));
        }
        if let Some(p) = file
            .alarms
            .error_rate_percent
            .filter(|v| *v <= 0.0 || *v > 100.0)
        {
            return Err(source.error_at(
                &["alarms", "error_rate_percent"],
                format!("error_rate_percent must be above 0 and at most 100, found {p}"),
                None,
            ));
        }

        if let Some(memory) = file.lambda.memory_mb.filter(|m| !(128..=10240).contains(m)) {
            return Err(source.error_at(
                &["lambda", "memory_mb"],
                format!("lambda.memory_mb {memory} is outside what Lambda allows (128 to 10240)"),
                None,
            ));
        }
        if let Some(timeout) = file
            .lambda
            .timeout_seconds
            .filter(|t| !(1..=super::MAX_TIMEOUT_SECONDS).contains(t))
        {
            return Err(source.error_at(
                &["lambda", "timeout_seconds"],
                format!(
                    "lambda.timeout_seconds {timeout} is outside 1 to {}",
                    super::MAX_TIMEOUT_SECONDS
                ),
                Some("an HTTP API waits at most 30 s for its Lambda integration".into()),
            ));
        }

        Ok(Capability {
            name: name.to_string(),
            description: file.description,
            handler: file.handler,
            routes,
            tables,
            iam: file.iam,
            alarms: file.alarms,
            lambda: file.lambda,
            flags: file.flags,
        })
    }

    /// Every flag this capability has, with its kind: the conventional three and the
    /// extra ones it declares.
    pub fn flag_kinds(&self) -> Vec<(String, FlagKind)> {
        let mut kinds: Vec<(String, FlagKind)> = flags::CONVENTIONAL
            .iter()
            .map(|(suffix, kind)| (flags::flag_name(&self.name, suffix), *kind))
            .collect();
        for (key, value) in &self.flags {
            if !kinds.iter().any(|(k, _)| k == key) {
                kinds.push((key.clone(), value.kind()));
            }
        }
        kinds
    }

    /// The nearest flag name of this capability to `name`.
    pub fn nearest_flag(&self, name: &str) -> Option<String> {
        let kinds = self.flag_kinds();
        nearest(name, kinds.iter().map(|(k, _)| k.as_str()))
    }
}

fn conventional_kind(suffix: &str) -> Option<FlagKind> {
    flags::CONVENTIONAL
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, k)| *k)
}

/// Lower-case letters and digits, starting with a letter.
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 24
}

fn parse_route(raw: &str) -> std::result::Result<Route, String> {
    let mut parts = raw.split_whitespace();
    let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("is not `METHOD /path`".into());
    };
    if !METHODS.contains(&method) {
        return Err(format!(
            "has an unknown method `{method}` (expected one of {})",
            METHODS.join(", ")
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("has a path `{path}` that does not start with `/`"));
    }
    let mut depth = 0i32;
    for c in path.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            c if c.is_ascii_alphanumeric() || "/-_.+".contains(c) => {}
            c => {
                return Err(format!(
                    "has a character `{c}` that API Gateway does not accept in a path"
                ))
            }
        }
        if !(0..=1).contains(&depth) {
            return Err("has unbalanced `{` `}` in its path".into());
        }
    }
    if depth != 0 {
        return Err("has unbalanced `{` `}` in its path".into());
    }
    Ok(Route {
        method: method.to_string(),
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            parse_route("GET /v1/threads/{id}").unwrap().key(),
            "GET /v1/threads/{id}"
        );
        assert!(parse_route("FETCH /x")
            .unwrap_err()
            .contains("unknown method"));
        assert!(parse_route("GET x").unwrap_err().contains("does not start"));
        assert!(parse_route("GET /x/{id")
            .unwrap_err()
            .contains("unbalanced"));
        assert!(parse_route("GET").is_err());
    }

    #[test]
    fn names() {
        assert!(is_name("messaging"));
        assert!(!is_name("Messaging"));
        assert!(!is_name("9lives"));
        assert!(!is_name(""));
    }
}
