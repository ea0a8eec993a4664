//! `stackpro status`: what each capability's stack is doing, what was deployed, what
//! is live, and which alarms fire. Exits 1 when a stack is in a failed or rolled-back
//! state, so a pipeline can gate on it.

use std::collections::BTreeMap;
use std::fmt;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::api::{self, ApiCheck};
use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::record::{self, Deployment};
use crate::stack;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Capabilities to show (default: all)
    #[arg(value_name = "CAPABILITY")]
    pub capabilities: Vec<String>,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusReport {
    pub environment: String,
    pub capabilities: Vec<CapabilityStatus>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Canary {
    pub version: String,
    pub weight: f64,
}

/// What the last drift detection (`stackpro drift`, or any other) found, as
/// DescribeStacks carries it: no request of its own.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KnownDrift {
    /// `DRIFTED` or `IN_SYNC`.
    pub status: String,
    pub checked_at: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CapabilityStatus {
    pub capability: String,
    pub stack_name: String,
    /// The stack's status, `NOT_DEPLOYED` when there is no stack.
    pub status: String,
    pub reason: Option<String>,
    /// The stack is failed or rolled back.
    pub unhealthy: bool,
    pub last_updated: Option<String>,
    pub termination_protection: bool,
    pub outputs: BTreeMap<String, String>,
    pub deployment: Option<Deployment>,
    /// The version the live alias serves, `None` without an alias.
    pub live_version: Option<String>,
    /// Why the live version is not the last deployment's, when it is not.
    pub live_note: Option<String>,
    /// A canary in progress: the new version and its share of traffic.
    pub canary: Option<Canary>,
    /// CloudFormation's verdict of the last drift detection, when one ran.
    pub drift: Option<KnownDrift>,
    pub alarms_in_alarm: Vec<String>,
    /// Failed resources of the last operation, with their reasons (failed stacks only).
    pub failures: Vec<stack::Failure>,
    /// The HTTP API against the contract's routes and the environment's stage settings
    /// (none when there is no stack).
    pub api: Option<ApiCheck>,
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.capabilities {
            writeln!(f, "{}  {}  {}", c.capability, c.stack_name, c.status)?;
            if let Some(reason) = &c.reason {
                writeln!(f, "  reason        {reason}")?;
            }
            for failure in &c.failures {
                writeln!(
                    f,
                    "  failed        {} ({}): {}",
                    failure.logical_id, failure.resource_type, failure.reason
                )?;
            }
            if let Some(d) = &c.deployment {
                writeln!(
                    f,
                    "  deployed      #{} {} by {} (commit {}, version {})",
                    d.number.unwrap_or_default(),
                    d.time,
                    d.actor,
                    d.git_commit.as_deref().unwrap_or("unknown"),
                    d.function_version
                )?;
            }
            if let Some(v) = &c.live_version {
                writeln!(f, "  live          version {v}")?;
            }
            if let Some(canary) = &c.canary {
                writeln!(
                    f,
                    "  canary        version {} takes {:.0}% of traffic (`stackpro promote` or `stackpro rollback` ends it)",
                    canary.version,
                    canary.weight * 100.0
                )?;
            }
            if let Some(note) = &c.live_note {
                writeln!(f, "  note          {note}")?;
            }
            if let Some(d) = &c.drift {
                let when = d.checked_at.as_deref().unwrap_or("at an unknown time");
                if d.status == "DRIFTED" {
                    writeln!(
                        f,
                        "  DRIFTED       at the last detection ({when}): `stackpro drift {} --env {}` shows what differs",
                        c.capability, self.environment
                    )?;
                } else {
                    writeln!(f, "  drift         in sync at the last detection ({when})")?;
                }
            }
            for key in ["ApiUrl", "FunctionName", "AliasArn"] {
                if let Some(v) = c.outputs.get(key) {
                    if api::is_unresolved(v) {
                        writeln!(
                            f,
                            "  {key:<13} {v}\n                ({})",
                            api::EMULATOR_ONLY
                        )?;
                    } else {
                        writeln!(f, "  {key:<13} {v}")?;
                    }
                }
            }
            match &c.api {
                Some(check) if check.is_problem() => {
                    writeln!(f, "  API DIFFERS   {}", api::summary(check))?;
                }
                Some(check) if check.state == api::ApiState::Ok => {
                    writeln!(f, "  api           {}", api::summary(check))?;
                }
                // Not checked: the ApiUrl line above says why (emulator-only), or:
                Some(check) if check.api_id.is_none() => {
                    writeln!(f, "  api           {}", api::summary(check))?;
                }
                _ => {}
            }
            for (k, v) in c
                .outputs
                .iter()
                .filter(|(k, _)| k.starts_with("Table") || k.starts_with("Bucket"))
            {
                writeln!(f, "  {:<13} {v}", k.trim_end_matches("Name"))?;
            }
            if c.alarms_in_alarm.is_empty() {
                if c.status != "NOT_DEPLOYED" {
                    writeln!(f, "  alarms        none in ALARM")?;
                }
            } else {
                writeln!(f, "  ALARM         {}", c.alarms_in_alarm.join(", "))?;
            }
        }
        Ok(())
    }
}

/// The stack's drift as of the last detection; `None` when none ran (`NOT_CHECKED`).
fn known_drift(stack: &aws_sdk_cloudformation::types::Stack) -> Option<KnownDrift> {
    let info = stack.drift_information()?;
    let status = info.stack_drift_status()?.as_str();
    matches!(status, "DRIFTED" | "IN_SYNC").then(|| KnownDrift {
        status: status.to_string(),
        checked_at: info
            .last_check_timestamp()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
    })
}

/// A stack status that means the last operation failed or was rolled back.
pub fn is_unhealthy(status: &str) -> bool {
    status.ends_with("_FAILED") || status.contains("ROLLBACK")
}

pub fn run(args: StatusArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let all = args.capabilities.is_empty();
    let caps = catalogue.select(&args.capabilities, all)?;
    let env = catalogue.load_env(&project, &args.env)?;
    let report = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        // Every capability at once.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, cap) in caps.iter().enumerate() {
            let (ctx, env_name) = (ctx.clone(), env.name.clone());
            let (stack_name, name) = (env.stack_name(&cap.name), cap.name.clone());
            let routes: Vec<String> = cap.routes.iter().map(|r| r.key()).collect();
            let throttle = env.api.throttle.clone();
            tasks.spawn(async move {
                let status = match capability_status(&ctx, &env_name, &stack_name, &name).await {
                    Ok(mut status) => {
                        if status.status != "NOT_DEPLOYED" {
                            status.api = Some(
                                check_api(&ctx, &status.outputs, &routes, throttle.as_ref())
                                    .await?,
                            );
                        }
                        Ok(status)
                    }
                    Err(e) => Err(e),
                };
                Ok::<_, Error>((i, status))
            });
        }
        let mut done = tasks
            .join_all()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        done.sort_by_key(|d| d.0);
        let out = done
            .into_iter()
            .map(|(_, status)| status)
            .collect::<Result<Vec<_>>>()?;
        Ok::<_, Error>(StatusReport {
            environment: env.name.clone(),
            capabilities: out,
        })
    })?;
    printer.report(&report);
    let unhealthy: Vec<&str> = report
        .capabilities
        .iter()
        .filter(|c| c.unhealthy)
        .map(|c| c.capability.as_str())
        .collect();
    if !unhealthy.is_empty() {
        return Err(Error::Failed(format!(
            "{} in {} failed or rolled back",
            unhealthy.join(", "),
            env.name
        )));
    }
    let differs: Vec<(&str, &ApiCheck)> = report
        .capabilities
        .iter()
        .filter_map(|c| {
            Some((
                c.capability.as_str(),
                c.api.as_ref().filter(|a| a.is_problem())?,
            ))
        })
        .collect();
    if !differs.is_empty() {
        let names: Vec<&str> = differs.iter().map(|(name, _)| *name).collect();
        let what: Vec<String> = differs
            .iter()
            .map(|(name, check)| format!("{name}: {}", api::summary(check)))
            .collect();
        return Err(Error::Failed(format!(
            "the HTTP API of {} in {} is not what the stack and contract say ({}); `stackpro deploy` puts it back",
            names.join(", "),
            env.name,
            what.join("; ")
        )));
    }
    Ok(())
}

/// The capability's HTTP API, read through API Gateway by the stack's `ApiId` output and
/// held against the contract's routes and the environment's throttle.
async fn check_api(
    ctx: &AwsContext,
    outputs: &BTreeMap<String, String>,
    routes: &[String],
    throttle: Option<&crate::config::Throttle>,
) -> Result<ApiCheck> {
    let id = match api::api_id(outputs.get("ApiId").map(String::as_str)) {
        Ok(id) => id,
        Err(not_checked) => return Ok(*not_checked),
    };
    let found = crate::aws::apigateway::http_api(ctx, &id).await?;
    Ok(api::compare(&id, routes, throttle, found))
}

/// Everything `status` says about one capability.
pub async fn capability_status(
    ctx: &AwsContext,
    env: &str,
    stack_name: &str,
    capability: &str,
) -> Result<CapabilityStatus> {
    // The reads are independent: one round trip.
    let (found, deployment, release, alarms_in_alarm) = tokio::try_join!(
        stack::describe(ctx, stack_name),
        record::latest(ctx, env, capability),
        crate::release::live(ctx, stack_name),
        crate::release::alarms_firing(ctx, stack_name),
    )?;
    let Some(found) = found else {
        return Ok(CapabilityStatus {
            capability: capability.to_string(),
            stack_name: stack_name.to_string(),
            status: "NOT_DEPLOYED".into(),
            reason: None,
            unhealthy: false,
            last_updated: None,
            termination_protection: false,
            outputs: BTreeMap::new(),
            deployment,
            live_version: None,
            live_note: None,
            canary: None,
            drift: None,
            alarms_in_alarm: Vec::new(),
            failures: Vec::new(),
            api: None,
        });
    };
    let status = found
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let unhealthy = is_unhealthy(&status);
    let failures = if unhealthy {
        stack::last_operation_failures(ctx, &found).await
    } else {
        Vec::new()
    };
    let live = release.as_ref().map(|l| l.version.clone());
    let canary = release
        .and_then(|l| l.canary)
        .map(|(version, weight)| Canary { version, weight });
    let stack_key = stack::parameter_values(&found).remove(crate::planner::ARTIFACT_KEY);
    let live_note = match (&live, &deployment) {
        (Some(_), Some(d)) if d.kind == crate::record::DeploymentKind::Canary => None,
        (Some(live), Some(d))
            if d.kind == crate::record::DeploymentKind::Code
                && *live == d.function_version
                && stack_key.as_ref().is_some_and(|k| *k != d.artifact_key) =>
        {
            Some(format!(
                "code-only deployment #{} (version {live}) runs {}; the stack still names {}: CloudFormation's view is behind until the next full deploy",
                d.number.unwrap_or_default(),
                d.artifact_key,
                stack_key.as_deref().unwrap_or_default()
            ))
        }
        (Some(live), Some(d)) if *live != d.function_version => Some(format!(
            "the live alias serves version {live}, not the recorded deployment's version {}: it was moved outside stackpro deploy",
            d.function_version
        )),
        (Some(_), Some(d)) if d.kind != crate::record::DeploymentKind::Deploy => Some(format!(
            "the live version was set by {} at {}",
            d.kind, d.time
        )),
        (None, Some(_)) => Some("there is no live alias: the API serves nothing; deploy again to create it".into()),
        _ => None,
    };
    Ok(CapabilityStatus {
        capability: capability.to_string(),
        stack_name: stack_name.to_string(),
        reason: found.stack_status_reason().map(str::to_string),
        unhealthy,
        last_updated: found
            .last_updated_time()
            .or(found.creation_time())
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        termination_protection: found.enable_termination_protection().unwrap_or(false),
        outputs: stack::outputs(&found),
        deployment,
        live_version: live,
        live_note,
        canary,
        drift: known_drift(&found),
        alarms_in_alarm,
        failures,
        status,
        api: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_and_rolled_back_states_gate_ci() {
        for s in [
            "UPDATE_ROLLBACK_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "CREATE_FAILED",
            "DELETE_FAILED",
            "UPDATE_ROLLBACK_IN_PROGRESS",
        ] {
            assert!(is_unhealthy(s), "{s}");
        }
        for s in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_IN_PROGRESS",
            "NOT_DEPLOYED",
        ] {
            assert!(!is_unhealthy(s), "{s}");
        }
    }
}
