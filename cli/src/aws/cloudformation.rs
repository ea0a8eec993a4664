//! CloudFormation: stacks, templates, change sets, events, stack policies and drift.
//!
//! One function per call, each returning stackpro's types or errors; the logic that
//! strings them together (waiting, following events, classifying states) is in
//! [`crate::stack`].

use std::collections::BTreeMap;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetType, DeploymentConfig, DeploymentConfigMode, Parameter, ResourceToImport,
    Stack, StackEvent, Tag,
};

use super::AwsContext;
use crate::error::Result;

fn client(ctx: &AwsContext) -> &aws_sdk_cloudformation::Client {
    super::sdk_client!(
        ctx,
        cloudformation,
        aws_sdk_cloudformation,
        "cloudformation"
    )
}

/// CloudFormation's "no such stack": a ValidationError whose message says so.
fn is_missing<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.message().is_some_and(|m| m.contains("does not exist"))
}

fn parameters(values: &BTreeMap<String, String>) -> Vec<Parameter> {
    values
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn tags(values: &BTreeMap<String, String>) -> Vec<Tag> {
    values
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Reads a stack; `None` when it does not exist.
pub async fn describe_stack(ctx: &AwsContext, name: &str) -> Result<Option<Stack>> {
    match client(ctx).describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(err) if err.as_service_error().is_some_and(is_missing) => Ok(None),
        Err(err) => Err(ctx.error("cloudformation", "DescribeStacks", name, err)),
    }
}

/// The deployed template's text; `None` when the stack does not exist.
pub async fn get_template(ctx: &AwsContext, name: &str) -> Result<Option<String>> {
    match client(ctx).get_template().stack_name(name).send().await {
        Ok(out) => Ok(Some(out.template_body().unwrap_or_default().to_string())),
        Err(err) if err.as_service_error().is_some_and(is_missing) => Ok(None),
        Err(err) => Err(ctx.error("cloudformation", "GetTemplate", name, err)),
    }
}

/// What CreateStack and UpdateStack are given.
#[derive(Debug, Clone, Copy)]
pub struct StackInput<'a> {
    pub name: &'a str,
    pub template: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub tags: &'a BTreeMap<String, String>,
    pub termination_protection: bool,
    /// The stack policy the stack keeps (JSON).
    pub policy: Option<&'a str>,
    /// CloudFormation's express mode: complete once configuration is applied (rollback
    /// kept on, which express mode would otherwise turn off).
    pub express: bool,
}

/// The `DeploymentConfig` of an operation: none for the standard mode.
fn deployment_config(input: &StackInput<'_>) -> Option<DeploymentConfig> {
    input.express.then(|| {
        DeploymentConfig::builder()
            .mode(DeploymentConfigMode::Express)
            .disable_rollback(false)
            .build()
    })
}

/// CreateStack (with CAPABILITY_IAM); returns the stack id.
pub async fn create_stack(ctx: &AwsContext, input: &StackInput<'_>) -> Result<String> {
    let out = client(ctx)
        .create_stack()
        .stack_name(input.name)
        .template_body(input.template)
        .set_parameters(Some(parameters(input.params)))
        .set_tags(Some(tags(input.tags)))
        .capabilities(Capability::CapabilityIam)
        .enable_termination_protection(input.termination_protection)
        .set_stack_policy_body(input.policy.map(str::to_string))
        .set_deployment_config(deployment_config(input))
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "CreateStack", input.name, e))?;
    Ok(out.stack_id().unwrap_or(input.name).to_string())
}

/// UpdateStack; `during` is a stack policy for this update only (the stack's own
/// policy, `input.policy`, is what stays). Returns false when CloudFormation says there
/// is nothing to update.
pub async fn update_stack(
    ctx: &AwsContext,
    input: &StackInput<'_>,
    during: Option<&str>,
) -> Result<bool> {
    let result = client(ctx)
        .update_stack()
        .stack_name(input.name)
        .template_body(input.template)
        .set_parameters(Some(parameters(input.params)))
        .set_tags(Some(tags(input.tags)))
        .capabilities(Capability::CapabilityIam)
        .set_stack_policy_body(input.policy.map(str::to_string))
        .set_stack_policy_during_update_body(during.map(str::to_string))
        .set_deployment_config(deployment_config(input))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .and_then(|e| e.message())
                .is_some_and(|m| m.contains("No updates are to be performed")) =>
        {
            Ok(false)
        }
        Err(err) => Err(ctx.error("cloudformation", "UpdateStack", input.name, err)),
    }
}

/// CreateChangeSet of `kind` named `change_set`; returns its id. `imports` are the
/// existing resources an IMPORT change set brings in, each by its identifier property.
pub async fn create_change_set(
    ctx: &AwsContext,
    input: &StackInput<'_>,
    change_set: &str,
    kind: ChangeSetType,
    imports: &[crate::planner::Importable],
) -> Result<String> {
    let imports: Vec<ResourceToImport> = imports
        .iter()
        .map(|i| {
            ResourceToImport::builder()
                .resource_type(&i.resource_type)
                .logical_resource_id(&i.logical_id)
                .resource_identifier(&i.identifier.0, &i.identifier.1)
                .build()
        })
        .collect();
    let created = client(ctx)
        .create_change_set()
        .stack_name(input.name)
        .change_set_name(change_set)
        .change_set_type(kind)
        .set_resources_to_import((!imports.is_empty()).then_some(imports))
        .set_deployment_config(deployment_config(input))
        .template_body(input.template)
        .set_parameters(Some(parameters(input.params)))
        .set_tags(Some(tags(input.tags)))
        .capabilities(Capability::CapabilityIam)
        .description("created by stackpro deploy")
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "CreateChangeSet", input.name, e))?;
    Ok(created.id().unwrap_or(change_set).to_string())
}

/// DescribeChangeSet (its first page of changes).
pub async fn describe_change_set(
    ctx: &AwsContext,
    stack: &str,
    id: &str,
) -> Result<DescribeChangeSetOutput> {
    client(ctx)
        .describe_change_set()
        .change_set_name(id)
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "DescribeChangeSet", stack, e))
}

pub async fn delete_change_set(ctx: &AwsContext, stack: &str, id: &str) -> Result<()> {
    client(ctx)
        .delete_change_set()
        .stack_name(stack)
        .change_set_name(id)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "DeleteChangeSet", stack, e))?;
    Ok(())
}

pub async fn execute_change_set(ctx: &AwsContext, stack: &str, id: &str) -> Result<()> {
    client(ctx)
        .execute_change_set()
        .stack_name(stack)
        .change_set_name(id)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "ExecuteChangeSet", stack, e))?;
    Ok(())
}

pub async fn delete_stack(ctx: &AwsContext, name: &str) -> Result<()> {
    client(ctx)
        .delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "DeleteStack", name, e))?;
    Ok(())
}

pub async fn update_termination_protection(ctx: &AwsContext, name: &str, on: bool) -> Result<()> {
    client(ctx)
        .update_termination_protection()
        .stack_name(name)
        .enable_termination_protection(on)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "UpdateTerminationProtection", name, e))?;
    Ok(())
}

pub async fn cancel_update_stack(ctx: &AwsContext, name: &str) -> Result<()> {
    client(ctx)
        .cancel_update_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "CancelUpdateStack", name, e))?;
    Ok(())
}

pub async fn continue_update_rollback(ctx: &AwsContext, name: &str, skip: &[String]) -> Result<()> {
    client(ctx)
        .continue_update_rollback()
        .stack_name(name)
        .set_resources_to_skip((!skip.is_empty()).then(|| skip.to_vec()))
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "ContinueUpdateRollback", name, e))?;
    Ok(())
}

/// One page of the stack's events, newest first, and the token of the next page.
pub async fn stack_events(
    ctx: &AwsContext,
    name: &str,
    token: Option<String>,
) -> Result<(Vec<StackEvent>, Option<String>)> {
    let page = client(ctx)
        .describe_stack_events()
        .stack_name(name)
        .set_next_token(token)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "DescribeStackEvents", name, e))?;
    let next = page.next_token().map(str::to_string);
    Ok((page.stack_events.unwrap_or_default(), next))
}

/// The stack's policy (JSON), `None` when it has none.
pub async fn get_stack_policy(ctx: &AwsContext, name: &str) -> Result<Option<String>> {
    let out = client(ctx)
        .get_stack_policy()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "GetStackPolicy", name, e))?;
    Ok(out
        .stack_policy_body()
        .filter(|b| !b.trim().is_empty())
        .map(str::to_string))
}

pub async fn set_stack_policy(ctx: &AwsContext, name: &str, policy: &str) -> Result<()> {
    client(ctx)
        .set_stack_policy()
        .stack_name(name)
        .stack_policy_body(policy)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "SetStackPolicy", name, e))?;
    Ok(())
}

/// DetectStackDrift; returns the detection id.
pub async fn detect_stack_drift(ctx: &AwsContext, name: &str) -> Result<String> {
    let out = client(ctx)
        .detect_stack_drift()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "DetectStackDrift", name, e))?;
    Ok(out
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string())
}

/// Where a drift detection is: its status (`DETECTION_IN_PROGRESS`, `_COMPLETE`,
/// `_FAILED`), the stack's drift status (`DRIFTED`, `IN_SYNC`, ...) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftDetection {
    pub detection_status: String,
    pub stack_drift_status: Option<String>,
    pub reason: Option<String>,
}

pub async fn drift_detection_status(
    ctx: &AwsContext,
    name: &str,
    id: &str,
) -> Result<DriftDetection> {
    let out = client(ctx)
        .describe_stack_drift_detection_status()
        .stack_drift_detection_id(id)
        .send()
        .await
        .map_err(|e| {
            ctx.error(
                "cloudformation",
                "DescribeStackDriftDetectionStatus",
                name,
                e,
            )
        })?;
    Ok(DriftDetection {
        detection_status: out
            .detection_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        stack_drift_status: out.stack_drift_status().map(|s| s.as_str().to_string()),
        reason: out.detection_status_reason().map(str::to_string),
    })
}

/// The last drift detection's result for every resource of the stack (all pages).
pub async fn resource_drifts(
    ctx: &AwsContext,
    name: &str,
) -> Result<Vec<aws_sdk_cloudformation::types::StackResourceDrift>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client(ctx)
            .describe_stack_resource_drifts()
            .stack_name(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ctx.error("cloudformation", "DescribeStackResourceDrifts", name, e))?;
        token = page.next_token().map(str::to_string);
        out.extend(page.stack_resource_drifts.unwrap_or_default());
        if token.is_none() {
            return Ok(out);
        }
    }
}
