//! The `stackpro` binary: parse, run, exit with the status the result means.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = stackpro::commands::Cli::parse();
    let status = stackpro::run(cli);
    std::process::ExitCode::from(status.code() as u8)
}
