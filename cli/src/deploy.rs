//! The deploy runbook: from a built artifact and a rendered template to a stack that
//! runs it, with the live alias on the version it published and a record of it all.
//!
//! A deploy of several capabilities runs in three phases, so one confirmation covers
//! them all and nothing executes before every preview is shown:
//! 1. [`prepare`] (parallel): upload the artifact, render, read the stack once and act
//!    on its state, decide "up to date" (at most two CloudFormation calls), else diff
//!    and create a change set, and apply the data-loss guard;
//! 2. the caller shows the previews and asks (production) for a yes;
//! 3. [`execute`] (parallel): create the stack or execute the change set, follow its
//!    events, point the `live` alias at the new version, and record the deployment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability as CfnCapability, Stack};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::{AwsContext, CallerIdentity};
use crate::build::Artifact;
use crate::config::{Capability, EnvConfig};
use crate::diff::{self, TemplateDiff};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::record::{self, Deployment};
use crate::render::{hex, Rendered, LIVE_ALIAS};
use crate::stack::{self, ChangeSet, Failure, StackState};

/// The Sid of the permission that lets the capability's HTTP API invoke the live alias.
pub const INVOKE_PERMISSION_SID: &str = "stackpro-api-invoke";

/// How long a deploy follows a stack operation before it stops watching.
const WATCH_LIMIT: Duration = Duration::from_secs(60 * 60);

/// What the person asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub allow_replace: bool,
    /// Fail instead of waiting for a busy stack; start a canary and return.
    pub no_wait: bool,
    /// Shift a share of traffic to the new version first, watch, then promote.
    pub canary: Option<crate::release::CanarySpec>,
    /// What the deployment record calls this deploy (`deploy`, `rollback-full`).
    pub record_kind: Option<String>,
}

/// Everything the capabilities of one deploy share.
pub struct Shared {
    pub ctx: AwsContext,
    pub env: EnvConfig,
    pub identity: CallerIdentity,
    pub bucket: String,
    pub git_commit: Option<String>,
    pub options: Options,
    pub progress: Progress,
}

/// The artifact bucket of an environment: `stackpro-artifacts-<env>-<account>-<region>`
/// (what the bootstrap stack creates).
pub fn artifact_bucket(env: &str, account: &str, region: &str) -> String {
    format!("stackpro-artifacts-{env}-{account}-{region}")
}

/// The content-addressed key of an artifact: the binary's hash names it.
pub fn artifact_key(artifact: &Artifact) -> String {
    format!(
        "artifacts/{}/{}.zip",
        artifact.capability, artifact.binary_sha256
    )
}

/// What phase 1 decided for one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

/// The outcome of phase 1 for one capability.
pub struct Plan {
    pub capability: String,
    pub stack_name: String,
    pub rendered: Rendered,
    pub artifact: Artifact,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub fingerprint: String,
    /// Lambda's CodeSha256 of the stored zip: what the published version must run.
    pub code_sha256: String,
    pub decision: Decision,
    pub diff: TemplateDiff,
    pub change_set: Option<ChangeSet>,
    /// The stack as read (after any waiting or recreating), `None` when there is none.
    pub stack: Option<Stack>,
    pub previous: Option<Deployment>,
    /// Said to the person about the stack's state (recreated, waited).
    pub notes: Vec<String>,
    /// Why the guard refused, naming the resources.
    pub refusal: Option<String>,
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

/// Uploads the artifact unless its content-addressed key is already there; returns the
/// key, the `CodeSha256` of the stored zip (kept in the object's metadata, so a
/// rebuilt zip of the same binary deploys the zip already stored), and whether it was
/// uploaded now.
pub async fn upload(shared: &Shared, artifact: &Artifact) -> Result<(String, String, bool)> {
    let s3 = aws_sdk_s3::Client::new(&shared.ctx.config);
    let key = artifact_key(artifact);
    let target = format!("s3://{}/{key}", shared.bucket);
    match s3
        .head_object()
        .bucket(&shared.bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(head) => {
            if let Some(sha) = head.metadata().and_then(|m| m.get("code-sha256")) {
                return Ok((key, sha.clone(), false));
            }
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 404) => {}
        Err(err) => return Err(shared.ctx.error("s3", "HeadObject", &target, err)),
    }
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&artifact.zip)
        .await
        .map_err(|e| Error::Io {
            action: "read",
            path: artifact.zip.clone(),
            source: std::io::Error::other(e),
        })?;
    match s3
        .put_object()
        .bucket(&shared.bucket)
        .key(&key)
        .body(body)
        .content_type("application/zip")
        .metadata("code-sha256", &artifact.code_sha256)
        .metadata("binary-sha256", &artifact.binary_sha256)
        .send()
        .await
    {
        Ok(_) => Ok((key, artifact.code_sha256.clone(), true)),
        Err(err)
            if err
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                == Some("NoSuchBucket") =>
        {
            Err(Error::Config {
                message: format!(
                    "the artifact bucket {} of environment {} does not exist",
                    shared.bucket, shared.env.name
                ),
                help: Some(format!(
                    "run `stackpro bootstrap --env {}` once to create it",
                    shared.env.name
                )),
            })
        }
        Err(err) => Err(shared.ctx.error("s3", "PutObject", &target, err)),
    }
}

/// Checks once that the environment's artifact bucket exists, so a missing bootstrap is
/// one clear error instead of one per capability.
pub async fn check_bucket(ctx: &AwsContext, env: &str, bucket: &str) -> Result<()> {
    let s3 = aws_sdk_s3::Client::new(&ctx.config);
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err)
            if err.as_service_error().is_some_and(|e| e.is_not_found())
                || err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Err(Error::Config {
                message: format!(
                    "the artifact bucket {bucket} of environment {env} does not exist"
                ),
                help: Some(format!(
                    "run `stackpro bootstrap --env {env}` once to create it"
                )),
            })
        }
        Err(err) => Err(ctx.error("s3", "HeadBucket", bucket, err)),
    }
}

/// Phase 1 for one capability: everything up to a decision, nothing executed.
pub async fn prepare(
    shared: Arc<Shared>,
    capability: Capability,
    rendered: Rendered,
    artifact: Artifact,
) -> Result<Plan> {
    let cap = capability.name.as_str();
    let p = &shared.progress;
    let ctx = &shared.ctx;
    let cfn = aws_sdk_cloudformation::Client::new(&ctx.config);
    let name = rendered.stack_name.clone();

    // Package: the zip goes to its content-addressed key (once).
    let (key, code_sha256, uploaded) = upload(&shared, &artifact).await?;
    p.step(
        cap,
        &format!(
            "artifact {} {} ({} bytes)",
            &artifact.binary_sha256[..12.min(artifact.binary_sha256.len())],
            if uploaded {
                "uploaded"
            } else {
                "already stored"
            },
            artifact.zip_bytes
        ),
    );
    let params: BTreeMap<String, String> = [
        ("ArtifactBucket", shared.bucket.clone()),
        ("ArtifactKey", key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let tags = stack_tags(&shared.env, cap);
    let fingerprint = fingerprint(&rendered.template, &params, &tags);

    // Read the stack once and act on its state.
    let mut notes = Vec::new();
    let mut existing = stack::describe(ctx, &cfn, &name).await?;
    loop {
        match stack::classify(
            existing.as_ref().and_then(|s| s.stack_status()),
            cap,
            &shared.env.name,
        ) {
            StackState::Missing | StackState::Ready(_) => break,
            StackState::InProgress(status) if shared.options.no_wait => {
                return Err(Error::Stack {
                    stack: name,
                    message: format!("is {status}: another operation is running"),
                    help: Some(format!(
                        "wait for it to end (`stackpro status {cap} --env {}`), or run deploy without --no-wait to wait for it",
                        shared.env.name
                    )),
                });
            }
            StackState::InProgress(status) => {
                p.step(cap, &format!("waiting: the stack is {status}"));
                notes.push(format!("waited for {status} to end"));
                existing = Some(stack::wait_settled(ctx, &cfn, &name, WATCH_LIMIT).await?);
            }
            StackState::RecreateEmpty(status) => {
                p.step(
                    cap,
                    &format!("the stack is {status} and holds no resources: deleting it to create it again"),
                );
                notes.push(format!(
                    "deleted the empty {status} stack to create it again"
                ));
                // A failed first create keeps its termination protection, which would
                // refuse the delete forever; the stack holds nothing it protects.
                if existing
                    .as_ref()
                    .and_then(|s| s.enable_termination_protection())
                    == Some(true)
                {
                    cfn.update_termination_protection()
                        .stack_name(&name)
                        .enable_termination_protection(false)
                        .send()
                        .await
                        .map_err(|e| {
                            ctx.error("cloudformation", "UpdateTerminationProtection", &name, e)
                        })?;
                    notes.push("turned termination protection off on the empty stack to delete it (it is set again at create)".into());
                }
                cfn.delete_stack()
                    .stack_name(&name)
                    .send()
                    .await
                    .map_err(|e| ctx.error("cloudformation", "DeleteStack", &name, e))?;
                let settled = stack::wait_settled(ctx, &cfn, &name, WATCH_LIMIT).await;
                existing = match settled {
                    Ok(s)
                        if s.stack_status()
                            == Some(
                                &aws_sdk_cloudformation::types::StackStatus::DeleteComplete,
                            ) =>
                    {
                        None
                    }
                    Ok(s) => Some(s),
                    // Gone entirely: DescribeStacks by name no longer finds it.
                    Err(Error::Aws { detail, .. }) if detail.contains("does not exist") => None,
                    Err(e) => return Err(e),
                };
            }
            StackState::Stuck { status, help } => {
                return Err(Error::Stack {
                    stack: name,
                    message: format!("is {status}: no update can start from there"),
                    help: Some(help),
                });
            }
        }
    }

    let previous = record::latest(ctx, &shared.env.name, cap).await?;
    let mut plan = Plan {
        capability: cap.to_string(),
        stack_name: name.clone(),
        rendered,
        artifact,
        params,
        tags,
        fingerprint,
        code_sha256,
        decision: Decision::Create,
        diff: TemplateDiff::default(),
        change_set: None,
        stack: existing.clone(),
        previous,
        notes,
        refusal: None,
    };

    let Some(stack) = existing else {
        plan.diff = diff::diff(None, &plan.rendered.template_value, &plan.params);
        return Ok(plan);
    };

    // Up to date: the same template, parameters and tags (two CloudFormation calls in
    // all), and the alias where the last deployment put it.
    let deployed_params = stack::parameter_values(&stack);
    let deployed_tags = stack::tag_values(&stack);
    let deployed_template = stack::template_body(ctx, &cfn, &name).await?;
    if deployed_template == plan.rendered.template
        && deployed_params == plan.params
        && deployed_tags == plan.tags
    {
        // A live alias that splits traffic (a canary) is never "up to date".
        let alias = crate::release::live(ctx, &name)
            .await?
            .filter(|l| l.canary.is_none())
            .map(|l| l.version);
        plan.decision = match &plan.previous {
            Some(prev)
                if prev.is_release_of_fingerprint()
                    && prev.fingerprint == plan.fingerprint
                    && alias.as_deref() == Some(prev.function_version.as_str()) =>
            {
                Decision::UpToDate
            }
            _ => Decision::Reconcile,
        };
        return Ok(plan);
    }

    // The preview: our own diff of what is deployed against what is new, and the
    // change set's view.
    let deployed_value: serde_json::Value =
        serde_yaml::from_str(&deployed_template).unwrap_or(serde_json::Value::Null);
    plan.diff = diff::diff(
        Some((&deployed_value, &deployed_params)),
        &plan.rendered.template_value,
        &plan.params,
    );
    p.step(cap, "creating change set");
    let change_set = stack::create_change_set(
        ctx,
        &cfn,
        &name,
        &plan.rendered.template,
        &plan.params,
        &plan.tags,
    )
    .await?;
    // CloudFormation answers "no changes" by failing the change set (`empty`). A change
    // set that lists nothing while our own diff sees changes (a parameter-only change on
    // an emulator that lists only added and removed resources) is executed all the same.
    plan.decision = if change_set.empty {
        Decision::Reconcile
    } else if change_set.changes.is_empty() && plan.diff.is_empty() && deployed_tags == plan.tags {
        stack::delete_change_set(ctx, &cfn, &name, &change_set.id).await?;
        Decision::Reconcile
    } else {
        Decision::Update
    };

    // The data-loss guard: our diff or the change set says a stateful resource goes.
    let mut losses: Vec<String> = plan
        .diff
        .data_loss()
        .iter()
        .map(|r| {
            let how = if r.action == diff::Action::Remove {
                "removed".to_string()
            } else {
                let props: Vec<&str> = r
                    .properties
                    .iter()
                    .filter(|p| p.replaces)
                    .map(|p| p.path.as_str())
                    .collect();
                format!("replaced (create-only {})", props.join(", "))
            };
            format!("{} ({}) would be {how}", r.logical_id, r.resource_type)
        })
        .collect();
    for c in &change_set.changes {
        let replaced = matches!(c.replacement.as_deref(), Some("True") | Some("Conditional"));
        if diff::is_stateful(&c.resource_type)
            && (c.action == "Remove" || replaced)
            && !losses
                .iter()
                .any(|l| l.starts_with(&format!("{} ", c.logical_id)))
        {
            let how = if c.action == "Remove" {
                "removed".to_string()
            } else {
                format!(
                    "replaced (change set: Replacement {})",
                    c.replacement.as_deref().unwrap_or("?")
                )
            };
            losses.push(format!(
                "{} ({}) would be {how}",
                c.logical_id, c.resource_type
            ));
        }
    }
    if !losses.is_empty() && !shared.options.allow_replace {
        if !change_set.empty {
            // Best effort: the refusal stands even if the cleanup fails; say so.
            if let Err(err) = stack::delete_change_set(ctx, &cfn, &name, &change_set.id).await {
                plan.notes.push(format!(
                    "the refused change set {} could not be deleted ({}): delete it before anyone executes it",
                    change_set.name,
                    err.one_line()
                ));
            }
        }
        plan.decision = Decision::Refused;
        plan.refusal = Some(losses.join("; "));
    }
    plan.change_set = Some(change_set);
    Ok(plan)
}

/// What phase 3 did for one capability.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub capability: String,
    pub stack_name: String,
    pub decision: Decision,
    /// The stack's final status.
    pub status: String,
    pub success: bool,
    pub outputs: BTreeMap<String, String>,
    pub function_version: Option<String>,
    pub deployment: Option<i64>,
    pub duration_ms: u128,
    pub failures: Vec<Failure>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// What is known of a capability's outcome from its plan alone: nothing done yet.
    pub fn of(plan: &Plan) -> Self {
        Outcome {
            capability: plan.capability.clone(),
            stack_name: plan.stack_name.clone(),
            decision: plan.decision,
            status: plan
                .stack
                .as_ref()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "NONE".into()),
            success: false,
            outputs: BTreeMap::new(),
            function_version: None,
            deployment: None,
            duration_ms: 0,
            failures: Vec::new(),
            notes: plan.notes.clone(),
            canary: None,
            error: None,
        }
    }
}

/// Phase 3 for one capability: execute, follow, point the alias, record.
pub async fn execute(shared: Arc<Shared>, plan: Plan) -> Outcome {
    let start = Instant::now();
    let cap = plan.capability.clone();
    let mut outcome = Outcome {
        outputs: plan.stack.as_ref().map(stack::outputs).unwrap_or_default(),
        function_version: plan.previous.as_ref().map(|d| d.function_version.clone()),
        deployment: plan.previous.as_ref().and_then(|d| d.number),
        ..Outcome::of(&plan)
    };
    match run_plan(&shared, &plan, &mut outcome).await {
        Ok(()) => outcome.success = true,
        Err(err) => outcome.error = Some(err.one_line()),
    }
    outcome.duration_ms = start.elapsed().as_millis();
    let p = &shared.progress;
    let verdict = if outcome.decision == Decision::Refused {
        "REFUSED: the stack was not changed".to_string()
    } else if outcome.success {
        format!(
            "{} ({:.1} s)",
            describe(outcome.decision, &outcome.status),
            start.elapsed().as_secs_f64()
        )
    } else {
        let settled = outcome.status.ends_with("_COMPLETE") && !outcome.status.contains("ROLLBACK");
        if settled {
            // The stack is fine; what failed came after it (the release steps).
            format!("FAILED after the stack reached {}", outcome.status)
        } else {
            format!("FAILED: the stack is {}", outcome.status)
        }
    };
    p.finish(&cap, &verdict);
    p.json("result", Some(&cap), &outcome);
    outcome
}

/// A person's word for what happened.
pub fn describe(decision: Decision, status: &str) -> String {
    match decision {
        Decision::Create => format!("created ({status})"),
        Decision::Update => format!("updated ({status})"),
        Decision::UpToDate => "up to date".into(),
        Decision::Reconcile => "no stack changes; live alias and record checked".into(),
        Decision::Refused => "refused".into(),
        Decision::NotStarted => "not started".into(),
    }
}

async fn run_plan(shared: &Shared, plan: &Plan, outcome: &mut Outcome) -> Result<()> {
    let ctx = &shared.ctx;
    let p = &shared.progress;
    let cap = plan.capability.as_str();
    let name = plan.stack_name.as_str();
    let cfn = aws_sdk_cloudformation::Client::new(&ctx.config);

    let stack = match plan.decision {
        Decision::UpToDate | Decision::NotStarted => return Ok(()),
        Decision::Refused => {
            return Err(Error::Stack {
                stack: name.to_string(),
                message: format!(
                    "was not changed: {}",
                    plan.refusal.as_deref().unwrap_or("a stateful resource would be lost")
                ),
                help: Some(
                    "pass --allow-replace if losing that data is intended (tables and buckets are retained, not deleted, \
                     but a new empty one takes their place)"
                        .into(),
                ),
            })
        }
        Decision::Reconcile => plan.stack.clone().expect("reconcile has a stack"),
        Decision::Create => {
            p.step(cap, "creating stack");
            cfn.create_stack()
                .stack_name(name)
                .template_body(&plan.rendered.template)
                .set_parameters(Some(stack::parameters(&plan.params)))
                .set_tags(Some(stack::tags(&plan.tags)))
                .capabilities(CfnCapability::CapabilityIam)
                .enable_termination_protection(shared.env.termination_protection)
                .send()
                .await
                .map_err(|e| ctx.error("cloudformation", "CreateStack", name, e))?;
            follow(shared, plan, stack::Baseline::everything(), outcome).await?
        }
        Decision::Update => {
            let change_set = plan.change_set.as_ref().expect("an update has a change set");
            let baseline = stack::Baseline::read(ctx, &cfn, name).await?;
            p.step(cap, "executing change set");
            cfn.execute_change_set()
                .stack_name(name)
                .change_set_name(&change_set.id)
                .send()
                .await
                .map_err(|e| ctx.error("cloudformation", "ExecuteChangeSet", name, e))?;
            follow(shared, plan, baseline, outcome).await?
        }
    };
    outcome.status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    outcome.outputs = stack::outputs(&stack);

    // Termination protection follows the environment; an emulator without the API
    // only earns a warning, the deploy itself succeeded.
    if stack.enable_termination_protection() != Some(shared.env.termination_protection)
        && plan.decision != Decision::Create
    {
        if let Err(err) = cfn
            .update_termination_protection()
            .stack_name(name)
            .enable_termination_protection(shared.env.termination_protection)
            .send()
            .await
        {
            outcome.notes.push(format!(
                "termination protection could not be set to {}: {}",
                shared.env.termination_protection,
                crate::aws::error_chain(&err)
            ));
        }
    }

    // Keep the template by its hash, so a later `rollback --full` can deploy it again.
    store_template(shared, plan).await?;

    // A version of exactly the code this deploy shipped (or the version an earlier
    // deployment of this very fingerprint published), the API's permission on `live`,
    // then `live` on the version: at once, or through a canary.
    let version = match reusable_version(shared, plan).await? {
        Some(v) => v,
        None => {
            p.step(cap, "publishing a version");
            publish_version(ctx, name, &plan.code_sha256, &plan.fingerprint).await?
        }
    };
    // The API's invoke permission lives on the alias: set once the alias exists.
    let source_arn = outcome.outputs.get("ApiId").map(|api_id| {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/*/*",
            partition(&ctx.region),
            ctx.region,
            shared.identity.account
        )
    });
    let mut deployment = Deployment {
        time: record::now_rfc3339(),
        actor: shared.identity.arn.clone(),
        git_commit: shared.git_commit.clone(),
        artifact_sha256: plan.artifact.binary_sha256.clone(),
        artifact_key: plan.params.get("ArtifactKey").cloned().unwrap_or_default(),
        code_sha256: plan.code_sha256.clone(),
        template_sha256: plan.rendered.template_sha256(),
        fingerprint: plan.fingerprint.clone(),
        function_version: version.clone(),
        kind: shared
            .options
            .record_kind
            .clone()
            .unwrap_or_else(|| "deploy".into()),
        number: None,
    };

    let live = crate::release::live(ctx, name).await?;
    // A canary needs a live version to compare with, other than the new one.
    let canary = shared
        .options
        .canary
        .filter(|_| live.as_ref().is_some_and(|l| l.version != version));
    if shared.options.canary.is_some() && canary.is_none() {
        outcome.notes.push(match &live {
            None => "no live version yet: the canary was skipped and this first version takes all traffic".into(),
            Some(_) => format!("version {version} is already live: no canary needed"),
        });
    }
    if let (Some(spec), Some(live)) = (canary, live.as_ref()) {
        let stable = live.version.clone();
        p.step(
            cap,
            &format!(
                "canary: {:.0}% of traffic on version {version}, the rest on {stable}",
                spec.weight * 100.0
            ),
        );
        crate::release::start_canary(ctx, name, &stable, &version, spec.weight).await?;
        if let Some(arn) = &source_arn {
            ensure_invoke_permission(ctx, name, arn).await?;
        }
        outcome.canary = Some(CanaryState {
            stable: stable.clone(),
            canary: version.clone(),
            weight: spec.weight,
            verdict: None,
        });
        // Recorded before it is watched, so `status`, `promote` and `rollback` know it
        // even if this run is interrupted.
        deployment.kind = "canary".into();
        outcome.function_version = Some(stable.clone());
        outcome.deployment = Some(record::write(ctx, &shared.env.name, cap, &deployment).await?);
        if shared.options.no_wait {
            outcome.notes.push(format!(
                "canary started; end it with `stackpro promote {cap} --env {env}` or `stackpro rollback {cap} --env {env}`",
                env = shared.env.name
            ));
            p.json("outputs", Some(cap), &outcome.outputs);
            return Ok(());
        }
        let watched = crate::release::watch_canary(
            ctx,
            name,
            spec.period,
            crate::release::canary_poll(spec.period),
            &|left| {
                p.step(
                    cap,
                    &format!("canary: watching alarms, {} s left", left.as_secs()),
                )
            },
        )
        .await;
        let verdict = match watched {
            Ok(verdict) => verdict,
            Err(err) => {
                // A canary nobody watches is not left splitting traffic.
                let back = point_alias(ctx, name, &stable).await;
                deployment.kind = "canary-rolled-back".into();
                deployment.function_version = stable.clone();
                let _ = record::write(ctx, &shared.env.name, cap, &deployment).await;
                let state = if back.is_ok() {
                    format!("version {stable} serves all traffic again")
                } else {
                    format!(
                        "traffic is STILL SPLIT between {stable} and {version}: run `stackpro rollback {cap} --env {}`",
                        shared.env.name
                    )
                };
                return Err(Error::Stack {
                    stack: name.to_string(),
                    message: format!(
                        "canary of version {version} could not be watched ({}); {state}",
                        err.one_line()
                    ),
                    help: Some("deploy again once the alarms can be read".into()),
                });
            }
        };
        if let Some(state) = outcome.canary.as_mut() {
            state.verdict = Some(verdict.clone());
        }
        if let crate::release::CanaryVerdict::Alarm { alarms } = verdict {
            p.step(
                cap,
                &format!(
                    "canary: {} in ALARM, rolling back to version {stable}",
                    alarms.join(", ")
                ),
            );
            point_alias(ctx, name, &stable).await?;
            deployment.kind = "canary-rolled-back".into();
            deployment.function_version = stable.clone();
            outcome.function_version = Some(stable.clone());
            outcome.deployment =
                Some(record::write(ctx, &shared.env.name, cap, &deployment).await?);
            return Err(Error::Stack {
                stack: name.to_string(),
                message: format!(
                    "canary of version {version} rolled back: alarm {} fired; version {stable} serves all traffic again",
                    alarms.join(", ")
                ),
                help: Some(format!(
                    "look at the alarm and the logs (`stackpro tail {cap} --env {}`), fix, and deploy again",
                    shared.env.name
                )),
            });
        }
        p.step(cap, &format!("canary healthy: promoting version {version}"));
        deployment.kind = "deploy".into();
        deployment.function_version = version.clone();
    }

    p.step(cap, &format!("pointing {LIVE_ALIAS} at version {version}"));
    point_alias(ctx, name, &version).await?;
    if let Some(arn) = &source_arn {
        ensure_invoke_permission(ctx, name, arn).await?;
    }
    outcome.function_version = Some(version.clone());
    let unchanged = plan.previous.as_ref().is_some_and(|prev| {
        prev.fingerprint == deployment.fingerprint
            && prev.function_version == deployment.function_version
            && prev.kind == deployment.kind
    });
    if !unchanged {
        outcome.deployment = Some(record::write(ctx, &shared.env.name, cap, &deployment).await?);
    }
    p.json("outputs", Some(cap), &outcome.outputs);
    Ok(())
}

/// The version an earlier deployment of exactly this fingerprint and code published,
/// when nothing in the stack changed (after a fast rollback, the next deploy goes back
/// to it rather than publishing a copy).
async fn reusable_version(shared: &Shared, plan: &Plan) -> Result<Option<String>> {
    if plan.decision != Decision::Reconcile {
        return Ok(None);
    }
    let Some(prev) = &plan.previous else {
        return Ok(None);
    };
    if prev.is_release_of_fingerprint()
        && prev.fingerprint == plan.fingerprint
        && prev.code_sha256 == plan.code_sha256
    {
        return Ok(Some(prev.function_version.clone()));
    }
    let history = record::history(&shared.ctx, &shared.env.name, &plan.capability).await?;
    Ok(history
        .iter()
        .rev()
        .find(|d| {
            d.is_release_of_fingerprint()
                && d.fingerprint == plan.fingerprint
                && d.code_sha256 == plan.code_sha256
        })
        .map(|d| d.function_version.clone()))
}

/// `templates/<capability>/<template sha256>.yaml` in the artifact bucket.
pub fn template_key(capability: &str, template_sha256: &str) -> String {
    format!("templates/{capability}/{template_sha256}.yaml")
}

/// Stores the deployed template by its hash (once).
async fn store_template(shared: &Shared, plan: &Plan) -> Result<()> {
    let s3 = aws_sdk_s3::Client::new(&shared.ctx.config);
    let key = template_key(&plan.capability, &plan.rendered.template_sha256());
    if s3
        .head_object()
        .bucket(&shared.bucket)
        .key(&key)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    s3.put_object()
        .bucket(&shared.bucket)
        .key(&key)
        .body(plan.rendered.template.clone().into_bytes().into())
        .content_type("application/yaml")
        .send()
        .await
        .map_err(|e| {
            shared.ctx.error(
                "s3",
                "PutObject",
                &format!("s3://{}/{key}", shared.bucket),
                e,
            )
        })?;
    Ok(())
}

/// A canary's traffic split and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryState {
    pub stable: String,
    pub canary: String,
    pub weight: f64,
    pub verdict: Option<crate::release::CanaryVerdict>,
}

/// Follows the stack operation to its end; a failed or rolled-back end is an error
/// naming every failed resource.
async fn follow(
    shared: &Shared,
    plan: &Plan,
    baseline: stack::Baseline,
    outcome: &mut Outcome,
) -> Result<Stack> {
    let cap = plan.capability.as_str();
    let p = &shared.progress;
    let cfn = aws_sdk_cloudformation::Client::new(&shared.ctx.config);
    p.start(cap, plan.rendered.resource_count(), "IN_PROGRESS");
    let watched = stack::watch(
        &shared.ctx,
        &cfn,
        &plan.stack_name,
        baseline,
        WATCH_LIMIT,
        &|e| p.event(cap, e),
    )
    .await?;
    let status = watched
        .stack
        .stack_status()
        .cloned()
        .unwrap_or(aws_sdk_cloudformation::types::StackStatus::CreateComplete);
    outcome.status = status.as_str().to_string();
    if stack::is_success(&status) {
        return Ok(watched.stack);
    }
    outcome.failures = stack::failures(&watched.events);
    let reasons = if outcome.failures.is_empty() {
        watched
            .stack
            .stack_status_reason()
            .unwrap_or("CloudFormation gave no reason")
            .to_string()
    } else {
        outcome
            .failures
            .iter()
            .map(|f| {
                format!(
                    "{} ({}) {}: {}",
                    f.logical_id, f.resource_type, f.status, f.reason
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err(Error::Stack {
        stack: plan.stack_name.clone(),
        message: format!("ended {status}: {reasons}"),
        help: Some(match status {
            aws_sdk_cloudformation::types::StackStatus::UpdateRollbackFailed => format!(
                "run `stackpro rollback {cap} --env {}` to continue the rollback",
                shared.env.name
            ),
            _ => "fix the cause above and deploy again; the stack is back on its previous template"
                .into(),
        }),
    })
}

/// Publishes a version of the function's current code and configuration. Lambda
/// refuses (precondition) if the code is not the zip this deploy uploaded, and returns
/// the existing version when nothing changed since the last one.
pub async fn publish_version(
    ctx: &AwsContext,
    function: &str,
    code_sha256: &str,
    fingerprint: &str,
) -> Result<String> {
    let lambda = aws_sdk_lambda::Client::new(&ctx.config);
    let out = lambda
        .publish_version()
        .function_name(function)
        .code_sha256(code_sha256)
        .description(format!("stackpro deploy {}", &fingerprint[..fingerprint.len().min(16)]))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|e| e.is_precondition_failed_exception())
            {
                Error::Stack {
                    stack: function.to_string(),
                    message: "runs other code than the artifact this deploy uploaded (CodeSha256 differs)".into(),
                    help: Some("another deploy or a manual change updated the function meanwhile; deploy again".into()),
                }
            } else {
                ctx.error("lambda", "PublishVersion", function, e)
            }
        })?;
    out.version().map(str::to_string).ok_or_else(|| Error::Aws {
        operation: "PublishVersion",
        target: function.to_string(),
        detail: "the answer names no version".into(),
    })
}

/// Points the live alias at `version` (creating it the first time), with all traffic.
pub async fn point_alias(ctx: &AwsContext, function: &str, version: &str) -> Result<()> {
    let lambda = aws_sdk_lambda::Client::new(&ctx.config);
    let target = format!("{function}:{LIVE_ALIAS}");
    match lambda
        .get_alias()
        .function_name(function)
        .name(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(alias) => {
            let weighted = alias
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .is_some_and(|w| !w.is_empty());
            if alias.function_version() == Some(version) && !weighted {
                return Ok(());
            }
            lambda
                .update_alias()
                .function_name(function)
                .name(LIVE_ALIAS)
                .function_version(version)
                .routing_config(aws_sdk_lambda::types::AliasRoutingConfiguration::builder().build())
                .send()
                .await
                .map_err(|e| ctx.error("lambda", "UpdateAlias", &target, e))?;
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            lambda
                .create_alias()
                .function_name(function)
                .name(LIVE_ALIAS)
                .function_version(version)
                .description("stackpro: the version the API serves")
                .send()
                .await
                .map_err(|e| ctx.error("lambda", "CreateAlias", &target, e))?;
        }
        Err(err) => return Err(ctx.error("lambda", "GetAlias", &target, err)),
    }
    Ok(())
}

/// Makes sure the API may invoke the live alias, from exactly `source_arn`.
async fn ensure_invoke_permission(
    ctx: &AwsContext,
    function: &str,
    source_arn: &str,
) -> Result<()> {
    let lambda = aws_sdk_lambda::Client::new(&ctx.config);
    let target = format!("{function}:{LIVE_ALIAS}");
    let current = match lambda
        .get_policy()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(out) => out.policy().map(str::to_string),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(err) => return Err(ctx.error("lambda", "GetPolicy", &target, err)),
    };
    let statement = current
        .as_deref()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| {
            p["Statement"]
                .as_array()?
                .iter()
                .find(|s| s["Sid"] == INVOKE_PERMISSION_SID)
                .cloned()
        });
    if let Some(statement) = &statement {
        if statement.to_string().contains(source_arn) {
            return Ok(());
        }
        lambda
            .remove_permission()
            .function_name(function)
            .qualifier(LIVE_ALIAS)
            .statement_id(INVOKE_PERMISSION_SID)
            .send()
            .await
            .map_err(|e| ctx.error("lambda", "RemovePermission", &target, e))?;
    }
    lambda
        .add_permission()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .statement_id(INVOKE_PERMISSION_SID)
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(source_arn)
        .send()
        .await
        .map_err(|e| ctx.error("lambda", "AddPermission", &target, e))?;
    Ok(())
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_covers_template_parameters_and_tags() {
        let p = |v: &str| BTreeMap::from([("ArtifactKey".to_string(), v.to_string())]);
        let t = BTreeMap::from([("env".to_string(), "sandbox".to_string())]);
        let base = fingerprint("Resources: {}", &p("a"), &t);
        assert_eq!(base, fingerprint("Resources: {}", &p("a"), &t));
        assert_ne!(base, fingerprint("Resources: {} ", &p("a"), &t));
        assert_ne!(base, fingerprint("Resources: {}", &p("b"), &t));
        assert_ne!(
            base,
            fingerprint("Resources: {}", &p("a"), &BTreeMap::new())
        );
        // Keys and values are separated: moving a character between them changes it.
        let a = BTreeMap::from([("ab".to_string(), "c".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "bc".to_string())]);
        assert_ne!(fingerprint("", &a, &t), fingerprint("", &b, &t));
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
