//! `stackpro build`: build handler crates into Lambda zips with cargo-lambda.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::build::{self, Artifact};
use crate::error::{Error, Result};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Capabilities to build (default: every capability whose handler crate exists)
    #[arg(value_name = "CAPABILITY")]
    pub capabilities: Vec<String>,
    /// The processor to build for (default: the environment's with --env, else x86_64)
    #[arg(long, value_enum, value_name = "ARCH")]
    pub arch: Option<build::Architecture>,
    /// Build for this environment's `architecture`
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BuildReport {
    pub artifacts: Vec<Artifact>,
    /// Capabilities without a handler crate yet, with the reason (only when none was named).
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub capability: String,
    pub reason: String,
}

impl fmt::Display for BuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.artifacts {
            writeln!(
                f,
                "{:>12} {} -> {} ({}, bootstrap sha256 {})",
                "Built",
                a.capability,
                a.zip.display(),
                human_bytes(a.zip_bytes),
                a.binary_sha256
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "{:>12} {}: {}", "Skipped", s.capability, s.reason)?;
        }
        Ok(())
    }
}

/// `1.3 MB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

pub fn run(args: BuildArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let named = !args.capabilities.is_empty();
    let selected = catalogue.select(&args.capabilities, !named)?;
    let packages = build::workspace_binaries(&project)?;
    let arch = match (&args.arch, &args.env) {
        (Some(arch), _) => *arch,
        (None, Some(env)) => catalogue.load_env(&project, env)?.architecture,
        (None, None) => build::Architecture::default(),
    };

    let mut buildable = Vec::new();
    let mut skipped = Vec::new();
    for cap in selected {
        match build::missing_crate(cap, &packages) {
            None => buildable.push(cap),
            // A capability named on the command line must build.
            Some(reason) if named => {
                return Err(Error::Config {
                    message: format!("cannot build {}: {reason}", cap.name),
                    help: Some(format!(
                        "add the crate to the workspace members in Cargo.toml, or fix handler.package/handler.binary in handlers/{}/capability.yaml",
                        cap.name
                    )),
                })
            }
            Some(reason) => skipped.push(Skipped {
                capability: cap.name.clone(),
                reason,
            }),
        }
    }
    if buildable.is_empty() {
        return Err(Error::Config {
            message: "no capability has a handler crate to build".into(),
            help: Some(
                "add the handler crates named in handlers/*/capability.yaml to the Cargo workspace"
                    .into(),
            ),
        });
    }
    printer.status(
        "Building",
        &format!(
            "{} with cargo-lambda ({})",
            buildable
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            arch.lambda_target()
        ),
    );
    let mut artifacts = build::build(&project, &buildable, arch)?;
    for a in &mut artifacts {
        a.zip = project.display_path(&a.zip);
    }
    printer.report(&BuildReport { artifacts, skipped });
    Ok(())
}
