//! stackpro: take a serverless backend of capabilities from source to AWS and keep it
//! running.
//!
//! The binary is a thin shell over this library: [`commands`] parses arguments and
//! dispatches; [`config`] and [`render`] turn the project's files into documents
//! (no network); [`aws`] is the only door to AWS.

pub mod api;
pub mod aws;
pub mod build;
pub mod code_path;
pub mod commands;
pub mod config;
pub mod cost;
pub mod deploy;
pub mod diff;
pub mod drift;
pub mod error;
pub mod flags;
pub mod gc;
pub mod lint;
pub mod money;
pub mod planner;
pub mod printer;
pub mod progress;
pub mod project;
pub mod record;
pub mod release;
pub mod render;
pub mod schema;
pub mod sdk;
pub mod stack;
pub mod tail;
pub mod template;
pub mod terminal;
pub mod watch;

use error::ExitStatus;
use printer::Printer;

/// Runs a parsed command line and returns the exit status it means.
pub fn run(cli: commands::Cli) -> ExitStatus {
    terminal::Terminal::init(cli.global.color, cli.global.quiet);
    let printer = Printer::new(cli.global.output);
    match cli.run(&printer) {
        Ok(()) => ExitStatus::Success,
        Err(err) => {
            printer.error(&err);
            err.exit_status()
        }
    }
}

/// The whole program: parse the command line from the process, run it, and return the
/// exit code. Usage errors from clap exit with 2 themselves.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = commands::Cli::parse();
    std::process::ExitCode::from(run(cli).code() as u8)
}
