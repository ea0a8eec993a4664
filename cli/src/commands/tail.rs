//! `stackpro tail`: follow the capabilities' logs, merged in time order.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use owo_colors::OwoColorize;

use super::{CapabilitySelection, GlobalArgs};
use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::printer::{OutputFormat, Printer};
use crate::tail::{self, Group, Level, LogLine, Poll};

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub selection: CapabilitySelection,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Start this far back: 30s, 10m, 2h, 1d
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub since: String,
    /// Keep following new events (the default)
    #[arg(long, overrides_with = "no_follow")]
    pub follow: bool,
    /// Print what is there and exit
    #[arg(long)]
    pub no_follow: bool,
    /// A CloudWatch Logs filter pattern (e.g. a term such as ERROR)
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Only structured lines at this level or above
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub level: Option<Level>,
}

const COLORS: [owo_colors::AnsiColors; 6] = [
    owo_colors::AnsiColors::Cyan,
    owo_colors::AnsiColors::Magenta,
    owo_colors::AnsiColors::Yellow,
    owo_colors::AnsiColors::Green,
    owo_colors::AnsiColors::Blue,
    owo_colors::AnsiColors::Red,
];

pub fn run(args: TailArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let caps = args.selection.resolve(&catalogue)?;
    let env = catalogue.load_env(&project, &args.env)?;
    let since = tail::parse_since(&args.since)?;
    let follow = !args.no_follow;
    let start_ms = tail::now_ms() - since.as_millis() as i64;
    let names: Vec<String> = caps.iter().map(|c| c.name.clone()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(8);
    let color = crate::terminal::Terminal::get().stdout_color;
    let format = printer.format();

    super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let mut groups: Vec<Group> = caps
            .iter()
            .map(|c| {
                Group::new(
                    &c.name,
                    &tail::log_group(&env.stack_name(&c.name)),
                    start_ms,
                )
            })
            .collect();
        let print = |line: &LogLine| {
            let mut out = std::io::stdout().lock();
            let text = match format {
                OutputFormat::Json => serde_json::to_string(line).unwrap_or_default(),
                OutputFormat::Raw => line.message.clone(),
                OutputFormat::Text => {
                    let text = tail::pretty(line, width);
                    if color {
                        let i = names
                            .iter()
                            .position(|n| *n == line.capability)
                            .unwrap_or(0);
                        let prefix = format!("{:w$}", line.capability, w = width);
                        text.replacen(
                            &prefix,
                            &prefix.color(COLORS[i % COLORS.len()]).to_string(),
                            1,
                        )
                    } else {
                        text
                    }
                }
            };
            // A closed pipe (`| head`) ends the tail quietly.
            writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
        };
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            // Read every group that is due; merge what came in time order.
            let now = Instant::now();
            let mut batch = Vec::new();
            for group in groups.iter_mut().filter(|g| g.due(now)) {
                match tail::poll(&ctx, group, args.filter.as_deref()).await? {
                    Poll::Lines(lines) => batch.extend(lines),
                    Poll::Missing { first: true } => printer.warn(&format!(
                        "log group {} does not exist yet (the {} function has not run); {}",
                        group.name,
                        group.capability,
                        if follow {
                            "waiting for it"
                        } else {
                            "nothing to show"
                        }
                    )),
                    Poll::Missing { first: false } => {}
                    // Following, a throttled group is read again later, never a
                    // failure; a read of what is there gives up after the bound.
                    Poll::Throttled(err) => {
                        if !follow && group.throttled_past(tail::NO_FOLLOW_THROTTLED) {
                            return Err(err);
                        }
                    }
                }
            }
            for line in tail::merge(batch) {
                if line.passes(args.level) && !print(&line) {
                    return Ok::<_, Error>(());
                }
            }
            let drained = groups.iter().all(tail::Group::settled);
            if !follow && drained {
                return Ok(());
            }
            let wake = groups
                .iter()
                .map(Group::next_poll)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                // Ctrl-C ends a tail cleanly: exit 0.
                _ = &mut ctrl_c => return Ok(()),
            }
        }
    })
}
