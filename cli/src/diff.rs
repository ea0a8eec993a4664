//! What a deploy would change, computed locally from the deployed template and
//! parameters and the new ones (no network), as `cdk diff` does: resources added,
//! modified (with the properties that change, old and new value) and removed, and which
//! changes replace a resource.
//!
//! Replacement is known from the CloudFormation resource schemas' create-only
//! properties (`cli/data/create-only.json`, generated from the schemas the pinned
//! cfn-lint ships by `scripts/gen-create-only.py`), not only from the change set: the
//! change set is a second opinion, and some emulators do not fill it in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

/// Resource types that hold data (or, a KMS key, the only way to read it): removing or
/// replacing one loses it. The local guard
/// and the stack policy every stack carries ([`crate::planner::stack_policy`]) both
/// come from this list.
pub const STATEFUL_TYPES: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
];

/// Properties that replace the resource when they change but that the resource schemas
/// do not list as create-only (the CloudFormation reference says "Update requires:
/// Replacement").
const DOCUMENTED_REPLACEMENTS: &[(&str, &str)] = &[
    ("AWS::DynamoDB::Table", "KeySchema"),
    ("AWS::Lambda::Permission", "FunctionName"),
    ("AWS::Lambda::Permission", "Principal"),
    ("AWS::Lambda::Permission", "SourceArn"),
];

fn create_only() -> &'static HashMap<String, BTreeSet<String>> {
    static TABLE: OnceLock<HashMap<String, BTreeSet<String>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: HashMap<String, BTreeSet<String>> =
            serde_json::from_str(include_str!("../data/create-only.json"))
                .expect("cli/data/create-only.json is valid (checked by its test)");
        for (ty, prop) in DOCUMENTED_REPLACEMENTS {
            table
                .entry(ty.to_string())
                .or_default()
                .insert(prop.to_string());
        }
        table
    })
}

/// Whether changing `property` (a top-level property name) replaces a `resource_type`.
pub fn replaces(resource_type: &str, property: &str) -> bool {
    create_only()
        .get(resource_type)
        .is_some_and(|props| props.contains(property))
}

pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL_TYPES.contains(&resource_type)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Modify,
    Remove,
}

/// One property that changes, with its old and new value (`null` where absent).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PropertyChange {
    /// `MemorySize`, `Environment.Variables.RUST_LOG`, `KeySchema[0].AttributeName`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The change replaces the resource (a create-only property).
    pub replaces: bool,
    /// When the value comes from a parameter, its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ResourceChange {
    pub logical_id: String,
    pub resource_type: String,
    pub action: Action,
    /// A modification that replaces the resource (new physical resource, old one removed
    /// unless its policy retains it).
    pub replacement: bool,
    /// The resource holds data (a table, a log group, a bucket).
    pub stateful: bool,
    pub properties: Vec<PropertyChange>,
}

impl ResourceChange {
    /// Removing or replacing a stateful resource: refused without `--allow-replace`.
    pub fn loses_data(&self) -> bool {
        self.stateful && (self.action == Action::Remove || self.replacement)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ParameterChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Everything a deploy would change, by resource, parameter and output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TemplateDiff {
    pub resources: Vec<ResourceChange>,
    pub parameters: Vec<ParameterChange>,
    /// Output names added, removed or changed.
    pub outputs: Vec<String>,
}

impl TemplateDiff {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.parameters.is_empty() && self.outputs.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.resources.iter().filter(|r| r.action == action).count()
    }

    pub fn data_loss(&self) -> Vec<&ResourceChange> {
        self.resources.iter().filter(|r| r.loses_data()).collect()
    }
}

/// The diff between a deployed template and parameters (`old`, `None` for a new stack)
/// and new ones.
pub fn diff(
    old: Option<(&Value, &BTreeMap<String, String>)>,
    new: &Value,
    new_params: &BTreeMap<String, String>,
) -> TemplateDiff {
    let empty_map = serde_json::Map::new();
    let empty_params = BTreeMap::new();
    let (old_t, old_params) = match old {
        Some((t, p)) => (Some(t), p),
        None => (None, &empty_params),
    };
    let resources_of = |t: Option<&Value>| {
        t.and_then(|t| t.get("Resources"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| empty_map.clone())
    };
    let old_res = resources_of(old_t);
    let new_res = resources_of(Some(new));

    let parameters: Vec<ParameterChange> = old_params
        .keys()
        .chain(new_params.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| old_params.get(*k) != new_params.get(*k))
        .map(|k| ParameterChange {
            name: k.clone(),
            before: old_params.get(k).cloned(),
            after: new_params.get(k).cloned(),
        })
        .collect();
    let changed_params: BTreeMap<&str, &ParameterChange> = if old.is_some() {
        parameters.iter().map(|p| (p.name.as_str(), p)).collect()
    } else {
        BTreeMap::new()
    };

    let mut resources = Vec::new();
    let ids: BTreeSet<&String> = old_res.keys().chain(new_res.keys()).collect();
    for id in ids {
        let type_of = |r: &Value| r["Type"].as_str().unwrap_or_default().to_string();
        match (old_res.get(id), new_res.get(id)) {
            (None, Some(n)) => resources.push(ResourceChange {
                logical_id: id.clone(),
                resource_type: type_of(n),
                action: Action::Add,
                replacement: false,
                stateful: is_stateful(&type_of(n)),
                properties: Vec::new(),
            }),
            (Some(o), None) => resources.push(ResourceChange {
                logical_id: id.clone(),
                resource_type: type_of(o),
                action: Action::Remove,
                replacement: false,
                stateful: is_stateful(&type_of(o)),
                properties: Vec::new(),
            }),
            (Some(o), Some(n)) => {
                let ty = type_of(n);
                let mut props = Vec::new();
                let null = Value::Null;
                compare(
                    "",
                    o.get("Properties").unwrap_or(&null),
                    n.get("Properties").unwrap_or(&null),
                    &mut props,
                );
                referenced_parameters(
                    "",
                    n.get("Properties").unwrap_or(&null),
                    &changed_params,
                    &mut props,
                );
                let type_changed = type_of(o) != ty;
                for p in &mut props {
                    p.replaces = replaces(&ty, top_level(&p.path));
                }
                if props.is_empty() && !type_changed {
                    continue;
                }
                resources.push(ResourceChange {
                    logical_id: id.clone(),
                    replacement: type_changed || props.iter().any(|p| p.replaces),
                    stateful: is_stateful(&ty) || is_stateful(&type_of(o)),
                    resource_type: ty,
                    action: Action::Modify,
                    properties: props,
                });
            }
            (None, None) => {}
        }
    }

    let outputs_of = |t: Option<&Value>| {
        t.and_then(|t| t.get("Outputs"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (old_out, new_out) = (outputs_of(old_t), outputs_of(Some(new)));
    let outputs = old_out
        .keys()
        .chain(new_out.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| old_out.get(*k) != new_out.get(*k))
        .cloned()
        .collect();

    TemplateDiff {
        resources,
        parameters,
        outputs,
    }
}

fn top_level(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Walks two property trees and records each leaf (or differently shaped subtree) that
/// differs.
fn compare(path: &str, old: &Value, new: &Value, out: &mut Vec<PropertyChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) if !is_intrinsic(o) && !is_intrinsic(n) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for k in keys {
                let null = Value::Null;
                compare(
                    &join(path, k),
                    o.get(k).unwrap_or(&null),
                    n.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() && !path.is_empty() => {
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                compare(&format!("{path}[{i}]"), a, b, out);
            }
        }
        _ => out.push(PropertyChange {
            path: path.to_string(),
            before: (!old.is_null()).then(|| old.clone()),
            after: (!new.is_null()).then(|| new.clone()),
            replaces: false,
            parameter: None,
        }),
    }
}

/// An intrinsic function (`{"Ref": ...}`, `{"Fn::Sub": ...}`) is one value, not a tree.
fn is_intrinsic(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))
}

/// Properties whose value is a `Ref` to a parameter that changes: the template text is
/// the same there, the deployed value is not.
fn referenced_parameters(
    path: &str,
    value: &Value,
    changed: &BTreeMap<&str, &ParameterChange>,
    out: &mut Vec<PropertyChange>,
) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                if let Some(change) = changed.get(name.as_str()) {
                    out.push(PropertyChange {
                        path: path.to_string(),
                        before: change.before.clone().map(Value::String),
                        after: change.after.clone().map(Value::String),
                        replaces: false,
                        parameter: Some(name.clone()),
                    });
                }
                return;
            }
            for (k, v) in map {
                referenced_parameters(&join(path, k), v, changed, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                referenced_parameters(&format!("{path}[{i}]"), v, changed, out);
            }
        }
        _ => {}
    }
}

impl std::fmt::Display for TemplateDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.resources {
            let sign = match r.action {
                Action::Add => "+",
                Action::Modify => "~",
                Action::Remove => "-",
            };
            let mut notes = Vec::new();
            if r.replacement {
                notes.push("REPLACED");
            }
            if r.loses_data() {
                notes.push("DATA LOSS");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" [{}]", notes.join(", "))
            };
            writeln!(f, "  {sign} {} ({}){notes}", r.logical_id, r.resource_type)?;
            for p in &r.properties {
                let show = |v: &Option<Value>| match v {
                    None => "(none)".to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                };
                let replaces = if p.replaces { " (replaces)" } else { "" };
                writeln!(
                    f,
                    "      {}: {} -> {}{replaces}",
                    p.path,
                    shorten(&show(&p.before)),
                    shorten(&show(&p.after))
                )?;
            }
        }
        for p in &self.parameters {
            writeln!(
                f,
                "  parameter {}: {} -> {}",
                p.name,
                p.before.as_deref().unwrap_or("(none)"),
                p.after.as_deref().unwrap_or("(none)")
            )?;
        }
        if !self.outputs.is_empty() {
            writeln!(f, "  outputs changed: {}", self.outputs.join(", "))?;
        }
        Ok(())
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 100;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn template() -> Value {
        json!({
            "Resources": {
                "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
                    "TableName": "t",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                    "MemorySize": 128,
                    "Code": {"S3Key": {"Ref": "ArtifactKey"}},
                    "Environment": {"Variables": {"A": "1"}}}},
                "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "l"}}
            },
            "Outputs": {"Url": {"Value": "u"}}
        })
    }

    #[test]
    fn identical_is_empty() {
        let p = params(&[("ArtifactKey", "a")]);
        assert!(diff(Some((&template(), &p)), &template(), &p).is_empty());
    }

    #[test]
    fn a_new_stack_adds_everything() {
        let d = diff(None, &template(), &params(&[("ArtifactKey", "a")]));
        assert_eq!(d.count(Action::Add), 3);
        assert!(d.data_loss().is_empty());
    }

    #[test]
    fn memory_and_variables_modify_the_function_in_place() {
        let mut new = template();
        new["Resources"]["Function"]["Properties"]["MemorySize"] = json!(256);
        new["Resources"]["Function"]["Properties"]["Environment"]["Variables"]["B"] = json!("2");
        let p = params(&[("ArtifactKey", "a")]);
        let d = diff(Some((&template(), &p)), &new, &p);
        assert_eq!(d.resources.len(), 1);
        let f = &d.resources[0];
        assert_eq!(
            (f.logical_id.as_str(), f.action),
            ("Function", Action::Modify)
        );
        assert!(!f.replacement);
        let paths: Vec<&str> = f.properties.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["Environment.Variables.B", "MemorySize"]);
        assert_eq!(f.properties[1].before, Some(json!(128)));
        assert_eq!(f.properties[1].after, Some(json!(256)));
        let text = d.to_string();
        assert!(
            text.contains("~ Function (AWS::Lambda::Function)"),
            "{text}"
        );
        assert!(text.contains("MemorySize: 128 -> 256"), "{text}");
    }

    #[test]
    fn a_parameter_change_shows_on_the_properties_that_use_it() {
        let d = diff(
            Some((&template(), &params(&[("ArtifactKey", "old.zip")]))),
            &template(),
            &params(&[("ArtifactKey", "new.zip")]),
        );
        assert_eq!(d.parameters.len(), 1);
        let f = &d.resources[0];
        assert_eq!(f.logical_id, "Function");
        assert_eq!(f.properties[0].path, "Code.S3Key");
        assert_eq!(f.properties[0].parameter.as_deref(), Some("ArtifactKey"));
        assert_eq!(f.properties[0].after, Some(json!("new.zip")));
    }

    #[test]
    fn a_table_key_change_replaces_the_table_and_loses_data() {
        let mut new = template();
        new["Resources"]["Table"]["Properties"]["KeySchema"][0]["AttributeName"] = json!("id");
        let p = params(&[]);
        let d = diff(Some((&template(), &p)), &new, &p);
        let t = &d.resources[0];
        assert!(t.replacement && t.stateful && t.loses_data());
        assert_eq!(t.properties[0].path, "KeySchema[0].AttributeName");
        assert!(t.properties[0].replaces);
        assert_eq!(d.data_loss().len(), 1);
        assert!(d.to_string().contains("[REPLACED, DATA LOSS]"));
    }

    #[test]
    fn removing_a_log_group_loses_data_and_a_renamed_function_is_replaced() {
        let mut new = template();
        new["Resources"].as_object_mut().unwrap().remove("Logs");
        new["Resources"]["Function"]["Properties"]["FunctionName"] = json!("f2");
        let p = params(&[]);
        let d = diff(Some((&template(), &p)), &new, &p);
        let logs = d.resources.iter().find(|r| r.logical_id == "Logs").unwrap();
        assert_eq!(logs.action, Action::Remove);
        assert!(logs.loses_data());
        let f = d
            .resources
            .iter()
            .find(|r| r.logical_id == "Function")
            .unwrap();
        assert!(f.replacement && !f.loses_data());
    }

    #[test]
    fn a_bucket_removed_or_renamed_loses_data_and_a_lifecycle_change_does_not() {
        let mut old = template();
        old["Resources"]["BucketExport"] = json!({
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "Properties": {
                "BucketName": {"Fn::Sub": "stackpro-datalake-sandbox-export-${AWS::AccountId}-${AWS::Region}"},
                "VersioningConfiguration": {"Status": "Enabled"}
            }
        });
        let p = params(&[]);

        let mut removed = old.clone();
        removed["Resources"]
            .as_object_mut()
            .unwrap()
            .remove("BucketExport");
        let d = diff(Some((&old, &p)), &removed, &p);
        let b = &d.data_loss()[0];
        assert_eq!(
            (b.logical_id.as_str(), b.action),
            ("BucketExport", Action::Remove)
        );
        assert!(d
            .to_string()
            .contains("- BucketExport (AWS::S3::Bucket) [DATA LOSS]"));

        let mut renamed = old.clone();
        renamed["Resources"]["BucketExport"]["Properties"]["BucketName"] = json!({"Fn::Sub": "stackpro-datalake-sandbox-exports-${AWS::AccountId}-${AWS::Region}"});
        let d = diff(Some((&old, &p)), &renamed, &p);
        let b = &d.data_loss()[0];
        assert!(b.replacement && b.stateful);
        assert_eq!(b.properties[0].path, "BucketName");
        assert!(b.properties[0].replaces);

        let mut expiring = old.clone();
        expiring["Resources"]["BucketExport"]["Properties"]["LifecycleConfiguration"] =
            json!({"Rules": [{"Status": "Enabled", "ExpirationInDays": 30}]});
        let d = diff(Some((&old, &p)), &expiring, &p);
        assert_eq!(d.resources.len(), 1);
        assert!(!d.resources[0].replacement);
        assert!(d.data_loss().is_empty());
    }

    #[test]
    fn the_generated_create_only_table_covers_every_template_type() {
        for ty in [
            "AWS::DynamoDB::Table",
            "AWS::Lambda::Function",
            "AWS::Logs::LogGroup",
            "AWS::S3::Bucket",
            "AWS::S3::BucketPolicy",
        ] {
            assert!(create_only().contains_key(ty), "{ty}");
        }
        assert!(replaces("AWS::S3::Bucket", "BucketName"));
        assert!(!replaces("AWS::S3::Bucket", "LifecycleConfiguration"));
        assert!(replaces("AWS::Lambda::Function", "FunctionName"));
        assert!(replaces("AWS::Logs::LogGroup", "LogGroupName"));
        assert!(replaces("AWS::DynamoDB::Table", "TableName"));
        assert!(!replaces("AWS::Lambda::Function", "MemorySize"));
    }
}
