//! `stackpro destroy`: delete one capability's stack. Tables and buckets are retained by
//! their deletion policy and listed afterwards; termination protection is explained, never
//! removed; protected environments also need `--force`.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::{ask, require_answerable, GlobalArgs};
use crate::aws::{self, AwsContext};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::progress::Progress;
use crate::stack;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The capability whose stack to delete
    #[arg(value_name = "CAPABILITY")]
    pub capability: String,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Needed as well for an environment with termination_protection (production)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DestroyReport {
    pub capability: String,
    pub environment: String,
    pub stack_name: String,
    /// `deleted`, or `not_deployed` when there was no stack.
    pub action: String,
    /// Tables that outlive the stack (their data is kept), by name.
    pub retained_tables: Vec<String>,
    /// Buckets that outlive the stack (their objects are kept), by name.
    pub retained_buckets: Vec<String>,
}

impl fmt::Display for DestroyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action.as_str() {
            "deleted" => writeln!(
                f,
                "{:>12} {} ({})",
                "Deleted", self.stack_name, self.environment
            )?,
            _ => writeln!(
                f,
                "{:>12} {} has no stack in {}",
                "Nothing", self.capability, self.environment
            )?,
        }
        for t in &self.retained_tables {
            writeln!(
                f,
                "{:>12} table {t} (data kept; delete it yourself if it is no longer wanted)",
                "Retained"
            )?;
        }
        for b in &self.retained_buckets {
            writeln!(
                f,
                "{:>12} bucket {b} (objects kept; empty and delete it yourself if it is no longer wanted)",
                "Retained"
            )?;
        }
        Ok(())
    }
}

pub fn run(args: DestroyArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let cap = catalogue.get(&args.capability)?.clone();
    let env = catalogue.load_env(&project, &args.env)?;
    let name = env.stack_name(&cap.name);
    if env.termination_protection && !args.force {
        return Err(Error::Confirmation {
            message: format!(
                "{} is a protected environment: destroying {name} needs --force",
                env.name
            ),
            help: format!(
                "run `stackpro destroy {} --env {} --force` if you mean it",
                cap.name, env.name
            ),
        });
    }
    require_answerable(
        true,
        args.yes,
        &format!("destroying {name}"),
        "pass --yes to destroy without asking",
    )?;
    let progress = Progress::new(printer, &[cap.name.as_str()]);
    let report = super::aws_runtime()?.block_on(async {
        let progress = &progress;
        let ctx = AwsContext::load(&global.aws, &env).await;
        let identity = aws::caller_identity(&ctx).await?;
        aws::check_account(&env, &identity)?;
        let Some(found) = stack::describe(&ctx, &name).await? else {
            return Ok::<_, Error>(DestroyReport {
                capability: cap.name.clone(),
                environment: env.name.clone(),
                stack_name: name.clone(),
                action: "not_deployed".into(),
                retained_tables: Vec::new(),
                retained_buckets: Vec::new(),
            });
        };
        if found.enable_termination_protection() == Some(true) {
            return Err(Error::Stack {
                stack: name.clone(),
                message: "has termination protection, so CloudFormation refuses to delete it".into(),
                help: Some(format!(
                    "stackpro never turns protection off for you; if the stack must really go, turn it off yourself \
                     (aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {name}) \
                     and run destroy again"
                )),
            });
        }
        let bucket_names: Vec<String> = cap
            .buckets
            .iter()
            .map(|b| crate::config::bucket_name(&name, &b.name, &identity.account, &ctx.region))
            .collect();
        if !args.yes {
            let tables: Vec<String> = cap.tables.iter().map(|t| format!("{name}-{}", t.name)).collect();
            let buckets = if bucket_names.is_empty() {
                String::new()
            } else {
                format!(" and buckets ({})", bucket_names.join(", "))
            };
            let question = format!(
                "Delete stack {name} in {}? Its tables ({}){buckets} are kept. [y/N] ",
                env.name,
                tables.join(", ")
            );
            if !progress.suspend(|| ask(&question))? {
                return Err(Error::Failed(format!("destroy of {name} cancelled: nothing was changed")));
            }
        }
        // Follow the delete by stack id: by name, a deleted stack no longer answers.
        let id = found.stack_id().unwrap_or(&name).to_string();
        let baseline = stack::Baseline::read(&ctx, &id).await?;
        crate::aws::cloudformation::delete_stack(&ctx, &id).await?;
        progress.start(&cap.name, found.outputs().len().max(1), "DELETE_IN_PROGRESS");
        let watched = stack::watch(&ctx, &id, baseline, std::time::Duration::from_secs(3600), &|e| {
            progress.event(&cap.name, e)
        })
        .await?;
        let status = watched.stack.stack_status().map(|s| s.as_str().to_string()).unwrap_or_default();
        if status != "DELETE_COMPLETE" {
            progress.finish(&cap.name, &format!("FAILED: {status}"));
            let failures = stack::failures(&watched.events);
            return Err(Error::Stack {
                stack: name.clone(),
                message: format!(
                    "ended {status}: {}",
                    failures.iter().map(|f| format!("{}: {}", f.logical_id, f.reason)).collect::<Vec<_>>().join("; ")
                ),
                help: Some(format!(
                    "fix what blocks those resources and run `stackpro destroy {} --env {}` again",
                    cap.name, env.name
                )),
            });
        }
        progress.finish(&cap.name, "DELETE_COMPLETE");
        // Tables outlive the stack (DeletionPolicy: Retain): say which ones are there.
        let mut retained = Vec::new();
        for t in &cap.tables {
            let table = format!("{name}-{}", t.name);
            if crate::aws::dynamodb::table_exists(&ctx, &table).await.unwrap_or(false) {
                retained.push(table);
            }
        }
        // So do buckets.
        let mut retained_buckets = Vec::new();
        for bucket in bucket_names {
            if crate::aws::s3::bucket_exists(&ctx, &bucket).await.unwrap_or(false) {
                retained_buckets.push(bucket);
            }
        }
        Ok(DestroyReport {
            capability: cap.name.clone(),
            environment: env.name.clone(),
            stack_name: name.clone(),
            action: "deleted".into(),
            retained_tables: retained,
            retained_buckets,
        })
    })?;
    progress.report(printer, &report);
    Ok(())
}
