//! The command line: one module per subcommand, each with its `Args` and one `run`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::aws::AwsArgs;
use crate::config::{Capability, Catalogue};
use crate::error::{Error, Result};
use crate::printer::{OutputFormat, Printer};
use crate::project::Project;
use crate::terminal::ColorChoice;

pub mod bootstrap;
pub mod build;
pub mod completions;
pub mod cost;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod doctor;
pub mod drift;
pub mod flags;
pub mod gc;
pub mod list;
pub mod metrics;
pub mod new;
pub mod promote;
pub mod render;
pub mod rollback;
pub mod schema;
pub mod sdk;
pub mod status;
pub mod tail;
pub mod validate;

#[derive(Debug, Parser)]
#[command(
    name = "stackpro",
    version = env!("STACKPRO_VERSION"),
    about = "Take a serverless backend of capabilities from source to AWS and keep it running",
    after_help = "Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The project directory (default: the nearest directory with envs/, templates/ and handlers/)
    #[arg(long, global = true, env = "STACKPRO_PROJECT_DIR", value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Report format: text for people (stderr), json for programs (stdout)
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Colour: auto (a terminal, unless NO_COLOR is set), always or never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// No status lines or progress display; the report, warnings and errors still print
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render each capability's CloudFormation template, dashboard and SSM entries
    Render(render::RenderArgs),
    /// Render everything, parse it back and run cfn-lint and checkov, for one or every environment
    Validate(validate::ValidateArgs),
    /// Estimate an environment's fixed monthly cost from its rendered templates, beside
    /// the prices it pays per use, and compare it with the environment's budget_usd
    Cost(cost::CostArgs),
    /// Create or update the environment's artifact bucket (idempotent)
    Bootstrap(bootstrap::BootstrapArgs),
    /// Build handler crates into Lambda zips with cargo-lambda
    Build(build::BuildArgs),
    /// Build, upload, preview and deploy capabilities' stacks
    Deploy(deploy::DeployArgs),
    /// Show capabilities' stack state, last deployment, outputs, live version and alarms
    Status(status::StatusArgs),
    /// Requests, error rate, p95 latency, degraded share and throttles per capability
    /// from CloudWatch, as sparklines with the alarms' thresholds marked
    Metrics(metrics::MetricsArgs),
    /// Find what differs from what the stacks say: CloudFormation drift detection per
    /// resource and property, and deployments the stacks do not know of (exit 1 on drift)
    Drift(drift::DriftArgs),
    /// List (and with --yes delete) artifacts and stored templates no deployment needs:
    /// not among each capability's last N records, not live, not named by a stack
    Gc(gc::GcArgs),
    /// Delete a capability's stack (its tables and buckets are kept)
    Destroy(destroy::DestroyArgs),
    /// Put the previous deployment back: the live alias (fast), or the stack (--full)
    Rollback(rollback::RollbackArgs),
    /// Give a canary's new version all traffic
    Promote(promote::PromoteArgs),
    /// Read and change the feature flags the running handlers read (SSM)
    Flags(flags::FlagsArgs),
    /// Follow the capabilities' logs, merged in time order
    Tail(tail::TailArgs),
    /// Check the AWS credentials, region, endpoint, account and local tools of an environment
    Doctor(doctor::DoctorArgs),
    /// List the capabilities and environments of the project
    List(list::ListArgs),
    /// Scaffold a new capability that validates, builds and passes its tests at once
    New(new::NewArgs),
    /// Serve capabilities' handlers on 127.0.0.1 against the local emulator
    Dev(dev::DevArgs),
    /// Generate the capabilities' client SDKs (TypeScript, Rust) from their contracts, or
    /// check that the committed ones are up to date (exit 1 when stale)
    Sdk(sdk::SdkArgs),
    /// Print a shell completion script (with the project's capability and environment
    /// names when run in a project)
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command into a directory
    Man(completions::ManArgs),
    /// Print the JSON Schema of a command's `--output json` (or list every command's)
    Schema(schema::SchemaArgs),
}

impl Cli {
    pub fn run(self, printer: &Printer) -> Result<()> {
        match self.command {
            Command::Render(args) => render::run(args, &self.global, printer),
            Command::Validate(args) => validate::run(args, &self.global, printer),
            Command::Cost(args) => cost::run(args, &self.global, printer),
            Command::Bootstrap(args) => bootstrap::run(args, &self.global, printer),
            Command::Build(args) => build::run(args, &self.global, printer),
            Command::Deploy(args) => deploy::run(args, &self.global, printer),
            Command::Status(args) => status::run(args, &self.global, printer),
            Command::Metrics(args) => metrics::run(args, &self.global, printer),
            Command::Drift(args) => drift::run(args, &self.global, printer),
            Command::Gc(args) => gc::run(args, &self.global, printer),
            Command::Destroy(args) => destroy::run(args, &self.global, printer),
            Command::Rollback(args) => rollback::run(args, &self.global, printer),
            Command::Promote(args) => promote::run(args, &self.global, printer),
            Command::Flags(args) => flags::run(args, &self.global, printer),
            Command::Tail(args) => tail::run(args, &self.global, printer),
            Command::Doctor(args) => doctor::run(args, &self.global, printer),
            Command::List(args) => list::run(args, &self.global, printer),
            Command::New(args) => new::run(args, &self.global, printer),
            Command::Dev(args) => dev::run(args, &self.global, printer),
            Command::Sdk(args) => sdk::run(args, &self.global, printer),
            Command::Completions(args) => completions::run(args, &self.global, printer),
            Command::Man(args) => completions::run_man(args, printer),
            Command::Schema(args) => schema::run(args, printer),
        }
    }
}

impl GlobalArgs {
    /// The project, found from `--project-dir` or the current directory.
    pub fn project(&self) -> Result<Project> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            action: "read the current directory",
            path: PathBuf::from("."),
            source,
        })?;
        Project::discover(self.project_dir.as_deref(), &cwd)
    }

    /// The project and its capability catalogue.
    pub fn load(&self) -> Result<(Project, Catalogue)> {
        let project = self.project()?;
        let catalogue = Catalogue::load(&project)?;
        Ok((project, catalogue))
    }
}

/// The single-threaded async runtime a command that calls AWS runs on; commands that
/// never touch the network do not pay for one.
pub(crate) fn aws_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "start the async runtime for",
            path: PathBuf::from("AWS calls"),
            source,
        })
}

/// Capabilities named on the command line, or `--all`.
#[derive(Debug, Args)]
pub struct CapabilitySelection {
    /// Capabilities to act on (see `stackpro list`)
    #[arg(value_name = "CAPABILITY", conflicts_with = "all")]
    pub capabilities: Vec<String>,
    /// Act on every capability of the project
    #[arg(long)]
    pub all: bool,
}

impl CapabilitySelection {
    /// The capabilities selected; naming none without `--all` is a usage error that
    /// lists what there is.
    pub fn resolve<'a>(&self, catalogue: &'a Catalogue) -> Result<Vec<&'a Capability>> {
        if self.capabilities.is_empty() && !self.all {
            return Err(Error::Config {
                message: "no capability named".into(),
                help: Some(format!(
                    "name one or more of {}, or pass --all",
                    catalogue.names().join(", ")
                )),
            });
        }
        catalogue.select(&self.capabilities, self.all)
    }
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
pub(crate) fn ask(question: &str) -> Result<bool> {
    use std::io::Write;
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            action: "read the answer from",
            path: PathBuf::from("the terminal"),
            source,
        })?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Fails at once, before anything changes, when an operation needs a person's yes
/// (`needed`), none was given up front (`--yes`), and nobody is there to ask: a
/// pipeline never waits on stdin. `doing` names the operation ("deploying to
/// production"), `flag_help` how to go on without asking.
pub(crate) fn require_answerable(
    needed: bool,
    yes: bool,
    doing: &str,
    flag_help: &str,
) -> Result<()> {
    if needed && !yes && !interactive() {
        return Err(Error::Confirmation {
            message: format!(
                "{doing} needs confirmation, and there is nobody to ask (no terminal, or a CI job)"
            ),
            help: flag_help.to_string(),
        });
    }
    Ok(())
}

/// The multi-threaded runtime of commands that run several AWS operations at once.
pub(crate) fn parallel_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "start the async runtime for",
            path: PathBuf::from("AWS calls"),
            source,
        })
}

/// Whether a person is there to answer a question: stdin and stderr are terminals and
/// this is not a CI job ([`crate::terminal::Terminal`]).
pub(crate) fn interactive() -> bool {
    crate::terminal::Terminal::get().interactive
}
