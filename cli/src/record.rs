//! Deployment records: what each deploy put live, kept in SSM Parameter Store at
//! `/stackpro/<env>/deployments/<capability>` as one JSON document.
//!
//! SSM keeps every earlier value of a parameter (its history, numbered by version), so
//! the record is also the list of earlier deployments that `status` shows and that a
//! rollback reads; the parameter version is the deployment number.

use serde::{Deserialize, Serialize};

use crate::aws::{ssm, AwsContext};
use crate::error::Result;

/// How the live version got where a record says: the enum the conventions crate spells.
pub use stackpro_conventions::DeploymentKind;

/// The SSM path of the deployment records of an environment.
pub fn records_path(env: &str) -> String {
    stackpro_conventions::ssm::deployments(&stackpro_conventions::ssm::prefix(env))
}

/// One deployment of a capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, Deserialize, PartialEq)]
pub struct Deployment {
    /// RFC 3339 time the deploy finished.
    pub time: String,
    /// Who deployed: the caller identity's ARN.
    pub actor: String,
    /// `git rev-parse HEAD` of the project, with `-dirty` when there were uncommitted changes.
    pub git_commit: Option<String>,
    /// Hex SHA-256 of the `bootstrap` binary.
    pub artifact_sha256: String,
    pub artifact_key: String,
    /// Lambda's CodeSha256 of the uploaded zip.
    pub code_sha256: String,
    /// Hex SHA-256 of the template text.
    pub template_sha256: String,
    /// Hash of template, parameters and tags: equal means nothing to deploy.
    pub fingerprint: String,
    /// The Lambda version the live alias was pointed at.
    pub function_version: String,
    /// `deploy`, or how the alias got there otherwise (`rollback`).
    #[serde(default)]
    pub kind: DeploymentKind,
    /// The SSM parameter version of this record: the deployment number (not stored in
    /// the value, filled in when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
}

impl Deployment {
    /// Whether the version in this record runs the code and configuration of its
    /// fingerprint (a deploy or a full rollback). Records of a fast rollback or a
    /// rolled-back canary say where the alias was moved, not what the stack deploys.
    pub fn is_release_of_fingerprint(&self) -> bool {
        self.kind.releases_fingerprint()
    }
}

/// `/stackpro/<env>/deployments/<capability>`
pub fn parameter_name(env: &str, capability: &str) -> String {
    stackpro_conventions::ssm::deployment_record(
        &stackpro_conventions::ssm::prefix(env),
        capability,
    )
}

/// The last deployment recorded, if any.
pub async fn latest(ctx: &AwsContext, env: &str, capability: &str) -> Result<Option<Deployment>> {
    let name = parameter_name(env, capability);
    Ok(ssm::get_parameter(ctx, &name)
        .await?
        .and_then(|(value, version)| parse(&value, version)))
}

fn parse(value: &str, version: i64) -> Option<Deployment> {
    let mut d: Deployment = serde_json::from_str(value).ok()?;
    d.number = Some(version);
    Some(d)
}

/// Every recorded deployment, oldest first.
pub async fn history(ctx: &AwsContext, env: &str, capability: &str) -> Result<Vec<Deployment>> {
    let name = parameter_name(env, capability);
    let mut out: Vec<Deployment> = ssm::parameter_history(ctx, &name)
        .await?
        .iter()
        .filter_map(|p| parse(p.value()?, p.version()))
        .collect();
    out.sort_by_key(|d| d.number);
    Ok(out)
}

/// Writes a deployment as the newest record; returns its number.
pub async fn write(
    ctx: &AwsContext,
    env: &str,
    capability: &str,
    deployment: &Deployment,
) -> Result<i64> {
    let name = parameter_name(env, capability);
    let mut value = deployment.clone();
    value.number = None;
    ssm::put_parameter(
        ctx,
        &name,
        &serde_json::to_string(&value).unwrap_or_default(),
        &format!("stackpro deployment record of {capability} in {env}"),
    )
    .await
}

/// The project's git commit, `-dirty` when the work tree has uncommitted changes;
/// `None` outside a git checkout or without git.
pub fn git_commit(dir: &std::path::Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Now, as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}
