//! `stackpro new capability NAME`: a new capability that validates, builds and passes its
//! tests straight away. From the project's `templates/new/capability/` (a team changes
//! its scaffold there): `handlers/NAME/` with `capability.yaml`, an OpenAPI 3.1
//! contract with health and one resource, a crate on the shared runtime and its tests;
//! the capability's flags in every environment file; the crate in the workspace.
//!
//! Nothing is half done: every file is rendered and every edit computed before the first
//! write, and the project is loaded again afterwards; if that fails, what was written is
//! taken back.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::GlobalArgs;
use crate::config::Catalogue;
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::project::Project;

#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub what: NewWhat,
}

#[derive(Debug, Subcommand)]
pub enum NewWhat {
    /// Scaffold handlers/NAME (capability.yaml, openapi.yaml v1, a crate on the shared
    /// runtime with its tests), its flags in every environment and the workspace entry
    Capability(NewCapabilityArgs),
}

#[derive(Debug, Args)]
pub struct NewCapabilityArgs {
    /// Lower-case letters and digits, starting with a letter, at most 24 (`inventory`)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// One line on what it does (capability.yaml's description)
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// Where the scaffold's templates live in a project.
pub const SCAFFOLD_DIR: &str = "templates/new/capability";

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NewReport {
    pub capability: String,
    /// Files written, relative to the project.
    pub created: Vec<String>,
    /// Files changed: the environment files (the capability's flags), Cargo.toml and
    /// Cargo.lock (the new crate, nothing else).
    pub edited: Vec<String>,
    /// What to run next.
    pub next: Vec<String>,
    /// What could not be done (rustfmt missing), and what to do instead.
    pub notes: Vec<String>,
}

impl fmt::Display for NewReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Created capability {}:", self.capability)?;
        for c in &self.created {
            writeln!(f, "  created  {c}")?;
        }
        for e in &self.edited {
            writeln!(f, "  edited   {e}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        writeln!(f, "Next:")?;
        for n in &self.next {
            writeln!(f, "  {n}")?;
        }
        Ok(())
    }
}

pub fn run(args: NewArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    match args.what {
        NewWhat::Capability(args) => {
            let (project, catalogue) = global.load()?;
            let report = capability(&project, &catalogue, &args)?;
            printer.report(&report);
            Ok(())
        }
    }
}

/// One file to write: where, what, and what was there before (`None`: nothing).
struct Change {
    path: PathBuf,
    text: String,
    before: Option<String>,
}

fn capability(
    project: &Project,
    catalogue: &Catalogue,
    args: &NewCapabilityArgs,
) -> Result<NewReport> {
    let name = args.name.as_str();
    check_name(project, catalogue, name)?;
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| format!("The {name} capability"));
    if description.trim().is_empty() || description.contains('\n') {
        return Err(Error::Config {
            message: "--description must be one line of text".into(),
            help: Some("e.g. --description \"Stock levels per warehouse\"".into()),
        });
    }
    let created_dir = project.handlers_dir().join(name);
    let mut changes = scaffold(project, name, &description, &created_dir)?;
    let files_created = changes.len();
    for env in Catalogue::env_names(project)? {
        let path = project.env_file(&env);
        let before = read(&path)?;
        let explicit = catalogue.load_env(project, &env)?.flags_explicit;
        let text = with_flags(&before, name, explicit).ok_or_else(|| Error::Config {
            message: format!(
                "{} has no `flags:` with a `values:` mapping to add {name}'s flags to",
                project.display_path(&path).display()
            ),
            help: Some(format!(
                "add `flags:` / `  values:` to it (see envs/sandbox.yaml), or write CAP_{}_ENABLED there by hand",
                name.to_ascii_uppercase()
            )),
        })?;
        changes.push(Change {
            path,
            text,
            before: Some(before),
        });
    }
    let manifest = project.root().join("Cargo.toml");
    let before = read(&manifest)?;
    changes.push(Change {
        text: with_member(&before, &format!("handlers/{name}")).map_err(|message| {
            Error::Config {
                message: format!("Cargo.toml: {message}"),
                help: Some(format!(
                    "add \"handlers/{name}\" to [workspace] members by hand"
                )),
            }
        })?,
        path: manifest,
        before: Some(before),
    });

    write_all(&changes, &created_dir)?;
    // The project as the next command will see it: if it does not load, nothing stays.
    let loaded = Catalogue::load(project).and_then(|c| c.load_envs(project, None).map(|_| ()));
    if let Err(e) = loaded {
        undo(&changes, &created_dir);
        return Err(Error::Config {
            message: format!("the new capability {name} did not load, so nothing was kept: {e}"),
            help: Some(format!(
                "the scaffold under {SCAFFOLD_DIR}/ renders something stackpro refuses; fix it there"
            )),
        });
    }
    // The scaffold's Rust is laid out for any name's length by rustfmt, as `cargo fmt
    // --check` (CI) wants it.
    let rust: Vec<&Path> = changes[..files_created]
        .iter()
        .map(|c| c.path.as_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let mut notes = Vec::new();
    let formatted = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(&rust)
        .output();
    match formatted {
        Ok(out) if out.status.success() => {}
        Ok(out) => notes.push(format!(
            "rustfmt failed ({}): run `cargo fmt -p stackpro-{name}`",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => notes.push(format!(
            "rustfmt could not run ({e}): run `cargo fmt -p stackpro-{name}` before CI's `cargo fmt --check`"
        )),
    }
    // The new crate in Cargo.lock, nothing else moved, so `stackpro build` (`--locked`)
    // and CI's `--locked` builds take it at once.
    let locked = std::process::Command::new("cargo")
        .args(["update", "--workspace", "--offline", "--quiet"])
        .current_dir(project.root())
        .output();
    let lock_note = format!(
        "Cargo.lock was not updated: run `cargo update --workspace` before `stackpro build {name}`"
    );
    match locked {
        Ok(out) if out.status.success() => {}
        Ok(out) => notes.push(format!(
            "{lock_note} (cargo: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => notes.push(format!("{lock_note} (cargo could not run: {e})")),
    }
    let relative = |c: &Change| project.display_path(&c.path).display().to_string();
    Ok(NewReport {
        capability: name.to_string(),
        created: changes[..files_created].iter().map(relative).collect(),
        edited: changes[files_created..]
            .iter()
            .map(relative)
            .chain(notes.is_empty().then(|| "Cargo.lock".to_string()))
            .collect(),
        next: vec![
            "stackpro validate".into(),
            format!("cargo test -p stackpro-{name}"),
            format!("stackpro build {name}"),
            format!("stackpro dev {name}"),
            format!("stackpro deploy {name} --env sandbox"),
        ],
        notes,
    })
}

fn check_name(project: &Project, catalogue: &Catalogue, name: &str) -> Result<()> {
    if !crate::config::is_capability_name(name) {
        return Err(Error::Config {
            message: format!("`{name}` cannot name a capability"),
            help: Some(
                "use lower-case letters and digits, starting with a letter, at most 24 (e.g. `inventory`)"
                    .into(),
            ),
        });
    }
    if name == "bootstrap" {
        return Err(Error::Config {
            message: "`bootstrap` is reserved for the environment's bootstrap stack".into(),
            help: Some("choose another name".into()),
        });
    }
    let dir = project.handlers_dir().join(name);
    if catalogue.capabilities.iter().any(|c| c.name == name) || dir.exists() {
        return Err(Error::Config {
            message: format!("handlers/{name} exists already: stackpro new never overwrites"),
            help: Some(format!(
                "choose another name, or remove handlers/{name} first (existing: {})",
                catalogue.names().join(", ")
            )),
        });
    }
    Ok(())
}

/// Every file of the scaffold, rendered: `templates/new/capability/x.j2` to
/// `target/x` (`handlers/NAME/x`).
fn scaffold(
    project: &Project,
    name: &str,
    description: &str,
    target: &Path,
) -> Result<Vec<Change>> {
    let source = project.root().join(SCAFFOLD_DIR);
    if !source.is_dir() {
        return Err(Error::Config {
            message: format!("this project has no scaffold for a capability ({SCAFFOLD_DIR}/)"),
            help: Some(
                "copy templates/new/capability/ from the stackpro repository into the project"
                    .into(),
            ),
        });
    }
    let mut files = Vec::new();
    walk(&source, &mut files)?;
    files.sort();
    let type_name = {
        let mut chars = name.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    let context = minijinja::context! {
        name => name,
        ident => name,
        upper => name.to_ascii_uppercase(),
        type_name => type_name,
        description => description,
    };
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    let mut changes = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&source).unwrap_or(&file).to_path_buf();
        let template = read(&file)?;
        let text = env
            .render_str(&template, &context)
            .map_err(|e| Error::Config {
                message: format!("{}: {e}", project.display_path(&file).display()),
                help: Some(
                    "the scaffold's templates know name, ident, upper, type_name and description"
                        .into(),
                ),
            })?;
        let out = relative.to_string_lossy();
        let out = out.strip_suffix(".j2").unwrap_or(&out);
        changes.push(Change {
            path: target.join(out),
            text,
            before: None,
        });
    }
    Ok(changes)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "read the scaffold directory",
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// Writes every change; on a failure, takes back what was written (and `created_dir`).
fn write_all(changes: &[Change], created_dir: &Path) -> Result<()> {
    for (i, c) in changes.iter().enumerate() {
        let written = c
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&c.path, &c.text));
        if let Err(source) = written {
            undo(&changes[..i], created_dir);
            return Err(Error::Io {
                action: "write",
                path: c.path.clone(),
                source,
            });
        }
    }
    Ok(())
}

/// Puts back what `changes` replaced and removes what they created, with `created_dir`,
/// the capability's directory.
fn undo(changes: &[Change], created_dir: &Path) {
    for c in changes.iter().rev() {
        match &c.before {
            Some(before) => {
                let _ = std::fs::write(&c.path, before);
            }
            None => {
                let _ = std::fs::remove_file(&c.path);
            }
        }
    }
    let _ = std::fs::remove_dir_all(created_dir);
}

/// The environment file's text with the capability's flags added at the end of
/// `flags.values` (its comments and order kept): on where the file leaves flags to their
/// defaults, off and at v1 where it writes every flag down (production). `None` when
/// the file has no `values:` mapping under `flags:`.
pub fn with_flags(text: &str, name: &str, explicit: bool) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let entries: Vec<String> = if explicit {
        vec![
            format!("CAP_{upper}_ENABLED: false"),
            format!("CAP_{upper}_VERSION: v1"),
        ]
    } else {
        vec![format!("CAP_{upper}_ENABLED: true")]
    };
    let lines: Vec<&str> = text.lines().collect();
    let flags = lines.iter().position(|l| l.trim_end() == "flags:")?;
    let values = flags
        + 1
        + lines[flags + 1..]
            .iter()
            .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
            .position(|l| l.trim() == "values:" || l.trim() == "values: {}")?;
    let key_indent = indent(lines[values]);
    // The block under `values:` ends at the first line indented no deeper than it.
    let mut end = values + 1;
    let mut entry_indent = None;
    while end < lines.len() {
        let l = lines[end];
        if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            if indent(l) <= key_indent {
                break;
            }
            entry_indent.get_or_insert(indent(l));
        }
        end += 1;
    }
    // Trailing blank or comment lines belong to what follows.
    while end > values + 1 && {
        let l = lines[end - 1].trim();
        l.is_empty() || l.starts_with('#')
    } {
        end -= 1;
    }
    let pad = " ".repeat(entry_indent.unwrap_or(key_indent + 2));
    let mut out: Vec<String> = lines[..end].iter().map(|l| l.to_string()).collect();
    if lines[values].trim() == "values: {}" {
        out[values] = format!("{}values:", " ".repeat(key_indent));
    }
    out.extend(entries.iter().map(|e| format!("{pad}{e}")));
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Some(joined)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The workspace manifest with `member` added to `[workspace] members` and, when the
/// manifest lists them, `default-members` (formatting and comments kept: toml_edit).
pub fn with_member(manifest: &str, member: &str) -> std::result::Result<String, String> {
    let mut doc: toml_edit::DocumentMut = manifest
        .parse()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(|w| w.as_table_like_mut())
        .ok_or("no [workspace] table")?;
    for key in ["members", "default-members"] {
        let Some(list) = workspace.get_mut(key) else {
            if key == "members" {
                return Err("no `members` list in [workspace]".into());
            }
            continue;
        };
        let array = list
            .as_array_mut()
            .ok_or_else(|| format!("`{key}` is not a list"))?;
        if !array.iter().any(|v| v.as_str() == Some(member)) {
            array.push(member);
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOX: &str = "region: eu-west-1\nflags:\n  # Capabilities are off here.\n  explicit: false\n  values:\n    CAP_MESSAGING_ENABLED: true\n\n# Tags.\ntags:\n  project: stackpro\n";

    #[test]
    fn flags_go_at_the_end_of_values_with_comments_and_order_kept() {
        let out = with_flags(SANDBOX, "inventory", false).unwrap();
        assert_eq!(
            out,
            "region: eu-west-1\nflags:\n  # Capabilities are off here.\n  explicit: false\n  values:\n    CAP_MESSAGING_ENABLED: true\n    CAP_INVENTORY_ENABLED: true\n\n# Tags.\ntags:\n  project: stackpro\n"
        );
        let prod = SANDBOX.replace("explicit: false", "explicit: true");
        let out = with_flags(&prod, "inventory", true).unwrap();
        assert!(out.contains(
            "    CAP_MESSAGING_ENABLED: true\n    CAP_INVENTORY_ENABLED: false\n    CAP_INVENTORY_VERSION: v1\n\n# Tags."
        ));
        // An empty inline mapping becomes a block; no `values:` is a refusal.
        let empty = "flags:\n  explicit: false\n  values: {}\n";
        assert_eq!(
            with_flags(empty, "inventory", false).unwrap(),
            "flags:\n  explicit: false\n  values:\n    CAP_INVENTORY_ENABLED: true\n"
        );
        assert!(with_flags("flags:\n  explicit: false\n", "inventory", false).is_none());
        assert!(with_flags("region: x\n", "inventory", false).is_none());
    }

    #[test]
    fn the_member_is_added_to_both_lists_once_and_the_rest_kept() {
        let manifest = "[workspace]\nresolver = \"2\"\nmembers = [\"cli\", \"handlers/messaging\"]\ndefault-members = [\"cli\"]\n\n# Versions.\n[workspace.dependencies]\nserde = \"1\"\n";
        let out = with_member(manifest, "handlers/inventory").unwrap();
        assert!(
            out.contains("members = [\"cli\", \"handlers/messaging\", \"handlers/inventory\"]"),
            "{out}"
        );
        assert!(
            out.contains("default-members = [\"cli\", \"handlers/inventory\"]"),
            "{out}"
        );
        assert!(
            out.contains("# Versions.\n[workspace.dependencies]\nserde = \"1\""),
            "{out}"
        );
        assert_eq!(with_member(&out, "handlers/inventory").unwrap(), out);
        assert!(with_member("[package]\nname = \"x\"\n", "handlers/inventory").is_err());
    }
}
