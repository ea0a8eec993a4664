//! `stackpro flags list|get|set|unset|history`: the feature flags the running handlers
//! read, in SSM Parameter Store, per environment and per tenant.

use std::fmt;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{ask, require_answerable, GlobalArgs};
use crate::aws::{self, AwsContext};
use crate::config::{Catalogue, EnvConfig};
use crate::error::{Error, Result};
use crate::flags::{self, Effective, Origin, HANDLER_CACHE_SECONDS};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct FlagsArgs {
    #[command(subcommand)]
    pub action: FlagsAction,
}

/// Flags shared by every `flags` subcommand.
#[derive(Debug, Args)]
pub struct Scope {
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// One tenant's override instead of the environment's value
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FlagsAction {
    /// Every flag's effective value, where it comes from, and its last change
    List {
        #[command(flatten)]
        scope: Scope,
    },
    /// One flag's effective value and where it comes from
    Get {
        /// The flag, e.g. CAP_MESSAGING_ENABLED
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// Set flags in SSM, e.g. `CAP_MESSAGING_ENABLED=false`
    Set {
        /// KEY=VALUE pairs
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
        #[command(flatten)]
        scope: Scope,
        /// Do not ask for confirmation in a protected environment
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove flags from SSM: the environment file's default applies again
    Unset {
        #[arg(required = true, value_name = "KEY")]
        names: Vec<String>,
        #[command(flatten)]
        scope: Scope,
        /// Do not ask for confirmation in a protected environment
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Earlier values of a flag (SSM parameter history)
    History {
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FlagsReport {
    pub environment: String,
    pub tenant: Option<String>,
    pub flags: Vec<Effective>,
    /// Parameters under the flags path that name no known flag (the handlers ignore them).
    pub unknown_parameters: Vec<String>,
}

impl fmt::Display for FlagsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match &self.tenant {
            Some(t) => format!("{} (tenant {t})", self.environment),
            None => self.environment.clone(),
        };
        writeln!(f, "flags of {scope}")?;
        let width = self.flags.iter().map(|e| e.name.len()).max().unwrap_or(10);
        for e in &self.flags {
            let change = match (&e.changed_at, &e.changed_by) {
                (Some(at), Some(by)) => format!("  changed {at} by {by}"),
                (Some(at), None) => format!("  changed {at}"),
                _ => String::new(),
            };
            let default = if e.origin != Origin::EnvFile && e.default != e.value {
                format!(" (default {})", e.default)
            } else {
                String::new()
            };
            writeln!(
                f,
                "  {:w$}  {:<6} {:<15}{default}{change}",
                e.name,
                e.value,
                e.origin.to_string(),
                w = width
            )?;
        }
        for p in &self.unknown_parameters {
            writeln!(
                f,
                "  warning: {p} names no known flag; the handlers ignore it"
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Change {
    /// `set` or `unset`.
    pub action: &'static str,
    pub name: String,
    pub parameter: String,
    pub before: String,
    pub before_origin: Origin,
    pub after: String,
    pub after_origin: Origin,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChangeReport {
    pub environment: String,
    pub tenant: Option<String>,
    pub changes: Vec<Change>,
    /// Running handlers see the change within this many seconds (their flag cache).
    pub reaches_handlers_within_seconds: u64,
}

impl fmt::Display for ChangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(
                f,
                "{:>12} {} {} -> {} ({})",
                "Set", c.name, c.before, c.after, c.after_origin
            )?;
        }
        writeln!(
            f,
            "{:>12} running handlers see this within {} s (their flag cache); new cold starts at once",
            "Note", self.reaches_handlers_within_seconds
        )
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HistoryEntry {
    pub version: i64,
    pub value: String,
    pub changed_at: Option<String>,
    pub changed_by: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HistoryReport {
    pub name: String,
    pub parameter: String,
    pub entries: Vec<HistoryEntry>,
}

impl fmt::Display for HistoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "history of {} ({})", self.name, self.parameter)?;
        if self.entries.is_empty() {
            writeln!(
                f,
                "  never set in SSM: the environment file's default applies"
            )?;
        }
        for e in &self.entries {
            writeln!(
                f,
                "  #{:<3} {:<8} {} {}",
                e.version,
                e.value,
                e.changed_at.as_deref().unwrap_or("-"),
                e.changed_by.as_deref().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

pub fn run(args: FlagsArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let scope = match &args.action {
        FlagsAction::List { scope }
        | FlagsAction::Get { scope, .. }
        | FlagsAction::Set { scope, .. }
        | FlagsAction::Unset { scope, .. }
        | FlagsAction::History { scope, .. } => scope,
    };
    let env = catalogue.load_env(&project, &scope.env)?;
    let tenant = scope.tenant.clone();
    if let Some(t) = &tenant {
        flags::check_tenant(t)?;
    }
    // Names and values are checked before anything is read or written.
    match &args.action {
        FlagsAction::Get { name, .. } | FlagsAction::History { name, .. } => {
            flags::resolve(&catalogue, name)?;
        }
        FlagsAction::Set { assignments, .. } => {
            for a in assignments {
                let (k, v) = flags::split_assignment(a)?;
                flags::parse_value(&flags::resolve(&catalogue, k)?, v)?;
            }
        }
        FlagsAction::Unset { names, .. } => {
            for n in names {
                flags::resolve(&catalogue, n)?;
            }
        }
        FlagsAction::List { .. } => {}
    }
    let runtime = super::aws_runtime()?;
    // "sandbox", or "sandbox for tenant acme", for the confirmation questions.
    let scope_text = match &tenant {
        Some(t) => format!("{} for tenant {t}", env.name),
        None => env.name.clone(),
    };
    match args.action {
        FlagsAction::List { .. } => {
            let report = runtime.block_on(list(global, &catalogue, &env, tenant.as_deref()))?;
            printer.report(&report);
        }
        FlagsAction::Get { name, .. } => {
            let mut report = runtime.block_on(list(global, &catalogue, &env, tenant.as_deref()))?;
            report.flags.retain(|e| e.name == name);
            report.unknown_parameters.clear();
            printer.report(&report);
        }
        FlagsAction::Set {
            assignments, yes, ..
        } => {
            let pairs: Vec<(String, String)> = assignments
                .iter()
                .map(|a| {
                    let (k, v) = flags::split_assignment(a)?;
                    Ok((k.to_string(), v.to_string()))
                })
                .collect::<Result<_>>()?;
            confirm(
                &env,
                yes,
                &format!(
                    "Set {} in {}?",
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    scope_text
                ),
            )?;
            let report = runtime.block_on(change(
                global,
                &catalogue,
                &env,
                tenant.as_deref(),
                pairs.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            ))?;
            printer.report(&report);
        }
        FlagsAction::Unset { names, yes, .. } => {
            confirm(
                &env,
                yes,
                &format!("Remove {} from SSM in {}?", names.join(", "), scope_text),
            )?;
            let report = runtime.block_on(change(
                global,
                &catalogue,
                &env,
                tenant.as_deref(),
                names.into_iter().map(|n| (n, None)).collect(),
            ))?;
            printer.report(&report);
        }
        FlagsAction::History { name, .. } => {
            let report = runtime.block_on(history(global, &env, tenant.as_deref(), &name))?;
            printer.report(&report);
        }
    }
    Ok(())
}

/// A protected environment asks; without a terminal it needs `--yes`.
fn confirm(env: &EnvConfig, yes: bool, question: &str) -> Result<()> {
    if !env.termination_protection || yes {
        return Ok(());
    }
    require_answerable(
        true,
        yes,
        &format!("changing flags in {}", env.name),
        "pass --yes to change them without asking",
    )?;
    if ask(&format!("{question} [y/N] "))? {
        Ok(())
    } else {
        Err(Error::Failed("cancelled: no flag was changed".into()))
    }
}

async fn list(
    global: &GlobalArgs,
    catalogue: &Catalogue,
    env: &EnvConfig,
    tenant: Option<&str>,
) -> Result<FlagsReport> {
    let ctx = AwsContext::load(&global.aws, env).await;
    let stored = flags::stored(&ctx, &env.name).await?;
    let effective = flags::effective(catalogue, env, tenant, &stored);
    let known: std::collections::BTreeSet<String> = flags::all_flags(catalogue)
        .into_iter()
        .map(|f| f.name)
        .collect();
    let unknown_parameters = stored
        .keys()
        .filter(|p| p.rsplit('/').next().is_none_or(|k| !known.contains(k)))
        .cloned()
        .collect();
    Ok(FlagsReport {
        environment: env.name.clone(),
        tenant: tenant.map(str::to_string),
        flags: effective,
        unknown_parameters,
    })
}

async fn change(
    global: &GlobalArgs,
    catalogue: &Catalogue,
    env: &EnvConfig,
    tenant: Option<&str>,
    changes: Vec<(String, Option<String>)>,
) -> Result<ChangeReport> {
    let ctx = AwsContext::load(&global.aws, env).await;
    let identity = aws::caller_identity(&ctx).await?;
    aws::check_account(env, &identity)?;
    let before = flags::effective(
        catalogue,
        env,
        tenant,
        &flags::stored(&ctx, &env.name).await?,
    );
    for (name, value) in &changes {
        flags::write(
            &ctx,
            &env.name,
            tenant,
            name,
            value.as_deref(),
            &identity.arn,
        )
        .await?;
    }
    let after = flags::effective(
        catalogue,
        env,
        tenant,
        &flags::stored(&ctx, &env.name).await?,
    );
    let find = |list: &[Effective], name: &str| list.iter().find(|e| e.name == name).cloned();
    let changes = changes
        .iter()
        .filter_map(|(name, value)| {
            let b = find(&before, name)?;
            let a = find(&after, name)?;
            Some(Change {
                action: if value.is_some() { "set" } else { "unset" },
                name: name.clone(),
                parameter: flags::parameter_name(&env.name, tenant, name),
                before: b.value,
                before_origin: b.origin,
                after: a.value,
                after_origin: a.origin,
            })
        })
        .collect();
    Ok(ChangeReport {
        environment: env.name.clone(),
        tenant: tenant.map(str::to_string),
        changes,
        reaches_handlers_within_seconds: HANDLER_CACHE_SECONDS,
    })
}

async fn history(
    global: &GlobalArgs,
    env: &EnvConfig,
    tenant: Option<&str>,
    name: &str,
) -> Result<HistoryReport> {
    let ctx = AwsContext::load(&global.aws, env).await;
    let parameter = flags::parameter_name(&env.name, tenant, name);
    let mut entries = Vec::new();
    for p in crate::aws::ssm::parameter_history(&ctx, &parameter).await? {
        entries.push(HistoryEntry {
            version: p.version(),
            value: p.value().unwrap_or_default().to_string(),
            changed_at: p
                .last_modified_date()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            changed_by: flags::author(p.last_modified_user(), p.description()),
        });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.version));
    Ok(HistoryReport {
        name: name.to_string(),
        parameter,
        entries,
    })
}
