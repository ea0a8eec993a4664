//! What the main commands print, text and JSON, as insta snapshots: a change of output
//! is a diff in review (`cargo insta review`), as in uv's tests. Times, durations,
//! ports, commits and temporary paths are replaced by placeholders; everything else is
//! the real binary's output on the emulator or on a recorded answer.

use crate::cli::{bootstrapped, run, stackpro, Run};
use stackpro_tests::project_root;

/// The snapshot settings of snapshots.rs, with the filters that take out what changes
/// from run to run.
pub fn settings() -> insta::Settings {
    let mut s = crate::snapshots::snapshot_settings();
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[time]",
    );
    s.add_filter(r"\b\d+\.\d+ s\b", "[duration]");
    s.add_filter(r#""duration_ms":\d+"#, r#""duration_ms":"[ms]""#);
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(r"\b[0-9a-f]{40}(-dirty)?\b", "[commit]");
    s.add_filter(r"/tmp/[^\s\x22]+", "[tmp]");
    s.add_filter(
        r"artifacts/(\w+)/[0-9a-f]{16,}\.zip",
        "artifacts/$1/[hash].zip",
    );
    s
}

pub fn both(name: &str, text: &Run, json: &Run) {
    let _bound = settings().bind_to_scope();
    insta::assert_snapshot!(format!("{name}__text"), text.stderr);
    insta::assert_snapshot!(format!("{name}__json"), json.stdout);
}

#[test]
fn list_text_and_json() {
    let text = stackpro(&project_root(), &["list"]);
    let json = stackpro(&project_root(), &["list", "--output", "json"]);
    assert_eq!((text.code, json.code), (0, 0), "{text:?}{json:?}");
    both("list", &text, &json);
}

#[test]
fn an_unknown_capability_text_and_json() {
    let args = ["status", "mesaging", "--env", "sandbox"];
    let text = stackpro(&project_root(), &args);
    let mut json_args = args.to_vec();
    json_args.extend(["--output", "json"]);
    let json = stackpro(&project_root(), &json_args);
    assert_eq!((text.code, json.code), (2, 2), "{text:?}{json:?}");
    both("unknown_capability", &text, &json);
}

#[test]
fn schema_list_text() {
    let text = stackpro(&project_root(), &["schema"]);
    let json = stackpro(&project_root(), &["schema", "--output", "json"]);
    assert_eq!((text.code, json.code), (0, 0));
    both("schema", &text, &json);
}

#[test]
fn deploy_then_status_text_and_json_on_the_emulator() {
    let (emulator, project) = bootstrapped("sandbox");
    let deploy = run(
        &project,
        &emulator,
        &[
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--yes",
        ],
    );
    assert_eq!(deploy.code, 0, "{deploy:?}");
    // Up to date: the same stack again, as text and as NDJSON.
    let again = run(
        &project,
        &emulator,
        &[
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--yes",
        ],
    );
    let again_json = run(
        &project,
        &emulator,
        &[
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(
        (again.code, again_json.code),
        (0, 0),
        "{again:?}{again_json:?}"
    );
    both("deploy_up_to_date", &again, &again_json);
    let status = run(
        &project,
        &emulator,
        &["status", "messaging", "--env", "sandbox"],
    );
    let status_json = run(
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
    assert_eq!(
        (status.code, status_json.code),
        (0, 0),
        "{status:?}{status_json:?}"
    );
    both("status", &status, &status_json);
}
