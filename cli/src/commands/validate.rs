//! `stackpro validate`: render every capability for one or every environment, parse it
//! back, and lint the templates with cfn-lint when it is installed.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::render::{write_document, write_rendered};
use super::GlobalArgs;
use crate::error::{Error, Result};
use crate::lint::{find_cfn_lint, run_cfn_lint, Finding};
use crate::printer::Printer;
use crate::render::Renderer;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate one environment (default: every file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,
    /// Do not run cfn-lint even when it is installed
    #[arg(long)]
    pub no_lint: bool,
}

#[derive(Debug, Serialize)]
pub struct ValidateReport {
    /// The cfn-lint that ran, or why none did.
    pub cfn_lint: LintStatus,
    pub results: Vec<StackResult>,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LintStatus {
    Ran { path: PathBuf },
    Skipped { reason: String },
}

#[derive(Debug, Serialize)]
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
        }
    }

    let cfn_lint = if args.no_lint {
        LintStatus::Skipped {
            reason: "--no-lint".into(),
        }
    } else {
        match find_cfn_lint(&project) {
            Some(path) => {
                let files: Vec<PathBuf> = results.iter().map(|r| r.template.clone()).collect();
                for finding in run_cfn_lint(&path, &files)? {
                    if let Some(r) = results
                        .iter_mut()
                        .find(|r| paths_match(&r.template, &finding.file))
                    {
                        r.findings.push(finding);
                    }
                }
                LintStatus::Ran { path }
            }
            None => {
                printer.warn("cfn-lint is not installed; templates were parsed but not linted (run scripts/setup.sh)");
                LintStatus::Skipped {
                    reason: "cfn-lint not found in .venv/bin or on PATH".into(),
                }
            }
        }
    };

    let errors = results.iter().map(StackResult::errors).sum();
    let warnings = results.iter().map(|r| r.findings.len()).sum::<usize>() - errors;
    let report = ValidateReport {
        cfn_lint,
        results,
        errors,
        warnings,
    };
    printer.report(&report);
    if errors > 0 {
        return Err(Error::Failed(format!(
            "{errors} cfn-lint error(s) in the rendered templates"
        )));
    }
    Ok(())
}

fn paths_match(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || a.ends_with(b) || b.ends_with(a)
}
