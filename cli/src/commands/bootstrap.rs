//! `stackpro bootstrap`: create or update the environment's bootstrap stack, which
//! holds the artifact bucket deploys upload handler zips to. Safe to run again.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::aws::{self, AwsContext};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::render::Renderer;
use crate::stack::{self, Applied};

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The environment to bootstrap (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BootstrapReport {
    pub environment: String,
    pub stack_name: String,
    pub action: Applied,
    pub status: String,
    pub artifact_bucket: String,
    pub account: String,
    pub region: String,
}

impl fmt::Display for BootstrapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.action {
            Applied::Created => "Created",
            Applied::Updated => "Updated",
            Applied::UpToDate => "Up to date",
        };
        writeln!(
            f,
            "{verb:>12} {} ({}) in account {} {}",
            self.stack_name, self.status, self.account, self.region
        )?;
        writeln!(f, "{:>12} {}", "bucket", self.artifact_bucket)
    }
}

pub fn run(args: BootstrapArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let env = catalogue.load_env(&project, &args.env)?;
    let rendered = Renderer::new(&project).render_bootstrap(&env)?;
    let report = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        // Refuse the wrong account before anything is created in it.
        let identity = aws::caller_identity(&ctx).await?;
        aws::check_account(&env, &identity)?;
        printer.status(
            "Bootstrapping",
            &format!("{} in {}", rendered.stack_name, ctx.region),
        );
        let (action, stack) = stack::create_or_update(
            &ctx,
            &rendered.stack_name,
            &rendered.template,
            &rendered.tags,
            env.termination_protection,
            // The artifact bucket is guarded like every stateful resource.
            Some(&crate::planner::stack_policy()),
        )
        .await?;
        let bucket = stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("ArtifactBucketName"))
            .and_then(|o| o.output_value())
            .map(str::to_string)
            .ok_or_else(|| Error::Aws {
                operation: "DescribeStacks",
                target: rendered.stack_name.clone(),
                detail: "the stack has no ArtifactBucketName output".into(),
            })?;
        Ok::<_, Error>(BootstrapReport {
            environment: env.name.clone(),
            stack_name: rendered.stack_name.clone(),
            action,
            status: stack
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            artifact_bucket: bucket,
            account: identity.account,
            region: ctx.region.clone(),
        })
    })?;
    printer.report(&report);
    Ok(())
}
