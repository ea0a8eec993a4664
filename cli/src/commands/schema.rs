//! `stackpro schema`: the JSON Schema of a command's `--output json`, or all of them
//! written into a directory (how `docs/schemas/` is made), or the list of commands with
//! the shape of their output.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::schema::{self, OutputSchema};

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The command whose output schema to print, subcommands included (`deploy`,
    /// `flags set`, `error` for the error document); none lists them all
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write every schema into DIR as COMMAND.schema.json (docs/schemas/ is made so)
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// `stackpro schema` without a command: what each command prints.
#[derive(Serialize, schemars::JsonSchema)]
pub struct SchemaList {
    pub commands: Vec<SchemaEntry>,
    /// Commands that print no JSON whatever `--output` says.
    pub without_json: Vec<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct SchemaEntry {
    pub command: String,
    /// `document` (one JSON document) or `lines` (one JSON object per line).
    pub shape: String,
    pub file: String,
}

impl fmt::Display for SchemaList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .commands
            .iter()
            .map(|c| c.command.len())
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:width$}  shape     schema (stackpro schema COMMAND)",
            "command"
        )?;
        for c in &self.commands {
            writeln!(f, "{:width$}  {:8}  {}", c.command, c.shape, c.file)?;
        }
        writeln!(f, "no JSON output: {}", self.without_json.join(", "))
    }
}

pub fn run(args: SchemaArgs, printer: &Printer) -> Result<()> {
    if let Some(dir) = args.out_dir {
        return write_all(&dir, printer);
    }
    if args.command.is_empty() {
        printer.report(&SchemaList {
            commands: schema::all()
                .iter()
                .map(|s| SchemaEntry {
                    command: s.command.to_string(),
                    shape: s.shape.as_str().to_string(),
                    file: s.file_name(),
                })
                .collect(),
            without_json: schema::WITHOUT_JSON.iter().map(|s| s.to_string()).collect(),
        });
        return Ok(());
    }
    let name = args.command.join(" ");
    let Some(found) = schema::find(&name) else {
        return Err(unknown(&name));
    };
    super::completions::write_stdout(schema::to_text(&found.schema).as_bytes())
}

fn unknown(name: &str) -> Error {
    let known: Vec<&str> = schema::all().iter().map(|s| s.command).collect();
    let nearest = known
        .iter()
        .min_by_key(|k| strsim::levenshtein(k, name))
        .copied()
        .unwrap_or("deploy");
    if schema::WITHOUT_JSON.contains(&name) {
        return Error::Config {
            message: format!("`stackpro {name}` prints no JSON, so it has no output schema"),
            help: Some("`stackpro schema` lists the commands that print JSON".into()),
        };
    }
    Error::Config {
        message: format!("no command `{name}` prints JSON"),
        help: Some(format!(
            "did you mean `stackpro schema {nearest}`? `stackpro schema` lists every command"
        )),
    }
}

fn write_all(dir: &std::path::Path, printer: &Printer) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "create the directory for the schemas",
        path: dir.to_path_buf(),
        source,
    })?;
    let all: Vec<OutputSchema> = schema::all();
    for s in &all {
        let path = dir.join(s.file_name());
        std::fs::write(&path, schema::to_text(&s.schema)).map_err(|source| Error::Io {
            action: "write the schema",
            path: path.clone(),
            source,
        })?;
    }
    printer.status(
        "Wrote",
        &format!("{} output schemas into {}", all.len(), dir.display()),
    );
    Ok(())
}
