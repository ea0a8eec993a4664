//! Releases: which Lambda version the `live` alias serves. Deploys publish versions;
//! this module moves the alias between them without touching the stack: fast
//! rollbacks, canaries (a share of traffic on the new version through the alias's
//! routing weights, watched, then promoted or rolled back) and promotion.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::record::Deployment;
use crate::render::LIVE_ALIAS;

/// What the live alias serves now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    pub version: String,
    /// A canary: the other version and the share of traffic it gets.
    pub canary: Option<(String, f64)>,
}

/// Reads the live alias; `None` when there is none.
pub async fn live(ctx: &AwsContext, function: &str) -> Result<Option<Live>> {
    let lambda = aws_sdk_lambda::Client::new(&ctx.config);
    match lambda
        .get_alias()
        .function_name(function)
        .name(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(alias) => Ok(Some(Live {
            version: alias.function_version().unwrap_or_default().to_string(),
            canary: alias
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .and_then(|w| w.iter().next())
                .map(|(v, w)| (v.clone(), *w)),
        })),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ctx.error(
            "lambda",
            "GetAlias",
            &format!("{function}:{LIVE_ALIAS}"),
            err,
        )),
    }
}

/// Sends `weight` (0 to 1) of the live alias's traffic to `new`, the rest to `stable`.
pub async fn start_canary(
    ctx: &AwsContext,
    function: &str,
    stable: &str,
    new: &str,
    weight: f64,
) -> Result<()> {
    let lambda = aws_sdk_lambda::Client::new(&ctx.config);
    lambda
        .update_alias()
        .function_name(function)
        .name(LIVE_ALIAS)
        .function_version(stable)
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .additional_version_weights(new, weight)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            ctx.error(
                "lambda",
                "UpdateAlias",
                &format!("{function}:{LIVE_ALIAS}"),
                e,
            )
        })?;
    Ok(())
}

/// A canary's traffic share and how long it is watched: `10%:5m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanarySpec {
    pub weight: f64,
    pub period: Duration,
}

impl std::str::FromStr for CanarySpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let usage = || format!("`{s}` is not PERCENT%:DURATION, e.g. 10%:5m");
        let (pct, period) = s.split_once(':').ok_or_else(usage)?;
        let pct: f64 = pct
            .strip_suffix('%')
            .ok_or_else(usage)?
            .parse()
            .map_err(|_| usage())?;
        if !(pct > 0.0 && pct < 100.0) {
            return Err(format!(
                "the canary's share must be between 0% and 100% (exclusive), not {pct}%"
            ));
        }
        let period = parse_duration(period).ok_or_else(usage)?;
        Ok(CanarySpec {
            weight: pct / 100.0,
            period,
        })
    }
}

/// `30s`, `5m`, `1h`, `90` (seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Why a canary must stop: the alarms of the capability in ALARM, by name.
pub async fn alarms_firing(ctx: &AwsContext, stack_name: &str) -> Result<Vec<String>> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&ctx.config);
    let out = cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{stack_name}-"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .send()
        .await
        .map_err(|e| ctx.error("cloudwatch", "DescribeAlarms", stack_name, e))?;
    Ok(out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect())
}

/// How a watched canary ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum CanaryVerdict {
    /// The period passed with no alarm: promote.
    Healthy,
    /// These alarms fired: roll back.
    Alarm { alarms: Vec<String> },
}

/// Watches the capability's alarms for the canary's period, polling every `poll`;
/// stops at the first alarm.
pub async fn watch_canary(
    ctx: &AwsContext,
    stack_name: &str,
    period: Duration,
    poll: Duration,
    on_tick: &(dyn Fn(Duration) + Sync),
) -> Result<CanaryVerdict> {
    let start = Instant::now();
    loop {
        let firing = alarms_firing(ctx, stack_name).await?;
        if !firing.is_empty() {
            return Ok(CanaryVerdict::Alarm { alarms: firing });
        }
        let elapsed = start.elapsed();
        if elapsed >= period {
            return Ok(CanaryVerdict::Healthy);
        }
        on_tick(period - elapsed);
        tokio::time::sleep(poll.min(period - elapsed)).await;
    }
}

/// How often a canary's alarms are read: every 10 s, or more often for short periods.
pub fn canary_poll(period: Duration) -> Duration {
    (period / 10).clamp(Duration::from_millis(200), Duration::from_secs(10))
}

/// The deployment a rollback goes back to: `to` (a deployment number), else the newest
/// deployment whose version is not the one live now.
pub fn rollback_target<'a>(
    history: &'a [Deployment],
    live_version: &str,
    canary_version: Option<&str>,
    to: Option<i64>,
) -> Result<&'a Deployment> {
    let numbers = || {
        history
            .iter()
            .filter_map(|d| {
                d.number
                    .map(|n| format!("#{n} (version {})", d.function_version))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match to {
        Some(n) => history
            .iter()
            .find(|d| d.number == Some(n))
            .ok_or_else(|| Error::Config {
                message: format!("there is no deployment #{n}"),
                help: Some(format!("recorded deployments: {}", numbers())),
            }),
        None => {
            // Only releases (deploys, full rollbacks) older than the one that put the
            // live version out: a second rollback must not go forward again, and a
            // canary's version is never a target.
            let anchor = history
                .iter()
                .rposition(|d| d.is_release_of_fingerprint() && d.function_version == live_version)
                .unwrap_or(history.len());
            history[..anchor]
                .iter()
                .rev()
                .find(|d| {
                    d.is_release_of_fingerprint()
                        && d.function_version != live_version
                        && Some(d.function_version.as_str()) != canary_version
                })
                .ok_or_else(|| Error::Config {
                message: format!(
                    "nothing to roll back to: every recorded deployment runs version {live_version}"
                ),
                    help: Some(if history.is_empty() {
                        "no deployment is recorded yet".into()
                    } else {
                        format!(
                            "no earlier release to go back to; name one with --to (recorded deployments: {})",
                            numbers()
                        )
                    }),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: i64, version: &str) -> Deployment {
        Deployment {
            time: String::new(),
            actor: String::new(),
            git_commit: None,
            artifact_sha256: String::new(),
            artifact_key: String::new(),
            code_sha256: String::new(),
            template_sha256: String::new(),
            fingerprint: format!("f{n}"),
            function_version: version.into(),
            kind: "deploy".into(),
            number: Some(n),
        }
    }

    #[test]
    fn canary_specs() {
        let c: CanarySpec = "10%:5m".parse().unwrap();
        assert_eq!(c.weight, 0.1);
        assert_eq!(c.period, Duration::from_secs(300));
        assert_eq!(
            "2.5%:30s".parse::<CanarySpec>().unwrap().period,
            Duration::from_secs(30)
        );
        assert!("10:5m".parse::<CanarySpec>().is_err());
        assert!("0%:5m".parse::<CanarySpec>().is_err());
        assert!("100%:5m".parse::<CanarySpec>().is_err());
        assert!("10%:5x".parse::<CanarySpec>().is_err());
        assert_eq!(
            canary_poll(Duration::from_secs(300)),
            Duration::from_secs(10)
        );
        assert_eq!(
            canary_poll(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn the_rollback_target_is_the_release_before_the_live_one_or_the_one_named() {
        let history = [d(1, "1"), d(2, "2"), d(3, "3")];
        assert_eq!(
            rollback_target(&history, "3", None, None).unwrap().number,
            Some(2)
        );
        assert_eq!(
            rollback_target(&history, "2", None, None).unwrap().number,
            Some(1)
        );
        assert_eq!(
            rollback_target(&history, "3", None, Some(1))
                .unwrap()
                .number,
            Some(1)
        );
        let err = rollback_target(&history, "3", None, Some(9)).unwrap_err();
        assert!(err.help().unwrap().contains("#1 (version 1)"));
        assert!(rollback_target(&[d(1, "1")], "1", None, None).is_err());

        // After a rollback to 1, another rollback does not go forward to 2.
        let mut back = d(4, "1");
        back.kind = "rollback".into();
        let after = [d(1, "1"), d(2, "2"), back];
        assert!(rollback_target(&after, "1", None, None).is_err());

        // A canary's version is never the target, nor is its record.
        let mut canary = d(3, "3");
        canary.kind = "canary".into();
        let during = [d(1, "1"), d(2, "2"), canary];
        assert_eq!(
            rollback_target(&during, "2", Some("3"), None)
                .unwrap()
                .number,
            Some(1)
        );
    }
}
