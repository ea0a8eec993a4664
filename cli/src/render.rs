//! Rendering a capability's documents from `templates/` and `dashboards/` with minijinja:
//! the CloudFormation template, the CloudWatch dashboard body and the SSM entries.
//!
//! No network here: this module only turns configuration into text, and parses that
//! text back so a broken template is caught before anything is deployed.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stackpro_conventions::{ssm, vars};

use crate::config::{Capability, EnvConfig, FlagValue};
use crate::error::{Error, Result};
use crate::project::Project;

/// The CloudWatch namespace the handlers publish their metrics in (Embedded Metric
/// Format) and the dashboards and alarms read.
pub const METRICS_NAMESPACE: &str = stackpro_conventions::metrics::NAMESPACE;

/// The variable a handler reads `table`'s name from (`STACKPRO_TABLE_THREADS`).
pub use stackpro_conventions::vars::table as table_env_var;

/// The variable a handler reads `bucket`'s name from (`STACKPRO_BUCKET_RAW_EVENTS`).
pub use stackpro_conventions::vars::bucket as bucket_env_var;

/// The Lambda alias the API invokes.
pub const LIVE_ALIAS: &str = "live";

const STACK_TEMPLATE: &str = "templates/stack.yaml.j2";
const SSM_TEMPLATE: &str = "templates/ssm.yaml.j2";
const DASHBOARD_TEMPLATE: &str = "dashboards/capability.json.j2";
const BOOTSTRAP_TEMPLATE: &str = "templates/bootstrap.yaml.j2";

/// Days a replaced (noncurrent) artifact version is kept in the artifact bucket.
pub const ARTIFACT_NONCURRENT_DAYS: u32 = 90;

/// Every document rendered for one capability in one environment.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rendered {
    pub capability: String,
    pub environment: String,
    pub stack_name: String,
    /// The CloudFormation template (YAML).
    pub template: String,
    /// The CloudWatch dashboard body (JSON).
    pub dashboard: String,
    /// The SSM entries the stack writes (YAML).
    pub ssm: String,
    #[serde(skip)]
    pub ssm_entries: Vec<SsmEntry>,
    /// The template parsed back, for callers that inspect it.
    #[serde(skip)]
    pub template_value: serde_json::Value,
}

impl Rendered {
    /// Number of resources in the template.
    pub fn resource_count(&self) -> usize {
        self.template_value
            .get("Resources")
            .and_then(|r| r.as_object())
            .map_or(0, |r| r.len())
    }

    /// Hex SHA-256 of the template text.
    pub fn template_sha256(&self) -> String {
        hex(&Sha256::digest(self.template.as_bytes()))
    }
}

/// The bootstrap stack of an environment, rendered.
#[derive(Debug, Clone)]
pub struct RenderedBootstrap {
    pub stack_name: String,
    /// The tags in the template, which the stack carries too.
    pub tags: BTreeMap<String, String>,
    pub template: String,
    pub template_value: serde_json::Value,
}

/// The bootstrap stack of an environment: `stackpro-bootstrap-<env>`.
pub fn bootstrap_stack_name(env: &str) -> String {
    format!("stackpro-bootstrap-{env}")
}

/// One SSM parameter a capability's stack writes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsmEntry {
    /// The CloudFormation logical id of the parameter.
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// A literal, or a CloudFormation intrinsic resolved at deploy time.
    pub value: serde_json::Value,
}

/// The templates of a project, loaded once and rendered for any capability and environment.
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    pub fn new(project: &Project) -> Self {
        let mut env = Environment::new();
        // A value missing from the context is an error naming the template and line,
        // never an empty string in a CloudFormation template.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Values are quoted explicitly with `|tojson` where they need it; the YAML/JSON
        // auto-escaping minijinja would pick from the file names would quote logical
        // ids and numbers too.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_loader(minijinja::path_loader(project.root()));
        env.add_filter("pascal", pascal_case);
        Renderer { env }
    }

    /// Renders the three documents of `capability` in `env` and parses each one back.
    pub fn render(&self, capability: &Capability, env: &EnvConfig) -> Result<Rendered> {
        let base = Context::new(capability, env);
        let ctx = minijinja::Value::from_serialize(&base);

        let dashboard = self.render_one(DASHBOARD_TEMPLATE, &ctx, &capability.name, env)?;
        let dashboard_value: serde_json::Value = serde_json::from_str(&dashboard).map_err(|e| {
            reparse(
                "dashboard",
                capability,
                env,
                format!("{e}\n{}", quote_line(&dashboard, e.line())),
            )
        })?;
        if dashboard_value
            .get("widgets")
            .and_then(|w| w.as_array())
            .is_none()
        {
            return Err(reparse(
                "dashboard",
                capability,
                env,
                "no `widgets` list".into(),
            ));
        }

        let ssm = self.render_one(SSM_TEMPLATE, &ctx, &capability.name, env)?;
        let ssm_entries: Vec<SsmEntry> = serde_yaml::from_str(&ssm)
            .map_err(|e| reparse("SSM entries", capability, env, yaml_error(&ssm, &e)))?;
        check_ssm_entries(&ssm_entries, &base.capability_ssm_path)
            .map_err(|m| reparse("SSM entries", capability, env, m))?;

        // The stack embeds the dashboard and the SSM entries rendered above, so each
        // has one source.
        let full = minijinja::context! {
            ..ctx,
            ..minijinja::context! {
                dashboard_body => serde_json::to_string(&dashboard_value).unwrap_or_default(),
                ssm_entries => minijinja::Value::from_serialize(&ssm_entries),
            }
        };
        let template = self.render_one(STACK_TEMPLATE, &full, &capability.name, env)?;
        let template_value: serde_json::Value = serde_yaml::from_str(&template).map_err(|e| {
            reparse(
                "CloudFormation template",
                capability,
                env,
                yaml_error(&template, &e),
            )
        })?;
        if template_value
            .get("Resources")
            .and_then(|r| r.as_object())
            .is_none()
        {
            return Err(reparse(
                "CloudFormation template",
                capability,
                env,
                "no `Resources` mapping".into(),
            ));
        }

        Ok(Rendered {
            capability: capability.name.clone(),
            environment: env.name.clone(),
            stack_name: base.stack_name.clone(),
            template,
            dashboard,
            ssm,
            ssm_entries,
            template_value,
        })
    }

    /// Renders the environment's bootstrap stack (the artifact bucket) and parses it back.
    pub fn render_bootstrap(&self, env: &EnvConfig) -> Result<RenderedBootstrap> {
        let tags = env.resource_tags();
        let ctx = minijinja::context! {
            env => minijinja::context! { name => env.name.clone() },
            tags => tags.clone(),
            artifact_noncurrent_days => ARTIFACT_NONCURRENT_DAYS,
        };
        let template = self.render_one(BOOTSTRAP_TEMPLATE, &ctx, "bootstrap", env)?;
        let template_value: serde_json::Value =
            serde_yaml::from_str(&template).map_err(|e| Error::Reparse {
                document: "bootstrap template",
                capability: "bootstrap".into(),
                environment: env.name.clone(),
                message: yaml_error(&template, &e),
            })?;
        Ok(RenderedBootstrap {
            stack_name: bootstrap_stack_name(&env.name),
            tags,
            template,
            template_value,
        })
    }

    fn render_one(
        &self,
        name: &str,
        ctx: &minijinja::Value,
        subject: &str,
        env: &EnvConfig,
    ) -> Result<String> {
        let fail = |source| Error::Render {
            template: name.to_string(),
            capability: subject.to_string(),
            environment: env.name.clone(),
            source,
        };
        let template = self.env.get_template(name).map_err(fail)?;
        template.render(ctx).map_err(fail)
    }
}

fn reparse(
    document: &'static str,
    capability: &Capability,
    env: &EnvConfig,
    message: String,
) -> Error {
    Error::Reparse {
        document,
        capability: capability.name.clone(),
        environment: env.name.clone(),
        message,
    }
}

/// serde_yaml's message plus the rendered line it points at, so a template bug can be
/// found without digging out the rendered text.
fn yaml_error(text: &str, err: &serde_yaml::Error) -> String {
    match err.location() {
        Some(loc) => format!("{err}\n{}", quote_line(text, loc.line())),
        None => err.to_string(),
    }
}

fn quote_line(text: &str, line: usize) -> String {
    let content = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    format!("{line:>5} | {content}")
}

fn check_ssm_entries(entries: &[SsmEntry], own_path: &str) -> std::result::Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        if !entry.name.starts_with(&format!("{own_path}/")) {
            return Err(format!(
                "parameter {} is outside the capability's own path {own_path}/",
                entry.name
            ));
        }
        if !matches!(entry.kind.as_str(), "String" | "StringList") {
            return Err(format!(
                "parameter {} has type {}; a stack writes String or StringList",
                entry.name, entry.kind
            ));
        }
        if !seen.insert(entry.id.clone()) {
            return Err(format!("logical id {} is used twice", entry.id));
        }
    }
    Ok(())
}

/// The values templates see. Every name derived from the capability and environment is
/// computed here once, so templates only place them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Context {
    env: EnvView,
    cap: CapView,
    stack_name: String,
    function_name: String,
    log_group_name: String,
    access_log_group_name: String,
    /// `/stackpro/<env>`
    ssm_prefix: String,
    /// `/stackpro/<env>/capabilities/<capability>`
    capability_ssm_path: String,
    metrics_namespace: &'static str,
    live_alias: &'static str,
    lambda: LambdaView,
    alarms: AlarmView,
    tags: BTreeMap<String, String>,
    /// Literal values, or (a bucket's name) a `Ref` CloudFormation resolves.
    environment_variables: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct EnvView {
    name: String,
    region: String,
    log_retention_days: u32,
    termination_protection: bool,
    alarm_actions: Vec<String>,
    /// Lambda's name of the processor: `x86_64` or `arm64`.
    architecture: &'static str,
    throttle: Option<crate::config::Throttle>,
    customer_managed_key: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct CapView {
    name: String,
    description: String,
    routes: Vec<RouteView>,
    tables: Vec<TableView>,
    buckets: Vec<BucketView>,
    iam: Vec<crate::config::IamStatement>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct RouteView {
    key: String,
    method: String,
    path: String,
    logical_id: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct TableView {
    name: String,
    logical_id: String,
    physical_name: String,
    env_var: String,
    partition_key: crate::config::KeyAttribute,
    sort_key: Option<crate::config::KeyAttribute>,
    ttl_attribute: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct BucketView {
    name: String,
    logical_id: String,
    /// `stackpro-<cap>-<env>-<name>-${AWS::AccountId}-${AWS::Region}`, for `Fn::Sub`.
    physical_name_sub: String,
    env_var: String,
    expire_days: Option<u32>,
    description: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct LambdaView {
    memory_mb: u32,
    timeout_seconds: u32,
    integration_timeout_ms: u32,
    reserved_concurrency: Option<u32>,
    /// `Active` or `PassThrough`.
    tracing: &'static str,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct AlarmView {
    error_rate_percent: f64,
    error_rate_minutes: u32,
    p95_latency_ms: f64,
    p95_latency_minutes: u32,
}

impl Context {
    fn new(cap: &Capability, env: &EnvConfig) -> Self {
        let stack_name = env.stack_name(&cap.name);
        let function_name = stack_name.clone();
        let ssm_prefix = ssm::prefix(&env.name);
        let capability_ssm_path = ssm::capability(&ssm_prefix, &cap.name);

        let tables: Vec<TableView> = cap
            .tables
            .iter()
            .map(|t| TableView {
                name: t.name.clone(),
                logical_id: format!("Table{}", pascal_case(&t.name)),
                physical_name: format!("{stack_name}-{}", t.name),
                env_var: vars::table(&t.name),
                partition_key: t.partition_key.clone(),
                sort_key: t.sort_key.clone(),
                ttl_attribute: t.ttl_attribute.clone(),
            })
            .collect();

        let buckets: Vec<BucketView> = cap
            .buckets
            .iter()
            .map(|b| BucketView {
                name: b.name.clone(),
                logical_id: b.logical_id(),
                physical_name_sub: crate::config::bucket_name(
                    &stack_name,
                    &b.name,
                    "${AWS::AccountId}",
                    "${AWS::Region}",
                ),
                env_var: bucket_env_var(&b.name),
                expire_days: b.expire_days,
                description: b.description.clone(),
            })
            .collect();

        let lambda = LambdaView {
            memory_mb: cap.lambda.memory_mb.unwrap_or(env.lambda.memory_mb),
            timeout_seconds: cap
                .lambda
                .timeout_seconds
                .unwrap_or(env.lambda.timeout_seconds),
            integration_timeout_ms: cap
                .lambda
                .timeout_seconds
                .unwrap_or(env.lambda.timeout_seconds)
                .min(crate::config::MAX_TIMEOUT_SECONDS)
                * 1000,
            reserved_concurrency: env.lambda.reserved_concurrency,
            tracing: env.lambda.tracing.lambda_name(),
        };

        let mut literal = BTreeMap::new();
        literal.insert(vars::ENV.to_string(), env.name.clone());
        literal.insert(vars::CAPABILITY.to_string(), cap.name.clone());
        literal.insert(vars::SSM_PREFIX.to_string(), ssm_prefix.clone());
        literal.insert(
            vars::METRICS_NAMESPACE.to_string(),
            METRICS_NAMESPACE.to_string(),
        );
        literal.insert(
            vars::JWT_SECRET_PARAMETER.to_string(),
            ssm::jwt_secret(&ssm_prefix),
        );
        literal.insert("RUST_LOG".to_string(), "info".to_string());
        for table in &tables {
            literal.insert(table.env_var.clone(), table.physical_name.clone());
        }
        for (key, value) in env.settings_for(cap) {
            literal.insert(vars::setting(&key), value);
        }
        for (key, value) in env.flag_defaults(cap) {
            literal.insert(key, flag_env_value(&value));
        }
        let mut environment_variables: BTreeMap<String, serde_json::Value> = literal
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        // A bucket's name holds the account: CloudFormation gives it (`Ref`).
        for bucket in &buckets {
            environment_variables.insert(
                bucket.env_var.clone(),
                serde_json::json!({ "Ref": bucket.logical_id }),
            );
        }

        let mut tags = env.resource_tags();
        tags.insert("stackpro:capability".into(), cap.name.clone());

        Context {
            env: EnvView {
                name: env.name.clone(),
                region: env.region.clone(),
                log_retention_days: env.log_retention_days,
                termination_protection: env.termination_protection,
                alarm_actions: env.alarms.notify.clone(),
                architecture: env.architecture.lambda_name(),
                throttle: env.api.throttle.clone(),
                customer_managed_key: env.encryption.customer_managed_key,
            },
            cap: CapView {
                name: cap.name.clone(),
                description: cap.description.clone(),
                routes: cap
                    .routes
                    .iter()
                    .map(|r| RouteView {
                        key: r.key(),
                        method: r.method.clone(),
                        path: r.path.clone(),
                        logical_id: format!(
                            "Route{}{}",
                            pascal_case(&r.method.to_ascii_lowercase()),
                            pascal_case(&r.path)
                        ),
                    })
                    .collect(),
                tables,
                buckets,
                iam: cap.iam.clone(),
            },
            log_group_name: format!("/aws/lambda/{function_name}"),
            access_log_group_name: format!("/stackpro/{}/{}/api-access", env.name, cap.name),
            stack_name,
            function_name,
            ssm_prefix,
            capability_ssm_path,
            metrics_namespace: METRICS_NAMESPACE,
            live_alias: LIVE_ALIAS,
            alarms: AlarmView {
                error_rate_percent: cap
                    .alarms
                    .error_rate_percent
                    .unwrap_or(env.alarms.error_rate.threshold_percent),
                error_rate_minutes: env.alarms.error_rate.period_minutes,
                p95_latency_ms: cap
                    .alarms
                    .p95_latency_ms
                    .unwrap_or(env.alarms.p95_latency.threshold_ms),
                p95_latency_minutes: env.alarms.p95_latency.period_minutes,
            },
            lambda,
            tags,
            environment_variables,
        }
    }
}

/// The environment variables the deployed stack gives `capability`'s function in `env`
/// when it runs in `account` (bucket names carry the account); `stackpro dev` and the
/// handler tests run the handlers with exactly these.
pub fn environment_variables(
    capability: &Capability,
    env: &EnvConfig,
    account: &str,
) -> BTreeMap<String, String> {
    let stack_name = env.stack_name(&capability.name);
    let buckets: BTreeMap<String, String> = capability
        .buckets
        .iter()
        .map(|b| {
            (
                bucket_env_var(&b.name),
                crate::config::bucket_name(&stack_name, &b.name, account, &env.region),
            )
        })
        .collect();
    Context::new(capability, env)
        .environment_variables
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => buckets
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| other.to_string()),
            };
            (key, value)
        })
        .collect()
}

fn flag_env_value(value: &FlagValue) -> String {
    value.to_string()
}

pub use crate::config::pascal_case;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal() {
        assert_eq!(
            pascal_case("/v1/threads/{thread_id}/messages"),
            "V1ThreadsThreadIdMessages"
        );
        assert_eq!(pascal_case("get"), "Get");
        assert_eq!(pascal_case("usage"), "Usage");
    }
}
