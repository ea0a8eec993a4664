//! `stackpro deploy`: build, upload, preview, confirm, deploy and report, for one
//! capability or many in parallel. The steps themselves are in [`crate::deploy`].

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::{ask, require_answerable, CapabilitySelection, GlobalArgs};
use crate::aws::{self, AwsContext};
use crate::build;
use crate::deploy::{self, Decision, Options, Outcome, Plan, Shared};
use crate::diff::TemplateDiff;
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::progress::Progress;
use crate::render::Renderer;

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub selection: CapabilitySelection,
    /// The environment to deploy to (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Do not ask for confirmation (needed for protected environments without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Deploy the zips of the last `stackpro build` instead of building
    #[arg(long)]
    pub no_build: bool,
    /// Show what would change and stop; exits 1 if the data-loss guard would refuse
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a change that replaces or removes a table, log group or bucket
    #[arg(long)]
    pub allow_replace: bool,
    /// Capabilities deployed at once
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Fail instead of waiting when a stack is busy; with --canary, start it and return
    #[arg(long)]
    pub no_wait: bool,
    /// Shift PERCENT of traffic to the new version for DURATION, watching the alarms,
    /// then promote or roll back automatically, e.g. 10%:5m
    #[arg(long, value_name = "PERCENT%:DURATION")]
    pub canary: Option<crate::release::CanarySpec>,
    /// Ship only the handler's code (UpdateFunctionCode, a version, the alias), without
    /// CloudFormation; refused when more than the code changed, and where the
    /// environment's `fast_paths` do not list `code`
    #[arg(long, conflicts_with_all = ["canary", "allow_replace", "dry_run"])]
    pub code: bool,
    /// With --code: after shipping, watch the handlers' sources (with --no-build, the
    /// built zips), and build and ship again on every change, until interrupted
    #[arg(long, requires = "code")]
    pub watch: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeployReport {
    pub environment: String,
    pub dry_run: bool,
    pub capabilities: Vec<CapabilityReport>,
    pub duration_ms: u128,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CapabilityReport {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub diff: TemplateDiff,
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.capabilities {
            let o = &c.outcome;
            let verb = if !o.success {
                "Failed"
            } else if self.dry_run {
                "Previewed"
            } else {
                match o.decision {
                    Decision::Create => "Created",
                    Decision::Update => "Updated",
                    Decision::UpToDate => "Up to date",
                    Decision::Reconcile => "Unchanged",
                    Decision::Refused => "Refused",
                    Decision::NotStarted => "Not started",
                    Decision::Code => "Code only",
                }
            };
            writeln!(
                f,
                "{verb:>12} {} ({}) {}",
                o.capability, o.stack_name, o.status
            )?;
            for note in &o.notes {
                writeln!(f, "{:>12} {note}", "note")?;
            }
            for failure in &o.failures {
                writeln!(
                    f,
                    "{:>12} {} ({}) {}: {}",
                    "failed",
                    failure.logical_id,
                    failure.resource_type,
                    failure.status,
                    failure.reason
                )?;
            }
            if let Some(err) = &o.error {
                if o.failures.is_empty() {
                    writeln!(f, "{:>12} {err}", "error")?;
                }
            }
            for line in &o.log_errors {
                writeln!(f, "{:>12} {line}", "log")?;
            }
            if o.success && !self.dry_run {
                write_deployed(f, o)?;
            }
        }
        let ok = self
            .capabilities
            .iter()
            .filter(|c| c.outcome.success)
            .count();
        writeln!(
            f,
            "{:>12} {ok} of {} capabilities in {} in {:.1} s",
            if self.dry_run {
                "Previewed"
            } else {
                "Deployed"
            },
            self.capabilities.len(),
            self.environment,
            self.duration_ms as f64 / 1000.0
        )
    }
}

/// What a successful deploy left: the API, function and alias, tables and buckets, and
/// the live version.
fn write_deployed(f: &mut fmt::Formatter<'_>, o: &Outcome) -> fmt::Result {
    for key in ["ApiUrl", "FunctionName", "AliasArn"] {
        if let Some(v) = o.outputs.get(key) {
            writeln!(f, "{key:>12} {v}")?;
            if crate::api::is_unresolved(v) {
                writeln!(f, "{:>12} ({})", "", crate::api::EMULATOR_ONLY)?;
            }
        }
    }
    for (k, v) in &o.outputs {
        if k.starts_with("Table") {
            writeln!(f, "{:>12} {v}", "table")?;
        } else if k.starts_with("Bucket") {
            writeln!(f, "{:>12} {v}", "bucket")?;
        }
    }
    if let Some(v) = &o.function_version {
        let number = o
            .deployment
            .map(|n| format!(", deployment {n}"))
            .unwrap_or_default();
        writeln!(f, "{:>12} version {v}{number}", "live")?;
    }
    Ok(())
}

/// `deploy`, or with `--code --watch` the sandbox loop: ship, then ship again on every
/// change of what the code is built from.
pub fn run(args: DeployArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    if !args.watch {
        return run_once(&args, global, printer);
    }
    let (project, catalogue) = global.load()?;
    let watched = watched_paths(&project, &catalogue, &args)?;
    let mut seen = crate::watch::Snapshot::of(&watched);
    loop {
        // A failed cycle (a compile error, a refused change) is reported; the loop goes on.
        if let Err(err) = run_once(&args, global, printer) {
            printer.error(&err);
        }
        printer.status(
            "Watching",
            &format!(
                "{} for changes (Ctrl-C stops)",
                watched
                    .iter()
                    .map(|p| project.display_path(p).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        seen = crate::watch::wait_for_change(&watched, seen);
    }
}

/// What `--watch` watches: the built zips with `--no-build`, else the handler crates
/// (`handlers/`, the shared runtime included).
fn watched_paths(
    project: &crate::project::Project,
    catalogue: &crate::config::Catalogue,
    args: &DeployArgs,
) -> Result<Vec<std::path::PathBuf>> {
    if !args.no_build {
        return Ok(vec![project.root().join("handlers")]);
    }
    let env = catalogue.load_env(project, &args.env)?;
    Ok(args
        .selection
        .resolve(catalogue)?
        .into_iter()
        .map(|c| build::zip_path(project, c, env.architecture))
        .collect())
}

/// The runbook's steps 1 to 3 and 8; the per-capability steps are in
/// [`crate::deploy`], numbered as in `docs/ARCHITECTURE.md`.
fn run_once(args: &DeployArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let start = Instant::now();
    // 1. Configuration: the project, the capabilities, the environment. A protected
    //    environment needs a yes; where nobody can give one, say so now, before
    //    anything is built or changed.
    let (project, catalogue) = global.load()?;
    let capabilities: Vec<_> = args
        .selection
        .resolve(&catalogue)?
        .into_iter()
        .cloned()
        .collect();
    let env = catalogue.load_env(&project, &args.env)?;
    if args.code {
        crate::code_path::check_allowed(&env)?;
    }
    require_answerable(
        env.termination_protection && !args.dry_run,
        args.yes,
        &format!("deploying to {}", env.name),
        "pass --yes to deploy without asking (CI), or run from a terminal",
    )?;
    // 2. Build (or take the last build) and render: no network yet.
    let artifacts = build_artifacts(
        &project,
        &capabilities,
        env.architecture,
        args.no_build,
        printer,
    )?;
    let renderer = Renderer::new(&project);
    let rendered = capabilities
        .iter()
        .map(|c| renderer.render(c, &env))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&str> = capabilities.iter().map(|c| c.name.as_str()).collect();
    let progress = Progress::new(printer, &names);
    let progress_mode = progress.mode();
    let runtime = super::parallel_runtime()?;
    let report = runtime.block_on(async {
        // 3. Who is deploying, and is it the environment's account.
        let shared = Arc::new(connect(args, global, &env, &project, progress).await?);
        // 4-7 for every capability, 8 the previews and the one confirmation, 9-11.
        let work: Vec<_> = capabilities
            .iter()
            .cloned()
            .zip(rendered)
            .zip(artifacts)
            .collect();
        let mut finished = deploy_all(&shared, args, work).await?;
        let order = |c: &CapabilityReport| names.iter().position(|n| *n == c.outcome.capability);
        finished.sort_by_key(order);
        Ok::<_, Error>(DeployReport {
            environment: env.name.clone(),
            dry_run: args.dry_run,
            capabilities: finished,
            duration_ms: start.elapsed().as_millis(),
        })
    })?;
    let failed = report
        .capabilities
        .iter()
        .filter(|c| !c.outcome.success)
        .count();
    // JSON mode has streamed one object per line; the summary is the last one.
    Progress::with_mode(progress_mode, &[]).report(printer, &report);
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} capabilities did not deploy",
            report.capabilities.len()
        )));
    }
    Ok(())
}

/// Steps 4 to 11 for every capability: the code path with `--code`; else prepare,
/// then preview only (`--dry-run`) or confirm and execute.
async fn deploy_all(
    shared: &Arc<Shared>,
    args: &DeployArgs,
    work: Vec<Work>,
) -> Result<Vec<CapabilityReport>> {
    if args.code {
        return code_all(shared, work).await;
    }
    let (plans, mut finished) = prepare_all(shared, work, args.concurrency).await?;
    finished.extend(if args.dry_run {
        dry_run(shared, plans).await
    } else {
        confirm(shared, args, &plans).await?;
        execute_all(shared, plans, args.concurrency).await
    });
    Ok(finished)
}

/// Step 2: builds the handlers (or reads the last build's zips with `--no-build`).
fn build_artifacts(
    project: &crate::project::Project,
    capabilities: &[crate::config::Capability],
    arch: build::Architecture,
    no_build: bool,
    printer: &Printer,
) -> Result<Vec<build::Artifact>> {
    let refs: Vec<&_> = capabilities.iter().collect();
    if no_build {
        return refs
            .iter()
            .map(|c| build::read_artifact(project, c, arch))
            .collect();
    }
    let packages = build::workspace_binaries(project)?;
    for cap in &refs {
        if let Some(reason) = build::missing_crate(cap, &packages) {
            return Err(Error::Config {
                message: format!("cannot build {}: {reason}", cap.name),
                help: Some(format!(
                    "add the handler crate to the workspace, or deploy a zip built elsewhere with --no-build (expected at {})",
                    project.display_path(&build::zip_path(project, cap, arch)).display()
                )),
            });
        }
    }
    printer.status(
        "Building",
        &format!("{} handler(s) with cargo-lambda for {arch}", refs.len()),
    );
    build::build(project, &refs, arch)
}

/// Step 3: the AWS configuration, the caller's identity checked against the
/// environment's account, and what every capability shares.
async fn connect(
    args: &DeployArgs,
    global: &GlobalArgs,
    env: &crate::config::EnvConfig,
    project: &crate::project::Project,
    progress: Progress,
) -> Result<Shared> {
    // The commit is read by two git processes, beside the identity's round trip
    // rather than after it.
    let root = project.root().to_path_buf();
    let git = tokio::task::spawn_blocking(move || crate::record::git_commit(&root));
    let ctx = AwsContext::load(&global.aws, env).await;
    let identity = aws::caller_identity(&ctx).await?;
    aws::check_account(env, &identity)?;
    Ok(Shared {
        bucket: deploy::artifact_bucket(&env.name, &identity.account, &ctx.region),
        git_commit: git.await.unwrap_or_default(),
        options: Options {
            allow_replace: args.allow_replace,
            no_wait: args.no_wait,
            canary: args.canary,
            record_kind: None,
        },
        identity,
        env: env.clone(),
        ctx,
        progress,
    })
}

type Work = (
    (crate::config::Capability, crate::render::Rendered),
    build::Artifact,
);

/// What step 4 read for one capability, by its place in the work.
type Read = (
    usize,
    crate::config::Capability,
    crate::render::Rendered,
    build::Artifact,
    Result<deploy::Reads>,
);

/// Step 4 for every capability (up to `limit` at once), sent together with the artifact
/// bucket's check (one round trip); a missing bucket stops everything, a capability's
/// failed reads are its own. In the work's order.
async fn read_all(
    shared: &Arc<Shared>,
    work: Vec<Work>,
    limit: &Arc<tokio::sync::Semaphore>,
) -> Result<Vec<Read>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, ((cap, rendered), artifact)) in work.into_iter().enumerate() {
        let (shared, limit) = (shared.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let reads = deploy::read(&shared, &cap.name, &rendered.stack_name, &artifact).await;
            (i, cap, rendered, artifact, reads)
        });
    }
    let bucket = deploy::check_bucket(&shared.ctx, &shared.env.name, &shared.bucket);
    let (checked, mut read) = tokio::join!(bucket, tasks.join_all());
    checked?;
    read.sort_by_key(|r| r.0);
    Ok(read)
}

/// Steps 4 to 7 for every capability, in parallel up to `concurrency`: the reads of
/// all capabilities go out together with the artifact bucket's check (one round trip),
/// then each is packaged, settled and decided. Every preview is shown; a capability
/// that could not be prepared is reported, never hides the others.
async fn prepare_all(
    shared: &Arc<Shared>,
    work: Vec<Work>,
    concurrency: u16,
) -> Result<(Vec<Plan>, Vec<CapabilityReport>)> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, cap, rendered, artifact, reads) in read_all(shared, work, &limit).await? {
        let (shared, limit) = (shared.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let name = cap.name.clone();
            let plan = match reads {
                Ok(reads) => deploy::plan(&shared, reads, cap, rendered, artifact).await,
                Err(err) => Err(err),
            };
            (i, name, plan)
        });
    }
    let mut prepared = tasks.join_all().await;
    prepared.sort_by_key(|(i, _, _)| *i);
    let mut plans = Vec::new();
    let mut failed = Vec::new();
    for (_, name, result) in prepared {
        match result {
            Ok(plan) => {
                show_plan(&shared.progress, &plan);
                plans.push(plan);
            }
            Err(err) => {
                shared.progress.finish(&name, "FAILED before any change");
                failed.push(failed_before_start(
                    &name,
                    &shared.env.stack_name(&name),
                    err,
                ));
            }
        }
    }
    Ok((plans, failed))
}

/// `--code`: the code path for every capability at once (after the artifact bucket's
/// check). A capability refused because more than its code changed stops the command
/// with exit 2 after all have run; other failures are reported per capability.
async fn code_all(shared: &Arc<Shared>, work: Vec<Work>) -> Result<Vec<CapabilityReport>> {
    // Every capability at once, as before `--concurrency` applied to full deploys only.
    let limit = Arc::new(tokio::sync::Semaphore::new(work.len().max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, cap, rendered, artifact, reads) in read_all(shared, work, &limit).await? {
        let shared = shared.clone();
        tasks.spawn(async move {
            let result = match reads {
                Ok(reads) => {
                    crate::code_path::ship(&shared, &cap, &rendered, &artifact, reads).await
                }
                Err(err) => Err(err),
            };
            (i, cap.name, rendered.stack_name, result)
        });
    }
    let mut done = tasks.join_all().await;
    done.sort_by_key(|d| d.0);
    let mut reports = Vec::new();
    let mut refused = None;
    for (_, name, stack_name, result) in done {
        match result {
            Ok(outcome) => {
                shared
                    .progress
                    .finish(&name, &deploy::describe(outcome.decision, &outcome.status));
                shared.progress.json("result", Some(&name), &outcome);
                reports.push(CapabilityReport {
                    outcome,
                    diff: TemplateDiff::default(),
                });
            }
            Err(err) if err.exit_status() == crate::error::ExitStatus::Usage => {
                shared
                    .progress
                    .finish(&name, "REFUSED: nothing was changed");
                refused.get_or_insert(err);
            }
            Err(err) => {
                shared.progress.finish(&name, "FAILED");
                reports.push(failed_before_start(&name, &stack_name, err));
            }
        }
    }
    match refused {
        Some(err) => Err(err),
        None => Ok(reports),
    }
}

/// Deletes the change sets of plans that will not be executed; what could not be
/// deleted is said in the plan's notes.
async fn discard_change_sets(shared: &Shared, plans: &mut [Plan]) {
    for plan in plans {
        let Some(cs) = plan
            .change_set
            .as_ref()
            .filter(|cs| !cs.empty && plan.decision == Decision::Update)
        else {
            continue;
        };
        // Every capability is cleaned up and reported, whatever one delete says.
        if let Err(err) =
            crate::stack::delete_change_set(&shared.ctx, &plan.stack_name, &cs.id).await
        {
            plan.notes.push(format!(
                "the preview's change set {} could not be deleted ({})",
                cs.name,
                err.one_line()
            ));
        }
    }
}

/// `--dry-run`: nothing executes; the change sets made for the previews are removed.
async fn dry_run(shared: &Shared, mut plans: Vec<Plan>) -> Vec<CapabilityReport> {
    discard_change_sets(shared, &mut plans).await;
    plans.iter().map(preview_report).collect()
}

/// Step 8: protected environments ask, once, for everything shown: stack changes, and
/// live versions that would move (a reconcile after a rollback puts the deployed
/// version back). A no removes the change sets and changes nothing.
async fn confirm(shared: &Shared, args: &DeployArgs, plans: &[Plan]) -> Result<()> {
    let changes = plans
        .iter()
        .filter(|p| {
            matches!(
                p.decision,
                Decision::Create | Decision::Update | Decision::Reconcile
            )
        })
        .count();
    if !shared.env.termination_protection || args.yes || changes == 0 {
        return Ok(());
    }
    let question = format!(
        "Deploy {changes} capability change(s) (stack or live version) to {}? [y/N] ",
        shared.env.name
    );
    if shared.progress.suspend(|| ask(&question))? {
        return Ok(());
    }
    for plan in plans {
        if let Some(cs) = plan
            .change_set
            .as_ref()
            .filter(|cs| !cs.empty && plan.decision == Decision::Update)
        {
            let _ = crate::stack::delete_change_set(&shared.ctx, &plan.stack_name, &cs.id).await;
        }
    }
    Err(Error::Failed(format!(
        "deploy to {} cancelled: nothing was changed",
        shared.env.name
    )))
}

/// Steps 9 to 11 for every capability, in parallel up to `concurrency`.
async fn execute_all(
    shared: &Arc<Shared>,
    plans: Vec<Plan>,
    concurrency: u16,
) -> Vec<CapabilityReport> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, plan) in plans.into_iter().enumerate() {
        let (shared, limit) = (shared.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let diff = plan.diff.clone();
            let outcome = deploy::execute(shared, plan).await;
            (i, CapabilityReport { outcome, diff })
        });
    }
    let mut done = tasks.join_all().await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// A `{"type": "plan"}` line of `deploy --output json`: one capability's preview.
#[derive(Serialize, schemars::JsonSchema)]
pub struct PlanLine<'a> {
    pub decision: &'a crate::deploy::Decision,
    pub stack_name: &'a str,
    pub diff: &'a crate::diff::TemplateDiff,
    pub change_set: &'a Option<crate::stack::ChangeSet>,
    pub refusal: &'a Option<String>,
    pub notes: &'a [String],
}

/// The preview of one capability: the stack's state notes, the diff, the change set's
/// own view, and the guard's verdict.
fn show_plan(progress: &Progress, plan: &Plan) {
    let cap = plan.capability.as_str();
    progress.json(
        "plan",
        Some(cap),
        &PlanLine {
            decision: &plan.decision,
            stack_name: &plan.stack_name,
            diff: &plan.diff,
            change_set: &plan.change_set,
            refusal: &plan.refusal,
            notes: &plan.notes,
        },
    );
    let mut text = String::new();
    let head = match plan.decision {
        Decision::Create => format!(
            "{cap}: new stack {} ({} resources)\n",
            plan.stack_name,
            plan.rendered.resource_count()
        ),
        Decision::Update => format!(
            "{cap}: {} changes ({} added, {} modified, {} removed)\n",
            plan.stack_name,
            plan.diff.count(crate::diff::Action::Add),
            plan.diff.count(crate::diff::Action::Modify),
            plan.diff.count(crate::diff::Action::Remove)
        ),
        Decision::UpToDate => format!("{cap}: {} is up to date\n", plan.stack_name),
        Decision::Reconcile => format!("{cap}: {} has no stack changes\n", plan.stack_name),
        Decision::Refused => format!("{cap}: {} change REFUSED\n", plan.stack_name),
        Decision::NotStarted => format!("{cap}: {} was not prepared\n", plan.stack_name),
        Decision::Code => format!("{cap}: code only, no stack change\n"),
    };
    text.push_str(&head);
    if plan.decision != Decision::Create {
        text.push_str(&plan.diff.to_string());
    }
    if let Some(cs) = plan.change_set.as_ref().filter(|cs| !cs.empty) {
        text.push_str("  change set:\n");
        for c in &cs.changes {
            let replacement = match c.replacement.as_deref() {
                Some("True") => " [REPLACEMENT]",
                Some("Conditional") => " [MAY REPLACE]",
                _ => "",
            };
            let props = if c.properties.is_empty() {
                String::new()
            } else {
                format!(": {}", c.properties.join(", "))
            };
            text.push_str(&format!(
                "    {} {} ({}){replacement}{props}\n",
                c.action, c.logical_id, c.resource_type
            ));
        }
    }
    if plan.decision == Decision::Update && !plan.losses.is_empty() {
        let losses: Vec<String> = plan.losses.iter().map(ToString::to_string).collect();
        text.push_str(&format!(
            "  allowed by --allow-replace: {}\n  the stack policy is lifted for this update only\n",
            losses.join("; ")
        ));
    }
    if let Some(refusal) = &plan.refusal {
        text.push_str(&format!(
            "  refused: {refusal}\n  pass --allow-replace if that is intended\n"
        ));
    }
    progress.text(&text);
}

fn preview_report(plan: &Plan) -> CapabilityReport {
    CapabilityReport {
        outcome: Outcome {
            success: plan.decision != Decision::Refused,
            error: plan
                .refusal
                .clone()
                .map(|r| format!("refused: {r} (pass --allow-replace if intended)")),
            ..Outcome::of(plan)
        },
        diff: plan.diff.clone(),
    }
}

fn failed_before_start(name: &str, stack_name: &str, err: Error) -> CapabilityReport {
    let text = err.one_line();
    CapabilityReport {
        outcome: Outcome {
            error: Some(text),
            ..Outcome::new(name, stack_name, Decision::NotStarted, "UNCHANGED".into())
        },
        diff: TemplateDiff::default(),
    }
}
