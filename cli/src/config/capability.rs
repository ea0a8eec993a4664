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
    /// Only for a capability without a contract (`openapi.yaml`); next to one, it must
    /// say what the contract says.
    #[serde(default)]
    routes: Option<Vec<String>>,
    tables: Vec<TableFile>,
    #[serde(default)]
    buckets: Vec<BucketFile>,
    #[serde(default)]
    iam: Vec<IamStatement>,
    #[serde(default)]
    alarms: AlarmOverrides,
    #[serde(default)]
    lambda: LambdaOverrides,
    #[serde(default)]
    flags: BTreeMap<String, FlagValue>,
    #[serde(default)]
    settings: BTreeMap<String, SettingFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingFile {
    default: serde_yaml::Value,
    description: String,
}

/// A value the capability's handler reads from its environment
/// (`STACKPRO_SETTING_<NAME>`), with its default; environment files may set it per
/// environment under `settings.<capability>.<name>`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Setting {
    pub default: String,
    pub description: String,
}

/// A setting's value as text: YAML strings, numbers and booleans; anything else is
/// refused with `None`.
pub fn setting_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The handler crate and binary that serve a capability.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketFile {
    name: String,
    #[serde(default)]
    expire_days: Option<u32>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
}

/// DynamoDB key attribute types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, schemars::JsonSchema, PartialEq, Eq)]
pub enum AttributeType {
    S,
    N,
    B,
}

/// An extra IAM statement the handler needs beyond its tables, SSM path and logs.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamStatement {
    pub sid: String,
    pub actions: Vec<String>,
    /// ARNs; `${AWS::Region}`-style references are substituted by CloudFormation.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmOverrides {
    pub error_rate_percent: Option<f64>,
    pub p95_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaOverrides {
    pub memory_mb: Option<u32>,
    pub timeout_seconds: Option<u32>,
}

/// A DynamoDB table of a capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Table {
    /// Short name, unique within the capability (`threads`).
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub ttl_attribute: Option<String>,
}

/// An S3 bucket of a capability: encrypted, private, TLS only, versioned, retained.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Bucket {
    /// Short name, unique within the capability (`export`): lower-case letters, digits
    /// and `-`.
    pub name: String,
    /// Objects are deleted this many days after they are written.
    pub expire_days: Option<u32>,
    pub description: Option<String>,
    /// Where `name` is written, for the checks that need an environment (the
    /// bucket's full name carries the environment's name).
    #[serde(skip)]
    pub declared_at: Location,
}

impl Bucket {
    /// The CloudFormation logical id of the bucket (`BucketExport`); its policy, SSM
    /// entry and output add `Policy`, `Parameter` and `Name`.
    pub fn logical_id(&self) -> String {
        format!("Bucket{}", pascal_case(&self.name))
    }
}

/// A place in a configuration file.
#[derive(Debug, Clone, Default)]
pub struct Location {
    /// Relative to the project root, as messages show it.
    pub file: std::path::PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn error(&self, message: String, help: Option<String>) -> crate::error::Error {
        crate::error::Error::ConfigAt {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message,
            help,
        }
    }
}

/// The S3 name of a capability's bucket: `stackpro-<cap>-<env>-<bucket>-<account>-<region>`
/// (`stack_name` is `stackpro-<cap>-<env>`). S3 names are global: the account and region
/// keep two accounts' or regions' stacks apart. The stack template passes
/// `${AWS::AccountId}` and `${AWS::Region}` to CloudFormation's `Fn::Sub`.
pub fn bucket_name(stack_name: &str, bucket: &str, account: &str, region: &str) -> String {
    format!("{stack_name}-{bucket}-{account}-{region}")
}

/// S3 bucket names are 3 to 63 characters.
pub const MAX_BUCKET_NAME: usize = 63;

/// The longest region name a bucket name must leave room for: 14 characters
/// (`ap-southeast-1`, `ap-northeast-3`, `cn-northwest-1`) in the aws, aws-cn and
/// aws-us-gov partitions. The region is filled in by CloudFormation, and `--region`
/// can move a deploy away from the environment file's region, so the name must fit
/// in any of them.
pub const LONGEST_REGION: &str = "ap-southeast-1";

/// Room taken by `-<12-digit account>-<region>` at the end of a bucket name.
const ACCOUNT_AND_REGION: usize = 1 + 12 + 1 + LONGEST_REGION.len();

/// The length of `bucket`'s name in the stack `stack_name`, in the longest region.
pub fn longest_bucket_name(stack_name: &str, bucket: &str) -> usize {
    stack_name.len() + 1 + bucket.len() + ACCOUNT_AND_REGION
}

/// An API route: `GET /v1/threads/{thread_id}`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Capability {
    pub name: String,
    pub description: String,
    pub handler: Handler,
    pub routes: Vec<Route>,
    pub tables: Vec<Table>,
    pub buckets: Vec<Bucket>,
    pub iam: Vec<IamStatement>,
    pub alarms: AlarmOverrides,
    pub lambda: LambdaOverrides,
    /// Flag defaults declared by the capability (its VERSION, DEGRADED and extra flags).
    pub flags: BTreeMap<String, FlagValue>,
    /// What the handler reads from its environment, by lower-case name.
    pub settings: BTreeMap<String, Setting>,
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

        let contract_path = path.with_file_name(CONTRACT_FILE);
        let contract = if contract_path.is_file() {
            Some(Source::read(&contract_path, root)?)
        } else {
            None
        };
        let declared = match &file.routes {
            Some(list) => Some(declared_routes(&source, list)?),
            None => None,
        };
        let routes = match (contract, declared) {
            (Some(contract), None) => contract_routes(&contract)?,
            (Some(contract), Some(declared)) => {
                let routes = contract_routes(&contract)?;
                check_agreement(&source, &declared, &contract, &routes)?;
                routes
            }
            (None, Some(declared)) => declared,
            (None, None) => {
                return Err(source.error_at(
                    &[],
                    format!(
                        "capability {name} declares no routes: there is no contract {} and no `routes:` list",
                        contract_path.strip_prefix(root).unwrap_or(&contract_path).display()
                    ),
                    Some(format!(
                        "write the OpenAPI contract handlers/{name}/{CONTRACT_FILE} (its paths and methods are the routes), or list the routes under `routes:` as `METHOD /path`"
                    )),
                ))
            }
        };

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

        let mut buckets: Vec<Bucket> = Vec::new();
        for b in file.buckets {
            let earlier = buckets.iter().filter(|x| x.name == b.name).count();
            let at = source.locate_entry(&["buckets"], "name", &b.name, earlier);
            let declared_at = Location {
                file: source.display.clone(),
                line: at.0,
                column: at.1,
            };
            if let Err(why) = check_bucket_name(&b.name) {
                return Err(declared_at.error(
                    format!("bucket name `{}` {why}", b.name),
                    Some(format!(
                        "use 1 to {MAX_BUCKET_SHORT_NAME} lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit (e.g. `export`)"
                    )),
                ));
            }
            if buckets.iter().any(|x| x.name == b.name) {
                return Err(
                    declared_at.error(format!("bucket `{}` is declared twice", b.name), None)
                );
            }
            let bucket = Bucket {
                name: b.name,
                expire_days: b.expire_days,
                description: b.description,
                declared_at,
            };
            // `a-1b` and `a1b` are both `BucketA1b`; `x` and `x-policy` both have a
            // `BucketXPolicy`.
            let ids = |b: &Bucket| {
                let id = b.logical_id();
                [format!("{id}Policy"), format!("{id}Parameter"), id]
            };
            if let Some(other) = buckets
                .iter()
                .find(|other| ids(other).iter().any(|i| ids(&bucket).contains(i)))
            {
                let shared = ids(other)
                    .into_iter()
                    .find(|i| ids(&bucket).contains(i))
                    .unwrap_or_default();
                return Err(bucket.declared_at.error(
                    format!(
                        "buckets `{}` and `{}` would share the CloudFormation logical id {shared}",
                        other.name, bucket.name
                    ),
                    Some("rename one of them".into()),
                ));
            }
            if let Some(days) = bucket.expire_days.filter(|d| *d == 0) {
                let (line, column) =
                    source.locate_entry(&["buckets"], "expire_days", &days.to_string(), 0);
                return Err(crate::error::Error::ConfigAt {
                    file: source.display.clone(),
                    line,
                    column,
                    message: format!("bucket `{}`: expire_days must be at least 1", bucket.name),
                    help: Some(
                        "leave expire_days out to keep objects until they are deleted".into(),
                    ),
                });
            }
            buckets.push(bucket);
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

        let mut settings = BTreeMap::new();
        for (key, setting) in file.settings {
            if !is_setting_name(&key) {
                return Err(source.error_at(
                    &["settings", &key],
                    format!("setting name `{key}` is not allowed"),
                    Some("use lower-case letters, digits and `_`, starting with a letter (e.g. `cache_ttl_seconds`)".into()),
                ));
            }
            let Some(default) = setting_text(&setting.default) else {
                return Err(source.error_at(
                    &["settings", &key, "default"],
                    format!("setting `{key}`: the default must be a string, a number or a boolean"),
                    None,
                ));
            };
            settings.insert(
                key,
                Setting {
                    default,
                    description: setting.description,
                },
            );
        }

        Ok(Capability {
            name: name.to_string(),
            description: file.description,
            handler: file.handler,
            routes,
            tables,
            buckets,
            iam: file.iam,
            alarms: file.alarms,
            lambda: file.lambda,
            flags: file.flags,
            settings,
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
/// A setting's name: lower-case letters, digits and `_`, starting with a letter.
pub fn is_setting_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 48
}

pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 24
}

/// A capability's contract, beside its capability.yaml: when it is there, its paths
/// and methods are the capability's routes.
pub const CONTRACT_FILE: &str = "openapi.yaml";

/// The operations a path item of an OpenAPI document can hold.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The part of an OpenAPI document the catalogue reads.
#[derive(Debug, Deserialize)]
struct ContractFile {
    /// A mapping, so the routes keep the contract's order.
    paths: serde_yaml::Mapping,
}

/// The `routes:` list of a capability.yaml, parsed and checked.
fn declared_routes(source: &Source, list: &[String]) -> Result<Vec<Route>> {
    let mut routes = Vec::new();
    for raw in list {
        let route = parse_route(raw).map_err(|why| {
            source.error_at(
                &["routes", raw],
                format!("route `{raw}` {why}"),
                Some("write a route as `METHOD /path`, e.g. `GET /v1/threads/{thread_id}`".into()),
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
    Ok(routes)
}

/// The routes of a contract: every operation under `paths`, in the contract's order
/// (`get` under `/v1/threads/{thread_id}` is `GET /v1/threads/{thread_id}`).
fn contract_routes(contract: &Source) -> Result<Vec<Route>> {
    let file: ContractFile = contract.parse("an OpenAPI contract")?;
    let mut routes = Vec::new();
    for (key, item) in &file.paths {
        let Some(path) = key.as_str() else {
            return Err(contract.error_at(
                &["paths"],
                format!("a key under `paths` is not a path: {key:?}"),
                Some("write each path as a string starting with `/`".into()),
            ));
        };
        let Some(operations) = item.as_mapping() else {
            return Err(contract.error_at(
                &["paths", path],
                format!("path `{path}` does not hold a mapping of operations"),
                None,
            ));
        };
        for (method, _) in operations {
            let Some(method) = method.as_str() else {
                continue;
            };
            if method == "$ref" {
                return Err(contract.error_at(
                    &["paths", path, method],
                    format!("path `{path}` is a `$ref`, which stackpro does not follow"),
                    Some("write the path's operations in the contract itself".into()),
                ));
            }
            // Summaries, parameters, servers and `x-` extensions are not operations.
            if !OPERATIONS.contains(&method) {
                continue;
            }
            let raw = format!("{} {path}", method.to_ascii_uppercase());
            if method == "trace" {
                return Err(contract.error_at(
                    &["paths", path, method],
                    format!("operation `{raw}` cannot be routed: API Gateway HTTP APIs have no TRACE route"),
                    Some("remove it from the contract; the handler answers TRACE with 405".into()),
                ));
            }
            let route = parse_route(&raw).map_err(|why| {
                contract.error_at(&["paths", path], format!("operation `{raw}` {why}"), None)
            })?;
            routes.push(route);
        }
    }
    if routes.is_empty() {
        return Err(contract.error_at(
            &["paths"],
            "the contract has no operation under `paths`; a capability serves at least one route"
                .into(),
            None,
        ));
    }
    Ok(routes)
}

/// A `routes:` list next to a contract must say what the contract says.
fn check_agreement(
    source: &Source,
    declared: &[Route],
    contract: &Source,
    routes: &[Route],
) -> Result<()> {
    let keys = |list: &[Route]| list.iter().map(Route::key).collect::<Vec<_>>();
    let (declared_keys, contract_keys) = (keys(declared), keys(routes));
    let mut differences = Vec::new();
    for key in declared_keys.iter().filter(|k| !contract_keys.contains(k)) {
        differences.push(format!("`{key}` is only in {}", source.display.display()));
    }
    for key in contract_keys.iter().filter(|k| !declared_keys.contains(k)) {
        differences.push(format!("`{key}` is only in {}", contract.display.display()));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(source.error_at(
        &["routes"],
        format!(
            "`routes` disagrees with the contract {}: {}",
            contract.display.display(),
            differences.join("; ")
        ),
        Some(format!(
            "remove `routes:` from {}: a capability with a contract takes its routes from the contract's paths and methods",
            source.display.display()
        )),
    ))
}

/// The longest short name a bucket may have (its full name is checked per environment).
const MAX_BUCKET_SHORT_NAME: usize = 24;

/// Lower-case letters, digits and `-`, starting with a letter, ending with a letter or
/// digit: what S3 accepts inside a bucket name, and what survives as a variable name
/// (`STACKPRO_BUCKET_<NAME>`, `-` as `_`).
fn check_bucket_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_BUCKET_SHORT_NAME {
        return Err(format!(
            "has {} characters (1 to {MAX_BUCKET_SHORT_NAME} allowed)",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("has a character `{c}` that is not allowed"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("does not start with a letter".into());
    }
    if name.ends_with('-') {
        return Err("ends with `-`".into());
    }
    Ok(())
}

/// `thread_id` / `/v1/threads/{id}` -> `ThreadId` / `V1ThreadsId`: CloudFormation
/// logical ids are alphanumeric.
pub fn pascal_case(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
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
