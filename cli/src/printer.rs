//! The one place that writes to the terminal: reports, status lines and errors.
//!
//! JSON goes to stdout (one document per report); human text goes to stderr, so a
//! pipeline can capture the JSON while a person still reads the text.

use std::io::Write;

use owo_colors::OwoColorize;
use serde::Serialize;

use crate::error::Error;

/// How a command's report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text on stderr (`pretty` is the same).
    #[default]
    #[value(alias = "pretty")]
    Text,
    /// One JSON document on stdout (a JSON object per line for streams).
    Json,
    /// `stackpro tail`: log lines exactly as written; text for every other command.
    Raw,
}

/// Every command returns one report: serializable for `--output json`, displayable for text.
pub trait Report: Serialize + std::fmt::Display {}
impl<T: Serialize + std::fmt::Display> Report for T {}

/// What `--output json` prints on stdout when a command fails: one line, after whatever
/// the command printed before it.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDocument {
    pub error: ErrorBody,
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What failed, naming the object.
    pub message: String,
    /// Why, outermost first.
    pub causes: Vec<String>,
    /// What to do next.
    pub help: Option<String>,
    /// The process's exit code (1: the operation failed, 2: bad usage or configuration).
    pub exit_code: i32,
}

pub struct Printer {
    format: OutputFormat,
    color: bool,
    /// `--quiet`: status lines are not printed.
    quiet: bool,
}

impl Printer {
    pub fn new(format: OutputFormat) -> Self {
        let terminal = crate::terminal::Terminal::get();
        Printer {
            format,
            color: terminal.stderr_color,
            quiet: terminal.quiet,
        }
    }

    /// Whether colour is used on stderr.
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    pub fn report<R: Report>(&self, report: &R) {
        match self.format {
            OutputFormat::Json => {
                let mut out = std::io::stdout().lock();
                let _ = serde_json::to_writer_pretty(&mut out, report);
                let _ = writeln!(out);
            }
            OutputFormat::Text | OutputFormat::Raw => {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "{report}");
            }
        }
    }

    /// A status line for a person (stderr), in text mode only, and not with `--quiet`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.format != OutputFormat::Json && !self.quiet {
            if self.color {
                eprintln!("{:>12} {message}", verb.green().bold());
            } else {
                eprintln!("{verb:>12} {message}");
            }
        }
    }

    /// `warning: ...` on stderr, in every mode.
    pub fn warn(&self, message: &str) {
        if self.color {
            eprintln!("{}: {message}", "warning".yellow().bold());
        } else {
            eprintln!("warning: {message}");
        }
    }

    /// `error: ...`, one `caused by: ...` per cause, then `help: ...`. In JSON mode the
    /// same error is also written to stdout as `{"error": {...}}`.
    pub fn error(&self, error: &Error) {
        let mut causes: Vec<String> = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        causes.extend(error.details());
        let help = error.help();
        let (label, cause_label, help_label) = if self.color {
            (
                "error".red().bold().to_string(),
                "caused by".bold().to_string(),
                "help".cyan().bold().to_string(),
            )
        } else {
            ("error".into(), "caused by".into(), "help".into())
        };
        eprintln!("{label}: {error}");
        for cause in &causes {
            for (i, line) in cause.lines().enumerate() {
                if i == 0 {
                    eprintln!("  {cause_label}: {line}");
                } else {
                    eprintln!("    {line}");
                }
            }
        }
        if let Some(help) = &help {
            eprintln!("  {help_label}: {help}");
        }
        if self.format == OutputFormat::Json {
            let doc = ErrorDocument {
                error: ErrorBody {
                    message: error.to_string(),
                    causes,
                    help,
                    exit_code: error.exit_status().code(),
                },
            };
            println!("{}", serde_json::to_string(&doc).unwrap_or_default());
        }
    }
}
