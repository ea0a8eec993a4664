//! `stackpro metrics CAP... | --all --env E [--since 3h]`: each capability's traffic at a
//! glance, from CloudWatch: requests, error rate, p95 latency, the share of degraded
//! answers (the handlers' EMF metrics) and Lambda throttles, one GetMetricData request
//! for every capability, drawn as sparklines with the alarms' thresholds marked.

use std::fmt;

use clap::Args;
use serde::Serialize;
use stackpro_conventions::metrics as names;

use super::{CapabilitySelection, GlobalArgs};
use crate::aws::cloudwatch::{self, MetricQuery, MetricSeries};
use crate::aws::AwsContext;
use crate::config::EnvConfig;
use crate::error::{Error, Result};
use crate::printer::Printer;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub selection: CapabilitySelection,
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// How far back: 30m, 3h, 2d (at most 455d, CloudWatch's retention)
    #[arg(long, default_value = "3h", value_name = "DURATION")]
    pub since: String,
}

/// About sixty points a series: a sparkline fits a terminal.
const POINTS: i64 = 60;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MetricsReport {
    pub environment: String,
    /// The range read, RFC 3339 (UTC); each point covers `period_seconds` from its time.
    pub start: String,
    pub end: String,
    pub period_seconds: i64,
    pub capabilities: Vec<CapabilityMetrics>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CapabilityMetrics {
    pub capability: String,
    /// The start of each point's period, RFC 3339 (UTC), oldest first.
    pub times: Vec<String>,
    /// Requests served per period.
    pub requests: Vec<f64>,
    /// Answers 500 and above per period.
    pub errors: Vec<f64>,
    /// 100 × errors / requests; none in a period without requests.
    pub error_rate_percent: Vec<Option<f64>>,
    /// The 95th percentile of the handler's time per request; none without requests.
    pub p95_latency_ms: Vec<Option<f64>>,
    /// 100 × degraded answers / requests; none in a period without requests.
    pub degraded_percent: Vec<Option<f64>>,
    /// Lambda invocations refused for want of concurrency per period.
    pub throttles: Vec<f64>,
    pub totals: Totals,
    /// The alarms' thresholds, from the environment file (throttles alarm above 0).
    pub thresholds: Thresholds,
    /// A series CloudWatch answered only in part (more datapoints than one answer holds).
    pub partial: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Totals {
    pub requests: f64,
    pub errors: f64,
    pub error_rate_percent: Option<f64>,
    pub degraded: f64,
    pub degraded_percent: Option<f64>,
    pub throttles: f64,
    /// The highest p95 of any period.
    pub max_p95_latency_ms: Option<f64>,
    /// Periods above each alarm's threshold.
    pub periods_above_error_rate: usize,
    pub periods_above_p95_latency: usize,
    pub periods_with_throttles: usize,
}

#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Thresholds {
    pub error_rate_percent: f64,
    pub p95_latency_ms: f64,
    pub throttles: f64,
}

pub fn run(args: MetricsArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let caps = args.selection.resolve(&catalogue)?;
    let env = catalogue.load_env(&project, &args.env)?;
    let since = crate::tail::parse_since(&args.since)?.as_secs() as i64;
    let period = period_for(since).ok_or_else(|| Error::Config {
        message: format!(
            "--since {} reaches past CloudWatch's retention of metrics",
            args.since
        ),
        help: Some("ask for 455d or less (15 days at one-minute resolution)".into()),
    })?;
    let names: Vec<String> = caps.iter().map(|c| c.name.clone()).collect();
    let end = align_up(crate::tail::now_ms() / 1000, period);
    let start = end - (since + period - 1) / period * period;
    let report = super::aws_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        read(&ctx, &env, &names, start, end, period).await
    })?;
    printer.report(&report);
    Ok(())
}

/// The period of a point for a range of `since` seconds: about [`POINTS`] points, in
/// whole minutes, coarser where CloudWatch keeps only coarser data (five minutes past
/// 15 days, an hour past 63), `None` past its 455 days.
pub fn period_for(since: i64) -> Option<i64> {
    let step = match since {
        s if s <= 15 * 86_400 => 60,
        s if s <= 63 * 86_400 => 300,
        s if s <= 455 * 86_400 => 3_600,
        _ => return None,
    };
    let raw = (since + POINTS - 1) / POINTS;
    Some(((raw + step - 1) / step * step).max(step))
}

fn align_up(t: i64, period: i64) -> i64 {
    (t + period - 1) / period * period
}

/// Reads every capability's series in one GetMetricData request and lays them on one
/// grid of periods from `start` to `end`.
pub async fn read(
    ctx: &AwsContext,
    env: &EnvConfig,
    capabilities: &[String],
    start: i64,
    end: i64,
    period: i64,
) -> Result<MetricsReport> {
    let mut queries = Vec::new();
    for (i, cap) in capabilities.iter().enumerate() {
        let dims = vec![
            (names::ENVIRONMENT.to_string(), env.name.clone()),
            (names::CAPABILITY.to_string(), cap.clone()),
        ];
        let handler = |id: &str, name: &str, stat: &str| MetricQuery {
            id: format!("{id}{i}"),
            namespace: names::NAMESPACE.to_string(),
            name: name.to_string(),
            dimensions: dims.clone(),
            stat: stat.to_string(),
            period_seconds: period as i32,
        };
        queries.push(handler("requests", names::REQUESTS, "Sum"));
        queries.push(handler("errors", names::ERRORS, "Sum"));
        queries.push(handler("degraded", names::DEGRADED, "Sum"));
        queries.push(handler("latency", names::LATENCY, "p95"));
        queries.push(MetricQuery {
            id: format!("throttles{i}"),
            namespace: "AWS/Lambda".into(),
            name: "Throttles".into(),
            dimensions: vec![("FunctionName".into(), env.stack_name(cap))],
            stat: "Sum".into(),
            period_seconds: period as i32,
        });
    }
    let target = format!("the metrics of {} in {}", capabilities.join(", "), env.name);
    let series = cloudwatch::metric_data(ctx, &queries, start, end, &target).await?;
    let grid: Vec<i64> = (start..end).step_by(period as usize).collect();
    let thresholds = Thresholds {
        error_rate_percent: env.alarms.error_rate.threshold_percent,
        p95_latency_ms: env.alarms.p95_latency.threshold_ms,
        throttles: 0.0,
    };
    let capabilities = capabilities
        .iter()
        .enumerate()
        .map(|(i, cap)| {
            let get = |id: &str| {
                series
                    .iter()
                    .find(|s| s.id == format!("{id}{i}"))
                    .cloned()
                    .unwrap_or_default()
            };
            let parts = [
                get("requests"),
                get("errors"),
                get("degraded"),
                get("latency"),
                get("throttles"),
            ];
            capability_metrics(cap, &grid, &parts, &thresholds)
        })
        .collect();
    Ok(MetricsReport {
        environment: env.name.clone(),
        start: rfc3339(start),
        end: rfc3339(end),
        period_seconds: period,
        capabilities,
    })
}

/// `series` on the grid: the value at each period's start, if CloudWatch had one.
fn on_grid(grid: &[i64], series: &MetricSeries) -> Vec<Option<f64>> {
    grid.iter()
        .map(|t| {
            series
                .timestamps
                .iter()
                .position(|s| s == t)
                .map(|i| series.values[i])
        })
        .collect()
}

fn percent(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| 100.0 * part / whole)
}

fn capability_metrics(
    capability: &str,
    grid: &[i64],
    [requests, errors, degraded, latency, throttles]: &[MetricSeries; 5],
    thresholds: &Thresholds,
) -> CapabilityMetrics {
    let count = |s: &MetricSeries| -> Vec<f64> {
        on_grid(grid, s)
            .into_iter()
            .map(|v| v.unwrap_or(0.0))
            .collect()
    };
    let (req, err, deg, thr) = (
        count(requests),
        count(errors),
        count(degraded),
        count(throttles),
    );
    let error_rate: Vec<Option<f64>> = req.iter().zip(&err).map(|(r, e)| percent(*e, *r)).collect();
    let degraded_percent: Vec<Option<f64>> =
        req.iter().zip(&deg).map(|(r, d)| percent(*d, *r)).collect();
    let p95: Vec<Option<f64>> = on_grid(grid, latency);
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let (total_requests, total_errors, total_degraded) = (sum(&req), sum(&err), sum(&deg));
    let above = |v: &[Option<f64>], t: f64| v.iter().filter(|x| x.is_some_and(|x| x > t)).count();
    let totals = Totals {
        requests: total_requests,
        errors: total_errors,
        error_rate_percent: percent(total_errors, total_requests),
        degraded: total_degraded,
        degraded_percent: percent(total_degraded, total_requests),
        throttles: sum(&thr),
        max_p95_latency_ms: p95.iter().flatten().copied().reduce(f64::max),
        periods_above_error_rate: above(&error_rate, thresholds.error_rate_percent),
        periods_above_p95_latency: above(&p95, thresholds.p95_latency_ms),
        periods_with_throttles: thr.iter().filter(|t| **t > 0.0).count(),
    };
    let partial = [requests, errors, degraded, latency, throttles]
        .iter()
        .filter(|s| s.status != "Complete")
        .map(|s| {
            s.id.trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string()
        })
        .collect();
    CapabilityMetrics {
        capability: capability.to_string(),
        times: grid.iter().map(|t| rfc3339(*t)).collect(),
        requests: req,
        errors: err,
        error_rate_percent: error_rate,
        p95_latency_ms: p95,
        degraded_percent,
        throttles: thr,
        totals,
        thresholds: *thresholds,
        partial,
    }
}

fn rfc3339(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Eight heights of block, and a dot for a period without data.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per point, scaled to the larger of the highest value and the
/// threshold, so a line well under its alarm stays low.
pub fn sparkline(values: &[Option<f64>], threshold: Option<f64>) -> String {
    let top = values
        .iter()
        .flatten()
        .copied()
        .chain(threshold)
        .fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => '·',
            Some(_) if top <= 0.0 => BARS[0],
            Some(v) => {
                let i = ((v / top) * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        })
        .collect()
}

/// A `^` under every point above the threshold, or nothing when none is.
pub fn marks(values: &[Option<f64>], threshold: f64) -> Option<String> {
    let line: String = values
        .iter()
        .map(|v| {
            if v.is_some_and(|v| v > threshold) {
                '^'
            } else {
                ' '
            }
        })
        .collect();
    line.contains('^').then(|| line.trim_end().to_string())
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

/// A series as text: its label, points, alarm threshold and summary.
type Row<'a> = (&'a str, Vec<Option<f64>>, Option<f64>, String);

impl fmt::Display for MetricsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minutes = self.period_seconds / 60;
        for c in &self.capabilities {
            writeln!(
                f,
                "{} in {}, {} to {}, one point per {} min",
                c.capability, self.environment, self.start, self.end, minutes
            )?;
            let t = &c.totals;
            let opt = |v: Option<f64>, unit: &str| {
                v.map_or("-".to_string(), |v| format!("{}{unit}", number(v)))
            };
            let some = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
            let rows: [Row; 5] = [
                (
                    "requests",
                    some(&c.requests),
                    None,
                    format!("{} in all", number(t.requests)),
                ),
                (
                    "error rate",
                    c.error_rate_percent.clone(),
                    Some(c.thresholds.error_rate_percent),
                    format!(
                        "{} overall; alarm above {}% ({} periods above)",
                        opt(t.error_rate_percent, "%"),
                        number(c.thresholds.error_rate_percent),
                        t.periods_above_error_rate
                    ),
                ),
                (
                    "p95 latency",
                    c.p95_latency_ms.clone(),
                    Some(c.thresholds.p95_latency_ms),
                    format!(
                        "max {}; alarm above {} ms ({} periods above)",
                        opt(t.max_p95_latency_ms, " ms"),
                        number(c.thresholds.p95_latency_ms),
                        t.periods_above_p95_latency
                    ),
                ),
                (
                    "degraded",
                    c.degraded_percent.clone(),
                    None,
                    format!(
                        "{} of answers ({} in all)",
                        opt(t.degraded_percent, "%"),
                        number(t.degraded)
                    ),
                ),
                (
                    "throttles",
                    some(&c.throttles),
                    Some(c.thresholds.throttles),
                    format!(
                        "{} in all; alarm on any for 5 minutes ({} periods with some)",
                        number(t.throttles),
                        t.periods_with_throttles
                    ),
                ),
            ];
            for (label, values, threshold, summary) in rows {
                writeln!(
                    f,
                    "  {label:<12} {}  {summary}",
                    sparkline(&values, threshold)
                )?;
                if let Some(marks) = threshold.and_then(|t| marks(&values, t)) {
                    writeln!(f, "  {:<12} {marks}", "")?;
                }
            }
            if t.requests == 0.0 {
                writeln!(
                    f,
                    "  no requests in this range (the handlers emit these metrics per request, through their logs)"
                )?;
            }
            if !c.partial.is_empty() {
                writeln!(
                    f,
                    "  partial: CloudWatch sent only part of {} (a shorter --since reads less)",
                    c.partial.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_cut_into_about_sixty_whole_minute_points() {
        assert_eq!(period_for(3 * 3600), Some(180));
        assert_eq!(period_for(30 * 60), Some(60));
        assert_eq!(period_for(86_400), Some(1_440));
        // Past 15 days CloudWatch keeps five-minute data, past 63 hourly, past 455 none.
        assert_eq!(period_for(20 * 86_400), Some(28_800));
        assert_eq!(period_for(16 * 86_400).map(|p| p % 300), Some(0));
        assert_eq!(period_for(100 * 86_400).map(|p| p % 3600), Some(0));
        assert_eq!(period_for(456 * 86_400), None);
    }

    #[test]
    fn a_sparkline_is_scaled_to_its_threshold_and_marks_what_is_above() {
        let v = [Some(0.0), Some(0.5), None, Some(1.0), Some(4.0)];
        assert_eq!(sparkline(&v, Some(1.0)), "▁▂·▃█");
        assert_eq!(marks(&v, 1.0).as_deref(), Some("    ^"));
        // Well under its threshold, a line stays low.
        assert_eq!(sparkline(&[Some(1.0), Some(2.0)], Some(100.0)), "▁▁");
        assert_eq!(marks(&[Some(1.0)], 100.0), None);
        assert_eq!(sparkline(&[Some(0.0), None], None), "▁·");
    }

    fn series(id: &str, points: &[(i64, f64)]) -> MetricSeries {
        MetricSeries {
            id: id.into(),
            timestamps: points.iter().map(|p| p.0).collect(),
            values: points.iter().map(|p| p.1).collect(),
            status: "Complete".into(),
        }
    }

    #[test]
    fn rates_are_per_period_and_a_period_without_requests_has_none() {
        let grid = [0, 60, 120];
        let thresholds = Thresholds {
            error_rate_percent: 1.0,
            p95_latency_ms: 500.0,
            throttles: 0.0,
        };
        let m = capability_metrics(
            "messaging",
            &grid,
            &[
                series("requests0", &[(0, 200.0), (120, 50.0)]),
                series("errors0", &[(0, 4.0)]),
                series("degraded0", &[(120, 5.0)]),
                series("latency0", &[(0, 620.0), (120, 80.0)]),
                series("throttles0", &[(60, 3.0)]),
            ],
            &thresholds,
        );
        assert_eq!(m.requests, [200.0, 0.0, 50.0]);
        assert_eq!(m.error_rate_percent, [Some(2.0), None, Some(0.0)]);
        assert_eq!(m.degraded_percent, [Some(0.0), None, Some(10.0)]);
        assert_eq!(m.p95_latency_ms, [Some(620.0), None, Some(80.0)]);
        assert_eq!(m.totals.error_rate_percent, Some(1.6));
        assert_eq!(m.totals.periods_above_error_rate, 1);
        assert_eq!(m.totals.periods_above_p95_latency, 1);
        assert_eq!(m.totals.periods_with_throttles, 1);
        assert_eq!(m.totals.max_p95_latency_ms, Some(620.0));
        assert!(m.partial.is_empty());
    }
}
