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
    /// Whether the account can hold the reserved concurrency the environment asks for.
    pub concurrency: Option<ConcurrencyCheck>,
    pub tools: Vec<Tool>,
}

/// `lambda.reserved_concurrency` of every function against the account's limit. AWS keeps
/// 100 executions (or the whole limit, if it is lower) unreserved, so an account still at
/// the new-account limit of 10 can reserve nothing, and a deploy that asks fails.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConcurrencyCheck {
    /// The account's concurrent-executions limit in the region, when it could be read.
    pub limit: Option<i32>,
    /// What functions reserve now in the account (any function, these or others).
    pub reserved_now: Option<i32>,
    /// What this environment reserves: per function, times its functions.
    pub reserved_per_function: u32,
    pub functions: usize,
    /// The most the account lets functions reserve in all.
    pub reservable: Option<i32>,
    /// `ok`, `too_much` (a deploy would be refused), or `not_checked`.
    pub verdict: String,
    pub note: String,
}

/// AWS's floor of unreserved concurrency: 100, or the whole limit below that.
const UNRESERVED_FLOOR: i32 = 100;

/// The verdict on `per_function` x `functions` reserved executions in an account whose
/// limit is `limit` and of which `unreserved` is not reserved now.
pub fn concurrency_check(
    limit: i32,
    unreserved: i32,
    per_function: u32,
    functions: usize,
    env: &str,
) -> ConcurrencyCheck {
    let reservable = limit - UNRESERVED_FLOOR.min(limit);
    let wanted = i64::from(per_function) * functions as i64;
    let fits = wanted <= i64::from(reservable);
    ConcurrencyCheck {
        limit: Some(limit),
        reserved_now: Some(limit - unreserved),
        reserved_per_function: per_function,
        functions,
        reservable: Some(reservable),
        verdict: if fits { "ok" } else { "too_much" }.into(),
        note: if fits {
            format!(
                "{functions} functions x {per_function} reserved = {wanted} of the {reservable} this account can reserve (limit {limit}; {} reserved now)",
                limit - unreserved
            )
        } else {
            format!(
                "{functions} functions x {per_function} reserved = {wanted}, but this account can reserve {reservable} (limit {limit}, of which AWS keeps {} unreserved): a deploy to {env} would be refused; raise the quota \"Concurrent executions\" (Service Quotas, Lambda) or lower or remove lambda.reserved_concurrency in envs/{env}.yaml",
                UNRESERVED_FLOOR.min(limit)
            )
        },
    }
}

fn concurrency_not_checked(per_function: u32, functions: usize, note: String) -> ConcurrencyCheck {
    ConcurrencyCheck {
        limit: None,
        reserved_now: None,
        reserved_per_function: per_function,
        functions,
        reservable: None,
        verdict: "not_checked".into(),
        note,
    }
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
        if let Some(c) = &self.concurrency {
            writeln!(f, "{:>12} {}: {}", "concurrency", c.verdict, c.note)?;
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

    let functions = catalogue.capabilities.len();
    let (ctx, identity, concurrency) = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let identity = aws::caller_identity(&ctx).await;
        let concurrency = match env.lambda.reserved_concurrency {
            Some(_) if identity.is_ok() => Some(aws::lambda::account_concurrency(&ctx).await),
            _ => None,
        };
        (ctx, identity, concurrency)
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
        concurrency: None,
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
    if let (Some(per_function), Some(read)) = (env.lambda.reserved_concurrency, concurrency) {
        let check = match read {
            Ok(a) => concurrency_check(a.limit, a.unreserved, per_function, functions, &env.name),
            Err(_) if ctx.is_local() => concurrency_not_checked(
                per_function,
                functions,
                "the local emulator does not serve GetAccountSettings (it has no concurrency limit)".into(),
            ),
            Err(e) => concurrency_not_checked(
                per_function,
                functions,
                format!("could not read the account's Lambda settings ({e}); the role needs lambda:GetAccountSettings"),
            ),
        };
        let refused = check.verdict == "too_much";
        let note = check.note.clone();
        report.concurrency = Some(check);
        if refused {
            printer.report(&report);
            return Err(crate::error::Error::Config {
                message: format!(
                    "the account cannot hold the concurrency environment {} reserves",
                    env.name
                ),
                help: Some(note),
            });
        }
    }
    printer.report(&report);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_account_can_reserve_nothing_and_a_raised_one_can() {
        // A new account: limit 10, all of it kept unreserved.
        let new = concurrency_check(10, 10, 10, 4, "sandbox");
        assert_eq!(
            (new.reservable, new.verdict.as_str()),
            (Some(0), "too_much")
        );
        assert!(
            new.note.contains(
                "this account can reserve 0 (limit 10, of which AWS keeps 10 unreserved)"
            ),
            "{}",
            new.note
        );
        assert!(new
            .note
            .contains("lambda.reserved_concurrency in envs/sandbox.yaml"));
        // The default limit: 1000, 100 kept.
        let raised = concurrency_check(1000, 950, 10, 4, "sandbox");
        assert_eq!(
            (raised.reservable, raised.verdict.as_str()),
            (Some(900), "ok")
        );
        assert_eq!(raised.reserved_now, Some(50));
        // Production's 100 per function over four functions needs 400 of 900.
        assert_eq!(
            concurrency_check(1000, 1000, 100, 4, "production").verdict,
            "ok"
        );
        assert_eq!(
            concurrency_check(400, 400, 100, 4, "production").verdict,
            "too_much"
        );
        // At the edge: exactly what can be reserved fits.
        assert_eq!(concurrency_check(140, 140, 10, 4, "sandbox").verdict, "ok");
        assert_eq!(
            concurrency_check(139, 139, 10, 4, "sandbox").verdict,
            "too_much"
        );
    }
}
