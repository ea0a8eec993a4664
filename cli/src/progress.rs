//! Live progress of long operations (deploys, destroys), in one of three forms chosen
//! once: on a terminal, an indicatif line per capability (resources done / in
//! progress / pending, elapsed time) with failures printed above; without one,
//! append-only timestamped lines, one per step and per resource event; with
//! `--output json`, one JSON object per line on stdout.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::printer::{OutputFormat, Printer};
use crate::record::now_rfc3339;
use crate::stack::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Json,
}

/// Per-capability counts of a stack operation, for the live line.
#[derive(Debug, Default, Clone)]
struct Counts {
    total: usize,
    done: std::collections::BTreeSet<String>,
    active: std::collections::BTreeSet<String>,
    failed: usize,
    status: String,
}

pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, (ProgressBar, Counts)>>,
    /// Width of the capability column, so lines of several capabilities line up.
    width: usize,
}

/// Whether somebody watches stderr: a terminal, not a CI job (where nobody does and the
/// final report says it all), not `--quiet` ([`crate::terminal::Terminal`]).
pub fn watched_stderr() -> bool {
    crate::terminal::Terminal::get().watched
}

impl Progress {
    pub fn new(printer: &Printer, capabilities: &[&str]) -> Self {
        let mode = if printer.format() == OutputFormat::Json {
            Mode::Json
        } else if watched_stderr() {
            Mode::Tty
        } else {
            Mode::Plain
        };
        Self::with_mode(mode, capabilities)
    }

    pub fn with_mode(mode: Mode, capabilities: &[&str]) -> Self {
        let target = if mode == Mode::Tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            mode,
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            width: capabilities.iter().map(|c| c.len()).max().unwrap_or(8),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// One JSON object on its own line (JSON mode only).
    pub fn json<T: Serialize>(&self, kind: &str, capability: Option<&str>, body: &T) {
        if self.mode != Mode::Json {
            return;
        }
        let mut value = serde_json::to_value(body).unwrap_or_default();
        if !value.is_object() {
            value = serde_json::json!({ "value": value });
        }
        let obj = value.as_object_mut().expect("an object");
        obj.insert("type".into(), kind.into());
        obj.insert("time".into(), now_rfc3339().into());
        if let Some(cap) = capability {
            obj.insert("capability".into(), cap.into());
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// A step of one capability's runbook ("uploading", "creating change set").
    pub fn step(&self, capability: &str, message: &str) {
        match self.mode {
            Mode::Json => self.json(
                "step",
                Some(capability),
                &serde_json::json!({ "message": message }),
            ),
            Mode::Plain => eprintln!(
                "{} {:w$}  {message}",
                now_rfc3339(),
                capability,
                w = self.width
            ),
            Mode::Tty => {
                let bars = self.bars.lock().expect("progress lock");
                match bars.get(capability) {
                    Some((bar, _)) => bar.set_message(message.to_string()),
                    None => {
                        drop(bars);
                        self.line(&format!("{capability:>w$}  {message}", w = self.width));
                    }
                }
            }
        }
    }

    /// A block of text for people (a diff): stderr in text modes, nothing in JSON mode
    /// (which reports the same data as objects).
    pub fn text(&self, text: &str) {
        match self.mode {
            Mode::Json => {}
            Mode::Plain => eprint!("{text}"),
            Mode::Tty => {
                for line in text.lines() {
                    self.line(line);
                }
            }
        }
    }

    fn line(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Starts following a stack operation over `total` resources.
    pub fn start(&self, capability: &str, total: usize, status: &str) {
        if self.mode != Mode::Tty {
            self.step(capability, &format!("following stack events ({status})"));
            return;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{capability:>w$}", w = self.width));
        bar.enable_steady_tick(Duration::from_millis(120));
        let counts = Counts {
            total,
            status: status.to_string(),
            ..Counts::default()
        };
        bar.set_message(summary(&counts));
        self.bars
            .lock()
            .expect("progress lock")
            .insert(capability.to_string(), (bar, counts));
    }

    /// One stack event.
    pub fn event(&self, capability: &str, event: &Event) {
        match self.mode {
            Mode::Json => self.json("event", Some(capability), event),
            Mode::Plain => eprintln!("{}", plain_event_line(capability, self.width, event)),
            Mode::Tty => {
                let mut bars = self.bars.lock().expect("progress lock");
                if let Some((bar, counts)) = bars.get_mut(capability) {
                    if event.is_stack() {
                        counts.status = event.status.clone();
                    } else if event.status.ends_with("_IN_PROGRESS") {
                        counts.active.insert(event.logical_id.clone());
                    } else {
                        counts.active.remove(&event.logical_id);
                        counts.done.insert(event.logical_id.clone());
                    }
                    if event.is_failure() {
                        counts.failed += 1;
                        let _ = self.multi.println(format!(
                            "{capability:>w$}  {} {}: {}",
                            event.status,
                            event.logical_id,
                            event.reason.as_deref().unwrap_or("no reason given"),
                            w = self.width
                        ));
                    }
                    bar.set_message(summary(counts));
                }
            }
        }
    }

    /// Ends the live line of a capability with a final message.
    pub fn finish(&self, capability: &str, message: &str) {
        let entry = self.bars.lock().expect("progress lock").remove(capability);
        match entry {
            Some((bar, _)) => {
                bar.finish_with_message(message.to_string());
            }
            None => self.step(capability, message),
        }
    }

    /// The final report: in JSON mode the last line, `{"type": "summary", ...}`, after
    /// the streamed ones; as text, through the printer.
    pub fn report<R: crate::printer::Report>(&self, printer: &Printer, report: &R) {
        match self.mode {
            Mode::Json => self.json("summary", None, report),
            _ => printer.report(report),
        }
    }

    /// Runs `f` with the live display paused (to ask a question).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

/// One stack event as an append-only log line: time, capability, status, resource,
/// and the reason when there is one.
pub fn plain_event_line(capability: &str, width: usize, event: &Event) -> String {
    let reason = event
        .reason
        .as_deref()
        .map(|r| format!("  {r}"))
        .unwrap_or_default();
    format!(
        "{} {:w$}  {:<28} {} ({}){reason}",
        event.timestamp,
        capability,
        event.status,
        event.logical_id,
        event.resource_type,
        w = width
    )
}

fn summary(c: &Counts) -> String {
    let pending = c.total.saturating_sub(c.done.len() + c.active.len());
    let failed = if c.failed > 0 {
        format!(", {} failed", c.failed)
    } else {
        String::new()
    };
    format!(
        "{}: {} done, {} in progress, {} pending{failed}",
        c.status,
        c.done.len(),
        c.active.len(),
        pending
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_counts_resources() {
        let mut c = Counts {
            total: 10,
            status: "UPDATE_IN_PROGRESS".into(),
            ..Counts::default()
        };
        c.done.insert("A".into());
        c.active.insert("B".into());
        assert_eq!(
            summary(&c),
            "UPDATE_IN_PROGRESS: 1 done, 1 in progress, 8 pending"
        );
        c.failed = 1;
        assert!(summary(&c).ends_with(", 1 failed"));
    }
}
