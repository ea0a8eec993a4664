//! `stackpro rollback`: put the previous deployment back.
//!
//! - Fast path (default): point `live` back at an earlier deployment's Lambda version:
//!   seconds, no CloudFormation update. A canary in progress is ended the same way.
//! - `--full`: deploy the earlier deployment's template and artifact again through a
//!   change set (for infrastructure changes).
//! - A stack in UPDATE_ROLLBACK_FAILED is recovered with ContinueUpdateRollback
//!   (`--skip` names resources to leave as they are); an update in progress is cancelled.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_cloudformation::types::StackStatus;
use clap::Args;
use serde::Serialize;

use super::{ask, require_answerable, GlobalArgs};
use crate::aws::{self, AwsContext};
use crate::build::Artifact;
use crate::config::EnvConfig;
use crate::deploy::{self, Decision, Options, Outcome, Shared};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::progress::Progress;
use crate::record::{self, Deployment};
use crate::release;
use crate::render::Rendered;
use crate::stack;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The capability to roll back
    #[arg(value_name = "CAPABILITY")]
    pub capability: String,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// The deployment number to go back to (see `stackpro status`; default: the newest
    /// deployment with another version than the live one)
    #[arg(long, value_name = "DEPLOYMENT")]
    pub to: Option<i64>,
    /// Deploy that deployment's template and artifact again (infrastructure too)
    #[arg(long)]
    pub full: bool,
    /// With a stack in UPDATE_ROLLBACK_FAILED: resources to skip (leave as they are)
    #[arg(long, value_name = "LOGICAL_ID")]
    pub skip: Vec<String>,
    /// Do not ask for confirmation in a protected environment
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RollbackReport {
    pub capability: String,
    pub environment: String,
    pub stack_name: String,
    /// `alias`, `canary_ended`, `full`, `continued_rollback` or `cancelled_update`.
    pub action: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    /// The deployment gone back to.
    pub to_deployment: Option<i64>,
    /// The record written for this rollback.
    pub deployment: Option<i64>,
    pub status: Option<String>,
    pub skipped: Vec<String>,
    pub notes: Vec<String>,
    pub duration_ms: u128,
}

impl fmt::Display for RollbackReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.action.as_str() {
            "continued_rollback" => format!(
                "continued the rollback of {}: {}",
                self.stack_name,
                self.status.as_deref().unwrap_or("?")
            ),
            "cancelled_update" => format!(
                "cancelled the update of {}: {}",
                self.stack_name,
                self.status.as_deref().unwrap_or("?")
            ),
            _ => format!(
                "{} {} live: version {} -> {}{}",
                self.capability,
                self.environment,
                self.from_version.as_deref().unwrap_or("?"),
                self.to_version.as_deref().unwrap_or("?"),
                self.to_deployment
                    .map(|n| format!(" (deployment #{n})"))
                    .unwrap_or_default()
            ),
        };
        writeln!(
            f,
            "{:>12} {what} in {:.1} s",
            "Rolled back",
            self.duration_ms as f64 / 1000.0
        )?;
        for s in &self.skipped {
            writeln!(f, "{:>12} {s} (left as it is; check it by hand)", "skipped")?;
        }
        for n in &self.notes {
            writeln!(f, "{:>12} {n}", "note")?;
        }
        Ok(())
    }
}

pub fn run(args: RollbackArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let start = Instant::now();
    let (project, catalogue) = global.load()?;
    let cap = catalogue.get(&args.capability)?.clone();
    let env = catalogue.load_env(&project, &args.env)?;
    let name = env.stack_name(&cap.name);
    require_answerable(
        env.termination_protection,
        args.yes,
        &format!("rolling back {name}"),
        "pass --yes to roll back without asking",
    )?;
    let progress = Progress::new(printer, &[cap.name.as_str()]);
    let runtime = super::parallel_runtime()?;
    let mut report = runtime.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        // Everything a rollback decides on, read at once (one round trip).
        let (identity, found, live, history) = tokio::try_join!(
            aws::caller_identity(&ctx),
            stack::describe(&ctx, &name),
            release::live(&ctx, &name),
            record::history(&ctx, &env.name, &cap.name),
        )?;
        aws::check_account(&env, &identity)?;
        let found = found.ok_or_else(|| Error::Stack {
                stack: name.clone(),
                message: "does not exist: there is nothing to roll back".into(),
                help: Some(format!(
                    "deploy it first: `stackpro deploy {} --env {}`",
                    cap.name, env.name
                )),
            })?;
        let mut report = RollbackReport {
            capability: cap.name.clone(),
            environment: env.name.clone(),
            stack_name: name.clone(),
            action: String::new(),
            from_version: None,
            to_version: None,
            to_deployment: None,
            deployment: None,
            status: None,
            skipped: Vec::new(),
            notes: Vec::new(),
            duration_ms: 0,
        };
        let confirm = |question: String| -> Result<()> {
            if env.termination_protection
                && !args.yes
                && !progress.suspend(|| ask(&format!("{question} [y/N] ")))?
            {
                return Err(Error::Failed(
                    "rollback cancelled: nothing was changed".into(),
                ));
            }
            Ok(())
        };

        // Stack-level recovery first: a stuck rollback, or an update to cancel.
        match found.stack_status() {
            Some(StackStatus::UpdateRollbackFailed) => {
                confirm(format!("Continue the rollback of {name}?"))?;
                return continue_rollback(&ctx, &found, &args.skip, &progress, &cap.name, report)
                    .await;
            }
            Some(StackStatus::UpdateInProgress) => {
                confirm(format!("Cancel the update of {name} in progress?"))?;
                let baseline = stack::Baseline::read(&ctx, &name).await?;
                crate::aws::cloudformation::cancel_update_stack(&ctx, &name).await?;
                progress.start(&cap.name, 0, "UPDATE_ROLLBACK_IN_PROGRESS");
                let watched = stack::watch(&ctx, &name, baseline, std::time::Duration::from_secs(3600), &|e| {
                    progress.event(&cap.name, e)
                })
                .await?;
                let status = watched.stack.stack_status().map(|s| s.as_str().to_string());
                progress.finish(&cap.name, status.as_deref().unwrap_or("?"));
                report.action = "cancelled_update".into();
                report.status = status;
                return Ok(report);
            }
            Some(s) if stack::is_in_progress(s) => {
                return Err(Error::Stack {
                    stack: name.clone(),
                    message: format!("is {}: only an update in progress can be cancelled", s.as_str()),
                    help: Some(format!("wait for it to end (`stackpro status {} --env {}`)", cap.name, env.name)),
                });
            }
            _ => {}
        }

        // Releases: which version `live` serves.
        let live = live.ok_or_else(|| Error::Stack {
            stack: name.clone(),
            message: "has no live alias: no release to roll back".into(),
            help: Some(format!("deploy it: `stackpro deploy {} --env {}`", cap.name, env.name)),
        })?;
        report.from_version = Some(live.version.clone());

        // A canary in progress: the stable version takes all traffic again.
        if let Some((canary, _)) = &live.canary {
            if args.to.is_none() && !args.full {
                confirm(format!("End the canary of version {canary} in {}?", env.name))?;
                release::point_alias_from(&ctx, &name, Some(&live), &live.version).await?;
                report.action = "canary_ended".into();
                report.from_version = Some(canary.clone());
                report.to_version = Some(live.version.clone());
                // The record of what the stable version is: its newest release.
                let stable = history.iter().rev().find(|d| {
                    d.is_release_of_fingerprint() && d.function_version == live.version
                });
                if let Some(mut d) = stable.cloned() {
                    d.kind = crate::record::DeploymentKind::Rollback;
                    d.function_version = live.version.clone();
                    d.time = record::now_rfc3339();
                    d.actor = identity.arn.clone();
                    d.number = None;
                    report.deployment = Some(record::write(&ctx, &env.name, &cap.name, &d).await?);
                } else {
                    report.notes.push(format!(
                        "no recorded release of version {} was found: the deployment record was not updated",
                        live.version
                    ));
                }
                return Ok(report);
            }
        }

        let canary = live.canary.as_ref().map(|(v, _)| v.as_str());
        let target = release::rollback_target(&history, &live.version, canary, args.to)?.clone();
        report.to_deployment = target.number;
        if !args.full {
            confirm(format!(
                "Point {name}:live from version {} back to version {} (deployment #{})?",
                live.version,
                target.function_version,
                target.number.unwrap_or_default()
            ))?;
            // The alias moves, the record is written and the deployed template is read
            // at once (one round trip). If the alias does not move, the record written
            // beside it is taken back by writing the previous one again; if the record
            // cannot be written, the alias goes back where it was.
            let d = Deployment {
                time: record::now_rfc3339(),
                actor: identity.arn.clone(),
                kind: crate::record::DeploymentKind::Rollback,
                number: None,
                ..target.clone()
            };
            let (moved, written, deployed) = tokio::join!(
                release::point_alias_from(&ctx, &name, Some(&live), &target.function_version),
                record::write(&ctx, &env.name, &cap.name, &d),
                stack::template_body(&ctx, &name),
            );
            if let Err(err) = moved {
                return Err(take_back(&ctx, (&env.name, &cap.name, &name), history.last(), written.is_ok(), err).await);
            }
            let written = match written {
                Ok(w) => w,
                Err(err) => return Err(put_alias_back(&ctx, &name, &live, &target.function_version, err).await),
            };
            report.deployment = Some(written);
            report.action = "alias".into();
            report.to_version = Some(target.function_version.clone());
            if crate::render::hex(&<sha2::Sha256 as sha2::Digest>::digest(deployed?.as_bytes()))
                != target.template_sha256
            {
                report.notes.push(format!(
                    "only the code went back: the stack keeps its current template; `stackpro rollback {} --env {} --full` rolls the infrastructure back too",
                    cap.name, env.name
                ));
            }
            return Ok(report);
        }

        // --full: the earlier template and artifact through the deploy runbook.
        let outcome = full(&ctx, &env, &identity, &cap, &target, &progress, &project).await?;
        report.action = "full".into();
        report.to_version = outcome.function_version.clone();
        report.deployment = outcome.deployment;
        report.status = Some(outcome.status.clone());
        report.notes.extend(outcome.notes.clone());
        if !outcome.success {
            return Err(Error::Stack {
                stack: name.clone(),
                message: format!(
                    "full rollback to deployment #{} failed: {}",
                    target.number.unwrap_or_default(),
                    outcome.error.unwrap_or_default()
                ),
                help: Some(format!("see `stackpro status {} --env {}`", cap.name, env.name)),
            });
        }
        Ok(report)
    })?;
    report.duration_ms = start.elapsed().as_millis();
    progress.report(printer, &report);
    Ok(())
}

/// ContinueUpdateRollback, skipping `skip`, followed to its end; still failing, the
/// error names the resources and the `--skip` flags that would get past them.
pub async fn continue_rollback(
    ctx: &AwsContext,
    found: &aws_sdk_cloudformation::types::Stack,
    skip: &[String],
    progress: &Progress,
    cap: &str,
    mut report: RollbackReport,
) -> Result<RollbackReport> {
    let name = report.stack_name.clone();
    let baseline = stack::Baseline::read(ctx, &name).await?;
    // The resources that failed to roll back, from the last operation's events.
    let failed = stack::last_operation_failures(ctx, found).await;
    crate::aws::cloudformation::continue_update_rollback(ctx, &name, skip).await?;
    progress.start(cap, 0, "UPDATE_ROLLBACK_IN_PROGRESS");
    let watched = stack::watch(
        ctx,
        &name,
        baseline,
        std::time::Duration::from_secs(3600),
        &|e| progress.event(cap, e),
    )
    .await?;
    let status = watched.stack.stack_status().cloned();
    progress.finish(cap, status.as_ref().map(|s| s.as_str()).unwrap_or("?"));
    report.action = "continued_rollback".into();
    report.skipped = skip.to_vec();
    report.status = status.as_ref().map(|s| s.as_str().to_string());
    if status == Some(StackStatus::UpdateRollbackFailed) {
        let still = stack::failures(&watched.events);
        let ids: Vec<String> = if still.is_empty() {
            failed.iter().map(|f| f.logical_id.clone()).collect()
        } else {
            still.iter().map(|f| f.logical_id.clone()).collect()
        };
        return Err(Error::Stack {
            stack: name.clone(),
            message: format!(
                "could not finish its rollback: {}",
                still
                    .iter()
                    .chain(failed.iter())
                    .map(|f| format!("{}: {}", f.logical_id, f.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            help: Some(format!(
                "fix those resources by hand, or skip them: `stackpro rollback {cap} --env {} {}`",
                report.environment,
                ids.iter()
                    .map(|i| format!("--skip {i}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        });
    }
    Ok(report)
}

/// After the alias failed to move: the rollback record written beside it is taken
/// back (the previous record written again), and the error says what holds now.
async fn take_back(
    ctx: &AwsContext,
    (env, cap, stack): (&str, &str, &str),
    previous: Option<&Deployment>,
    written: bool,
    err: Error,
) -> Error {
    if !written {
        return err;
    }
    let restored = match previous {
        Some(p) => {
            let again = Deployment {
                number: None,
                ..p.clone()
            };
            record::write(ctx, env, cap, &again).await.is_ok()
        }
        None => false,
    };
    let record = if restored {
        "the deployment record was put back as it was"
    } else {
        "the deployment record still says rolled back: run the rollback again"
    };
    Error::Stack {
        stack: stack.to_string(),
        message: format!("the live alias did not move ({}); {record}", err.one_line()),
        help: Some("nothing else changed; run the rollback again".into()),
    }
}

/// After the alias moved but its record could not be written: the alias goes back to
/// where it was (with its canary's weight), so the record and the alias agree and the
/// rollback can simply run again. The fault suite (scripts/fault-suite.py) found the
/// alias left on the old version with no record of it, and the next rollback refusing.
async fn put_alias_back(
    ctx: &AwsContext,
    stack: &str,
    live: &release::Live,
    moved_to: &str,
    err: Error,
) -> Error {
    let canary = live.canary.as_ref().map(|(v, w)| (v.as_str(), *w));
    let back =
        aws::lambda::update_alias(ctx, stack, crate::render::LIVE_ALIAS, &live.version, canary)
            .await;
    let (message, help) = match back {
        Ok(()) => (
            format!(
                "the deployment record could not be written ({}); the live alias was put back on version {}",
                err.one_line(),
                live.version
            ),
            "nothing changed; run the rollback again".to_string(),
        ),
        Err(back) => (
            format!(
                "the deployment record could not be written ({}), and the live alias, moved to version {moved_to}, could not be put back on version {} ({})",
                err.one_line(),
                live.version,
                back.one_line()
            ),
            "`stackpro status` shows the live version against the record; `stackpro deploy` puts the recorded version back".to_string(),
        ),
    };
    Error::Stack {
        stack: stack.to_string(),
        message,
        help: Some(help),
    }
}

/// Deploys `target`'s stored template and artifact again, through the deploy runbook.
async fn full(
    ctx: &AwsContext,
    env: &EnvConfig,
    identity: &aws::CallerIdentity,
    cap: &crate::config::Capability,
    target: &Deployment,
    progress: &Progress,
    project: &crate::project::Project,
) -> Result<Outcome> {
    let bucket = deploy::artifact_bucket(&env.name, &identity.account, &ctx.region);
    let key = deploy::template_key(&cap.name, &target.template_sha256);
    let bytes = crate::aws::s3::get_object(ctx, &bucket, &key).await?;
    let template = String::from_utf8_lossy(&bytes).into_owned();
    let template_value: serde_json::Value =
        serde_yaml::from_str(&template).map_err(|e| Error::Aws {
            operation: "GetObject",
            target: format!("s3://{bucket}/{key}"),
            detail: format!("the stored template does not parse: {e}"),
        })?;
    let rendered = Rendered {
        capability: cap.name.clone(),
        environment: env.name.clone(),
        stack_name: env.stack_name(&cap.name),
        template,
        dashboard: String::new(),
        ssm: String::new(),
        ssm_entries: Vec::new(),
        template_value,
    };
    let artifact = Artifact {
        capability: cap.name.clone(),
        package: cap.handler.package.clone(),
        binary: cap.handler.binary.clone(),
        zip: std::path::PathBuf::from(&target.artifact_key),
        zip_bytes: 0,
        binary_sha256: target.artifact_sha256.clone(),
        code_sha256: target.code_sha256.clone(),
    };
    // The progress display belongs to the caller; a deploy of one needs its own.
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        env: env.clone(),
        identity: identity.clone(),
        bucket,
        git_commit: record::git_commit(project.root()),
        options: Options {
            allow_replace: false,
            no_wait: false,
            canary: None,
            record_kind: Some(record::DeploymentKind::RollbackFull),
        },
        progress: Progress::with_mode(progress.mode(), &[cap.name.as_str()]),
    });
    let plan = deploy::prepare(shared.clone(), cap.clone(), rendered, artifact).await?;
    shared.progress.text(&plan.diff.to_string());
    if plan.decision == Decision::Refused {
        return Err(Error::Stack {
            stack: plan.stack_name.clone(),
            message: format!(
                "full rollback refused: {}",
                plan.refusal.clone().unwrap_or_default()
            ),
            help: Some("roll back the code only (without --full), or repair by hand".into()),
        });
    }
    Ok(deploy::execute(shared, plan).await)
}
