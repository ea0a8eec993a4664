//! `stackpro promote`: end a canary started with `deploy --canary ... --no-wait` by
//! giving the new version all traffic.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::{ask, require_answerable, GlobalArgs};
use crate::aws::{self, AwsContext};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::record;
use crate::release;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The capability whose canary to promote
    #[arg(value_name = "CAPABILITY")]
    pub capability: String,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Do not ask for confirmation in a protected environment
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PromoteReport {
    pub capability: String,
    pub environment: String,
    pub from_version: String,
    pub to_version: String,
    pub deployment: Option<i64>,
    pub note: Option<String>,
}

impl fmt::Display for PromoteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>12} {} {}: version {} now serves all traffic (was {})",
            "Promoted", self.capability, self.environment, self.to_version, self.from_version
        )?;
        if let Some(note) = &self.note {
            writeln!(f, "{:>12} {note}", "note")?;
        }
        Ok(())
    }
}

pub fn run(args: PromoteArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let cap = catalogue.get(&args.capability)?.clone();
    let env = catalogue.load_env(&project, &args.env)?;
    let name = env.stack_name(&cap.name);
    require_answerable(
        env.termination_protection,
        args.yes,
        &format!("promoting in {}", env.name),
        "pass --yes to promote without asking",
    )?;
    let report = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let identity = aws::caller_identity(&ctx).await?;
        aws::check_account(&env, &identity)?;
        let live = release::live(&ctx, &name).await?;
        let Some((canary, weight)) = live.as_ref().and_then(|l| l.canary.clone()) else {
            return Err(Error::Stack {
                stack: name.clone(),
                message: format!(
                    "has no canary in progress (live serves version {})",
                    live.map(|l| l.version).unwrap_or_else(|| "none".into())
                ),
                help: Some(format!(
                    "start one with `stackpro deploy {} --env {} --canary 10%:5m --no-wait`",
                    cap.name, env.name
                )),
            });
        };
        let stable = live.map(|l| l.version).unwrap_or_default();
        if env.termination_protection && !args.yes {
            let question = format!(
                "Promote version {canary} ({:.0}% now) to all traffic in {}? [y/N] ",
                weight * 100.0,
                env.name
            );
            if !ask(&question)? {
                return Err(Error::Failed(
                    "promote cancelled: nothing was changed".into(),
                ));
            }
        }
        release::point_alias(&ctx, &name, &canary).await?;
        // The canary's own record says what the version runs; only that one is promoted
        // to a release record (another record would lend its fingerprint to other code).
        let mut number = None;
        let mut note = None;
        match record::latest(&ctx, &env.name, &cap.name).await? {
            Some(mut d) if d.kind == crate::record::DeploymentKind::Canary && d.function_version == canary => {
                d.kind = crate::record::DeploymentKind::Deploy;
                d.time = record::now_rfc3339();
                d.actor = identity.arn.clone();
                d.number = None;
                number = Some(record::write(&ctx, &env.name, &cap.name, &d).await?);
            }
            _ => {
                note = Some(format!(
                    "no canary record of version {canary} is the newest deployment record: the alias moved, the record was not updated; deploy again to record it"
                ))
            }
        }
        Ok::<_, Error>(PromoteReport {
            capability: cap.name.clone(),
            environment: env.name.clone(),
            from_version: stable,
            to_version: canary,
            deployment: number,
            note,
        })
    })?;
    printer.report(&report);
    Ok(())
}
