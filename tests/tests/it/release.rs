//! Releases on a private emulator: fast and full rollbacks, canary deploys that roll
//! back on an alarm or are promoted, asserting the emulator's alias, versions and
//! function after each step.

use serde_json::Value;
use stackpro_tests::{sdk_config_for, Emulator, ProjectCopy};

use crate::cli::{bootstrapped, run, Run};

const STACK: &str = "stackpro-messaging-sandbox";

fn deploy(project: &ProjectCopy, emulator: &Emulator, extra: &[&str]) -> Run {
    let mut args = vec!["deploy", "messaging", "--env", "sandbox", "--no-build"];
    args.extend(extra);
    run(project, emulator, &args)
}

struct Lambda(aws_sdk_lambda::Client);

impl Lambda {
    fn new(emulator: &Emulator) -> Self {
        Lambda(aws_sdk_lambda::Client::new(&sdk_config_for(
            &emulator.url,
            "eu-west-1",
        )))
    }

    /// The live alias: its version and its routing weights.
    async fn live(&self) -> (String, Vec<(String, f64)>) {
        let alias = self
            .0
            .get_alias()
            .function_name(STACK)
            .name("live")
            .send()
            .await
            .unwrap();
        let weights = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        (alias.function_version().unwrap().to_string(), weights)
    }

    async fn versions(&self) -> usize {
        self.0
            .list_versions_by_function()
            .function_name(STACK)
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    }

    async fn memory(&self) -> i32 {
        self.0
            .get_function_configuration()
            .function_name(STACK)
            .send()
            .await
            .unwrap()
            .memory_size()
            .unwrap()
    }
}

/// Bootstrapped, deployed (version 1, 128 MB), then deployed with 256 MB (version 2).
fn two_deploys() -> (Emulator, ProjectCopy) {
    let (emulator, project) = bootstrapped("sandbox");
    let first = deploy(&project, &emulator, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    project.edit("envs/sandbox.yaml", "memory_mb: 128", "memory_mb: 256");
    let second = deploy(&project, &emulator, &[]);
    assert_eq!(second.code, 0, "{second:?}");
    (emulator, project)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_rollback_moves_only_the_alias_and_the_next_deploy_restores_the_new_version() {
    let (emulator, project) = two_deploys();
    let lambda = Lambda::new(&emulator);
    assert_eq!(lambda.live().await.0, "2");
    let versions = lambda.versions().await;

    let rollback = run(
        &project,
        &emulator,
        &[
            "rollback",
            "messaging",
            "--env",
            "sandbox",
            "--output",
            "json",
        ],
    );
    assert_eq!(rollback.code, 0, "{rollback:?}");
    let report: Value = serde_json::from_str(rollback.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["action"], "alias", "{rollback:?}");
    assert_eq!(report["from_version"], "2");
    assert_eq!(report["to_version"], "1");
    assert_eq!(report["to_deployment"], 1);
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("--full` rolls the infrastructure back too"),
        "{report}"
    );
    assert_eq!(
        lambda.live().await.0,
        "1",
        "the alias is on the first deployment's version"
    );
    assert_eq!(lambda.memory().await, 256, "the stack was not touched");

    // status tells the truth: version 1 is live because of a rollback.
    let status = run(
        &project,
        &emulator,
        &[
            "status",
            "messaging",
            "--env",
            "sandbox",
            "--output",
            "json",
        ],
    );
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let c = &status["capabilities"][0];
    assert_eq!(c["live_version"], "1");
    assert_eq!(c["deployment"]["kind"], "rollback");
    assert!(
        c["live_note"].as_str().unwrap().contains("set by rollback"),
        "{c}"
    );

    // The next deploy is not "up to date": it puts version 2 back, publishing nothing.
    let again = deploy(&project, &emulator, &["--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains(r#""decision":"reconcile""#),
        "{again:?}"
    );
    assert_eq!(lambda.live().await.0, "2");
    assert_eq!(
        lambda.versions().await,
        versions,
        "no version was published"
    );

    // A deployment that does not exist is named with the ones that do.
    let missing = run(
        &project,
        &emulator,
        &["rollback", "messaging", "--env", "sandbox", "--to", "9"],
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("there is no deployment #9"),
        "{missing:?}"
    );
    assert!(missing.stderr.contains("#1 (version 1)"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rollback_redeploys_the_earlier_template() {
    let (emulator, project) = two_deploys();
    let lambda = Lambda::new(&emulator);
    let full = run(
        &project,
        &emulator,
        &[
            "rollback",
            "messaging",
            "--env",
            "sandbox",
            "--full",
            "--to",
            "1",
        ],
    );
    assert_eq!(full.code, 0, "{full:?}");
    assert!(full.stderr.contains("MemorySize: 256 -> 128"), "{full:?}");
    assert_eq!(
        lambda.memory().await,
        128,
        "the infrastructure went back too"
    );
    let (live, weights) = lambda.live().await;
    assert_eq!(live, "3", "a version of the restored configuration");
    assert!(weights.is_empty());
    let ssm = aws_sdk_ssm::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let record = ssm
        .get_parameter()
        .name("/stackpro/sandbox/deployments/messaging")
        .send()
        .await
        .unwrap();
    let record: Value = serde_json::from_str(record.parameter().unwrap().value().unwrap()).unwrap();
    assert_eq!(record["kind"], "rollback-full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_rolls_back_on_an_alarm_and_is_promoted_when_healthy() {
    let (emulator, project) = bootstrapped("sandbox");
    assert_eq!(deploy(&project, &emulator, &[]).code, 0);
    let lambda = Lambda::new(&emulator);

    // The emulator creates no alarms from templates: make the error-rate alarm the
    // stack declares, and force it into ALARM.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let alarm = format!("{STACK}-error-rate");
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("Stackpro")
        .metric_name("Errors")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let set_state = |state: aws_sdk_cloudwatch::types::StateValue| {
        let cw = cloudwatch.clone();
        let alarm = alarm.clone();
        async move {
            cw.set_alarm_state()
                .alarm_name(alarm)
                .state_value(state)
                .state_reason("test")
                .send()
                .await
                .unwrap();
        }
    };
    set_state(aws_sdk_cloudwatch::types::StateValue::Alarm).await;
    // What the canary's version logs while it is watched (the emulator runs no
    // function), in the log group the stack made: stamped a few seconds ahead, inside
    // the canary's window.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let group = format!("/aws/lambda/{STACK}");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("2026/11/30/[2]canary")
        .send()
        .await
        .unwrap();
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 5_000;
    let event = |ms: i64, message: &str| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(ms)
            .message(message)
            .build()
            .unwrap()
    };
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/11/30/[2]canary")
        .log_events(event(at, r#"{"level":"INFO","message":"request served","status":200}"#))
        .log_events(event(at + 1, r#"{"level":"ERROR","message":"request failed","route":"POST /v1/threads","status":500}"#))
        .log_events(event(at + 2, "2026-11-30T05:00:00.000Z 5d7c Task timed out after 3.00 seconds"))
        .send()
        .await
        .unwrap();

    project.with_artifacts("2");
    let canary = deploy(&project, &emulator, &["--canary", "10%:3s"]);
    assert_eq!(canary.code, 1, "{canary:?}");
    assert!(
        canary.stderr.contains(
            "canary of version 2 rolled back: alarm stackpro-messaging-sandbox-error-rate fired"
        ),
        "{canary:?}"
    );
    // The root cause beside the alarm: the function's error lines, not its INFO line.
    assert!(
        canary
            .stderr
            .contains(r#"log {"level":"ERROR","message":"request failed""#),
        "{canary:?}"
    );
    assert!(
        canary
            .stderr
            .contains("log 2026-11-30T05:00:00.000Z 5d7c Task timed out after 3.00 seconds"),
        "{canary:?}"
    );
    assert!(!canary.stderr.contains("request served"), "{canary:?}");
    assert_eq!(
        lambda.live().await,
        ("1".to_string(), vec![]),
        "all traffic on version 1"
    );
    // The stack runs the new code but live serves the old: never "up to date".
    let preview = deploy(&project, &emulator, &["--dry-run", "--output", "json"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        !preview.stdout.contains(r#""decision":"up_to_date""#),
        "{preview:?}"
    );

    // Healthy now: a canary started without waiting shows in status, promote ends it.
    set_state(aws_sdk_cloudwatch::types::StateValue::Ok).await;
    let started = deploy(&project, &emulator, &["--canary", "10%:5m", "--no-wait"]);
    assert_eq!(started.code, 0, "{started:?}");
    let (live, weights) = lambda.live().await;
    assert_eq!(live, "1");
    assert_eq!(weights.len(), 1, "{weights:?}");
    assert!((weights[0].1 - 0.1).abs() < 1e-9, "{weights:?}");
    let canary_version = weights[0].0.clone();
    let status = run(
        &project,
        &emulator,
        &[
            "status",
            "messaging",
            "--env",
            "sandbox",
            "--output",
            "json",
        ],
    );
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        status["capabilities"][0]["canary"]["version"],
        canary_version.as_str()
    );

    let promote = run(
        &project,
        &emulator,
        &[
            "promote",
            "messaging",
            "--env",
            "sandbox",
            "--output",
            "json",
        ],
    );
    assert_eq!(promote.code, 0, "{promote:?}");
    let report: Value = serde_json::from_str(&promote.stdout).unwrap();
    assert_eq!(report["capability"], "messaging", "{report}");
    assert_eq!(lambda.live().await, (canary_version, vec![]));
    let again = run(
        &project,
        &emulator,
        &["promote", "messaging", "--env", "sandbox"],
    );
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("has no canary in progress"),
        "{again:?}"
    );
}
