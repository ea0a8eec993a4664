//! Running the linters over rendered templates, each once for many files: cfn-lint
//! (is the template valid CloudFormation) and checkov (is it secure).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::project::Project;

/// One finding of cfn-lint.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub file: PathBuf,
    pub level: String,
    pub rule: String,
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl Finding {
    pub fn is_error(&self) -> bool {
        self.level == "Error"
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawFinding {
    filename: PathBuf,
    level: String,
    message: String,
    rule: RawRule,
    location: RawLocation,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRule {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawLocation {
    start: RawPosition,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPosition {
    line_number: u64,
    column_number: u64,
}

/// Where cfn-lint is: `$STACKPRO_CFN_LINT`, the project's `.venv`, or `PATH`.
pub fn find_cfn_lint(project: &Project) -> Option<PathBuf> {
    find_tool(
        "STACKPRO_CFN_LINT",
        project.venv_bin().join("cfn-lint"),
        "cfn-lint",
    )
}

/// Where checkov is: `$STACKPRO_CHECKOV`, the project's `.venv-checkov` (its own venv:
/// checkov pins a botocore older than the one the emulator was measured with), or `PATH`.
pub fn find_checkov(project: &Project) -> Option<PathBuf> {
    find_tool(
        "STACKPRO_CHECKOV",
        project.root().join(".venv-checkov/bin/checkov"),
        "checkov",
    )
}

/// A tool: the path in `variable` when set, else `venv` when it is there, else `name`
/// on `PATH`.
fn find_tool(variable: &str, venv: PathBuf, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    if venv.is_file() {
        return Some(venv);
    }
    find_on_path(name)
}

pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs cfn-lint once over `files` (one process: about a second however many files).
pub fn run_cfn_lint(cfn_lint: &Path, files: &[PathBuf]) -> Result<Vec<Finding>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let output = Command::new(cfn_lint)
        .arg("--format")
        .arg("json")
        .arg("--")
        .args(files)
        .output()
        .map_err(|e| Error::Tool {
            tool: "cfn-lint",
            message: format!("{}: {e}", cfn_lint.display()),
            help: Some(
                "install it with `scripts/setup.sh` (into .venv), or set STACKPRO_CFN_LINT".into(),
            ),
        })?;
    // Exit codes are a bit field of levels found (2 error, 4 warning, 8 info); 1 is a
    // crash. The JSON on stdout is the truth either way.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let raw: Vec<RawFinding> = serde_json::from_str(stdout.trim()).map_err(|e| Error::Tool {
        tool: "cfn-lint",
        message: format!(
            "exit status {}, output not understood ({e}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        help: Some(
            "check `cfn-lint --version` runs; `scripts/setup.sh` installs the pinned version"
                .into(),
        ),
    })?;
    Ok(raw
        .into_iter()
        .map(|r| Finding {
            file: r.filename,
            level: r.level,
            rule: r.rule.id,
            message: r.message,
            line: r.location.start.line_number,
            column: r.location.start.column_number,
        })
        .collect())
}

/// What checkov said about a set of templates.
#[derive(Debug, Default)]
pub struct CheckovRun {
    /// Failed checks, as findings at level `Error`.
    pub failed: Vec<Finding>,
    /// Checks a template suppresses, with the reason it gives.
    pub suppressed: Vec<Suppressed>,
    pub passed: usize,
}

/// A check a template suppresses (`Metadata.checkov.skip`), and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Suppressed {
    pub file: PathBuf,
    pub resource: String,
    pub rule: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct CheckovReport {
    results: CheckovResults,
    summary: CheckovSummary,
}

#[derive(Deserialize)]
struct CheckovResults {
    #[serde(default)]
    failed_checks: Vec<CheckovCheck>,
    #[serde(default)]
    skipped_checks: Vec<CheckovCheck>,
}

#[derive(Deserialize)]
struct CheckovSummary {
    passed: usize,
}

#[derive(Deserialize)]
struct CheckovCheck {
    check_id: String,
    check_name: String,
    check_result: CheckovResult,
    file_abs_path: PathBuf,
    file_line_range: Vec<u64>,
    resource: String,
}

#[derive(Deserialize)]
struct CheckovResult {
    #[serde(default)]
    evaluated_keys: Vec<String>,
    #[serde(default)]
    suppress_comment: Option<String>,
}

impl CheckovCheck {
    /// checkov 3.3 adds its own `__file__` entry (the template's path) to the mappings it
    /// parses and scans it with the rest of a function's environment: a path with 40
    /// letters and slashes in a row reads as an AWS secret key to CKV_AWS_45. That
    /// finding is about checkov's bookkeeping, not the template.
    fn is_about_checkovs_own_keys(&self) -> bool {
        self.check_result.evaluated_keys.iter().any(|k| {
            k.ends_with("/__file__") || k.ends_with("/__startline__") || k.ends_with("/__endline__")
        })
    }
}

/// Runs checkov once over `files` (CloudFormation checks only, no download of policies
/// or guidelines: it runs offline).
pub fn run_checkov(checkov: &Path, files: &[PathBuf]) -> Result<CheckovRun> {
    if files.is_empty() {
        return Ok(CheckovRun::default());
    }
    let help = || {
        Some(
            "check `checkov --version` runs; `scripts/setup.sh` installs the pinned version into .venv-checkov"
                .to_string(),
        )
    };
    let mut command = Command::new(checkov);
    command
        .args(["--framework", "cloudformation", "--output", "json"])
        .arg("--skip-download");
    for file in files {
        command.arg("--file").arg(file);
    }
    let output = command.output().map_err(|e| Error::Tool {
        tool: "checkov",
        message: format!("{}: {e}", checkov.display()),
        help: Some(
            "install it with `scripts/setup.sh` (into .venv-checkov), or set STACKPRO_CHECKOV"
                .into(),
        ),
    })?;
    // Exit status 1 means checks failed; the JSON on stdout says which either way.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: CheckovReport = serde_json::from_str(stdout.trim()).map_err(|e| Error::Tool {
        tool: "checkov",
        message: format!(
            "exit status {}, output not understood ({e}): {}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stderr), 5)
        ),
        help: help(),
    })?;
    let failed = report
        .results
        .failed_checks
        .into_iter()
        .filter(|c| !c.is_about_checkovs_own_keys())
        .map(|c| Finding {
            file: c.file_abs_path,
            level: "Error".into(),
            message: format!("{} ({})", c.check_name, c.resource),
            rule: c.check_id,
            line: c.file_line_range.first().copied().unwrap_or(0),
            column: 1,
        })
        .collect();
    let suppressed = report
        .results
        .skipped_checks
        .into_iter()
        .map(|c| Suppressed {
            file: c.file_abs_path,
            resource: c.resource,
            rule: c.check_id,
            reason: c.check_result.suppress_comment.unwrap_or_default(),
        })
        .collect();
    Ok(CheckovRun {
        failed,
        suppressed,
        passed: report.summary.passed,
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
