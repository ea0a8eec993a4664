//! Drift: what differs between what a capability's stack says and what runs. Two kinds:
//! CloudFormation's own drift detection (DetectStackDrift, then per resource and
//! property the expected and actual values), and what only stackpro knows: a code-only
//! deployment the stack does not know of, and a live alias moved outside stackpro.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::cloudformation as cfn;
use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::planner::ARTIFACT_KEY;
use crate::record::{self, DeploymentKind};
use crate::stack;

/// One property that differs.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PropertyDrift {
    pub path: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// `ADD`, `REMOVE` or `NOT_EQUAL` (CloudFormation's words).
    pub difference: String,
}

/// A resource that is not as the stack says.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    pub properties: Vec<PropertyDrift>,
}

/// Everything `drift` found for one capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CapabilityDrift {
    pub capability: String,
    pub stack_name: String,
    /// CloudFormation's verdict (`DRIFTED`, `IN_SYNC`, `NOT_CHECKED`), or `NOT_DEPLOYED`.
    pub stack_drift_status: String,
    pub resources: Vec<ResourceDrift>,
    /// Deployments and releases the stack does not know of.
    pub outside_stack: Vec<String>,
    pub drifted: bool,
}

/// How long a drift detection is waited for.
const DETECTION_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Detects the drift of one capability's stack and adds what only the deployment
/// records know.
pub async fn check(
    ctx: &AwsContext,
    env: &str,
    capability: &str,
    stack_name: &str,
) -> Result<CapabilityDrift> {
    let (found, previous, live) = tokio::try_join!(
        stack::describe(ctx, stack_name),
        record::latest(ctx, env, capability),
        crate::release::live(ctx, stack_name),
    )?;
    let mut out = CapabilityDrift {
        capability: capability.to_string(),
        stack_name: stack_name.to_string(),
        stack_drift_status: "NOT_DEPLOYED".into(),
        resources: Vec::new(),
        outside_stack: Vec::new(),
        drifted: false,
    };
    let Some(found) = found else {
        return Ok(out);
    };
    let detection = detect(ctx, stack_name).await?;
    out.stack_drift_status = detection
        .stack_drift_status
        .unwrap_or_else(|| "UNKNOWN".into());
    if out.stack_drift_status == "DRIFTED" {
        out.resources = resource_drifts(ctx, stack_name).await?;
    }
    let stack_key = stack::parameter_values(&found).remove(ARTIFACT_KEY);
    if let Some(d) = previous.as_ref().filter(|d| d.kind == DeploymentKind::Code) {
        if stack_key.as_ref().is_some_and(|k| *k != d.artifact_key) {
            out.outside_stack.push(format!(
                "code-only deployment #{} runs {} (version {}); the stack still names {}: `stackpro deploy {capability} --env {env}` brings it up to date",
                d.number.unwrap_or_default(),
                d.artifact_key,
                d.function_version,
                stack_key.as_deref().unwrap_or_default()
            ));
        }
    }
    if let (Some(live), Some(d)) = (&live, &previous) {
        if live.version != d.function_version && d.kind != DeploymentKind::Canary {
            out.outside_stack.push(format!(
                "the live alias serves version {}, not the recorded deployment #{}'s version {}: it was moved outside stackpro",
                live.version,
                d.number.unwrap_or_default(),
                d.function_version
            ));
        }
    }
    out.drifted = out.stack_drift_status == "DRIFTED" || !out.outside_stack.is_empty();
    Ok(out)
}

/// Starts a drift detection and waits for its end.
async fn detect(ctx: &AwsContext, stack_name: &str) -> Result<cfn::DriftDetection> {
    let id = cfn::detect_stack_drift(ctx, stack_name).await?;
    let start = Instant::now();
    let mut poll = stack::Backoff::new();
    loop {
        let status = match cfn::drift_detection_status(ctx, stack_name, &id).await {
            Ok(status) => status,
            Err(err) if err.is_throttling() => {
                poll.throttled();
                tokio::time::sleep(poll.delay()).await;
                continue;
            }
            Err(err) => return Err(err),
        };
        match status.detection_status.as_str() {
            "DETECTION_COMPLETE" => return Ok(status),
            // A partial result: some resources could not be checked; what was checked
            // is reported, and the reason with it.
            "DETECTION_FAILED" if status.stack_drift_status.is_some() => return Ok(status),
            "DETECTION_FAILED" => {
                return Err(Error::Stack {
                    stack: stack_name.to_string(),
                    message: format!(
                        "drift detection failed: {}",
                        status.reason.as_deref().unwrap_or("no reason given")
                    ),
                    help: Some("run drift again; if it fails again, check the stack's resources in the console".into()),
                })
            }
            _ => poll.step(),
        }
        if start.elapsed() > DETECTION_LIMIT {
            return Err(Error::Stack {
                stack: stack_name.to_string(),
                message: format!(
                    "drift detection {id} had not ended after {} s",
                    DETECTION_LIMIT.as_secs()
                ),
                help: Some("run drift again later".into()),
            });
        }
        tokio::time::sleep(poll.delay()).await;
    }
}

/// The resources that drifted, with expected and actual value per property.
async fn resource_drifts(ctx: &AwsContext, stack_name: &str) -> Result<Vec<ResourceDrift>> {
    Ok(cfn::resource_drifts(ctx, stack_name)
        .await?
        .iter()
        .map(|r| ResourceDrift {
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: r.resource_type().unwrap_or_default().to_string(),
            status: r
                .stack_resource_drift_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            properties: r
                .property_differences()
                .iter()
                .map(|p| PropertyDrift {
                    path: p.property_path().unwrap_or_default().to_string(),
                    expected: p.expected_value().map(str::to_string),
                    actual: p.actual_value().map(str::to_string),
                    difference: p
                        .difference_type()
                        .map(|d| d.as_str().to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .filter(|r| matches!(r.status.as_str(), "MODIFIED" | "DELETED"))
        .collect())
}
