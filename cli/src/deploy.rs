//! The deploy runbook: from a built artifact and a rendered template to a stack that
//! runs it, with the live alias on the version it published and a record of it all.
//!
//! It reads top-down; the step numbers are those of `docs/ARCHITECTURE.md` ("deploy").
//! Steps 1 to 3 (configuration, build and render, identity and artifact bucket) and
//! 8 (the previews and the one confirmation) are in [`crate::commands::deploy`]; the
//! rest, per capability, here:
//!
//! 4. [`read`]: every read the decision needs, sent together: the stack, its template,
//!    the live alias, the last deployment record, the stored artifact;
//! 5. [`package`]: upload the zip unless its content-addressed key is stored;
//! 6. [`settle`]: act on the stack's state (wait, recreate an empty stack, refuse);
//! 7. [`decide`]: the [`planner`] decides (up to date, reconcile, or a change set and
//!    the data-loss guard);
//! 9. [`execute`]: create the stack or execute the change set, and follow its events;
//! 10. [`release`]: store the template, publish the version, point `live` (at once
//!     or through a canary) with the API's invoke permission;
//! 11. record the deployment and report.
//!
//! AWS is reached only through [`crate::aws`] and the modules over it ([`stack`],
//! [`release`](crate::release), [`record`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Stack, StackStatus};
use serde::Serialize;

use crate::aws::cloudformation::{self as cfn, StackInput};
use crate::aws::{s3, AwsContext, CallerIdentity};
use crate::build::Artifact;
use crate::config::{Capability, EnvConfig};
use crate::diff::TemplateDiff;
use crate::error::{Error, Result};
use crate::planner::{self, Deployed, Desired, Early};
use crate::progress::Progress;
use crate::record::{self, Deployment};
use crate::release::{self, Live};
use crate::render::{Rendered, LIVE_ALIAS};
use crate::stack::{self, ChangeSet, Failure, StackState};

pub use crate::planner::{fingerprint, stack_tags, Decision};

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
    pub record_kind: Option<crate::record::DeploymentKind>,
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

/// `templates/<capability>/<template sha256>.yaml` in the artifact bucket.
pub fn template_key(capability: &str, template_sha256: &str) -> String {
    format!("templates/{capability}/{template_sha256}.yaml")
}

/// The outcome of steps 4 to 7 for one capability.
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
    /// The live alias as read in step 4.
    pub live: Option<Live>,
    pub previous: Option<Deployment>,
    /// Said to the person about the stack's state (recreated, waited).
    pub notes: Vec<String>,
    /// Why the guard refused, naming the resources.
    pub refusal: Option<String>,
    /// The stateful resources this plan removes or replaces (allowed only with
    /// `--allow-replace`; otherwise the plan is refused).
    pub losses: Vec<planner::Loss>,
    /// The stack policy the stack carries (`planner::stack_policy`).
    pub policy: String,
    /// Stateful resources of a stack to create that exist already, outside any stack
    /// (kept by a destroy): imported with their data before the rest is created.
    pub adopt: Vec<planner::Importable>,
}

/// Checks once that the environment's artifact bucket exists, so a missing bootstrap is
/// one clear error instead of one per capability.
pub async fn check_bucket(ctx: &AwsContext, env: &str, bucket: &str) -> Result<()> {
    if s3::bucket_exists(ctx, bucket).await? {
        return Ok(());
    }
    Err(missing_bucket(env, bucket))
}

fn missing_bucket(env: &str, bucket: &str) -> Error {
    Error::Config {
        message: format!("the artifact bucket {bucket} of environment {env} does not exist"),
        help: Some(format!(
            "run `stackpro bootstrap --env {env}` once to create it"
        )),
    }
}

/// Steps 4 to 7 for one capability: everything up to a decision, nothing executed.
pub async fn prepare(
    shared: Arc<Shared>,
    capability: Capability,
    rendered: Rendered,
    artifact: Artifact,
) -> Result<Plan> {
    let reads = read(&shared, &capability.name, &rendered.stack_name, &artifact).await?;
    plan(&shared, reads, capability, rendered, artifact).await
}

/// Everything step 4 reads.
#[derive(Debug, Clone)]
pub struct Reads {
    pub stack: Option<Stack>,
    pub template: Option<String>,
    pub live: Option<Live>,
    pub previous: Option<Deployment>,
    /// The stored artifact's metadata, `None` when it is not stored yet.
    pub stored: Option<HashMap<String, String>>,
}

/// Step 4: the reads a decision needs, independent of each other, sent together (one
/// round trip).
pub async fn read(shared: &Shared, cap: &str, name: &str, artifact: &Artifact) -> Result<Reads> {
    let ctx = &shared.ctx;
    let key = artifact_key(artifact);
    let (stack, template, live, previous, stored) = tokio::try_join!(
        cfn::describe_stack(ctx, name),
        cfn::get_template(ctx, name),
        release::live(ctx, name),
        record::latest(ctx, &shared.env.name, cap),
        s3::object_metadata(ctx, &shared.bucket, &key),
    )?;
    Ok(Reads {
        stack,
        template,
        live,
        previous,
        stored,
    })
}

/// Steps 5 to 7 on what step 4 read.
pub async fn plan(
    shared: &Shared,
    reads: Reads,
    capability: Capability,
    rendered: Rendered,
    artifact: Artifact,
) -> Result<Plan> {
    let cap = capability.name.as_str();
    // 5. Package: the zip goes to its content-addressed key (once).
    let (key, code_sha256) = package(shared, &artifact, reads.stored.as_ref()).await?;
    let params: BTreeMap<String, String> = [
        ("ArtifactBucket".to_string(), shared.bucket.clone()),
        ("ArtifactKey".to_string(), key),
    ]
    .into();
    let tags = stack_tags(&shared.env, cap);
    let fingerprint = fingerprint(&rendered.template, &params, &tags);
    // After a code-only deploy, CloudFormation's view of the function is behind.
    let behind = reads
        .stack
        .as_ref()
        .and_then(|s| planner::behind_note(reads.previous.as_ref(), &stack::parameter_values(s)));
    let mut plan = Plan {
        capability: cap.to_string(),
        stack_name: rendered.stack_name.clone(),
        rendered,
        artifact,
        params,
        tags,
        fingerprint,
        code_sha256,
        decision: Decision::Create,
        diff: TemplateDiff::default(),
        change_set: None,
        stack: None,
        live: reads.live,
        previous: reads.previous,
        notes: Vec::new(),
        refusal: None,
        losses: Vec::new(),
        policy: planner::stack_policy(),
        adopt: Vec::new(),
    };
    plan.notes.extend(behind);
    // 6. The stack's state.
    let (stack, template) = settle(shared, &mut plan, reads.stack, reads.template).await?;
    plan.stack = stack;
    // 7. The decision; a create first looks for what an earlier stack left behind.
    decide(shared, &mut plan, template).await?;
    if plan.decision == Decision::Create {
        plan.adopt = retained(shared, &plan).await?;
        plan.notes.extend(plan.adopt.iter().map(|a| {
            format!("{a} exists outside any stack (kept by an earlier destroy, or made by hand): it is imported with its data, then the rest is created")
        }));
    }
    Ok(plan)
}

/// The importable resources of the template that exist already, looked up together.
async fn retained(shared: &Shared, plan: &Plan) -> Result<Vec<planner::Importable>> {
    let ctx = &shared.ctx;
    let candidates = planner::importable(
        &plan.rendered.template_value,
        &shared.identity.account,
        &ctx.region,
        &plan.stack_name,
    );
    let mut lookups = tokio::task::JoinSet::new();
    for (i, c) in candidates.iter().enumerate() {
        let (ctx, ty, name) = (ctx.clone(), c.resource_type.clone(), c.identifier.1.clone());
        lookups.spawn(async move {
            let exists = match ty.as_str() {
                "AWS::DynamoDB::Table" => crate::aws::dynamodb::table_exists(&ctx, &name).await,
                "AWS::S3::Bucket" => s3::bucket_exists(&ctx, &name).await,
                _ => crate::aws::logs::log_group_exists(&ctx, &name).await,
            };
            (i, exists)
        });
    }
    let mut exists = vec![false; candidates.len()];
    for (i, found) in lookups.join_all().await {
        exists[i] = found?;
    }
    Ok(candidates
        .into_iter()
        .zip(exists)
        .filter_map(|(c, exists)| exists.then_some(c))
        .collect())
}

/// Step 5: uploads the artifact unless its key is stored; returns the key and the
/// `CodeSha256` of the stored zip (kept in the object's metadata, so a rebuilt zip of
/// the same binary deploys the zip already stored).
pub async fn package(
    shared: &Shared,
    artifact: &Artifact,
    stored: Option<&HashMap<String, String>>,
) -> Result<(String, String)> {
    let key = artifact_key(artifact);
    let short = &artifact.binary_sha256[..12.min(artifact.binary_sha256.len())];
    let step = |what: &str| {
        shared.progress.step(
            &artifact.capability,
            &format!("artifact {short} {what} ({} bytes)", artifact.zip_bytes),
        )
    };
    if let Some(sha) = stored.and_then(|m| m.get("code-sha256")) {
        step("already stored");
        return Ok((key, sha.clone()));
    }
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&artifact.zip)
        .await
        .map_err(|e| Error::Io {
            action: "read",
            path: artifact.zip.clone(),
            source: std::io::Error::other(e),
        })?;
    let metadata = [
        ("code-sha256", artifact.code_sha256.as_str()),
        ("binary-sha256", artifact.binary_sha256.as_str()),
    ];
    match s3::put_object(
        &shared.ctx,
        &shared.bucket,
        &key,
        body,
        "application/zip",
        &metadata,
    )
    .await?
    {
        s3::Put::Stored => {
            step("uploaded");
            Ok((key, artifact.code_sha256.clone()))
        }
        s3::Put::NoSuchBucket => Err(missing_bucket(&shared.env.name, &shared.bucket)),
    }
}

/// Step 6: waits for a running operation (or refuses with `--no-wait`), deletes an
/// empty `ROLLBACK_COMPLETE`/`REVIEW_IN_PROGRESS` stack to create it again, refuses a
/// stuck one naming the way out. Returns the stack and its template as they are now.
async fn settle(
    shared: &Shared,
    plan: &mut Plan,
    mut stack: Option<Stack>,
    mut template: Option<String>,
) -> Result<(Option<Stack>, Option<String>)> {
    let (cap, name) = (plan.capability.clone(), plan.stack_name.clone());
    let (cap, name, env) = (cap.as_str(), name.as_str(), shared.env.name.as_str());
    loop {
        let status = match &stack {
            Some(s) => Some(stack::require_status(s, name)?),
            None => None,
        };
        match stack::classify(status.as_ref(), cap, env) {
            StackState::Missing => return Ok((None, None)),
            StackState::Ready(_) => return Ok((stack, template)),
            StackState::InProgress(status) if shared.options.no_wait => {
                return Err(Error::Stack {
                    stack: name.to_string(),
                    message: format!("is {status}: another operation is running"),
                    help: Some(format!(
                        "wait for it to end (`stackpro status {cap} --env {env}`), or run deploy without --no-wait to wait for it"
                    )),
                });
            }
            StackState::InProgress(status) => {
                shared
                    .progress
                    .step(cap, &format!("waiting: the stack is {status}"));
                plan.notes.push(format!("waited for {status} to end"));
                stack = Some(stack::wait_settled(&shared.ctx, name, WATCH_LIMIT).await?);
                template = cfn::get_template(&shared.ctx, name).await?;
            }
            StackState::RecreateEmpty(status) => {
                let protected = stack
                    .as_ref()
                    .and_then(|s| s.enable_termination_protection());
                stack = delete_empty(shared, plan, &status, protected == Some(true)).await?;
                template = None;
            }
            StackState::Stuck { status, help } => {
                return Err(Error::Stack {
                    stack: name.to_string(),
                    message: format!("is {status}: no update can start from there"),
                    help: Some(help),
                });
            }
        }
    }
}

/// Deletes a stack that holds no resources (a failed first create, an unexecuted
/// change set) so it can be created again; returns what is left (`None`: gone).
async fn delete_empty(
    shared: &Shared,
    plan: &mut Plan,
    status: &str,
    protected: bool,
) -> Result<Option<Stack>> {
    let (ctx, name) = (&shared.ctx, plan.stack_name.as_str());
    shared.progress.step(
        &plan.capability,
        &format!("the stack is {status} and holds no resources: deleting it to create it again"),
    );
    plan.notes.push(format!(
        "deleted the empty {status} stack to create it again"
    ));
    // A failed first create keeps its termination protection, which would refuse the
    // delete forever; the stack holds nothing it protects.
    if protected {
        cfn::update_termination_protection(ctx, name, false).await?;
        plan.notes.push("turned termination protection off on the empty stack to delete it (it is set again at create)".into());
    }
    cfn::delete_stack(ctx, name).await?;
    match stack::wait_settled(ctx, name, WATCH_LIMIT).await {
        Ok(s) if s.stack_status() == Some(&StackStatus::DeleteComplete) => Ok(None),
        Ok(s) => Ok(Some(s)),
        // Gone entirely: DescribeStacks by name no longer finds it.
        Err(Error::Aws { detail, .. }) if detail.contains("does not exist") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Step 7: the planner decides; a change set is made only when the stack differs,
/// and the data-loss guard deletes a refused one.
async fn decide(shared: &Shared, plan: &mut Plan, template: Option<String>) -> Result<()> {
    let ctx = &shared.ctx;
    let deployed = plan.stack.as_ref().map(|s| Deployed {
        template: template.clone().unwrap_or_default(),
        params: stack::parameter_values(s),
        tags: stack::tag_values(s),
    });
    let desired = Desired {
        stack_name: &plan.stack_name,
        template: &plan.rendered.template,
        template_value: &plan.rendered.template_value,
        params: &plan.params,
        tags: &plan.tags,
        fingerprint: &plan.fingerprint,
    };
    let early = planner::before_change_set(
        deployed.as_ref(),
        &desired,
        plan.live.as_ref(),
        plan.previous.as_ref(),
    )?;
    let diff = match early {
        Early::Create(diff) => {
            plan.diff = diff;
            plan.decision = Decision::Create;
            return Ok(());
        }
        Early::UpToDate => {
            plan.decision = Decision::UpToDate;
            return Ok(());
        }
        Early::Reconcile => {
            plan.decision = Decision::Reconcile;
            return Ok(());
        }
        Early::ChangeSet(diff) => diff,
    };
    plan.diff = diff;
    shared
        .progress
        .step(&plan.capability, "creating change set");
    let change_set = stack::create_change_set(ctx, &stack_input(shared, plan)).await?;
    let tags_changed = deployed.is_some_and(|d| d.tags != plan.tags);
    let verdict = planner::after_change_set(
        &plan.diff,
        &change_set,
        tags_changed,
        shared.options.allow_replace,
    );
    plan.decision = verdict.decision;
    if verdict.delete_change_set {
        let deleted = cfn::delete_change_set(ctx, &plan.stack_name, &change_set.id).await;
        match (deleted, verdict.decision) {
            (Ok(()), _) => {}
            // The refusal stands even if the cleanup fails; say so.
            (Err(err), Decision::Refused) => plan.notes.push(format!(
                "the refused change set {} could not be deleted ({}): delete it before anyone executes it",
                change_set.name,
                err.one_line()
            )),
            (Err(err), _) => return Err(err),
        }
    }
    if verdict.decision == Decision::Refused {
        let losses: Vec<String> = verdict.losses.iter().map(ToString::to_string).collect();
        plan.refusal = Some(losses.join("; "));
    }
    plan.losses = verdict.losses;
    plan.change_set = Some(change_set);
    Ok(())
}

/// What CreateStack, UpdateStack and CreateChangeSet are given for this plan.
fn stack_input<'a>(shared: &'a Shared, plan: &'a Plan) -> StackInput<'a> {
    StackInput {
        name: &plan.stack_name,
        template: &plan.rendered.template,
        params: &plan.params,
        tags: &plan.tags,
        termination_protection: shared.env.termination_protection,
        policy: Some(&plan.policy),
        express: shared.env.deployment_mode == crate::config::DeploymentMode::Express,
    }
}

/// What steps 9 to 11 did for one capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
    /// On failure: the first error lines the function logged since the deploy started
    /// (the root cause, beside the stack's reasons).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_errors: Vec<String>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// A capability's outcome before anything is known of it: not a success, nothing
    /// deployed, no notes.
    pub fn new(capability: &str, stack_name: &str, decision: Decision, status: String) -> Self {
        Outcome {
            capability: capability.to_string(),
            stack_name: stack_name.to_string(),
            decision,
            status,
            success: false,
            outputs: BTreeMap::new(),
            function_version: None,
            deployment: None,
            duration_ms: 0,
            failures: Vec::new(),
            log_errors: Vec::new(),
            notes: Vec::new(),
            canary: None,
            error: None,
        }
    }

    /// What is known of a capability's outcome from its plan alone: nothing done yet.
    pub fn of(plan: &Plan) -> Self {
        let status = plan
            .stack
            .as_ref()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "NONE".into());
        Outcome {
            notes: plan.notes.clone(),
            ..Outcome::new(&plan.capability, &plan.stack_name, plan.decision, status)
        }
    }
}

/// A canary's traffic split and how it ended.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CanaryState {
    pub stable: String,
    pub canary: String,
    pub weight: f64,
    pub verdict: Option<crate::release::CanaryVerdict>,
}

/// Steps 9 to 11 for one capability: execute, follow, release, record; the outcome
/// says what happened, including a failure.
pub async fn execute(shared: Arc<Shared>, plan: Plan) -> Outcome {
    let start = Instant::now();
    let started_ms = crate::tail::now_ms();
    let cap = plan.capability.clone();
    let mut outcome = Outcome {
        outputs: plan.stack.as_ref().map(stack::outputs).unwrap_or_default(),
        function_version: plan.previous.as_ref().map(|d| d.function_version.clone()),
        deployment: plan.previous.as_ref().and_then(|d| d.number),
        ..Outcome::of(&plan)
    };
    let result = match apply(&shared, &plan, &mut outcome).await {
        Ok(Some(stack)) => release(&shared, &plan, &stack, &mut outcome).await,
        Ok(None) => Ok(()),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => outcome.success = true,
        Err(err) => {
            outcome.error = Some(err.one_line());
            // The function's log is read through the same endpoint: after one that did
            // not answer (or could not be reached), that read would wait as long again
            // (the fault suite saw 50 s to a hung endpoint's error instead of 25), and
            // the function is not what failed.
            if !err.is_endpoint_failure() {
                root_cause(&shared, &plan, started_ms, &mut outcome).await;
            }
        }
    }
    outcome.duration_ms = start.elapsed().as_millis();
    shared.progress.finish(&cap, &verdict(&outcome, start));
    shared.progress.json("result", Some(&cap), &outcome);
    outcome
}

/// After a failure: the function's first error lines since the deploy started, or a
/// note saying why they could not be read (never in place of the failure itself).
async fn root_cause(shared: &Shared, plan: &Plan, started_ms: i64, outcome: &mut Outcome) {
    if matches!(plan.decision, Decision::Refused | Decision::NotStarted) {
        return;
    }
    match crate::tail::first_errors(&shared.ctx, &plan.stack_name, started_ms, 5).await {
        Ok(lines) => outcome.log_errors = lines,
        Err(err) => outcome.notes.push(format!(
            "the function's log could not be read for the root cause: {}",
            err.one_line()
        )),
    }
}

/// The last line of a capability's progress.
fn verdict(outcome: &Outcome, start: Instant) -> String {
    if outcome.decision == Decision::Refused {
        "REFUSED: the stack was not changed".to_string()
    } else if outcome.success {
        format!(
            "{} ({:.1} s)",
            describe(outcome.decision, &outcome.status),
            start.elapsed().as_secs_f64()
        )
    } else if outcome.status.ends_with("_COMPLETE") && !outcome.status.contains("ROLLBACK") {
        // The stack is fine; what failed came after it (the release steps).
        format!("FAILED after the stack reached {}", outcome.status)
    } else {
        format!("FAILED: the stack is {}", outcome.status)
    }
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
        Decision::Code => "code shipped without CloudFormation".into(),
    }
}

/// Step 9: create the stack or execute the change set and follow it to its end;
/// `None` when there is nothing to release (up to date, not started).
async fn apply(shared: &Shared, plan: &Plan, outcome: &mut Outcome) -> Result<Option<Stack>> {
    let (ctx, p, cap, name) = (
        &shared.ctx,
        &shared.progress,
        &plan.capability,
        &plan.stack_name,
    );
    let stack = match plan.decision {
        Decision::UpToDate | Decision::NotStarted | Decision::Code => return Ok(None),
        Decision::Refused => return Err(refused(plan)),
        Decision::Reconcile => plan.stack.clone().ok_or_else(|| Error::Stack {
            stack: name.clone(),
            message: "was not read, yet the plan is to reconcile it".into(),
            help: Some("deploy again".into()),
        })?,
        Decision::Create if !plan.adopt.is_empty() => {
            adopt(shared, plan, outcome).await?;
            let baseline = stack::Baseline::read(ctx, name).await?;
            cfn::set_stack_policy(ctx, name, &plan.policy).await?;
            p.step(cap, "creating the rest of the stack");
            cfn::update_stack(ctx, &stack_input(shared, plan), None).await?;
            follow(shared, plan, baseline, outcome).await?
        }
        Decision::Create => {
            p.step(cap, "creating stack");
            cfn::create_stack(ctx, &stack_input(shared, plan)).await?;
            follow(shared, plan, stack::Baseline::everything(), outcome).await?
        }
        Decision::Update => {
            let baseline = stack::Baseline::read(ctx, name).await?;
            update(shared, plan).await?;
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
    let protection = shared.env.termination_protection;
    if stack.enable_termination_protection() != Some(protection)
        && (plan.decision != Decision::Create || !plan.adopt.is_empty())
    {
        if let Err(err) = cfn::update_termination_protection(ctx, name, protection).await {
            outcome.notes.push(format!(
                "termination protection could not be set to {protection}: {}",
                err.one_line()
            ));
        }
    }
    Ok(Some(stack))
}

/// Step 9 for a create that adopts retained resources: an IMPORT change set makes the
/// stack from them alone (their data untouched), executed and followed to
/// `IMPORT_COMPLETE`; the caller then updates it to the full template.
async fn adopt(shared: &Shared, plan: &Plan, outcome: &mut Outcome) -> Result<Stack> {
    let (ctx, p, cap) = (&shared.ctx, &shared.progress, &plan.capability);
    let names: Vec<String> = plan.adopt.iter().map(ToString::to_string).collect();
    p.step(cap, &format!("importing {}", names.join(", ")));
    let template = serde_json::to_string(&planner::import_template(
        &plan.rendered.template_value,
        &plan.adopt,
    ))
    .map_err(|e| Error::Stack {
        stack: plan.stack_name.clone(),
        message: format!("the import template could not be written: {e}"),
        help: None,
    })?;
    // The import runs in the standard mode: it creates nothing to wait for.
    let input = StackInput {
        template: &template,
        policy: None,
        express: false,
        ..stack_input(shared, plan)
    };
    let change_set = stack::create_import_change_set(ctx, &input, &plan.adopt).await?;
    cfn::execute_change_set(ctx, &plan.stack_name, &change_set.id).await?;
    follow(shared, plan, stack::Baseline::everything(), outcome).await
}

/// Step 9 for an update. The stack policy (server-side guard) is set first, so a stack
/// made before it existed carries it too; then the change set is executed. With
/// `--allow-replace` and losses the policy would refuse, the update is made with
/// UpdateStack instead (ExecuteChangeSet takes no policy): the same template,
/// parameters and tags, with a policy that allows everything for this update only;
/// the stack's own policy stays in place after it.
async fn update(shared: &Shared, plan: &Plan) -> Result<()> {
    let (ctx, p, cap, name) = (
        &shared.ctx,
        &shared.progress,
        &plan.capability,
        &plan.stack_name,
    );
    let change_set = plan.change_set.as_ref().ok_or_else(|| Error::Stack {
        stack: name.clone(),
        message: "has no change set to execute".into(),
        help: Some("deploy again".into()),
    })?;
    if plan.losses.is_empty() {
        cfn::set_stack_policy(ctx, name, &plan.policy).await?;
        p.step(cap, "executing change set");
        return cfn::execute_change_set(ctx, name, &change_set.id).await;
    }
    p.step(
        cap,
        "updating with --allow-replace: the stack policy is lifted for this update only",
    );
    cfn::delete_change_set(ctx, name, &change_set.id).await?;
    let during = planner::allow_all_during_update();
    cfn::update_stack(ctx, &stack_input(shared, plan), Some(&during)).await?;
    Ok(())
}

/// The error of a plan the data-loss guard refused.
fn refused(plan: &Plan) -> Error {
    Error::Stack {
        stack: plan.stack_name.clone(),
        message: format!(
            "was not changed: {}",
            plan.refusal
                .as_deref()
                .unwrap_or("a stateful resource would be lost")
        ),
        help: Some(
            "pass --allow-replace if losing that data is intended (tables and buckets are retained, not deleted, \
             but a new empty one takes their place)"
                .into(),
        ),
    }
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
    p.start(cap, plan.rendered.resource_count(), "IN_PROGRESS");
    let watched = stack::watch(&shared.ctx, &plan.stack_name, baseline, WATCH_LIMIT, &|e| {
        p.event(cap, e)
    })
    .await?;
    let status = stack::require_status(&watched.stack, &plan.stack_name)?;
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
            StackStatus::UpdateRollbackFailed => format!(
                "run `stackpro rollback {cap} --env {}` to continue the rollback",
                shared.env.name
            ),
            _ => "fix the cause above and deploy again; the stack is back on its previous template"
                .into(),
        }),
    })
}

/// Steps 10 and 11: keep the template, publish a version of exactly the shipped code
/// (or the version an earlier deployment of this very fingerprint published), put it
/// on `live` (at once or through a canary) with the API's invoke permission, and
/// record the deployment.
async fn release(shared: &Shared, plan: &Plan, stack: &Stack, outcome: &mut Outcome) -> Result<()> {
    let (ctx, p, cap, name) = (
        &shared.ctx,
        &shared.progress,
        &plan.capability,
        &plan.stack_name,
    );
    let version = async {
        match reusable_version(shared, plan).await? {
            Some(v) => Ok(v),
            None => {
                p.step(cap, "publishing a version");
                release::publish_version(ctx, name, &plan.code_sha256, &plan.fingerprint).await
            }
        }
    };
    // Keep the template by its hash, so a later `rollback --full` can deploy it again
    // (beside the version, which does not need it).
    let ((), version) = tokio::try_join!(store_template(shared, plan), version)?;
    let source_arn = stack::outputs(stack)
        .get("ApiId")
        .map(|api_id| release::api_source_arn(&ctx.region, &shared.identity.account, api_id));
    let mut deployment = new_record(shared, plan, &version);
    // A canary needs a live version to compare with, other than the new one.
    let live = plan.live.as_ref();
    let canary = shared
        .options
        .canary
        .filter(|_| live.is_some_and(|l| l.version != version));
    if shared.options.canary.is_some() && canary.is_none() {
        outcome.notes.push(match live {
            None => "no live version yet: the canary was skipped and this first version takes all traffic".into(),
            Some(_) => format!("version {version} is already live: no canary needed"),
        });
    }
    if let (Some(spec), Some(live)) = (canary, live) {
        let promote = run_canary(
            shared,
            plan,
            spec,
            live,
            &version,
            source_arn.as_deref(),
            &mut deployment,
            outcome,
        )
        .await?;
        if !promote {
            return Ok(());
        }
    } else {
        p.step(cap, &format!("pointing {LIVE_ALIAS} at version {version}"));
        release::go_live(ctx, name, live, &version, source_arn.as_deref()).await?;
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

/// The deployment record of this plan, live on `version`.
fn new_record(shared: &Shared, plan: &Plan, version: &str) -> Deployment {
    Deployment {
        time: record::now_rfc3339(),
        actor: shared.identity.arn.clone(),
        git_commit: shared.git_commit.clone(),
        artifact_sha256: plan.artifact.binary_sha256.clone(),
        artifact_key: plan.params.get("ArtifactKey").cloned().unwrap_or_default(),
        code_sha256: plan.code_sha256.clone(),
        template_sha256: plan.rendered.template_sha256(),
        fingerprint: plan.fingerprint.clone(),
        function_version: version.to_string(),
        kind: shared.options.record_kind.unwrap_or_default(),
        number: None,
    }
}

/// Step 10 through a canary: `spec.weight` of the traffic on `version`, the capability's
/// alarms watched for `spec.period`. Returns whether to promote (healthy); an alarm
/// puts the stable version back and is an error; `--no-wait` records the canary and
/// returns false.
#[allow(clippy::too_many_arguments)]
async fn run_canary(
    shared: &Shared,
    plan: &Plan,
    spec: release::CanarySpec,
    live: &Live,
    version: &str,
    source_arn: Option<&str>,
    deployment: &mut Deployment,
    outcome: &mut Outcome,
) -> Result<bool> {
    let (ctx, p, cap, name, env) = (
        &shared.ctx,
        &shared.progress,
        plan.capability.as_str(),
        plan.stack_name.as_str(),
        &shared.env.name,
    );
    let stable = live.version.clone();
    p.step(
        cap,
        &format!(
            "canary: {:.0}% of traffic on version {version}, the rest on {stable}",
            spec.weight * 100.0
        ),
    );
    release::start_canary(ctx, name, &stable, version, spec.weight).await?;
    if let Some(arn) = source_arn {
        release::ensure_invoke_permission(ctx, name, arn).await?;
    }
    outcome.canary = Some(CanaryState {
        stable: stable.clone(),
        canary: version.to_string(),
        weight: spec.weight,
        verdict: None,
    });
    // Recorded before it is watched, so `status`, `promote` and `rollback` know it
    // even if this run is interrupted.
    deployment.kind = record::DeploymentKind::Canary;
    outcome.function_version = Some(stable.clone());
    outcome.deployment = Some(record::write(ctx, env, cap, deployment).await?);
    if shared.options.no_wait {
        outcome.notes.push(format!(
            "canary started; end it with `stackpro promote {cap} --env {env}` or `stackpro rollback {cap} --env {env}`"
        ));
        p.json("outputs", Some(cap), &outcome.outputs);
        return Ok(false);
    }
    let tick = |left: Duration| {
        p.step(
            cap,
            &format!("canary: watching alarms, {} s left", left.as_secs()),
        )
    };
    let watched = release::watch_canary(
        ctx,
        name,
        spec.period,
        release::canary_poll(spec.period),
        &tick,
    )
    .await;
    let alarms = match watched {
        Ok(release::CanaryVerdict::Healthy) => {
            if let Some(state) = outcome.canary.as_mut() {
                state.verdict = Some(release::CanaryVerdict::Healthy);
            }
            p.step(cap, &format!("canary healthy: promoting version {version}"));
            deployment.kind = record::DeploymentKind::Deploy;
            deployment.function_version = version.to_string();
            release::point_alias(ctx, name, version).await?;
            return Ok(true);
        }
        Ok(release::CanaryVerdict::Alarm { alarms }) => Ok(alarms),
        Err(err) => Err(err),
    };
    canary_rolled_back(shared, plan, &stable, version, alarms, deployment, outcome).await
}

/// A canary that did not end healthy: the stable version takes all traffic again, a
/// `canary-rolled-back` record, and the error that says why.
async fn canary_rolled_back(
    shared: &Shared,
    plan: &Plan,
    stable: &str,
    version: &str,
    alarms: Result<Vec<String>>,
    deployment: &mut Deployment,
    outcome: &mut Outcome,
) -> Result<bool> {
    let (ctx, cap, name, env) = (
        &shared.ctx,
        plan.capability.as_str(),
        plan.stack_name.as_str(),
        &shared.env.name,
    );
    deployment.kind = record::DeploymentKind::CanaryRolledBack;
    deployment.function_version = stable.to_string();
    let alarms = match alarms {
        Ok(alarms) => alarms,
        Err(err) => {
            // A canary nobody watches is not left splitting traffic.
            let back = release::point_alias(ctx, name, stable).await;
            let _ = record::write(ctx, env, cap, deployment).await;
            let state = if back.is_ok() {
                format!("version {stable} serves all traffic again")
            } else {
                format!("traffic is STILL SPLIT between {stable} and {version}: run `stackpro rollback {cap} --env {env}`")
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
        state.verdict = Some(release::CanaryVerdict::Alarm {
            alarms: alarms.clone(),
        });
    }
    shared.progress.step(
        cap,
        &format!(
            "canary: {} in ALARM, rolling back to version {stable}",
            alarms.join(", ")
        ),
    );
    release::point_alias(ctx, name, stable).await?;
    outcome.function_version = Some(stable.to_string());
    outcome.deployment = Some(record::write(ctx, env, cap, deployment).await?);
    Err(Error::Stack {
        stack: name.to_string(),
        message: format!(
            "canary of version {version} rolled back: alarm {} fired; version {stable} serves all traffic again",
            alarms.join(", ")
        ),
        help: Some(format!(
            "look at the alarm and the logs (`stackpro tail {cap} --env {env}`), fix, and deploy again"
        )),
    })
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
    let same = |d: &Deployment| {
        d.is_release_of_fingerprint()
            && d.fingerprint == plan.fingerprint
            && d.code_sha256 == plan.code_sha256
    };
    if same(prev) {
        return Ok(Some(prev.function_version.clone()));
    }
    let history = record::history(&shared.ctx, &shared.env.name, &plan.capability).await?;
    Ok(history
        .iter()
        .rev()
        .find(|d| same(d))
        .map(|d| d.function_version.clone()))
}

/// Stores the deployed template by its hash (once).
async fn store_template(shared: &Shared, plan: &Plan) -> Result<()> {
    let key = template_key(&plan.capability, &plan.rendered.template_sha256());
    if s3::object_metadata(&shared.ctx, &shared.bucket, &key)
        .await
        .is_ok_and(|m| m.is_some())
    {
        return Ok(());
    }
    let body = plan.rendered.template.clone().into_bytes().into();
    match s3::put_object(
        &shared.ctx,
        &shared.bucket,
        &key,
        body,
        "application/yaml",
        &[],
    )
    .await?
    {
        s3::Put::Stored => Ok(()),
        s3::Put::NoSuchBucket => Err(missing_bucket(&shared.env.name, &shared.bucket)),
    }
}
