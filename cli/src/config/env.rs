//! One environment: `envs/<env>.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::flags::{self, FlagValue};
use super::yaml::Source;
use super::Catalogue;
use crate::error::{nearest, Result};
use crate::money::Usd;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvFile {
    region: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
    lambda: LambdaSettings,
    log_retention_days: u32,
    alarms: AlarmSettings,
    flags: FlagsFile,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    termination_protection: bool,
    /// The deploy paths that skip CloudFormation which this environment allows
    /// (`[code]`); none unless written down.
    #[serde(default)]
    fast_paths: Vec<FastPath>,
    /// How CloudFormation completes stack operations here (`standard` unless written).
    #[serde(default)]
    deployment_mode: DeploymentMode,
    /// The processor the functions run on (`x86_64` unless written).
    #[serde(default)]
    architecture: Architecture,
    /// Limits on each capability's HTTP API (none unless written).
    #[serde(default)]
    api: ApiSettings,
    /// Which keys encrypt the stacks' data at rest (AWS's unless written).
    #[serde(default)]
    encryption: EncryptionSettings,
    /// The estimated fixed monthly cost (`stackpro cost`) above which `validate` warns.
    #[serde(default)]
    budget_usd: Option<Usd>,
    /// Per capability, values of the settings it declares (its defaults otherwise).
    #[serde(default)]
    settings: BTreeMap<String, BTreeMap<String, serde_yaml::Value>>,
}

/// The settings' values as text; a list or a map is refused where it is written.
fn settings_text(
    source: &Source,
    file: BTreeMap<String, BTreeMap<String, serde_yaml::Value>>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    for (cap, values) in file {
        let mut texts = BTreeMap::new();
        for (key, value) in values {
            let Some(text) = super::capability::setting_text(&value) else {
                return Err(source.error_at(
                    &["settings", &cap, &key],
                    format!("setting `{cap}.{key}` must be a string, a number or a boolean"),
                    None,
                ));
            };
            texts.insert(key, text);
        }
        out.insert(cap, texts);
    }
    Ok(out)
}

/// The instruction set an environment's functions run on, and what handlers are built for.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Deserialize,
    Serialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
    /// AWS Graviton.
    Arm64,
}

impl Architecture {
    /// Lambda's name for it (`Architectures` of a function).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The cargo-lambda target: Linux linked against glibc 2.17, so the binary loads on
    /// any Amazon Linux (provided.al2023 included).
    pub fn lambda_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu.2.17",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu.2.17",
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.lambda_name())
    }
}

/// CloudFormation's deployment mode for this environment's stack operations.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentMode {
    /// Operations complete when every resource is ready to serve traffic.
    #[default]
    Standard,
    /// Operations complete once resource configuration is applied; resources become
    /// ready in the background (CloudFormation's express mode). Never for a protected
    /// environment.
    Express,
}

/// A deploy path that skips CloudFormation, allowed per environment (`fast_paths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FastPath {
    /// `stackpro deploy --code`: only the function's code, through the Lambda API.
    Code,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaSettings {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// Concurrent executions set aside for (and capping) each capability's function: a
    /// ceiling on cost and on what a flood of requests can do. Unreserved if absent.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// X-Ray tracing of each function (`pass_through` unless written).
    #[serde(default)]
    pub tracing: Tracing,
}

/// Lambda's X-Ray tracing mode (`TracingConfig.Mode`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tracing {
    /// Lambda samples requests and records a trace of each sampled one.
    Active,
    /// Only a trace an upstream caller sampled is recorded.
    #[default]
    PassThrough,
}

impl Tracing {
    /// Lambda's name for it.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Tracing::Active => "Active",
            Tracing::PassThrough => "PassThrough",
        }
    }
}

/// Limits on each capability's HTTP API stage. Per-tenant limits are the handler's.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    #[serde(default)]
    pub throttle: Option<Throttle>,
}

/// API Gateway's stage throttling: a steady rate and the burst above it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub rate_per_second: f64,
    pub burst: u32,
}

/// Keys for data at rest.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSettings {
    /// One customer-managed KMS key per capability stack (about $1 a month each) for its
    /// tables, log groups and function settings, instead of keys AWS owns and manages.
    /// The key can be audited in CloudTrail and revoked; it is kept when the stack goes,
    /// since the retained tables cannot be read without it.
    #[serde(default)]
    pub customer_managed_key: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmSettings {
    pub error_rate: ErrorRateAlarm,
    pub p95_latency: LatencyAlarm,
    /// SNS topic ARNs told when an alarm fires or clears.
    #[serde(default)]
    pub notify: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRateAlarm {
    pub threshold_percent: f64,
    pub period_minutes: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyAlarm {
    pub threshold_ms: f64,
    pub period_minutes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagsFile {
    explicit: bool,
    #[serde(default)]
    values: BTreeMap<String, FlagValue>,
}

/// An environment, checked against the capability catalogue.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EnvConfig {
    pub name: String,
    #[serde(skip)]
    pub file: PathBuf,
    pub region: String,
    pub account_id: Option<String>,
    pub endpoint_url: Option<String>,
    pub lambda: LambdaSettings,
    pub log_retention_days: u32,
    pub alarms: AlarmSettings,
    /// Whether every capability's ENABLED and VERSION flags must be written down.
    pub flags_explicit: bool,
    /// The flag values written in the file.
    pub flags: BTreeMap<String, FlagValue>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    pub fast_paths: Vec<FastPath>,
    pub deployment_mode: DeploymentMode,
    pub architecture: Architecture,
    pub api: ApiSettings,
    pub encryption: EncryptionSettings,
    /// The estimated fixed monthly cost above which `validate` warns; none unless written.
    pub budget_usd: Option<Usd>,
    /// Setting values per capability, as text (checked against the declarations).
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
}

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Reserved concurrency above Lambda's largest regional quota is a typo.
pub const MAX_RESERVED_CONCURRENCY: u32 = 100_000;
/// API Gateway's account-level defaults per region: 10,000 requests a second, bursts
/// of 5,000. A stage limit above them has no effect.
pub const MAX_API_RATE: f64 = 10_000.0;
pub const MAX_API_BURST: u32 = 5_000;

/// API Gateway HTTP APIs wait at most 30 s for an integration.
pub const MAX_TIMEOUT_SECONDS: u32 = 30;

impl EnvConfig {
    pub fn load(name: &str, path: &Path, root: &Path, catalogue: &Catalogue) -> Result<Self> {
        let source = Source::read(path, root)?;
        let file: EnvFile = source.parse("an environment definition")?;
        let env = EnvConfig {
            name: name.to_string(),
            file: path.to_path_buf(),
            region: file.region,
            account_id: file.account_id,
            endpoint_url: file.endpoint_url,
            lambda: file.lambda,
            log_retention_days: file.log_retention_days,
            alarms: file.alarms,
            flags_explicit: file.flags.explicit,
            flags: file.flags.values,
            tags: file.tags,
            termination_protection: file.termination_protection,
            fast_paths: file.fast_paths,
            deployment_mode: file.deployment_mode,
            architecture: file.architecture,
            api: file.api,
            encryption: file.encryption,
            budget_usd: file.budget_usd,
            settings: settings_text(&source, file.settings)?,
        };
        env.check(&source, catalogue)?;
        Ok(env)
    }

    fn check(&self, source: &Source, catalogue: &Catalogue) -> Result<()> {
        if self.deployment_mode == DeploymentMode::Express && self.termination_protection {
            return Err(source.error_at(
                &["deployment_mode"],
                "express mode is refused for a protected environment (termination_protection: true): \
                 it reports a stack operation complete before its resources are ready"
                    .to_string(),
                Some("remove `deployment_mode: express` here; it is for sandboxes".into()),
            ));
        }
        if !is_region(&self.region) {
            return Err(source.error_at(
                &["region"],
                format!("`{}` is not an AWS region name", self.region),
                Some("write a region such as eu-west-1 or us-east-1".into()),
            ));
        }
        if let Some(account) = &self.account_id {
            if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
                return Err(source.error_at(
                    &["account_id"],
                    format!("account_id `{account}` is not a 12-digit AWS account id"),
                    Some("quote it so leading zeros are kept: account_id: \"012345678901\"".into()),
                ));
            }
        }
        if let Some(url) = &self.endpoint_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty()) {
                return Err(source.error_at(
                    &["endpoint_url"],
                    format!("endpoint_url `{url}` is not an http:// or https:// URL"),
                    Some("for the local emulator write http://127.0.0.1:5000".into()),
                ));
            }
        }
        let memory = self.lambda.memory_mb;
        if !(128..=10240).contains(&memory) {
            return Err(source.error_at(
                &["lambda", "memory_mb"],
                format!("lambda.memory_mb {memory} is outside what Lambda allows (128 to 10240)"),
                None,
            ));
        }
        let timeout = self.lambda.timeout_seconds;
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&timeout) {
            return Err(source.error_at(
                &["lambda", "timeout_seconds"],
                format!("lambda.timeout_seconds {timeout} is outside 1 to {MAX_TIMEOUT_SECONDS}"),
                Some("an HTTP API waits at most 30 s for its Lambda integration".into()),
            ));
        }
        if let Some(reserved) = self.lambda.reserved_concurrency {
            if !(1..=MAX_RESERVED_CONCURRENCY).contains(&reserved) {
                return Err(source.error_at(
                    &["lambda", "reserved_concurrency"],
                    format!(
                        "lambda.reserved_concurrency {reserved} is outside 1 to {MAX_RESERVED_CONCURRENCY}"
                    ),
                    Some(
                        "0 would stop the function from running; remove the line to leave it unreserved"
                            .into(),
                    ),
                ));
            }
        }
        if let Some(t) = &self.api.throttle {
            if !(t.rate_per_second > 0.0 && t.rate_per_second <= MAX_API_RATE) {
                return Err(source.error_at(
                    &["api", "throttle", "rate_per_second"],
                    format!(
                        "api.throttle.rate_per_second {} must be above 0 and at most {MAX_API_RATE}",
                        t.rate_per_second
                    ),
                    Some("remove `api.throttle` to leave the account's default limits".into()),
                ));
            }
            if !(1..=MAX_API_BURST).contains(&t.burst) {
                return Err(source.error_at(
                    &["api", "throttle", "burst"],
                    format!(
                        "api.throttle.burst {} must be 1 to {MAX_API_BURST}",
                        t.burst
                    ),
                    None,
                ));
            }
        }
        if !RETENTION_DAYS.contains(&self.log_retention_days) {
            let days = self.log_retention_days;
            let closest = RETENTION_DAYS
                .iter()
                .min_by_key(|d| d.abs_diff(days))
                .copied()
                .unwrap_or(14);
            return Err(source.error_at(
                &["log_retention_days"],
                format!("log_retention_days {days} is not a retention CloudWatch Logs offers"),
                Some(format!(
                    "the nearest allowed value is {closest}; allowed: {}",
                    RETENTION_DAYS.map(|d| d.to_string()).join(", ")
                )),
            ));
        }
        let rate = self.alarms.error_rate.threshold_percent;
        if !(rate > 0.0 && rate <= 100.0) {
            return Err(source.error_at(
                &["alarms", "error_rate", "threshold_percent"],
                format!(
                    "alarms.error_rate.threshold_percent {rate} must be above 0 and at most 100"
                ),
                None,
            ));
        }
        if self.alarms.p95_latency.threshold_ms <= 0.0 {
            return Err(source.error_at(
                &["alarms", "p95_latency", "threshold_ms"],
                format!(
                    "alarms.p95_latency.threshold_ms {} must be above 0",
                    self.alarms.p95_latency.threshold_ms
                ),
                None,
            ));
        }
        for (key, minutes) in [
            ("error_rate", self.alarms.error_rate.period_minutes),
            ("p95_latency", self.alarms.p95_latency.period_minutes),
        ] {
            if !(1..=1440).contains(&minutes) {
                return Err(source.error_at(
                    &["alarms", key, "period_minutes"],
                    format!("alarms.{key}.period_minutes {minutes} must be 1 to 1440 (one day)"),
                    None,
                ));
            }
        }
        for arn in &self.alarms.notify {
            if !(arn.starts_with("arn:") && arn.contains(":sns:")) {
                return Err(source.error_at(
                    &["alarms", "notify"],
                    format!("alarms.notify entry `{arn}` is not an SNS topic ARN"),
                    Some("write arn:aws:sns:<region>:<account>:<topic>".into()),
                ));
            }
        }
        for (key, value) in &self.tags {
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                return Err(source.error_at(
                    &["tags", key],
                    format!("tag key `{key}` is not allowed (1 to 128 characters, not starting with aws:)"),
                    None,
                ));
            }
            if value.len() > 256 {
                return Err(source.error_at(
                    &["tags", key],
                    format!("tag `{key}` has a value over 256 characters"),
                    None,
                ));
            }
        }
        self.check_buckets(catalogue)?;
        self.check_settings(source, catalogue)?;
        self.check_flags(source, catalogue)
    }

    /// A bucket's S3 name carries this environment's name, the account and the region:
    /// it must be a name S3 accepts whatever the account and region. The error points at
    /// the bucket in its capability.yaml, the file to change.
    fn check_buckets(&self, catalogue: &Catalogue) -> Result<()> {
        for cap in &catalogue.capabilities {
            let stack = self.stack_name(&cap.name);
            for bucket in &cap.buckets {
                if let Some(c) = self
                    .name
                    .chars()
                    .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
                {
                    return Err(bucket.declared_at.error(
                        format!(
                            "bucket `{}` of capability {} is named after environment `{}`, and S3 bucket names cannot hold `{c}`",
                            bucket.name, cap.name, self.name
                        ),
                        Some("name the environment file with lower-case letters, digits and `-`".into()),
                    ));
                }
                let length = super::longest_bucket_name(&stack, &bucket.name);
                if length > super::MAX_BUCKET_NAME {
                    let over = length - super::MAX_BUCKET_NAME;
                    let help = if bucket.name.len() > over {
                        format!(
                            "shorten the bucket name to at most {} characters",
                            bucket.name.len() - over
                        )
                    } else {
                        format!("shorten the capability or environment name by {over} characters")
                    };
                    return Err(bucket.declared_at.error(
                        format!(
                            "bucket `{}` would be named {}, {length} characters in environment {} with a {}-character region such as {}; S3 allows {}",
                            bucket.name,
                            super::bucket_name(&stack, &bucket.name, "<account>", "<region>"),
                            self.name,
                            super::LONGEST_REGION.len(),
                            super::LONGEST_REGION,
                            super::MAX_BUCKET_NAME
                        ),
                        Some(help),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every `settings.<capability>.<name>` names a capability and a setting it declares.
    fn check_settings(&self, source: &Source, catalogue: &Catalogue) -> Result<()> {
        for (cap_name, values) in &self.settings {
            let Some(cap) = catalogue.capabilities.iter().find(|c| &c.name == cap_name) else {
                let names = catalogue.names();
                let help = match nearest(cap_name, names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("capabilities: {}", catalogue.names().join(", ")),
                };
                return Err(source.error_at(
                    &["settings", cap_name],
                    format!("settings for unknown capability `{cap_name}`"),
                    Some(help),
                ));
            };
            for key in values.keys() {
                if cap.settings.contains_key(key) {
                    continue;
                }
                let declared: Vec<&str> = cap.settings.keys().map(String::as_str).collect();
                let help = match nearest(key, declared.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if declared.is_empty() => format!(
                        "capability {cap_name} declares no settings (handlers/{cap_name}/capability.yaml)"
                    ),
                    None => format!("capability {cap_name} declares: {}", declared.join(", ")),
                };
                return Err(source.error_at(
                    &["settings", cap_name, key],
                    format!("capability {cap_name} has no setting `{key}`"),
                    Some(help),
                ));
            }
        }
        Ok(())
    }

    /// A capability's settings in this environment: the environment's values over the
    /// capability's defaults, by name.
    pub fn settings_for(&self, capability: &super::Capability) -> BTreeMap<String, String> {
        let values = self.settings.get(&capability.name);
        capability
            .settings
            .iter()
            .map(|(key, s)| {
                let value = values
                    .and_then(|v| v.get(key))
                    .cloned()
                    .unwrap_or_else(|| s.default.clone());
                (key.clone(), value)
            })
            .collect()
    }

    fn check_flags(&self, source: &Source, catalogue: &Catalogue) -> Result<()> {
        let all: Vec<(String, flags::FlagKind)> = catalogue
            .capabilities
            .iter()
            .flat_map(|c| c.flag_kinds())
            .collect();
        for (key, value) in &self.flags {
            let Some((_, kind)) = all.iter().find(|(k, _)| k == key) else {
                let suggestion = nearest(key, all.iter().map(|(k, _)| k.as_str()));
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "flags are CAP_<CAPABILITY>_ENABLED, _VERSION, _DEGRADED or one a capability declares; capabilities: {}",
                        catalogue.names().join(", ")
                    ),
                };
                return Err(source.error_at(
                    &["flags", "values", key],
                    format!("unknown flag `{key}`"),
                    Some(help),
                ));
            };
            if let Err(why) = kind.check(value) {
                return Err(source.error_at(
                    &["flags", "values", key],
                    format!("flag `{key}`: {why}"),
                    None,
                ));
            }
        }
        if self.flags_explicit {
            for cap in &catalogue.capabilities {
                for suffix in ["ENABLED", "VERSION"] {
                    let key = flags::flag_name(&cap.name, suffix);
                    if !self.flags.contains_key(&key) {
                        return Err(source.error_at(
                            &["flags", "values"],
                            format!("flag `{key}` is missing; environment {} sets every flag explicitly", self.name),
                            Some(format!("add `{key}: ...` under flags.values, or set flags.explicit to false")),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The flag defaults the stack passes to a capability's handler: the env's values,
    /// then the capability's declared defaults; ENABLED is off unless the env sets it.
    pub fn flag_defaults(&self, capability: &super::Capability) -> BTreeMap<String, FlagValue> {
        capability
            .flag_kinds()
            .into_iter()
            .filter_map(|(key, kind)| {
                let value = self
                    .flags
                    .get(&key)
                    .or_else(|| capability.flags.get(&key))
                    .cloned()
                    .or(match kind {
                        flags::FlagKind::Bool => Some(FlagValue::Bool(false)),
                        flags::FlagKind::Version => Some(FlagValue::Text("v1".into())),
                        flags::FlagKind::Text => None,
                    })?;
                Some((key, value))
            })
            .collect()
    }

    /// The environment's tags plus `stackpro:environment`, for every stack and resource.
    pub fn resource_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert("stackpro:environment".into(), self.name.clone());
        tags
    }

    /// The stack of a capability in this environment.
    pub fn stack_name(&self, capability: &str) -> String {
        format!("stackpro-{capability}-{}", self.name)
    }

    /// Whether this environment talks to a local emulator rather than AWS.
    pub fn is_local(&self) -> bool {
        self.endpoint_url.as_deref().is_some_and(is_loopback_url)
    }
}

/// Whether `url`'s host is a loopback address.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]")
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        assert!(is_region("eu-west-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("eu-west"));
        assert!(!is_region("EU-west-1"));
        assert!(!is_region("mars"));
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_url("http://127.0.0.1:5000"));
        assert!(is_loopback_url("http://localhost:5000/"));
        assert!(is_loopback_url("http://[::1]:5000"));
        assert!(!is_loopback_url(
            "https://cloudformation.eu-west-1.amazonaws.com"
        ));
    }
}
