//! `stackpro sdk generate [CAP...] [--lang L] [--out DIR]` writes the capabilities'
//! clients from their contracts (`crate::sdk`); `stackpro sdk check` compares the
//! committed ones with what the contracts generate now and exits 1 when any is stale.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::GlobalArgs;
use crate::config::Catalogue;
use crate::error::{unknown_name, Error, Result};
use crate::printer::Printer;
use crate::project::Project;
use crate::sdk::{self, Lang, Staleness};

#[derive(Debug, Args)]
pub struct SdkArgs {
    #[command(subcommand)]
    pub what: SdkWhat,
}

#[derive(Debug, Subcommand)]
pub enum SdkWhat {
    /// Generate the clients of capabilities from their contracts (handlers/<cap>/openapi.yaml)
    Generate(GenerateArgs),
    /// Check that the committed clients are what the contracts generate (exit 1 when stale)
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Capabilities (default: every one with a contract)
    #[arg(value_name = "CAPABILITY")]
    pub capabilities: Vec<String>,
    /// The language (default: both)
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Where to write, one directory per capability (default: sdk/typescript and sdk/rust;
    /// with both languages, DIR/typescript and DIR/rust)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GenerateReport {
    pub clients: Vec<GeneratedClient>,
    /// Files outside the clients that were changed (the workspace's members).
    pub edited: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GeneratedClient {
    pub capability: String,
    pub lang: Lang,
    /// The client's directory.
    pub dir: String,
    /// Its files, relative to `dir`.
    pub files: Vec<String>,
    /// How many of them were written (the others were already up to date).
    pub written: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CheckReport {
    /// Every committed client is what its contract generates.
    pub up_to_date: bool,
    pub clients: Vec<CheckedClient>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CheckedClient {
    pub capability: String,
    pub lang: Lang,
    pub dir: String,
    /// The files that are missing or differ, relative to `dir`.
    pub stale: Vec<StaleFile>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StaleFile {
    pub path: String,
    /// `missing` or `differs`.
    pub reason: String,
}

impl fmt::Display for GenerateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.clients {
            writeln!(
                f,
                "{:<10} {:<10} {} ({} files, {} written)",
                c.capability,
                c.lang.as_str(),
                c.dir,
                c.files.len(),
                c.written
            )?;
        }
        for e in &self.edited {
            writeln!(f, "edited {e}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.clients {
            if c.stale.is_empty() {
                writeln!(
                    f,
                    "{:<10} {:<10} {} up to date",
                    c.capability,
                    c.lang.as_str(),
                    c.dir
                )?;
            } else {
                writeln!(
                    f,
                    "{:<10} {:<10} {} STALE",
                    c.capability,
                    c.lang.as_str(),
                    c.dir
                )?;
                for s in &c.stale {
                    writeln!(f, "  {} {}", s.reason, s.path)?;
                }
            }
        }
        Ok(())
    }
}

pub fn run(args: SdkArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    match args.what {
        SdkWhat::Generate(args) => {
            let report = generate(&project, &catalogue, &args)?;
            printer.report(&report);
            Ok(())
        }
        SdkWhat::Check(_) => {
            let report = check(&project, &catalogue)?;
            printer.report(&report);
            if report.up_to_date {
                return Ok(());
            }
            let stale: Vec<String> = report
                .clients
                .iter()
                .filter(|c| !c.stale.is_empty())
                .map(|c| format!("{} ({})", c.capability, c.lang.as_str()))
                .collect();
            Err(Error::Failed(format!(
                "the committed clients of {} are stale against their contracts: run `stackpro sdk generate` and commit the result",
                stale.join(", ")
            )))
        }
    }
}

/// The capabilities named (each must have a contract), or every one that has one.
fn selected(project: &Project, catalogue: &Catalogue, names: &[String]) -> Result<Vec<String>> {
    let with_contract = sdk::with_contract(project, catalogue);
    if names.is_empty() {
        return Ok(with_contract);
    }
    let known = catalogue.names();
    let mut out = Vec::new();
    for name in names {
        if !known.contains(name) {
            return Err(unknown_name("capability", name, &known));
        }
        if !with_contract.contains(name) {
            return Err(Error::Config {
                message: format!(
                    "capability {name} has no contract ({}), so there is nothing to generate a client from",
                    project.display_path(&sdk::contract_path(project, name)).display()
                ),
                help: Some(format!(
                    "write its OpenAPI 3.1 contract first, or name one that has: {}",
                    with_contract.join(", ")
                )),
            });
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

pub fn generate(
    project: &Project,
    catalogue: &Catalogue,
    args: &GenerateArgs,
) -> Result<GenerateReport> {
    let capabilities = selected(project, catalogue, &args.capabilities)?;
    let langs: Vec<Lang> = match args.lang {
        Some(l) => vec![l],
        None => Lang::ALL.to_vec(),
    };
    // Everything rendered before the first write: a contract or template that fails
    // leaves every file as it was.
    let mut rendered = Vec::new();
    for &lang in &langs {
        let out = match (&args.out, args.lang) {
            (Some(dir), Some(_)) => Some(dir.clone()),
            (Some(dir), None) => Some(dir.join(lang.as_str())),
            (None, _) => None,
        };
        let dir = sdk::output_dir(project, lang, out.as_deref());
        for capability in &capabilities {
            let files = sdk::generate(project, capability, lang)?;
            rendered.push((lang, out.is_none(), dir.clone(), capability, files));
        }
    }
    let mut clients = Vec::new();
    let mut edited = Vec::new();
    for (lang, default_dir, dir, capability, files) in rendered {
        let mut written = 0;
        for file in &files {
            let path = dir.join(&file.path);
            if std::fs::read_to_string(&path).is_ok_and(|t| t == file.text) {
                continue;
            }
            write(&path, &file.text)?;
            written += 1;
        }
        clients.push(GeneratedClient {
            capability: capability.clone(),
            lang,
            dir: project
                .display_path(&dir.join(capability))
                .display()
                .to_string(),
            files: files.iter().map(|f| relative(&f.path)).collect(),
            written,
        });
        if lang == Lang::Rust && default_dir && add_member(project, capability)? {
            edited.push("Cargo.toml".to_string());
        }
    }
    edited.dedup();
    if !edited.is_empty() {
        // The new crates in Cargo.lock, nothing else moved, so `--locked` builds take
        // them at once (as `stackpro new capability` does).
        let locked = std::process::Command::new("cargo")
            .args(["update", "--workspace", "--offline", "--quiet"])
            .current_dir(project.root())
            .status();
        match locked {
            Ok(s) if s.success() => edited.push("Cargo.lock".into()),
            _ => edited
                .push("Cargo.toml (Cargo.lock not updated: run `cargo update --workspace`)".into()),
        }
    }
    Ok(GenerateReport { clients, edited })
}

/// Adds the generated crate to the workspace's members when it is not one yet.
fn add_member(project: &Project, capability: &str) -> Result<bool> {
    let manifest = project.root().join("Cargo.toml");
    let Ok(before) = std::fs::read_to_string(&manifest) else {
        // Not a Cargo workspace: the crate is the user's to place.
        return Ok(false);
    };
    let member = sdk::rust_member(capability);
    let doc: toml_edit::DocumentMut = before.parse().map_err(|e| Error::Config {
        message: format!("Cargo.toml does not parse: {e}"),
        help: None,
    })?;
    let listed = doc["workspace"]["members"]
        .as_array()
        .is_some_and(|a| a.iter().any(|m| m.as_str() == Some(member.as_str())));
    if listed {
        return Ok(false);
    }
    let after = super::new::with_member(&before, &member).map_err(|message| Error::Config {
        message: format!("Cargo.toml: {message}"),
        help: Some(format!("add \"{member}\" to [workspace] members by hand")),
    })?;
    write(&manifest, &after)?;
    Ok(true)
}

pub fn check(project: &Project, catalogue: &Catalogue) -> Result<CheckReport> {
    let mut clients = Vec::new();
    for capability in sdk::with_contract(project, catalogue) {
        for lang in Lang::ALL {
            let dir = sdk::output_dir(project, lang, None);
            let files = sdk::generate(project, &capability, lang)?;
            let stale = sdk::stale_files(&files, &dir)
                .into_iter()
                .map(|(path, why)| StaleFile {
                    path: relative(&path),
                    reason: match why {
                        Staleness::Missing => "missing",
                        Staleness::Differs => "differs",
                    }
                    .into(),
                })
                .collect();
            clients.push(CheckedClient {
                dir: project
                    .display_path(&dir.join(&capability))
                    .display()
                    .to_string(),
                capability: capability.clone(),
                lang,
                stale,
            });
        }
    }
    Ok(CheckReport {
        up_to_date: clients.iter().all(|c| c.stale.is_empty()),
        clients,
    })
}

/// A generated file's path below its capability's directory.
fn relative(path: &Path) -> String {
    let mut components = path.components();
    components.next();
    components.as_path().display().to_string()
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            action: "create the directory",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}
