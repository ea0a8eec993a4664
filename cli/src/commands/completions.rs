//! `stackpro completions SHELL` and `stackpro man`: shell completion scripts and manual
//! pages, generated from the command line's own definition (clap_complete, clap_mangen),
//! so they can never disagree with it. Run inside a project, the completion script also
//! completes that project's capability and environment names.

use std::io::Write;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, CommandFactory};

use super::{Cli, GlobalArgs};
use crate::config::Catalogue;
use crate::error::{Error, Result};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write a page per command (stackpro.1, stackpro-deploy.1, ...) into DIR instead of
    /// printing stackpro.1
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The project's capability and environment names, when the command runs in a project.
struct Names {
    capabilities: Vec<String>,
    environments: Vec<String>,
}

fn project_names(global: &GlobalArgs) -> Option<Names> {
    let project = global.project().ok()?;
    Some(Names {
        capabilities: Catalogue::load(&project)
            .map(|c| c.capabilities.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
        environments: Catalogue::env_names(&project).unwrap_or_default(),
    })
}

/// The command line's definition with every `CAPABILITY` and `ENV` argument limited to
/// the project's names, which is what the shells' scripts offer as completions. Only the
/// generated script sees these lists: stackpro itself still reports an unknown name
/// with the nearest known one.
fn with_names(command: clap::Command, names: &Names) -> clap::Command {
    let capabilities = names.capabilities.clone();
    let environments = names.environments.clone();
    command
        .mut_args(|arg| {
            let value_names: Vec<String> = arg
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(|n| n.to_string())
                .collect();
            match value_names.first().map(String::as_str) {
                Some("CAPABILITY") => {
                    arg.value_parser(PossibleValuesParser::new(capabilities.clone()))
                }
                Some("ENV") => arg.value_parser(PossibleValuesParser::new(environments.clone())),
                _ => arg,
            }
        })
        .mut_subcommands(|sub| with_names(sub, names))
}

pub fn run(args: CompletionsArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let mut command = Cli::command();
    match project_names(global) {
        Some(names) => command = with_names(command, &names),
        None => printer.warn(
            "not in a stackpro project: the script completes commands and flags, not capability or environment names (run it from the project to include them)",
        ),
    }
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "stackpro", &mut script);
    write_stdout(&script)
}

pub fn run_man(args: ManArgs, printer: &Printer) -> Result<()> {
    let command = Cli::command();
    match args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|source| Error::Io {
                    action: "render the manual page",
                    path: PathBuf::from("stackpro.1"),
                    source,
                })?;
            write_stdout(&page)
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                action: "create the directory for the manual pages",
                path: dir.clone(),
                source,
            })?;
            clap_mangen::generate_to(command, &dir).map_err(|source| Error::Io {
                action: "write the manual pages",
                path: dir.clone(),
                source,
            })?;
            printer.status(
                "Wrote",
                &format!(
                    "the manual pages into {} (man -l {}/stackpro.1)",
                    dir.display(),
                    dir.display()
                ),
            );
            Ok(())
        }
    }
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            action: "write to standard output",
            path: PathBuf::from("-"),
            source,
        }),
    }
}
