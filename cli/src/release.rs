//! Releases: which Lambda version the `live` alias serves. Deploys publish versions;
//! this module moves the alias between them without touching the stack: fast
//! rollbacks, canaries (a share of traffic on the new version through the alias's
//! routing weights, watched, then promoted or rolled back) and promotion.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::{lambda, AwsContext};
use crate::error::{Error, Result};
use crate::record::Deployment;
use crate::render::LIVE_ALIAS;

/// What the live alias serves now.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Live {
    pub version: String,
    /// A canary: the other version and the share of traffic it gets.
    pub canary: Option<(String, f64)>,
}

/// The Sid of the permission that lets the capability's HTTP API invoke the live alias.
pub const INVOKE_PERMISSION_SID: &str = "stackpro-api-invoke";

/// Reads the live alias; `None` when there is none.
pub async fn live(ctx: &AwsContext, function: &str) -> Result<Option<Live>> {
    Ok(lambda::get_alias(ctx, function, LIVE_ALIAS)
        .await?
        .map(|alias| Live {
            version: alias.function_version().unwrap_or_default().to_string(),
            canary: alias
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .and_then(|w| w.iter().next())
                .map(|(v, w)| (v.clone(), *w)),
        }))
}

/// Sends `weight` (0 to 1) of the live alias's traffic to `new`, the rest to `stable`.
pub async fn start_canary(
    ctx: &AwsContext,
    function: &str,
    stable: &str,
    new: &str,
    weight: f64,
) -> Result<()> {
    lambda::update_alias(ctx, function, LIVE_ALIAS, stable, Some((new, weight))).await
}

/// Publishes a version of the function's current code and configuration. Lambda
/// refuses (precondition) if the code is not `code_sha256`, the zip this deploy
/// uploaded, and returns the existing version when nothing changed since the last one.
pub async fn publish_version(
    ctx: &AwsContext,
    function: &str,
    code_sha256: &str,
    fingerprint: &str,
) -> Result<String> {
    let description = format!(
        "stackpro deploy {}",
        &fingerprint[..fingerprint.len().min(16)]
    );
    match lambda::publish_version(ctx, function, code_sha256, &description).await? {
        lambda::Published::Version(v) => Ok(v),
        lambda::Published::OtherCode => Err(Error::Stack {
            stack: function.to_string(),
            message: "runs other code than the artifact this deploy uploaded (CodeSha256 differs)"
                .into(),
            help: Some(
                "another deploy or a manual change updated the function meanwhile; deploy again"
                    .into(),
            ),
        }),
    }
}

/// Points the live alias at `version` (creating it the first time), with all
/// traffic. `current` is the alias as already read, when it was.
pub async fn point_alias(ctx: &AwsContext, function: &str, version: &str) -> Result<()> {
    let current = live(ctx, function).await?;
    point_alias_from(ctx, function, current.as_ref(), version).await
}

/// [`point_alias`] when the alias was read already (one round trip fewer).
pub async fn point_alias_from(
    ctx: &AwsContext,
    function: &str,
    current: Option<&Live>,
    version: &str,
) -> Result<()> {
    match current {
        Some(l) if l.version == version && l.canary.is_none() => Ok(()),
        Some(_) => lambda::update_alias(ctx, function, LIVE_ALIAS, version, None).await,
        None => {
            lambda::create_alias(
                ctx,
                function,
                LIVE_ALIAS,
                version,
                "stackpro: the version the API serves",
            )
            .await
        }
    }
}

/// Points `live` at `version` and makes sure the API may invoke it from exactly
/// `source_arn` (when the stack has an API). When the alias exists already, its
/// policy is read in the same round trip as the alias moves (the permission belongs
/// to the alias, not to a version); a new alias is created first. A permission that
/// is missing or names another API is written afterwards, never beside the alias.
pub async fn go_live(
    ctx: &AwsContext,
    function: &str,
    current: Option<&Live>,
    version: &str,
    source_arn: Option<&str>,
) -> Result<()> {
    let Some(arn) = source_arn else {
        return point_alias_from(ctx, function, current, version).await;
    };
    let statement = if current.is_some() {
        tokio::try_join!(
            point_alias_from(ctx, function, current, version),
            invoke_statement(ctx, function),
        )?
        .1
    } else {
        point_alias_from(ctx, function, current, version).await?;
        invoke_statement(ctx, function).await?
    };
    grant_invoke(ctx, function, statement, arn).await
}

/// Makes sure the API may invoke the live alias, from exactly `source_arn`.
pub async fn ensure_invoke_permission(
    ctx: &AwsContext,
    function: &str,
    source_arn: &str,
) -> Result<()> {
    let statement = invoke_statement(ctx, function).await?;
    grant_invoke(ctx, function, statement, source_arn).await
}

/// stackpro's statement in the live alias's resource policy, if there is one.
async fn invoke_statement(ctx: &AwsContext, function: &str) -> Result<Option<serde_json::Value>> {
    let current = lambda::get_policy(ctx, function, LIVE_ALIAS).await?;
    Ok(current
        .as_deref()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| {
            p["Statement"]
                .as_array()?
                .iter()
                .find(|s| s["Sid"] == INVOKE_PERMISSION_SID)
                .cloned()
        }))
}

/// Writes the invoke permission unless `statement` (as read) grants it already.
async fn grant_invoke(
    ctx: &AwsContext,
    function: &str,
    statement: Option<serde_json::Value>,
    source_arn: &str,
) -> Result<()> {
    if let Some(statement) = &statement {
        if statement.to_string().contains(source_arn) {
            return Ok(());
        }
        lambda::remove_permission(ctx, function, LIVE_ALIAS, INVOKE_PERMISSION_SID).await?;
    }
    lambda::add_invoke_permission(
        ctx,
        function,
        LIVE_ALIAS,
        INVOKE_PERMISSION_SID,
        "apigateway.amazonaws.com",
        source_arn,
    )
    .await
}

/// The execute-api ARN that may invoke the live alias: every stage and route of the API.
pub fn api_source_arn(region: &str, account: &str, api_id: &str) -> String {
    format!(
        "arn:{}:execute-api:{region}:{account}:{api_id}/*/*",
        partition(region)
    )
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
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
    crate::aws::cloudwatch::alarms_in_alarm(ctx, &format!("{stack_name}-"), stack_name).await
}

/// How a watched canary ended.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
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
            kind: crate::record::DeploymentKind::Deploy,
            number: Some(n),
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(
            api_source_arn("eu-west-1", "123", "abc"),
            "arn:aws:execute-api:eu-west-1:123:abc/*/*"
        );
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
        back.kind = crate::record::DeploymentKind::Rollback;
        let after = [d(1, "1"), d(2, "2"), back];
        assert!(rollback_target(&after, "1", None, None).is_err());

        // A canary's version is never the target, nor is its record.
        let mut canary = d(3, "3");
        canary.kind = crate::record::DeploymentKind::Canary;
        let during = [d(1, "1"), d(2, "2"), canary];
        assert_eq!(
            rollback_target(&during, "2", Some("3"), None)
                .unwrap()
                .number,
            Some(1)
        );
    }
}
