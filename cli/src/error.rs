//! The error type of every stackpro operation, and what each one means for the exit code.
//!
//! Every variant names the object it is about and, through [`Error::help`], the next step
//! a person can take. The exit code is part of the contract CI pipelines branch on:
//! 0 ok, 1 the operation failed, 2 bad usage or configuration.

use std::path::PathBuf;

/// What a failed run means to the caller, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success = 0,
    /// The operation ran and failed (a template that does not lint, an AWS call that failed).
    Failure = 1,
    /// The request could not be understood: bad arguments or bad configuration.
    Usage = 2,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file that parsed badly or holds a value that is not allowed.
    #[error("{}:{line}:{column}: {message}", file.display())]
    ConfigAt {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
        help: Option<String>,
    },

    /// A configuration problem that has no single place in a file.
    #[error("{message}")]
    Config {
        message: String,
        help: Option<String>,
    },

    /// A capability or environment name that does not exist.
    #[error("unknown {kind} `{name}`")]
    UnknownName {
        kind: &'static str,
        name: String,
        known: Vec<String>,
        suggestion: Option<String>,
    },

    /// The project layout could not be found.
    #[error("no stackpro project found in {} or any parent directory", start.display())]
    NoProject { start: PathBuf },

    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A template that failed to render (a missing value, a syntax error).
    #[error("could not render {template} for {capability} in {environment}")]
    Render {
        template: String,
        capability: String,
        environment: String,
        #[source]
        source: minijinja::Error,
    },

    /// A rendered document that does not parse back: a bug in a template.
    #[error("rendered {document} of {capability} in {environment} does not parse: {message}")]
    Reparse {
        document: &'static str,
        capability: String,
        environment: String,
        message: String,
    },

    /// An external tool stackpro runs (cfn-lint) that could not be run.
    #[error("could not run {tool}: {message}")]
    Tool {
        tool: &'static str,
        message: String,
        help: Option<String>,
    },

    /// No usable AWS credentials were found.
    #[error("no AWS credentials found for {target}")]
    NoCredentials { target: String, detail: String },

    /// The AWS endpoint could not be reached at all.
    #[error("could not reach the AWS endpoint for {service} at {endpoint}")]
    Unreachable {
        service: &'static str,
        endpoint: String,
        detail: String,
        local: bool,
    },

    /// An endpoint that accepted the connection but did not answer in time (a paused
    /// emulator, a stuck proxy, a half-open connection).
    #[error("{service} {operation} at {endpoint} did not answer in time")]
    NoAnswer {
        service: &'static str,
        operation: &'static str,
        endpoint: String,
        detail: String,
        local: bool,
    },

    /// An AWS call that reached the service and failed.
    #[error("{operation} failed for {target}: {detail}")]
    Aws {
        operation: &'static str,
        target: String,
        detail: String,
    },

    /// Credentials for another account than the environment allows.
    #[error(
        "environment {environment} belongs to account {expected}, but the credentials are for account {actual}"
    )]
    WrongAccount {
        environment: String,
        expected: String,
        actual: String,
    },

    /// A stack in a state the operation cannot go on from, or that ended badly.
    #[error("stack {stack} {message}")]
    Stack {
        stack: String,
        message: String,
        help: Option<String>,
    },

    /// An operation that needs a person's yes, asked where nobody can answer.
    #[error("{message}")]
    Confirmation { message: String, help: String },

    /// An operation that ran and reported failures (counted in its report).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::ConfigAt { .. }
            | Error::Config { .. }
            | Error::UnknownName { .. }
            | Error::NoProject { .. }
            | Error::NoCredentials { .. }
            | Error::WrongAccount { .. }
            | Error::Confirmation { .. } => ExitStatus::Usage,
            Error::Io { .. }
            | Error::Render { .. }
            | Error::Reparse { .. }
            | Error::Tool { .. }
            | Error::Unreachable { .. }
            | Error::NoAnswer { .. }
            | Error::Aws { .. }
            | Error::Stack { .. }
            | Error::Failed(_) => ExitStatus::Failure,
        }
    }

    /// The next step a person can take, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::ConfigAt { help, .. }
            | Error::Config { help, .. }
            | Error::Tool { help, .. }
            | Error::Stack { help, .. } => help.clone(),
            Error::Confirmation { help, .. } => Some(help.clone()),
            Error::UnknownName {
                kind,
                known,
                suggestion,
                ..
            } => {
                let plural = match kind.strip_suffix('y') {
                    Some(stem) => format!("{stem}ies"),
                    None => format!("{kind}s"),
                };
                let known = if known.is_empty() {
                    format!("no {kind} is defined")
                } else {
                    format!("known {plural}: {}", known.join(", "))
                };
                Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`? {known}"),
                    None => known,
                })
            }
            Error::NoProject { .. } => Some(
                "run stackpro inside a project (a directory with envs/, templates/ and handlers/), \
                 or pass --project-dir"
                    .into(),
            ),
            Error::Io { .. } => None,
            Error::Render { .. } => Some(
                "the template refers to a value the render context does not have; \
                 fix the template or the configuration it reads"
                    .into(),
            ),
            Error::Reparse { .. } => Some(
                "the template under templates/ or dashboards/ renders text that does not parse; \
                 fix it around the line shown"
                    .into(),
            ),
            Error::NoCredentials { .. } => Some(
                "set AWS_PROFILE (or pass --profile), run `aws sso login` for an SSO profile, \
                 or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            ),
            Error::Unreachable { local, detail, .. } if connection_dropped(detail) => {
                Some(if *local {
                    "the emulator (or a proxy in front of it) took the connection and closed it without an answer: see `scripts/emulator.sh status` and its log (.stackpro/emulator.log), then run the command again"
                } else {
                    "the connection was closed without an answer: check a proxy or VPN in the way (HTTPS_PROXY) and --endpoint-url / AWS_ENDPOINT_URL, then run the command again"
                }.into())
            }
            Error::Unreachable { local: true, .. } => Some(
                "the local emulator is not running: start it with `scripts/emulator.sh start`"
                    .into(),
            ),
            Error::NoAnswer { local: true, .. } => Some(
                "the emulator accepts connections but does not answer: it is busy or stopped; see `scripts/emulator.sh status` and its log (.stackpro/emulator.log), then run the command again (it picks up where this one stopped)"
                    .into(),
            ),
            Error::NoAnswer { local: false, .. } => Some(
                "the endpoint accepts connections but does not answer: check a proxy or VPN in the way (HTTPS_PROXY), --endpoint-url / AWS_ENDPOINT_URL, and the AWS Health Dashboard for the region; then run the command again (it picks up where this one stopped)"
                    .into(),
            ),
            Error::Unreachable { local: false, .. } => Some(
                "check the network, --endpoint-url / AWS_ENDPOINT_URL, and the region".into(),
            ),
            Error::Aws { .. } if self.is_throttling() => Some(
                "AWS is throttling these calls (the SDK tried three times, backing off): wait a minute, then run the command again".into(),
            ),
            Error::Aws { .. } => None,
            Error::WrongAccount { environment, .. } => Some(format!(
                "use credentials for the right account (--profile), or change account_id in envs/{environment}.yaml if the account really moved"
            )),
            Error::Failed(_) => None,
        }
    }

    /// Whether the endpoint failed (no answer in time, or not reachable) rather than a
    /// call it answered: another call to the same endpoint would fail the same way.
    pub fn is_endpoint_failure(&self) -> bool {
        matches!(self, Error::NoAnswer { .. } | Error::Unreachable { .. })
    }

    /// The message with its next step on one line, for reports that list several
    /// errors: `<message> (help: <next step>)`.
    pub fn one_line(&self) -> String {
        match self.help() {
            Some(help) => format!("{self} (help: {help})"),
            None => self.to_string(),
        }
    }

    /// Extra lines that explain the cause, beyond the `source()` chain.
    pub fn details(&self) -> Vec<String> {
        match self {
            Error::NoCredentials { detail, .. }
            | Error::Unreachable { detail, .. }
            | Error::NoAnswer { detail, .. } => {
                vec![detail.clone()]
            }
            _ => Vec::new(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a connection error is one the endpoint closed (reset, or closed before its
/// answer) rather than one nothing listened for: the endpoint is there, so "start the
/// emulator" would send a person the wrong way.
fn connection_dropped(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    !d.contains("connection refused")
        && [
            "reset by peer",
            "connection reset",
            "closed before message completed",
            "broken pipe",
        ]
        .iter()
        .any(|m| d.contains(m))
}

/// The name closest to `name` among `known`, if one is close enough to be a typo.
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// An [`Error::UnknownName`] with the known names and the nearest one.
pub fn unknown_name(kind: &'static str, name: &str, known: &[String]) -> Error {
    Error::UnknownName {
        kind,
        name: name.to_string(),
        known: known.to_vec(),
        suggestion: nearest(name, known.iter().map(String::as_str)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable(detail: &str, local: bool) -> Error {
        Error::Unreachable {
            service: "sts",
            endpoint: "http://127.0.0.1:5000".into(),
            detail: detail.into(),
            local,
        }
    }

    #[test]
    fn a_reset_connection_is_not_called_a_stopped_emulator() {
        // What the fault suite's `reset all` gives: the endpoint listens and resets.
        let reset = "dispatch failure: io error: client error (SendRequest): connection error: Connection reset by peer (os error 104)";
        let help = unreachable(reset, true).help().unwrap();
        assert!(help.contains("closed it without an answer"), "{help}");
        assert!(!help.contains("not running"), "{help}");
        let help = unreachable(reset, false).help().unwrap();
        assert!(help.contains("closed without an answer"), "{help}");
        // Nothing listening: the emulator is not running.
        let refused = "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            unreachable(refused, true).help().unwrap(),
            "the local emulator is not running: start it with `scripts/emulator.sh start`"
        );
    }

    #[test]
    fn a_throttled_call_says_to_wait_and_run_again() {
        let throttled = Error::Aws {
            operation: "GetCallerIdentity",
            target: "the current credentials".into(),
            detail: "Throttling: Rate exceeded".into(),
        };
        assert!(throttled.help().unwrap().contains("throttling"));
        let other = Error::Aws {
            operation: "GetCallerIdentity",
            target: "the current credentials".into(),
            detail: "AccessDenied: no".into(),
        };
        assert_eq!(other.help(), None);
    }
}
