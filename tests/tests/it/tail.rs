//! `stackpro tail` over log events put into the emulator's log groups: two
//! capabilities merged in time order, `--since`, `--filter`, `--level`, the output
//! forms, a group that does not exist yet, and following until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use stackpro_tests::{sdk_config_for, Emulator, ProjectCopy};

use crate::cli::{stackpro_with, Run, DUMMY_CREDS as CREDS};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn put(emulator: &Emulator, cap: &str, events: &[(i64, String)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let group = format!("/aws/lambda/stackpro-{cap}-sandbox");
    let _ = logs.create_log_group().log_group_name(&group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(&group)
        .log_stream_name("2026/11/23/[$LATEST]abc")
        .send()
        .await;
    let mut req = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/11/23/[$LATEST]abc");
    for (ts, message) in events {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*ts)
                .message(message)
                .build()
                .unwrap(),
        );
    }
    req.send().await.unwrap();
}

fn structured(level: &str, message: &str, request_id: &str) -> String {
    json!({"timestamp": "2026-11-23T00:00:00Z", "level": level, "message": message,
           "route": "POST /v1/threads", "latency_ms": 7, "tenant_id": "acme",
           "request_id": request_id, "degraded": false})
    .to_string()
}

fn tail(project: &ProjectCopy, emulator: &Emulator, extra: &[&str]) -> Run {
    let mut args = vec![
        "tail",
        "--env",
        "sandbox",
        "--no-follow",
        "--endpoint-url",
        &emulator.url,
    ];
    args.extend(extra);
    stackpro_with(project.path(), &args, &CREDS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_capabilities_interleave_in_time_order_with_since_filter_and_level() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let t = now_ms();
    put(
        &emulator,
        "messaging",
        &[
            (t - 2 * 3_600_000, structured("info", "two hours ago", "m0")),
            (t - 5000, structured("info", "thread created", "m1")),
            (t - 3000, "START RequestId: m2 Version: 3".into()),
            (t - 1000, structured("error", "store unreachable", "m3")),
        ],
    )
    .await;
    put(
        &emulator,
        "billing",
        &[
            (t - 4000, structured("warn", "usage late", "b1")),
            (t - 2000, structured("info", "invoice sent", "b2")),
        ],
    )
    .await;

    // Pretty: merged by time, the capability first, the handlers' fields after.
    let run = tail(&project, &emulator, &["messaging", "billing"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{run:?}");
    let order: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        ["messaging", "billing", "messaging", "billing", "messaging"]
    );
    assert!(lines[0].ends_with("messaging  INFO  thread created route=POST /v1/threads latency=7ms tenant=acme req=m1 degraded=false"), "{}", lines[0]);
    assert!(
        lines[2].ends_with("messaging  START RequestId: m2 Version: 3"),
        "{}",
        lines[2]
    );

    // --since reaches further back.
    let older = tail(&project, &emulator, &["messaging", "--since", "3h"]);
    assert!(
        older
            .stdout
            .lines()
            .next()
            .unwrap()
            .contains("two hours ago"),
        "{older:?}"
    );

    // --level keeps structured lines at or above it.
    let warn = tail(&project, &emulator, &["--all", "--level", "warn"]);
    let got: Vec<&str> = warn.stdout.lines().collect();
    assert_eq!(got.len(), 2, "{warn:?}");
    assert!(
        got[0].contains("WARN  usage late") && got[1].contains("ERROR store unreachable"),
        "{warn:?}"
    );

    // --filter goes to FilterLogEvents; JSON output is one object per event.
    let filtered = tail(
        &project,
        &emulator,
        &["--all", "--filter", "unreachable", "--output", "json"],
    );
    assert_eq!(filtered.code, 0, "{filtered:?}");
    let objects: Vec<Value> = filtered
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 1, "{filtered:?}");
    assert_eq!(objects[0]["capability"], "messaging");
    assert_eq!(objects[0]["fields"]["request_id"], "m3");
    assert_eq!(
        objects[0]["log_group"],
        "/aws/lambda/stackpro-messaging-sandbox"
    );

    // Raw: the lines as written.
    let raw = tail(&project, &emulator, &["billing", "--output", "raw"]);
    assert_eq!(
        raw.stdout.lines().next().unwrap(),
        structured("warn", "usage late", "b1")
    );

    // A group that does not exist yet is not an error.
    let missing = tail(&project, &emulator, &["ai"]);
    assert_eq!(missing.code, 0, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("log group /aws/lambda/stackpro-ai-sandbox does not exist yet"),
        "{missing:?}"
    );
    assert!(missing.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_new_events_and_ctrl_c_exits_cleanly() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackpro-under-test"))
        .args([
            "tail",
            "messaging",
            "--env",
            "sandbox",
            "--follow",
            "--endpoint-url",
            &emulator.url,
        ])
        .current_dir(project.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The group appears after the tail started (a function's first run).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let put_at = Instant::now();
    put(
        &emulator,
        "messaging",
        &[(now_ms(), structured("info", "first request", "f1"))],
    )
    .await;
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || loop {
        let mut line = String::new();
        match stdout.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the event is printed");
    assert!(line.contains("INFO  first request"), "{line}");
    assert!(
        put_at.elapsed() < Duration::from_secs(10),
        "{:?}",
        put_at.elapsed()
    );

    // Another instance's event that arrives late (3 s older than the one shown) is
    // still shown, once; nothing already shown comes again.
    put(
        &emulator,
        "messaging",
        &[(now_ms() - 3000, structured("info", "late arrival", "f2"))],
    )
    .await;
    let late = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the late event is printed");
    assert!(late.contains("late arrival"), "{late}");
    std::thread::sleep(Duration::from_millis(3500));
    assert!(rx.try_recv().is_err(), "no line is printed twice");

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "Ctrl-C exits 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist yet"));
}
