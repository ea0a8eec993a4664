//! The deploy decision as a pure function (no network): from what is deployed (template,
//! parameters, tags), what is rendered, the change set, the live alias and the last
//! deployment record, to what a deploy does and which data it would lose. The runbook
//! ([`crate::deploy`]) reads the inputs and carries the decision out; everything
//! decided is here, tested without an emulator.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::EnvConfig;
use crate::diff::{self, TemplateDiff};
use crate::error::{Error, Result};
use crate::record::Deployment;
use crate::release::Live;
use crate::render::hex;
use crate::stack::ChangeSet;

/// What a deploy decided for one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No stack yet: create it.
    Create,
    /// Execute the change set.
    Update,
    /// Stack, alias and record all match: nothing to do.
    UpToDate,
    /// The stack matches but the alias or the record does not: set them right.
    Reconcile,
    /// The data-loss guard refused the change set.
    Refused,
    /// Preparing failed (the stack's state, an upload, a read): nothing was decided.
    NotStarted,
    /// `deploy --code`: the function's code shipped through the Lambda API, without
    /// CloudFormation.
    Code,
}

/// The stack tags of a capability: the environment's resource tags and the capability.
pub fn stack_tags(env: &EnvConfig, capability: &str) -> BTreeMap<String, String> {
    let mut tags = env.resource_tags();
    tags.insert("stackpro:capability".into(), capability.to_string());
    tags
}

/// Hash of everything CloudFormation is given: equal fingerprints deploy the same.
pub fn fingerprint(
    template: &str,
    params: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> String {
    let mut h = Sha256::new();
    h.update(template.as_bytes());
    for (k, v) in params.iter().chain(tags.iter()) {
        h.update([0u8]);
        h.update(k.as_bytes());
        h.update([0u8]);
        h.update(v.as_bytes());
    }
    hex(&h.finalize())
}

/// The stack policy every stack carries: any update is allowed, except replacing or
/// deleting a resource of a stateful type (the local guard's rule, [`diff::STATEFUL_TYPES`]),
/// so a deploy made with another tool cannot lose that data either.
pub fn stack_policy() -> String {
    serde_json::json!({
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"ResourceType": diff::STATEFUL_TYPES}}
            }
        ]
    })
    .to_string()
}

/// The policy of one update that `--allow-replace` lets replace or remove stateful
/// resources: CloudFormation applies it for that update only, then the stack's own
/// policy ([`stack_policy`]) is in force again.
pub fn allow_all_during_update() -> String {
    serde_json::json!({
        "Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    })
    .to_string()
}

/// What the stack runs now, as read.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// What this deploy gives CloudFormation.
#[derive(Debug, Clone, Copy)]
pub struct Desired<'a> {
    pub stack_name: &'a str,
    pub template: &'a str,
    pub template_value: &'a Value,
    pub params: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    pub fingerprint: &'a str,
}

/// The decision before any change set is made.
#[derive(Debug, Clone, PartialEq)]
pub enum Early {
    /// No stack: create it; every resource is an add.
    Create(TemplateDiff),
    /// Same template, parameters and tags; the alias and the record match.
    UpToDate,
    /// Same template, parameters and tags; the alias or the record must be set right.
    Reconcile,
    /// Something differs: this is the local diff; a change set decides the rest.
    ChangeSet(TemplateDiff),
}

/// Decides what can be decided without a change set. The deployed template must be
/// readable (JSON, or YAML with short-form tags): one that is not is an error naming
/// the stack, because the guard cannot tell what the change would remove.
pub fn before_change_set(
    deployed: Option<&Deployed>,
    desired: &Desired,
    live: Option<&Live>,
    previous: Option<&Deployment>,
) -> Result<Early> {
    let Some(deployed) = deployed else {
        return Ok(Early::Create(diff::diff(
            None,
            desired.template_value,
            desired.params,
        )));
    };
    if deployed.template == desired.template
        && deployed.params == *desired.params
        && deployed.tags == *desired.tags
    {
        // A live alias that splits traffic (a canary) is never "up to date".
        let live_version = live
            .filter(|l| l.canary.is_none())
            .map(|l| l.version.as_str());
        return Ok(match previous {
            Some(prev)
                if prev.is_release_of_fingerprint()
                    && prev.fingerprint == desired.fingerprint
                    && live_version == Some(prev.function_version.as_str()) =>
            {
                Early::UpToDate
            }
            _ => Early::Reconcile,
        });
    }
    let deployed_value =
        crate::template::parse(&deployed.template).map_err(|why| Error::Stack {
            stack: desired.stack_name.to_string(),
            message: format!(
                "cannot be checked for data loss: its deployed template cannot be read ({why})"
            ),
            help: Some(format!(
                "look at the template with `aws cloudformation get-template --stack-name {}`; \
                 deploy it once with the tool that wrote it, or fix it by hand, then deploy again",
                desired.stack_name
            )),
        })?;
    Ok(Early::ChangeSet(diff::diff(
        Some((&deployed_value, &deployed.params)),
        desired.template_value,
        desired.params,
    )))
}

/// What keeps a deploy from the code-only path: every difference between what is
/// deployed and what is rendered other than the artifact (the template, with its
/// resource changes; other parameters; the stack's tags). Empty: only the code changed.
pub fn code_only_blockers(deployed: &Deployed, desired: &Desired) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if deployed.template != desired.template {
        let before = crate::template::parse(&deployed.template).map_err(|why| Error::Stack {
            stack: desired.stack_name.to_string(),
            message: format!("cannot be compared: its deployed template cannot be read ({why})"),
            help: Some("deploy without --code".into()),
        })?;
        // The artifact is what this path ships: compare the rest with the new one.
        let mut params = deployed.params.clone();
        if let Some(key) = desired.params.get(ARTIFACT_KEY) {
            params.insert(ARTIFACT_KEY.into(), key.clone());
        }
        let d = diff::diff(
            Some((&before, &params)),
            desired.template_value,
            desired.params,
        );
        for r in &d.resources {
            let props: Vec<&str> = r.properties.iter().map(|p| p.path.as_str()).collect();
            out.push(format!(
                "{} ({}) {:?}{}",
                r.logical_id,
                r.resource_type,
                r.action,
                if props.is_empty() {
                    String::new()
                } else {
                    format!(": {}", props.join(", "))
                }
            ));
        }
        if d.resources.is_empty() {
            out.push("the template's text (no resource changes)".into());
        }
    }
    for (k, v) in desired.params.iter().filter(|(k, _)| *k != ARTIFACT_KEY) {
        if deployed.params.get(k) != Some(v) {
            out.push(format!(
                "parameter {k}: {} -> {v}",
                deployed.params.get(k).map_or("(none)", String::as_str)
            ));
        }
    }
    if deployed.tags != *desired.tags {
        out.push("the stack's tags".into());
    }
    Ok(out)
}

/// The stack parameter that names the artifact: the only thing the code path changes.
pub const ARTIFACT_KEY: &str = "ArtifactKey";

/// When the last deployment was code-only and the stack still names another artifact:
/// CloudFormation's view is behind, and a full deploy reconciles it. Said by the next
/// full deploy (and by `status`).
pub fn behind_note(
    previous: Option<&Deployment>,
    deployed_params: &BTreeMap<String, String>,
) -> Option<String> {
    let prev = previous.filter(|d| d.kind == crate::record::DeploymentKind::Code)?;
    let stack_key = deployed_params.get(ARTIFACT_KEY)?;
    (*stack_key != prev.artifact_key).then(|| {
        format!(
            "CloudFormation's view was behind: code-only deployment #{} put {} on the function (version {}) \
             while the stack still named {stack_key}; this deploy brings the stack's ArtifactKey to what runs",
            prev.number.unwrap_or_default(),
            prev.artifact_key,
            prev.function_version
        )
    })
}

/// A stateful resource a change would remove or replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Loss {
    pub logical_id: String,
    pub resource_type: String,
    /// `removed`, `replaced (create-only KeySchema)`, `replaced (change set: ...)`.
    pub how: String,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) would be {}",
            self.logical_id, self.resource_type, self.how
        )
    }
}

/// The stateful resources (tables, buckets, log groups, queues) that the local diff or
/// the change set removes or replaces; each named once.
pub fn losses(diff: &TemplateDiff, change_set: Option<&ChangeSet>) -> Vec<Loss> {
    let mut out: Vec<Loss> = diff
        .data_loss()
        .iter()
        .map(|r| Loss {
            logical_id: r.logical_id.clone(),
            resource_type: r.resource_type.clone(),
            how: if r.action == diff::Action::Remove {
                "removed".to_string()
            } else {
                let props: Vec<&str> = r
                    .properties
                    .iter()
                    .filter(|p| p.replaces)
                    .map(|p| p.path.as_str())
                    .collect();
                format!("replaced (create-only {})", props.join(", "))
            },
        })
        .collect();
    for c in change_set
        .map(|cs| cs.changes.as_slice())
        .unwrap_or_default()
    {
        let replaced = matches!(c.replacement.as_deref(), Some("True") | Some("Conditional"));
        if diff::is_stateful(&c.resource_type)
            && (c.action == "Remove" || replaced)
            && !out.iter().any(|l| l.logical_id == c.logical_id)
        {
            out.push(Loss {
                logical_id: c.logical_id.clone(),
                resource_type: c.resource_type.clone(),
                how: if c.action == "Remove" {
                    "removed".to_string()
                } else {
                    format!(
                        "replaced (change set: Replacement {})",
                        c.replacement.as_deref().unwrap_or("?")
                    )
                },
            });
        }
    }
    out
}

/// The decision once the change set is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub losses: Vec<Loss>,
    /// The change set must be deleted (it changes nothing, or it was refused).
    pub delete_change_set: bool,
}

/// Update, reconcile or refuse. CloudFormation answers "no changes" by failing the
/// change set (`empty`). A change set that lists nothing while the local diff sees
/// changes (a parameter-only change on an emulator that lists only added and removed
/// resources) is executed all the same. The guard refuses any loss unless
/// `allow_replace`.
pub fn after_change_set(
    diff: &TemplateDiff,
    change_set: &ChangeSet,
    tags_changed: bool,
    allow_replace: bool,
) -> Verdict {
    let losses = losses(diff, Some(change_set));
    if !losses.is_empty() && !allow_replace {
        return Verdict {
            decision: Decision::Refused,
            losses,
            delete_change_set: !change_set.empty,
        };
    }
    let (decision, delete_change_set) = if change_set.empty {
        (Decision::Reconcile, false)
    } else if change_set.changes.is_empty() && diff.is_empty() && !tags_changed {
        (Decision::Reconcile, true)
    } else {
        (Decision::Update, false)
    };
    Verdict {
        decision,
        losses,
        delete_change_set,
    }
}

/// A stateful resource of the template that can be brought into a new stack with a
/// resource import, by the property that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Importable {
    pub logical_id: String,
    pub resource_type: String,
    /// The identifier property (`TableName`, `BucketName`, `LogGroupName`) and its value.
    pub identifier: (String, String),
}

impl std::fmt::Display for Importable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} {})",
            self.logical_id, self.resource_type, self.identifier.1
        )
    }
}

/// The resource types a deploy adopts when they exist outside any stack (kept by a
/// destroy, or a log group a function recreated), and the property that names each.
const IMPORTABLE: [(&str, &str); 3] = [
    ("AWS::DynamoDB::Table", "TableName"),
    ("AWS::S3::Bucket", "BucketName"),
    ("AWS::Logs::LogGroup", "LogGroupName"),
];

/// The template's importable resources with their physical names, resolving a
/// `Fn::Sub` of the account, region and stack name (the only ones stackpro writes).
/// A name that needs anything else is left out: it cannot be looked up before a create.
pub fn importable(
    template: &Value,
    account: &str,
    region: &str,
    stack_name: &str,
) -> Vec<Importable> {
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Vec::new();
    };
    let resolve = |v: &Value| -> Option<String> {
        let text = match v {
            Value::String(s) => return Some(s.clone()),
            Value::Object(o) => o.get("Fn::Sub")?.as_str()?,
            _ => return None,
        };
        let out = text
            .replace("${AWS::AccountId}", account)
            .replace("${AWS::Region}", region)
            .replace("${AWS::StackName}", stack_name);
        (!out.contains("${")).then_some(out)
    };
    resources
        .iter()
        .filter_map(|(id, r)| {
            let ty = r.get("Type")?.as_str()?;
            let (_, prop) = IMPORTABLE.iter().find(|(t, _)| *t == ty)?;
            let name = resolve(r.get("Properties")?.get(*prop)?)?;
            Some(Importable {
                logical_id: id.clone(),
                resource_type: ty.to_string(),
                identifier: (prop.to_string(), name),
            })
        })
        .collect()
}

/// The template of an IMPORT change set that creates the stack from `adopt` alone:
/// the rendered template's parameters, mappings and conditions, only those resources
/// (each with a `DeletionPolicy`, which an import requires: the template's own, else
/// `Delete`, CloudFormation's default), no outputs. The full template follows as an
/// ordinary update.
pub fn import_template(template: &Value, adopt: &[Importable]) -> Value {
    let mut out = serde_json::Map::new();
    for (key, value) in template.as_object().into_iter().flatten() {
        if key != "Resources" && key != "Outputs" {
            out.insert(key.clone(), value.clone());
        }
    }
    let mut resources = serde_json::Map::new();
    for a in adopt {
        if let Some(mut r) = template["Resources"].get(&a.logical_id).cloned() {
            if r.get("DeletionPolicy").is_none() {
                r["DeletionPolicy"] = Value::String("Delete".into());
            }
            resources.insert(a.logical_id.clone(), r);
        }
    }
    out.insert("Resources".into(), Value::Object(resources));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retained_resources_are_found_by_name_and_imported_alone() {
        let template = serde_json::json!({
            "Parameters": {"ArtifactKey": {"Type": "String"}},
            "Resources": {
                "TableThreads": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                    "Properties": {"TableName": "stackpro-messaging-sandbox-threads"}},
                "BucketExport": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                    "Properties": {"BucketName": {"Fn::Sub": "stackpro-datalake-sandbox-export-${AWS::AccountId}-${AWS::Region}"}}},
                "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/stackpro-messaging-sandbox"}},
                "Odd": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "x-${Unknown}"}}},
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "f"}}
            },
            "Outputs": {"ApiUrl": {"Value": "x"}}
        });
        let found = importable(&template, "123456789012", "eu-west-1", "s");
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|i| (i.logical_id.as_str(), i.identifier.1.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("TableThreads", "stackpro-messaging-sandbox-threads"),
                (
                    "BucketExport",
                    "stackpro-datalake-sandbox-export-123456789012-eu-west-1"
                ),
                ("LogGroup", "/aws/lambda/stackpro-messaging-sandbox"),
            ],
            "an unresolvable name and other types are left out"
        );
        let adopt: Vec<Importable> = found
            .into_iter()
            .filter(|i| i.logical_id != "BucketExport")
            .collect();
        let t = import_template(&template, &adopt);
        assert_eq!(t["Parameters"], template["Parameters"]);
        assert!(t.get("Outputs").is_none());
        let resources = t["Resources"].as_object().unwrap();
        assert_eq!(
            resources.keys().collect::<Vec<_>>(),
            ["TableThreads", "LogGroup"]
        );
        assert_eq!(t["Resources"]["TableThreads"]["DeletionPolicy"], "Retain");
        assert_eq!(t["Resources"]["LogGroup"]["DeletionPolicy"], "Delete");
    }
    use crate::stack::ChangeSetChange;
    use serde_json::json;

    fn params(key: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("ArtifactKey".to_string(), key.to_string())])
    }

    fn record(fingerprint: &str, version: &str, kind: &str) -> Deployment {
        let kind = serde_json::from_value(serde_json::Value::String(kind.into())).unwrap();
        Deployment {
            time: String::new(),
            actor: String::new(),
            git_commit: None,
            artifact_sha256: String::new(),
            artifact_key: String::new(),
            code_sha256: String::new(),
            template_sha256: String::new(),
            fingerprint: fingerprint.into(),
            function_version: version.into(),
            kind,
            number: Some(1),
        }
    }

    const TABLE_YAML: &str = "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Sub '${AWS::StackName}-t'\n      KeySchema:\n        - AttributeName: pk\n          KeyType: HASH\n";

    fn table(key: &str) -> Value {
        json!({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": {"Fn::Sub": "${AWS::StackName}-t"},
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}}})
    }

    fn live(version: &str) -> Live {
        Live {
            version: version.into(),
            canary: None,
        }
    }

    #[test]
    fn the_stack_policy_denies_replacing_and_deleting_what_the_guard_protects() {
        let policy: Value = serde_json::from_str(&stack_policy()).unwrap();
        let deny = &policy["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Action"], json!(["Update:Replace", "Update:Delete"]));
        let types = &deny["Condition"]["StringEquals"]["ResourceType"];
        for t in [
            "AWS::DynamoDB::Table",
            "AWS::S3::Bucket",
            "AWS::Logs::LogGroup",
            "AWS::SQS::Queue",
        ] {
            assert!(types.as_array().unwrap().contains(&json!(t)), "{t}");
            assert!(diff::is_stateful(t), "the local guard protects {t} too");
        }
        assert_eq!(policy["Statement"][0]["Action"], "Update:*");
        let during: Value = serde_json::from_str(&allow_all_during_update()).unwrap();
        assert_eq!(during["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(during["Statement"][0]["Effect"], "Allow");
    }

    #[test]
    fn only_a_new_artifact_goes_the_code_path_and_anything_else_is_named() {
        let value = table("pk");
        let tags = BTreeMap::new();
        let new = params("artifacts/m/new.zip");
        let desired = Desired {
            stack_name: "s",
            template: TABLE_YAML,
            template_value: &value,
            params: &new,
            tags: &tags,
            fingerprint: "f",
        };
        let deployed = Deployed {
            template: TABLE_YAML.into(),
            params: params("artifacts/m/old.zip"),
            tags: tags.clone(),
        };
        assert!(code_only_blockers(&deployed, &desired).unwrap().is_empty());
        // A template change: its resources are named.
        let changed = table("id");
        let other = Desired {
            template: "changed",
            template_value: &changed,
            ..desired
        };
        let blockers = code_only_blockers(&deployed, &other).unwrap();
        assert_eq!(
            blockers,
            ["Table (AWS::DynamoDB::Table) Modify: KeySchema[0].AttributeName"]
        );
        // Other tags.
        let tagged = Deployed {
            tags: BTreeMap::from([("a".to_string(), "b".to_string())]),
            ..deployed.clone()
        };
        assert_eq!(
            code_only_blockers(&tagged, &desired).unwrap(),
            ["the stack's tags"]
        );
    }

    #[test]
    fn after_a_code_only_deploy_the_next_one_says_what_it_reconciles() {
        let mut code = record("f", "4", "code");
        code.artifact_key = "artifacts/m/new.zip".into();
        code.number = Some(7);
        let stack = params("artifacts/m/old.zip");
        let note = behind_note(Some(&code), &stack).unwrap();
        assert!(note.contains("code-only deployment #7"), "{note}");
        assert!(note.contains("still named artifacts/m/old.zip"), "{note}");
        assert_eq!(
            behind_note(Some(&code), &params("artifacts/m/new.zip")),
            None
        );
        assert_eq!(behind_note(Some(&record("f", "4", "deploy")), &stack), None);
    }

    #[test]
    fn the_fingerprint_covers_template_parameters_and_tags() {
        let t = BTreeMap::from([("env".to_string(), "sandbox".to_string())]);
        let base = fingerprint("Resources: {}", &params("a"), &t);
        assert_eq!(base, fingerprint("Resources: {}", &params("a"), &t));
        assert_ne!(base, fingerprint("Resources: {} ", &params("a"), &t));
        assert_ne!(base, fingerprint("Resources: {}", &params("b"), &t));
        assert_ne!(
            base,
            fingerprint("Resources: {}", &params("a"), &BTreeMap::new())
        );
        // Keys and values are separated: moving a character between them changes it.
        let a = BTreeMap::from([("ab".to_string(), "c".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "bc".to_string())]);
        assert_ne!(fingerprint("", &a, &t), fingerprint("", &b, &t));
    }

    #[test]
    fn same_stack_alias_and_record_is_up_to_date_else_reconcile() {
        let value = table("pk");
        let p = params("k");
        let tags = BTreeMap::new();
        let desired = Desired {
            stack_name: "s",
            template: TABLE_YAML,
            template_value: &value,
            params: &p,
            tags: &tags,
            fingerprint: "f1",
        };
        let deployed = Deployed {
            template: TABLE_YAML.into(),
            params: p.clone(),
            tags: tags.clone(),
        };
        let decide = |live: Option<&Live>, prev: Option<&Deployment>| {
            before_change_set(Some(&deployed), &desired, live, prev).unwrap()
        };
        let prev = record("f1", "3", "deploy");
        assert_eq!(decide(Some(&live("3")), Some(&prev)), Early::UpToDate);
        // The alias moved (a fast rollback), a canary splits traffic, the record is
        // of another fingerprint or of a rollback: reconcile.
        assert_eq!(decide(Some(&live("2")), Some(&prev)), Early::Reconcile);
        let canary = Live {
            version: "3".into(),
            canary: Some(("4".into(), 0.1)),
        };
        assert_eq!(decide(Some(&canary), Some(&prev)), Early::Reconcile);
        assert_eq!(
            decide(Some(&live("3")), Some(&record("f0", "3", "deploy"))),
            Early::Reconcile
        );
        assert_eq!(
            decide(Some(&live("3")), Some(&record("f1", "3", "rollback"))),
            Early::Reconcile
        );
        assert_eq!(decide(None, Some(&prev)), Early::Reconcile);
        assert_eq!(decide(Some(&live("3")), None), Early::Reconcile);
    }

    #[test]
    fn no_stack_is_a_create_with_every_resource_added() {
        let value = table("pk");
        let (p, tags) = (params("k"), BTreeMap::new());
        let desired = Desired {
            stack_name: "s",
            template: "x",
            template_value: &value,
            params: &p,
            tags: &tags,
            fingerprint: "f",
        };
        match before_change_set(None, &desired, None, None).unwrap() {
            Early::Create(d) => assert_eq!(d.count(diff::Action::Add), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_form_deployed_template_is_diffed_and_its_table_key_change_refused() {
        let new = table("id");
        let (p, tags) = (params("k"), BTreeMap::new());
        let desired = Desired {
            stack_name: "stackpro-messaging-sandbox",
            template: "{}",
            template_value: &new,
            params: &p,
            tags: &tags,
            fingerprint: "f",
        };
        let deployed = Deployed {
            template: TABLE_YAML.into(),
            params: p.clone(),
            tags: tags.clone(),
        };
        let Early::ChangeSet(d) = before_change_set(Some(&deployed), &desired, None, None).unwrap()
        else {
            panic!("a changed template needs a change set")
        };
        // Only the key changes: TableName, written !Sub, reads as the same Fn::Sub.
        assert_eq!(d.count(diff::Action::Modify), 1, "{d}");
        assert_eq!(d.count(diff::Action::Add), 0, "{d}");
        let cs = ChangeSet {
            id: "id".into(),
            name: "n".into(),
            changes: vec![],
            empty: false,
        };
        let verdict = after_change_set(&d, &cs, false, false);
        assert_eq!(verdict.decision, Decision::Refused);
        assert!(verdict.delete_change_set);
        assert_eq!(
            verdict.losses[0].to_string(),
            "Table (AWS::DynamoDB::Table) would be replaced (create-only KeySchema[0].AttributeName)"
        );
        let allowed = after_change_set(&d, &cs, false, true);
        assert_eq!(allowed.decision, Decision::Update);
        assert!(!allowed.delete_change_set);
    }

    #[test]
    fn an_unreadable_deployed_template_is_refused_naming_the_stack() {
        let value = table("pk");
        let (p, tags) = (params("k"), BTreeMap::new());
        let desired = Desired {
            stack_name: "stackpro-messaging-sandbox",
            template: "{}",
            template_value: &value,
            params: &p,
            tags: &tags,
            fingerprint: "f",
        };
        let deployed = Deployed {
            template: "Resources: !Bogus-Tag [".into(),
            params: p.clone(),
            tags: tags.clone(),
        };
        let err = before_change_set(Some(&deployed), &desired, None, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("stack stackpro-messaging-sandbox cannot be checked for data loss"),
            "{err}"
        );
        assert!(err.help().unwrap().contains("get-template"));
    }

    #[test]
    fn the_change_set_alone_can_name_a_loss_and_an_empty_one_reconciles() {
        let d = TemplateDiff::default();
        let change = |action: &str, ty: &str, replacement: Option<&str>| ChangeSetChange {
            action: action.into(),
            logical_id: "Res".into(),
            resource_type: ty.into(),
            replacement: replacement.map(str::to_string),
            properties: vec![],
        };
        let cs = |changes| ChangeSet {
            id: "id".into(),
            name: "n".into(),
            changes,
            empty: false,
        };
        let v = after_change_set(
            &d,
            &cs(vec![change(
                "Modify",
                "AWS::S3::Bucket",
                Some("Conditional"),
            )]),
            false,
            false,
        );
        assert_eq!(v.decision, Decision::Refused);
        assert!(v.losses[0].how.contains("Replacement Conditional"));
        let v = after_change_set(
            &d,
            &cs(vec![change("Remove", "AWS::Logs::LogGroup", None)]),
            false,
            false,
        );
        assert_eq!(v.losses[0].how, "removed");
        // A Lambda function replaced is no loss.
        let v = after_change_set(
            &d,
            &cs(vec![change(
                "Modify",
                "AWS::Lambda::Function",
                Some("True"),
            )]),
            false,
            false,
        );
        assert_eq!(v.decision, Decision::Update);
        // Nothing listed, nothing in the diff, same tags: reconcile, delete it.
        let v = after_change_set(&d, &cs(vec![]), false, false);
        assert_eq!(
            (v.decision, v.delete_change_set),
            (Decision::Reconcile, true)
        );
        // ...but changed tags are executed.
        assert_eq!(
            after_change_set(&d, &cs(vec![]), true, false).decision,
            Decision::Update
        );
        let empty = ChangeSet {
            empty: true,
            ..cs(vec![])
        };
        let v = after_change_set(&d, &empty, false, false);
        assert_eq!(
            (v.decision, v.delete_change_set),
            (Decision::Reconcile, false)
        );
    }
}
