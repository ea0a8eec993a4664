//! Where stackpro's output goes, decided once per process and asked everywhere else:
//! whether stderr and stdout get colour, whether a person watches stderr (progress
//! display, slow-call notices), whether one can answer a question (confirmations), and
//! whether status lines are wanted at all (`--quiet`).
//!
//! The rules: `--color always|never` wins; `auto` colours a terminal unless `NO_COLOR`
//! is set to anything (no-color.org). A CI job (`CI` set, other than `false` or `0`) is
//! never watched and never asked, even on a pseudo-terminal: nobody is there.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

/// What the process knows about its surroundings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    stdin_tty: bool,
    stdout_tty: bool,
    stderr_tty: bool,
    ci: bool,
    no_color: bool,
}

impl Facts {
    fn of_this_process() -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        Facts {
            stdin_tty: std::io::stdin().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            ci: std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0")),
            no_color: set("NO_COLOR"),
        }
    }
}

/// The decisions, for the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Colour in what goes to stderr (reports, status lines, errors).
    pub stderr_color: bool,
    /// Colour in what goes to stdout (`tail`'s lines).
    pub stdout_color: bool,
    /// Somebody watches stderr: progress bars and slow-call notices are worth drawing.
    pub watched: bool,
    /// Somebody can answer a question: stdin and stderr are a terminal, outside CI.
    pub interactive: bool,
    /// `--quiet`: no status lines or progress; reports, warnings and errors still print.
    pub quiet: bool,
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

impl Terminal {
    fn decide(facts: Facts, color: ColorChoice, quiet: bool) -> Self {
        let colored = |tty: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !facts.no_color,
        };
        Terminal {
            stderr_color: colored(facts.stderr_tty),
            stdout_color: colored(facts.stdout_tty),
            watched: facts.stderr_tty && !facts.ci && !quiet,
            interactive: facts.stdin_tty && facts.stderr_tty && !facts.ci,
            quiet,
        }
    }

    /// Decides from this process's streams and environment and the command line's
    /// `--color` and `--quiet`; the first call's answer holds for the process.
    pub fn init(color: ColorChoice, quiet: bool) -> Terminal {
        *TERMINAL.get_or_init(|| Terminal::decide(Facts::of_this_process(), color, quiet))
    }

    /// The process's decisions (`auto`, not quiet, if [`Terminal::init`] never ran, as
    /// in a library caller's tests).
    pub fn get() -> Terminal {
        Terminal::init(ColorChoice::Auto, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTY: Facts = Facts {
        stdin_tty: true,
        stdout_tty: true,
        stderr_tty: true,
        ci: false,
        no_color: false,
    };
    const PIPED: Facts = Facts {
        stdin_tty: false,
        stdout_tty: false,
        stderr_tty: false,
        ci: false,
        no_color: false,
    };

    #[test]
    fn a_person_at_a_terminal_gets_colour_progress_and_questions() {
        let t = Terminal::decide(TTY, ColorChoice::Auto, false);
        assert_eq!(
            (t.stderr_color, t.stdout_color, t.watched, t.interactive),
            (true, true, true, true)
        );
    }

    #[test]
    fn a_pipe_gets_plain_text_and_no_questions() {
        let t = Terminal::decide(PIPED, ColorChoice::Auto, false);
        assert_eq!(
            (t.stderr_color, t.stdout_color, t.watched, t.interactive),
            (false, false, false, false)
        );
    }

    #[test]
    fn ci_on_a_pseudo_terminal_is_never_watched_or_asked() {
        let t = Terminal::decide(Facts { ci: true, ..TTY }, ColorChoice::Auto, false);
        assert!(!t.watched && !t.interactive);
        assert!(
            t.stderr_color,
            "colour is the terminal's business, CI logs render it"
        );
    }

    #[test]
    fn no_color_turns_auto_off_and_the_flag_wins_over_it() {
        let no_color = Facts {
            no_color: true,
            ..TTY
        };
        assert!(!Terminal::decide(no_color, ColorChoice::Auto, false).stderr_color);
        assert!(Terminal::decide(no_color, ColorChoice::Always, false).stderr_color);
        assert!(Terminal::decide(PIPED, ColorChoice::Always, false).stdout_color);
        assert!(!Terminal::decide(TTY, ColorChoice::Never, false).stderr_color);
    }

    #[test]
    fn quiet_draws_no_progress_but_still_asks() {
        let t = Terminal::decide(TTY, ColorChoice::Auto, true);
        assert!(t.quiet && !t.watched && t.interactive);
    }

    #[test]
    fn stdout_and_stderr_are_decided_apart() {
        let t = Terminal::decide(
            Facts {
                stdout_tty: false,
                ..TTY
            },
            ColorChoice::Auto,
            false,
        );
        assert!(t.stderr_color && !t.stdout_color);
    }
}
