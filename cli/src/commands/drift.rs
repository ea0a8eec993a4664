//! `stackpro drift [CAP...] | --all --env E`: CloudFormation's drift detection per
//! capability (every drifted resource with expected and actual values per property),
//! plus the deployments the stack does not know of (code-only deploys, an alias moved
//! outside stackpro). Exits 1 when anything drifted, so CI can gate on it.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::{CapabilitySelection, GlobalArgs};
use crate::aws::AwsContext;
use crate::drift::{self, CapabilityDrift};
use crate::error::{Error, Result};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub selection: CapabilitySelection,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DriftReport {
    pub environment: String,
    pub drifted: bool,
    pub capabilities: Vec<CapabilityDrift>,
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.capabilities {
            let verdict = if c.drifted { "DRIFTED" } else { "in sync" };
            writeln!(
                f,
                "{} ({}): {verdict} (CloudFormation: {})",
                c.capability, c.stack_name, c.stack_drift_status
            )?;
            for r in &c.resources {
                writeln!(f, "  {} ({}) {}", r.logical_id, r.resource_type, r.status)?;
                for p in &r.properties {
                    writeln!(
                        f,
                        "    {} {}: expected {} actual {}",
                        p.difference,
                        p.path,
                        p.expected.as_deref().unwrap_or("-"),
                        p.actual.as_deref().unwrap_or("-")
                    )?;
                }
            }
            for o in &c.outside_stack {
                writeln!(f, "  outside the stack: {o}")?;
            }
        }
        Ok(())
    }
}

pub fn run(args: DriftArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let caps = args.selection.resolve(&catalogue)?;
    let env = catalogue.load_env(&project, &args.env)?;
    let report = super::parallel_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, cap) in caps.iter().enumerate() {
            let (ctx, env_name) = (ctx.clone(), env.name.clone());
            let (stack_name, name) = (env.stack_name(&cap.name), cap.name.clone());
            tasks
                .spawn(async move { (i, drift::check(&ctx, &env_name, &name, &stack_name).await) });
        }
        let mut done = tasks.join_all().await;
        done.sort_by_key(|d| d.0);
        let capabilities = done
            .into_iter()
            .map(|(_, c)| c)
            .collect::<Result<Vec<_>>>()?;
        Ok::<_, Error>(DriftReport {
            environment: env.name.clone(),
            drifted: capabilities.iter().any(|c| c.drifted),
            capabilities,
        })
    })?;
    printer.report(&report);
    if report.drifted {
        let names: Vec<&str> = report
            .capabilities
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.capability.as_str())
            .collect();
        return Err(Error::Failed(format!(
            "{} in {} drifted",
            names.join(", "),
            env.name
        )));
    }
    Ok(())
}
