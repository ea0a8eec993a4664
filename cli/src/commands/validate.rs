//! `stackpro validate`: render every capability for one or every environment, parse it
//! back, and lint the templates with cfn-lint (valid CloudFormation) and checkov (secure
//! CloudFormation) when they are installed. The two run side by side.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::cost::estimate_rendered;
use super::render::{write_document, write_rendered};
use super::GlobalArgs;
use crate::config::EnvConfig;
use crate::error::{Error, Result};
use crate::lint::{find_cfn_lint, find_checkov, run_cfn_lint, run_checkov, Finding, Suppressed};
use crate::money::Usd;
use crate::printer::Printer;
use crate::render::Renderer;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate one environment (default: every file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,
    /// Do not run the linters (cfn-lint, checkov) even when they are installed
    #[arg(long)]
    pub no_lint: bool,
    /// Do not run checkov (cfn-lint still runs)
    #[arg(long)]
    pub no_checkov: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ValidateReport {
    /// The cfn-lint that ran, or why none did.
    pub cfn_lint: LintStatus,
    /// The checkov that ran, or why none did.
    pub checkov: LintStatus,
    /// checkov's checks that passed, over every template.
    pub checkov_passed: usize,
    /// checkov's checks the templates suppress, each with its reason.
    pub checkov_suppressed: Vec<Suppressed>,
    pub results: Vec<StackResult>,
    /// Each environment with a `budget_usd`: its estimated fixed monthly cost against it.
    pub budgets: Vec<BudgetCheck>,
    pub errors: usize,
    pub warnings: usize,
}

/// An environment's estimated fixed monthly cost (`stackpro cost`) against its budget.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BudgetCheck {
    pub environment: String,
    pub budget_usd: Usd,
    /// None when the estimate could not be made (a region the price file lacks).
    pub estimate_usd: Option<Usd>,
    pub over: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LintStatus {
    Ran { path: PathBuf },
    Skipped { reason: String },
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StackResult {
    pub environment: String,
    pub capability: String,
    pub stack_name: String,
    pub resources: usize,
    pub template: PathBuf,
    pub findings: Vec<Finding>,
}

impl StackResult {
    fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }
}

impl fmt::Display for ValidateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            let errors = r.errors();
            let warnings = r.findings.len() - errors;
            let verdict = match (errors, warnings) {
                (0, 0) => "ok".to_string(),
                (0, w) => format!("ok, {w} warning(s)"),
                (e, w) => format!("{e} error(s), {w} warning(s)"),
            };
            writeln!(
                f,
                "{:>12} {:<10} {:<11} {:>3} resources  {verdict}",
                if errors == 0 { "Valid" } else { "Invalid" },
                r.capability,
                r.environment,
                r.resources
            )?;
            for finding in &r.findings {
                writeln!(
                    f,
                    "{:>12} {}:{}:{}: {} {} {}",
                    "",
                    finding.file.display(),
                    finding.line,
                    finding.column,
                    finding.level.to_lowercase(),
                    finding.rule,
                    finding.message
                )?;
            }
        }
        match &self.cfn_lint {
            LintStatus::Ran { path } => writeln!(f, "{:>12} {}", "cfn-lint", path.display())?,
            LintStatus::Skipped { reason } => writeln!(f, "{:>12} skipped: {reason}", "cfn-lint")?,
        }
        match &self.checkov {
            LintStatus::Ran { path } => {
                let failed: usize = self
                    .results
                    .iter()
                    .flat_map(|r| &r.findings)
                    .filter(|finding| finding.rule.starts_with("CKV"))
                    .count();
                writeln!(
                    f,
                    "{:>12} {}: {} passed, {failed} failed, {} suppressed (each with its reason in the template; --output json lists them)",
                    "checkov",
                    path.display(),
                    self.checkov_passed,
                    self.checkov_suppressed.len()
                )?
            }
            LintStatus::Skipped { reason } => writeln!(f, "{:>12} skipped: {reason}", "checkov")?,
        }
        for budget in &self.budgets {
            let verdict = match (&budget.estimate_usd, budget.over) {
                (Some(estimate), true) => format!("estimate {estimate} a month is over"),
                (Some(estimate), false) => format!("estimate {estimate} a month is within"),
                (None, _) => "no estimate for".to_string(),
            };
            writeln!(
                f,
                "{:>12} {} {verdict} its budget of {} (stackpro cost --env {})",
                "Budget", budget.environment, budget.budget_usd, budget.environment
            )?;
        }
        writeln!(
            f,
            "{:>12} {} stacks, {} error(s), {} warning(s)",
            "Summary",
            self.results.len(),
            self.errors,
            self.warnings
        )
    }
}

pub fn run(args: ValidateArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let envs = catalogue.load_envs(&project, args.env.as_deref())?;
    let renderer = Renderer::new(&project);
    let out = project.root().join(".stackpro").join("validate");

    // Render and re-parse everything first: a broken template fails here, before lint.
    let mut results = Vec::new();
    let mut budgets = Vec::new();
    for env in &envs {
        let bootstrap = renderer.render_bootstrap(env)?;
        let path = write_document(
            &out.join(&env.name).join("bootstrap"),
            "template.yaml",
            &bootstrap.template,
        )?;
        results.push(StackResult {
            environment: env.name.clone(),
            capability: "bootstrap".into(),
            stack_name: bootstrap.stack_name.clone(),
            resources: bootstrap.template_value["Resources"]
                .as_object()
                .map_or(0, |r| r.len()),
            template: path,
            findings: Vec::new(),
        });
        let mut env_rendered = Vec::new();
        for cap in &catalogue.capabilities {
            let rendered = renderer.render(cap, env)?;
            let files = write_rendered(&out, &rendered)?;
            results.push(StackResult {
                environment: env.name.clone(),
                capability: cap.name.clone(),
                stack_name: rendered.stack_name.clone(),
                resources: files.resources,
                template: files.template,
                findings: Vec::new(),
            });
            env_rendered.push(rendered);
        }
        budgets.extend(check_budget(printer, env, &env_rendered));
    }

    let files: Vec<PathBuf> = results.iter().map(|r| r.template.clone()).collect();
    let cfn_lint_path = (!args.no_lint).then(|| find_cfn_lint(&project)).flatten();
    let checkov_path = (!args.no_lint && !args.no_checkov)
        .then(|| find_checkov(&project))
        .flatten();
    // checkov takes seconds per template where cfn-lint takes one for all: side by side.
    let (linted, checked) = std::thread::scope(|scope| {
        let checked = scope.spawn(|| checkov_path.map(|path| (run_checkov(&path, &files), path)));
        let linted = cfn_lint_path.map(|path| (run_cfn_lint(&path, &files), path));
        let checked = checked
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (linted, checked)
    });

    let mut findings = Vec::new();
    let cfn_lint = match linted {
        Some((found, path)) => {
            findings.extend(found?);
            LintStatus::Ran { path }
        }
        None => not_run(
            printer,
            args.no_lint.then_some("--no-lint"),
            "cfn-lint is not installed; templates were parsed but not linted (run scripts/setup.sh)",
            "cfn-lint not found in .venv/bin or on PATH",
        ),
    };
    let (mut checkov_passed, mut checkov_suppressed) = (0, Vec::new());
    let checkov = match checked {
        Some((run, path)) => {
            let run = run?;
            findings.extend(run.failed);
            checkov_passed = run.passed;
            checkov_suppressed = run.suppressed;
            LintStatus::Ran { path }
        }
        None => not_run(
            printer,
            (args.no_lint.then_some("--no-lint")).or(args.no_checkov.then_some("--no-checkov")),
            "checkov is not installed; templates were not checked for security (run scripts/setup.sh)",
            "checkov not found in .venv-checkov/bin or on PATH",
        ),
    };
    for finding in findings {
        if let Some(r) = results
            .iter_mut()
            .find(|r| paths_match(&r.template, &finding.file))
        {
            r.findings.push(finding);
        }
    }

    let errors = results.iter().map(StackResult::errors).sum();
    let warnings = results.iter().map(|r| r.findings.len()).sum::<usize>() - errors;
    let report = ValidateReport {
        cfn_lint,
        checkov,
        checkov_passed,
        checkov_suppressed,
        results,
        budgets,
        errors,
        warnings,
    };
    printer.report(&report);
    if errors > 0 {
        return Err(Error::Failed(format!(
            "{errors} error(s) from cfn-lint or checkov in the rendered templates: fix each in templates/ (or, for a checkov check that does not apply, skip it on the resource with a one-line reason)"
        )));
    }
    Ok(())
}

/// The environment's estimated fixed monthly cost against its `budget_usd`, when it has
/// one: a warning when over it (never an error: the exit code is the templates').
fn check_budget(
    printer: &Printer,
    env: &EnvConfig,
    rendered: &[crate::render::Rendered],
) -> Option<BudgetCheck> {
    let budget = env.budget_usd?;
    let estimate = match estimate_rendered(env, rendered) {
        Ok(report) => Some(report.fixed_monthly_usd),
        Err(err) => {
            printer.warn(&format!(
                "the budget of environment {} ({budget}) was not checked: {err}",
                env.name
            ));
            None
        }
    };
    let over = estimate.is_some_and(|estimate| estimate > budget);
    if let (Some(estimate), true) = (estimate, over) {
        printer.warn(&format!(
            "environment {}'s estimated fixed monthly cost {estimate} is over its budget_usd of {budget} ({}); see `stackpro cost --env {}`",
            env.name,
            env.file.file_name().map_or_else(String::new, |n| format!("envs/{}", n.to_string_lossy())),
            env.name
        ));
    }
    Some(BudgetCheck {
        environment: env.name.clone(),
        budget_usd: budget,
        estimate_usd: estimate,
        over,
    })
}

/// A linter that did not run: because a flag said so (quietly), or because it is not
/// installed (with a warning).
fn not_run(printer: &Printer, flag: Option<&str>, warning: &str, missing: &str) -> LintStatus {
    match flag {
        Some(flag) => LintStatus::Skipped {
            reason: flag.into(),
        },
        None => {
            printer.warn(warning);
            LintStatus::Skipped {
                reason: missing.into(),
            }
        }
    }
}

fn paths_match(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || a.ends_with(b) || b.ends_with(a)
}
