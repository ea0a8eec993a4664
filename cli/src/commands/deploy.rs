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
}

#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub environment: String,
    pub dry_run: bool,
    pub capabilities: Vec<CapabilityReport>,
    pub duration_ms: u128,
}

#[derive(Debug, Serialize)]
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
            if o.success && !self.dry_run {
                for key in ["ApiUrl", "FunctionName", "AliasArn"] {
                    if let Some(v) = o.outputs.get(key) {
                        writeln!(f, "{key:>12} {v}")?;
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

pub fn run(args: DeployArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let start = Instant::now();
    // 1. Configuration: the project, the capabilities, the environment.
    let (project, catalogue) = global.load()?;
    let capabilities: Vec<_> = args
        .selection
        .resolve(&catalogue)?
        .into_iter()
        .cloned()
        .collect();
    let env = catalogue.load_env(&project, &args.env)?;

    // A protected environment needs a yes; where nobody can give one, say so now,
    // before anything is built or changed.
    let protected = env.termination_protection;
    require_answerable(
        protected && !args.dry_run,
        args.yes,
        &format!("deploying to {}", env.name),
        "pass --yes to deploy without asking (CI), or run from a terminal",
    )?;

    // 2. Build (or take the last build) and render: no network yet.
    let refs: Vec<&_> = capabilities.iter().collect();
    let artifacts = if args.no_build {
        refs.iter()
            .map(|c| build::read_artifact(&project, c))
            .collect::<Result<Vec<_>>>()?
    } else {
        let packages = build::workspace_binaries(&project)?;
        for cap in &refs {
            if let Some(reason) = build::missing_crate(cap, &packages) {
                return Err(Error::Config {
                    message: format!("cannot build {}: {reason}", cap.name),
                    help: Some(format!(
                        "add the handler crate to the workspace, or deploy a zip built elsewhere with --no-build (expected at {})",
                        project.display_path(&build::zip_path(&project, cap)).display()
                    )),
                });
            }
        }
        printer.status(
            "Building",
            &format!("{} handler(s) with cargo-lambda", refs.len()),
        );
        build::build(&project, &refs)?
    };
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
        let ctx = AwsContext::load(&global.aws, &env).await;
        // Who is deploying, and is it the environment's account.
        let identity = aws::caller_identity(&ctx).await?;
        aws::check_account(&env, &identity)?;
        let bucket = deploy::artifact_bucket(&env.name, &identity.account, &ctx.region);
        deploy::check_bucket(&ctx, &env.name, &bucket).await?;
        let shared = Arc::new(Shared {
            bucket,
            git_commit: crate::record::git_commit(project.root()),
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
        });
        let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency as usize));

        // 3-6. Prepare every capability in parallel: upload, read the stack, decide,
        // diff and change set. Nothing is executed yet.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, ((cap, rendered), artifact)) in capabilities
            .iter()
            .cloned()
            .zip(rendered)
            .zip(artifacts)
            .enumerate()
        {
            let shared = shared.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let name = cap.name.clone();
                (
                    i,
                    name,
                    deploy::prepare(shared, cap, rendered, artifact).await,
                )
            });
        }
        let mut prepared: Vec<(usize, String, Result<Plan>)> = tasks.join_all().await;
        prepared.sort_by_key(|(i, _, _)| *i);

        // Show every preview.
        let mut plans = Vec::new();
        let mut finished: Vec<CapabilityReport> = Vec::new();
        for (_, name, result) in prepared {
            match result {
                Ok(plan) => {
                    show_plan(&shared.progress, &plan);
                    plans.push(plan);
                }
                Err(err) => {
                    shared.progress.finish(&name, "FAILED before any change");
                    finished.push(failed_before_start(&name, &env.stack_name(&name), err));
                }
            }
        }

        // What a yes is asked for: stack changes, and live versions that would move
        // (a reconcile after a rollback puts the deployed version back).
        let changes = plans
            .iter()
            .filter(|p| {
                matches!(
                    p.decision,
                    Decision::Create | Decision::Update | Decision::Reconcile
                )
            })
            .count();
        if args.dry_run {
            // Nothing executes: remove the change sets we made.
            for plan in &mut plans {
                if let Some(cs) = plan
                    .change_set
                    .as_ref()
                    .filter(|cs| !cs.empty && plan.decision == Decision::Update)
                {
                    let cfn = aws_sdk_cloudformation::Client::new(&shared.ctx.config);
                    // Every capability is cleaned up and reported, whatever one delete says.
                    if let Err(err) =
                        crate::stack::delete_change_set(&shared.ctx, &cfn, &plan.stack_name, &cs.id)
                            .await
                    {
                        plan.notes.push(format!(
                            "the preview's change set {} could not be deleted ({})",
                            cs.name,
                            err.one_line()
                        ));
                    }
                }
                finished.push(preview_report(plan));
            }
        } else {
            // 7. Confirm: protected environments ask, once, for everything shown above.
            if protected && !args.yes && changes > 0 {
                let question = format!(
                    "Deploy {changes} capability change(s) (stack or live version) to {}? [y/N] ",
                    env.name
                );
                let yes = shared.progress.suspend(|| ask(&question))?;
                if !yes {
                    let cfn = aws_sdk_cloudformation::Client::new(&shared.ctx.config);
                    for plan in &plans {
                        if let Some(cs) = plan
                            .change_set
                            .as_ref()
                            .filter(|cs| !cs.empty && plan.decision == Decision::Update)
                        {
                            let _ = crate::stack::delete_change_set(
                                &shared.ctx,
                                &cfn,
                                &plan.stack_name,
                                &cs.id,
                            )
                            .await;
                        }
                    }
                    return Err(Error::Failed(format!(
                        "deploy to {} cancelled: nothing was changed",
                        env.name
                    )));
                }
            }

            // 8-10. Execute in parallel, follow events, point the alias, record.
            let mut tasks = tokio::task::JoinSet::new();
            for (i, plan) in plans.into_iter().enumerate() {
                let shared = shared.clone();
                let limit = limit.clone();
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let diff = plan.diff.clone();
                    (
                        i,
                        CapabilityReport {
                            outcome: deploy::execute(shared, plan).await,
                            diff,
                        },
                    )
                });
            }
            let mut done: Vec<(usize, CapabilityReport)> = tasks.join_all().await;
            done.sort_by_key(|(i, _)| *i);
            finished.extend(done.into_iter().map(|(_, r)| r));
        }
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

/// The preview of one capability: the stack's state notes, the diff, the change set's
/// own view, and the guard's verdict.
fn show_plan(progress: &Progress, plan: &Plan) {
    let cap = plan.capability.as_str();
    progress.json(
        "plan",
        Some(cap),
        &serde_json::json!({
            "decision": plan.decision,
            "stack_name": plan.stack_name,
            "diff": plan.diff,
            "change_set": plan.change_set,
            "refusal": plan.refusal,
            "notes": plan.notes,
        }),
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
            capability: name.to_string(),
            stack_name: stack_name.to_string(),
            decision: Decision::NotStarted,
            status: "UNCHANGED".into(),
            success: false,
            outputs: Default::default(),
            function_version: None,
            deployment: None,
            duration_ms: 0,
            failures: Vec::new(),
            notes: Vec::new(),
            canary: None,
            error: Some(text),
        },
        diff: TemplateDiff::default(),
    }
}
