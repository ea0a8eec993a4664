//! `stackpro doctor`: can this machine act on an environment? Credentials, region,
//! endpoint, account, and the local tools the other commands run.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::aws::{self, AwsContext, CallerIdentity, Source};
use crate::error::Result;
use crate::lint::{find_cfn_lint, find_on_path};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The environment to check (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DoctorReport {
    pub environment: String,
    pub region: String,
    pub region_source: Source,
    pub endpoint: Option<String>,
    pub endpoint_source: Option<Source>,
    pub profile: Option<String>,
    pub identity: Option<CallerIdentity>,
    pub expected_account: Option<String>,
    pub tools: Vec<Tool>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Tool {
    pub name: &'static str,
    pub path: Option<PathBuf>,
    pub needed_by: &'static str,
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>12} {}", "environment", self.environment)?;
        writeln!(
            f,
            "{:>12} {} (from the {})",
            "region", self.region, self.region_source
        )?;
        match (&self.endpoint, &self.endpoint_source) {
            (Some(url), Some(source)) => {
                writeln!(f, "{:>12} {url} (from the {source})", "endpoint")?
            }
            _ => writeln!(f, "{:>12} AWS (no endpoint override)", "endpoint")?,
        }
        writeln!(
            f,
            "{:>12} {}",
            "profile",
            self.profile.as_deref().unwrap_or("(default chain)")
        )?;
        if let Some(id) = &self.identity {
            writeln!(f, "{:>12} {} (account {})", "identity", id.arn, id.account)?;
        }
        match &self.expected_account {
            Some(a) => writeln!(f, "{:>12} pinned to {a}: matches", "account")?,
            None => writeln!(f, "{:>12} not pinned in the environment file", "account")?,
        }
        for tool in &self.tools {
            match &tool.path {
                Some(p) => writeln!(f, "{:>12} {}", tool.name, p.display())?,
                None => writeln!(
                    f,
                    "{:>12} not found (needed by {}; install with scripts/setup.sh)",
                    tool.name, tool.needed_by
                )?,
            }
        }
        Ok(())
    }
}

pub fn run(args: DoctorArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let env = catalogue.load_env(&project, &args.env)?;
    let venv_tool = |name: &str| {
        let p = project.venv_bin().join(name);
        if p.is_file() {
            Some(p)
        } else {
            find_on_path(name)
        }
    };
    let tools = vec![
        Tool {
            name: "cfn-lint",
            path: find_cfn_lint(&project),
            needed_by: "stackpro validate",
        },
        Tool {
            name: "cargo-lambda",
            path: venv_tool("cargo-lambda"),
            needed_by: "building handlers",
        },
        Tool {
            name: "moto_server",
            path: venv_tool("moto_server"),
            needed_by: "the local environment and the tests",
        },
    ];

    let (ctx, identity) = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let identity = aws::caller_identity(&ctx).await;
        (ctx, identity)
    });
    let mut report = DoctorReport {
        environment: env.name.clone(),
        region: ctx.region.clone(),
        region_source: ctx.region_source.clone(),
        endpoint: ctx.endpoint.clone(),
        endpoint_source: ctx.endpoint_source.clone(),
        profile: ctx.profile.clone(),
        identity: None,
        expected_account: None,
        tools,
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(err) => {
            printer.report(&report);
            return Err(err);
        }
    };
    report.identity = Some(identity.clone());
    if let Err(err) = aws::check_account(&env, &identity) {
        printer.report(&report);
        return Err(err);
    }
    report.expected_account = env.account_id.clone();
    printer.report(&report);
    Ok(())
}
