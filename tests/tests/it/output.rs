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

/// `args` run by `run` twice: as they are (text), and with `--output json`.
pub fn text_and_json(args: &[&str], run: impl Fn(&[&str]) -> Run) -> (Run, Run) {
    let mut json_args = args.to_vec();
    json_args.extend(["--output", "json"]);
    (run(args), run(&json_args))
}

pub fn both(name: &str, text: &Run, json: &Run) {
    let _bound = settings().bind_to_scope();
    insta::assert_snapshot!(format!("{name}__text"), text.stderr);
    insta::assert_snapshot!(format!("{name}__json"), json.stdout);
}

#[test]
fn list_text_and_json() {
    let (text, json) = text_and_json(&["list"], |a| stackpro(&project_root(), a));
    assert_eq!((text.code, json.code), (0, 0), "{text:?}{json:?}");
    both("list", &text, &json);
}

#[test]
fn an_unknown_capability_text_and_json() {
    let (text, json) = text_and_json(&["status", "mesaging", "--env", "sandbox"], |a| {
        stackpro(&project_root(), a)
    });
    assert_eq!((text.code, json.code), (2, 2), "{text:?}{json:?}");
    both("unknown_capability", &text, &json);
}

#[test]
fn sdk_check_text_and_json() {
    let (text, json) = text_and_json(&["sdk", "check"], |args| {
        crate::sdk::with_rustfmt(&project_root(), args)
    });
    assert_eq!((text.code, json.code), (0, 0), "{text:?}");
    both("sdk_check", &text, &json);
}

#[test]
fn schema_list_text() {
    let (text, json) = text_and_json(&["schema"], |a| stackpro(&project_root(), a));
    assert_eq!((text.code, json.code), (0, 0));
    both("schema", &text, &json);
}

#[test]
fn deploy_then_status_text_and_json_on_the_emulator() {
    let (emulator, project) = bootstrapped("sandbox");
    let on_emulator = |args: &[&str]| run(&project, &emulator, args);
    let deploy = [
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--yes",
    ];
    let first = on_emulator(&deploy);
    assert_eq!(first.code, 0, "{first:?}");
    // Up to date: the same stack again, as text and as NDJSON.
    let (again, again_json) = text_and_json(&deploy, on_emulator);
    assert_eq!(
        (again.code, again_json.code),
        (0, 0),
        "{again:?}{again_json:?}"
    );
    both("deploy_up_to_date", &again, &again_json);
    let (status, status_json) =
        text_and_json(&["status", "messaging", "--env", "sandbox"], on_emulator);
    assert_eq!(
        (status.code, status_json.code),
        (0, 0),
        "{status:?}{status_json:?}"
    );
    both("status", &status, &status_json);
}
