//! Running cfn-lint over rendered templates, once for many files.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::project::Project;

/// One finding of cfn-lint.
#[derive(Debug, Clone, Serialize)]
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
    if let Some(path) = std::env::var_os("STACKPRO_CFN_LINT") {
        return Some(PathBuf::from(path));
    }
    let venv = project.venv_bin().join("cfn-lint");
    if venv.is_file() {
        return Some(venv);
    }
    find_on_path("cfn-lint")
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
