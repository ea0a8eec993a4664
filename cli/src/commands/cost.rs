//! `stackpro cost`: an environment's estimated fixed monthly cost, from its rendered
//! templates and the compiled-in price file, beside the prices it pays per use.

use clap::Args;

use super::GlobalArgs;
use crate::config::EnvConfig;
use crate::cost::{estimate, CostReport, EnvInput, PriceBook};
use crate::error::Result;
use crate::printer::Printer;
use crate::render::{Rendered, Renderer};

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The environment to estimate (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
}

pub fn run(args: CostArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let env = catalogue.load_env(&project, &args.env)?;
    let renderer = Renderer::new(&project);
    let rendered = catalogue
        .capabilities
        .iter()
        .map(|cap| renderer.render(cap, &env))
        .collect::<Result<Vec<_>>>()?;
    let report = estimate_rendered(&env, &rendered)?;
    printer.report(&report);
    Ok(())
}

/// Prices `env`'s rendered capabilities (what `cost` reports and `validate` checks
/// against the budget).
pub fn estimate_rendered(env: &EnvConfig, rendered: &[Rendered]) -> Result<CostReport> {
    let book = PriceBook::builtin()?;
    estimate(
        &book,
        &EnvInput {
            environment: &env.name,
            region: &env.region,
            emulator: env.is_local(),
            budget: env.budget_usd,
            stacks: rendered
                .iter()
                .map(|r| {
                    (
                        r.capability.as_str(),
                        r.stack_name.as_str(),
                        &r.template_value,
                    )
                })
                .collect(),
        },
    )
}
