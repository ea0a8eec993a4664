//! Following the capabilities' logs: FilterLogEvents on each function's log group,
//! merged in time order, deduplicated by event id, polled adaptively (about 1 s while
//! events flow, 1.5 s idle, up to 30 s when throttled, never more than one request a
//! second per group). A group that does not exist yet is waited for. A read of what
//! is there (`--no-follow`) is done only once every group has been read through: a
//! throttled group is read again, and given up on with the throttling error when its
//! next read would come more than [`NO_FOLLOW_THROTTLED`] after the first refused one.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::aws::AwsContext;
use crate::error::{Error, Result};

/// Log levels the handlers write, in order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" | "fatal" => Some(Level::Error),
            _ => None,
        }
    }
}

/// One log event of one capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LogLine {
    pub capability: String,
    pub log_group: String,
    pub log_stream: String,
    pub event_id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
    /// The message parsed, when it is a JSON object (the handlers' structured logs).
    pub fields: Option<Value>,
}

impl LogLine {
    pub fn level(&self) -> Option<Level> {
        self.fields
            .as_ref()
            .and_then(|f| f.get("level"))
            .and_then(Value::as_str)
            .and_then(Level::parse)
    }

    /// Whether the line passes `--level`: structured lines at or above it; plain lines
    /// (START, END, REPORT) only when no level is asked for.
    pub fn passes(&self, min: Option<Level>) -> bool {
        match min {
            None => true,
            Some(min) => self.level().is_some_and(|l| l >= min),
        }
    }
}

/// Whether a line says something failed: a structured line at ERROR, or what the Lambda
/// runtime and Rust write when a function dies (a panic, a timeout, an init or runtime
/// error).
pub fn is_error_line(message: &str) -> bool {
    let fields = serde_json::from_str::<Value>(message).ok();
    if let Some(level) = fields
        .as_ref()
        .and_then(|f| f.get("level"))
        .and_then(Value::as_str)
    {
        return Level::parse(level) == Some(Level::Error);
    }
    [
        "panicked at",
        "Task timed out",
        "Runtime exited",
        "INIT_REPORT",
        "Runtime.",
        "ERROR",
    ]
    .iter()
    .any(|marker| message.contains(marker))
}

/// The first error lines the capability's function logged from `since_ms` on (at most
/// `max`, from at most three pages): the root cause a failed deploy or canary reports
/// beside the stack's reasons. A log group that does not exist has none.
pub async fn first_errors(
    ctx: &AwsContext,
    stack_name: &str,
    since_ms: i64,
    max: usize,
) -> Result<Vec<String>> {
    let group = log_group(stack_name);
    let (mut found, mut token) = (Vec::new(), None);
    for _ in 0..3 {
        let Some(page) =
            crate::aws::logs::filter_log_events(ctx, &group, since_ms, None, token).await?
        else {
            break;
        };
        let mut events = page.events;
        events.sort_by_key(|e| e.timestamp().unwrap_or(0));
        found.extend(
            events
                .iter()
                .filter_map(|e| e.message())
                .map(str::trim_end)
                .filter(|m| is_error_line(m))
                .map(str::to_string),
        );
        token = page.next_token;
        if found.len() >= max || token.is_none() {
            break;
        }
    }
    found.truncate(max);
    Ok(found)
}

/// Milliseconds since the Unix epoch, as log events are stamped.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The log group of a capability's function.
pub fn log_group(stack_name: &str) -> String {
    format!("/aws/lambda/{stack_name}")
}

/// Polling state of one log group.
#[derive(Debug)]
pub struct Group {
    pub capability: String,
    pub name: String,
    /// Next start time (ms): a window behind the newest event seen, so events that
    /// arrive late (another instance's stream) are still found; ids dedupe the overlap.
    start: i64,
    /// The newest event time seen (ms).
    newest: i64,
    token: Option<String>,
    /// Ids of the events printed that are still inside the window, with their time.
    seen: HashMap<String, i64>,
    interval: Duration,
    next_poll: Instant,
    pub missing: bool,
    missing_said: bool,
    /// When the reads of this group began to be throttled (none since the last read
    /// that was answered).
    throttled_since: Option<Instant>,
}

impl Group {
    pub fn new(capability: &str, name: &str, since_ms: i64) -> Self {
        Group {
            capability: capability.to_string(),
            name: name.to_string(),
            start: since_ms,
            token: None,
            newest: since_ms,
            seen: HashMap::new(),
            interval: FAST,
            next_poll: Instant::now(),
            missing: false,
            missing_said: false,
            throttled_since: None,
        }
    }

    /// Whether a read is due now.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next_poll
    }

    /// Whether this group has pages left of what is already there.
    pub fn has_more(&self) -> bool {
        self.token.is_some()
    }

    pub fn next_poll(&self) -> Instant {
        self.next_poll
    }

    /// Whether what is there has been read through: no page left, no read refused
    /// since (a throttled read is not an empty group), or the group does not exist.
    pub fn settled(&self) -> bool {
        self.throttled_since.is_none() && (!self.has_more() || self.missing)
    }

    /// Whether this group's next read comes more than `limit` after its first
    /// throttled one: a read of what is there gives up then, rather than wait on.
    pub fn throttled_past(&self, limit: Duration) -> bool {
        self.throttled_since
            .is_some_and(|since| self.next_poll.saturating_duration_since(since) > limit)
    }

    /// A throttled read: back off (doubling, to [`THROTTLED`] at most).
    fn throttled(&mut self, now: Instant) {
        self.interval = (self.interval * 2).min(THROTTLED);
        self.next_poll = now + self.interval;
        self.throttled_since.get_or_insert(now);
    }
}

/// How far behind the newest event each read starts: events of another log stream
/// (another instance) that arrive this late are still shown, once.
const LATE_WINDOW_MS: i64 = 10_000;

/// About one request a second while events flow.
const FAST: Duration = Duration::from_secs(1);
/// Idle groups slow down to a read every 1.5 s: a new event still shows within about
/// two seconds.
const IDLE: Duration = Duration::from_millis(1500);
/// Throttled groups back off to 30 s at most.
const THROTTLED: Duration = Duration::from_secs(30);
/// How long a read of what is there (`--no-follow`) keeps reading a throttled group:
/// the README's bound for one call ("Time limits").
pub const NO_FOLLOW_THROTTLED: Duration = Duration::from_secs(25);

/// What one poll of a group said.
#[derive(Debug)]
pub enum Poll {
    Lines(Vec<LogLine>),
    /// The group does not exist yet; `first` is true the first time.
    Missing {
        first: bool,
    },
    /// The read was throttled (the SDK's own retries too); the group reads again later.
    Throttled(Error),
}

/// Reads one page of new events of `group` and schedules its next read.
pub async fn poll(ctx: &AwsContext, group: &mut Group, filter: Option<&str>) -> Result<Poll> {
    let result = crate::aws::logs::filter_log_events(
        ctx,
        &group.name,
        group.start,
        filter,
        group.token.clone(),
    )
    .await;
    let now = Instant::now();
    let page = match result {
        Ok(Some(page)) => page,
        Ok(None) => {
            group.throttled_since = None;
            group.missing = true;
            group.interval = IDLE;
            group.next_poll = now + group.interval;
            let first = !group.missing_said;
            group.missing_said = true;
            return Ok(Poll::Missing { first });
        }
        Err(err) if err.is_throttling() => {
            group.throttled(now);
            return Ok(Poll::Throttled(err));
        }
        Err(err) => return Err(err),
    };
    group.missing = false;
    group.throttled_since = None;
    let mut lines = Vec::new();
    for e in &page.events {
        let id = e.event_id().unwrap_or_default().to_string();
        let ts = e.timestamp().unwrap_or(0);
        if group.seen.insert(id.clone(), ts).is_some() {
            continue;
        }
        group.newest = group.newest.max(ts);
        let message = e.message().unwrap_or_default().trim_end().to_string();
        let fields = serde_json::from_str::<Value>(&message)
            .ok()
            .filter(Value::is_object);
        lines.push(LogLine {
            capability: group.capability.clone(),
            log_group: group.name.clone(),
            log_stream: e.log_stream_name().unwrap_or_default().to_string(),
            event_id: id,
            timestamp: ts,
            message,
            fields,
        });
    }
    group.token = page.next_token;
    if group.token.is_none() {
        // Move on, keeping a window for late arrivals; forget ids that left it.
        group.start = group.start.max(group.newest - LATE_WINDOW_MS);
        let start = group.start;
        group.seen.retain(|_, ts| *ts >= start);
    }
    group.interval = if lines.is_empty() && group.token.is_none() {
        (group.interval * 3 / 2).min(IDLE)
    } else {
        FAST
    };
    group.next_poll = now + group.interval;
    Ok(Poll::Lines(lines))
}

/// Sorts lines of several groups into one time order (stable for equal times).
pub fn merge(mut lines: Vec<LogLine>) -> Vec<LogLine> {
    lines.sort_by_key(|l| l.timestamp);
    lines
}

/// `HH:MM:SS.mmm` (UTC) of a millisecond timestamp.
pub fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let day = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{millis:03}",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

/// The handlers' JSON log line, for people: level, message, then the fields that
/// matter at 3 a.m. (route, latency, tenant, request id), then anything else.
pub fn pretty(line: &LogLine, width: usize) -> String {
    let time = clock(line.timestamp);
    let Some(fields) = line.fields.as_ref().and_then(Value::as_object) else {
        return format!("{time} {:w$}  {}", line.capability, line.message, w = width);
    };
    let text = |k: &str| {
        fields.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let level = text("level")
        .unwrap_or_else(|| "-".into())
        .to_ascii_uppercase();
    let message = text("message").or_else(|| text("msg")).unwrap_or_default();
    let mut out = format!(
        "{time} {:w$}  {level:<5} {message}",
        line.capability,
        w = width
    );
    let known = [
        ("route", "route"),
        ("status", "status"),
        ("latency_ms", "latency"),
        ("tenant_id", "tenant"),
        ("request_id", "req"),
        ("degraded", "degraded"),
    ];
    for (key, label) in known {
        if let Some(v) = text(key).filter(|v| !v.is_empty() && v != "null") {
            let v = if key == "latency_ms" {
                format!("{v}ms")
            } else {
                v
            };
            out.push_str(&format!(" {label}={v}"));
        }
    }
    let skip = [
        "timestamp",
        "level",
        "message",
        "msg",
        "route",
        "status",
        "latency_ms",
        "tenant_id",
        "request_id",
        "degraded",
        "capability",
        "target",
        "_aws",
        "trace_id",
    ];
    let mut rest: BTreeMap<&str, String> = BTreeMap::new();
    for (k, v) in fields {
        if !skip.contains(&k.as_str()) && !fields.contains_key("_aws") {
            rest.insert(k, v.to_string());
        }
    }
    for (k, v) in rest {
        out.push_str(&format!(" {k}={v}"));
    }
    out
}

/// Parses `--since`: `10m`, `2h`, `30s`, `1d`.
pub fn parse_since(text: &str) -> Result<Duration> {
    let bad = || Error::Config {
        message: format!("`{text}` is not a duration"),
        help: Some("write it as 30s, 10m, 2h or 1d".into()),
    };
    if let Some(days) = text.strip_suffix('d') {
        let n: u64 = days.parse().map_err(|_| bad())?;
        return Ok(Duration::from_secs(n * 86_400));
    }
    crate::release::parse_duration(text).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_group_is_not_read_through_and_a_read_of_it_gives_up_after_the_bound() {
        // The fault suite (scripts/fault-suite.py) found `tail --no-follow` exiting 0
        // with nothing printed when FilterLogEvents was throttled past the SDK's
        // retries: a refused read counted as an empty group.
        let mut group = Group::new("messaging", "/aws/lambda/x", 0);
        let t0 = Instant::now();
        assert!(group.settled(), "a group with no page left is read through");
        group.throttled(t0);
        assert!(!group.settled(), "a refused read is not an empty group");
        assert!(!group.throttled_past(NO_FOLLOW_THROTTLED));
        // Reads again after 2, 4, 8 s...: each backs off, and once the next read would
        // come past the bound, a read of what is there gives up.
        let mut now = t0;
        let mut reads = 1;
        while !group.throttled_past(NO_FOLLOW_THROTTLED) {
            now = group.next_poll();
            group.throttled(now);
            reads += 1;
            assert!(reads < 10, "never gives up");
        }
        assert!(
            now.duration_since(t0) <= NO_FOLLOW_THROTTLED,
            "{reads} reads"
        );
        assert!(reads >= 3, "it read again before giving up ({reads} reads)");
        assert!(group.next_poll().duration_since(now) <= THROTTLED);
        // One answered read and the group counts as read through again.
        group.throttled_since = None;
        assert!(group.settled());
    }

    #[test]
    fn error_lines_are_structured_errors_and_what_a_dying_function_writes() {
        assert!(is_error_line(
            r#"{"level":"ERROR","message":"request failed"}"#
        ));
        assert!(!is_error_line(
            r#"{"level":"INFO","message":"ERROR in a message"}"#
        ));
        assert!(is_error_line("thread 'main' panicked at src/lib.rs:3:5:"));
        assert!(is_error_line(
            "2026-11-30T00:00:00Z abc Task timed out after 3.00 seconds"
        ));
        assert!(is_error_line(
            "RequestId: x Error: Runtime exited with error: exit status 101"
        ));
        assert!(!is_error_line("START RequestId: x Version: 3"));
        assert!(!is_error_line("REPORT RequestId: x Duration: 1.00 ms"));
    }

    fn line(ts: i64, message: &str) -> LogLine {
        LogLine {
            capability: "messaging".into(),
            log_group: "g".into(),
            log_stream: "s".into(),
            event_id: ts.to_string(),
            timestamp: ts,
            message: message.into(),
            fields: serde_json::from_str::<Value>(message)
                .ok()
                .filter(Value::is_object),
        }
    }

    #[test]
    fn structured_lines_read_like_a_sentence() {
        let l = line(
            3_723_004,
            r#"{"timestamp":"x","level":"error","message":"store unreachable","route":"POST /v1/threads","latency_ms":12,"tenant_id":"acme","request_id":"r-1","degraded":true}"#,
        );
        assert_eq!(
            pretty(&l, 9),
            "01:02:03.004 messaging  ERROR store unreachable route=POST /v1/threads latency=12ms tenant=acme req=r-1 degraded=true"
        );
        let plain = line(0, "START RequestId: 1 Version: 3");
        assert_eq!(
            pretty(&plain, 9),
            "00:00:00.000 messaging  START RequestId: 1 Version: 3"
        );
    }

    #[test]
    fn levels_filter_structured_lines_only() {
        let err = line(1, r#"{"level":"ERROR","message":"x"}"#);
        let info = line(2, r#"{"level":"info","message":"x"}"#);
        let plain = line(3, "REPORT Duration: 2 ms");
        assert!(err.passes(Some(Level::Warn)));
        assert!(!info.passes(Some(Level::Warn)));
        assert!(!plain.passes(Some(Level::Info)));
        assert!(plain.passes(None));
    }

    #[test]
    fn lines_merge_in_time_order_and_durations_parse() {
        let merged = merge(vec![line(3, "c"), line(1, "a"), line(2, "b")]);
        let order: Vec<i64> = merged.iter().map(|l| l.timestamp).collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(parse_since("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_since("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_since("soon").is_err());
    }
}
