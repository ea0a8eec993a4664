//! `stackpro gc` on a private emulator: three deploys of different code, then a fast
//! rollback; what gc lists, what `--yes` deletes from the emulator's S3, and what it
//! keeps and why (the last records, the live version, the stack's artifact, young objects).

use serde_json::Value;
use stackpro_tests::sdk_config_for;

use crate::cli::{bootstrapped, run};

const BUCKET: &str = "stackpro-artifacts-sandbox-123456789012-eu-west-1";

fn report(r: &crate::cli::Run) -> Value {
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

fn keys(report: &Value, list: &str) -> Vec<String> {
    let mut keys: Vec<String> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .filter(|k| k.starts_with("artifacts/"))
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_lists_then_deletes_only_what_no_deployment_needs() {
    let (emulator, project) = bootstrapped("sandbox");
    let run = |args: &[&str]| run(&project, &emulator, args);
    let deploy = [
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--output",
        "json",
    ];
    let mut artifact = Vec::new();
    for version in ["1", "2", "3"] {
        project.with_artifacts(version);
        let d = run(&deploy);
        assert_eq!(d.code, 0, "{d:?}");
        let status = report(&run(&[
            "status",
            "messaging",
            "--env",
            "sandbox",
            "--output",
            "json",
        ]));
        let key = status["capabilities"][0]["deployment"]["artifact_key"]
            .as_str()
            .unwrap_or_else(|| panic!("no artifact key in {status}"))
            .to_string();
        artifact.push(key);
    }
    let gc = ["gc", "--env", "sandbox", "--output", "json"];

    // Everything was uploaded a moment ago: the default minimum age keeps it all.
    let fresh = report(&run(&gc));
    assert_eq!(fresh["deletable"], serde_json::json!([]), "{fresh}");
    assert!(fresh["kept"].as_array().unwrap().len() >= 3);

    // Keeping one deployment: the two older zips may go; nothing is deleted yet.
    let listed = report(&run(&[&gc[..], &["--keep", "1", "--min-age", "0"]].concat()));
    assert_eq!(listed["deleted"], false);
    assert_eq!(keys(&listed, "deletable"), {
        let mut v = vec![artifact[0].clone(), artifact[1].clone()];
        v.sort();
        v
    });
    assert!(listed["kept"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["key"] == artifact[2].as_str()
            && v["kept_because"].as_str().unwrap().contains("live alias")));

    // A fast rollback puts deployment 2's version live: its zip is needed again.
    let back = run(&["rollback", "messaging", "--env", "sandbox", "--yes"]);
    assert_eq!(back.code, 0, "{back:?}");
    let deleted = report(&run(&[
        &gc[..],
        &["--keep", "1", "--min-age", "0", "--yes"],
    ]
    .concat()));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(keys(&deleted, "deletable"), vec![artifact[0].clone()]);
    let s3 = aws_sdk_s3::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let exists = |key: String| {
        let s3 = s3.clone();
        async move {
            s3.head_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .is_ok()
        }
    };
    assert!(!exists(artifact[0].clone()).await, "deleted");
    assert!(exists(artifact[1].clone()).await, "live after the rollback");
    assert!(
        exists(artifact[2].clone()).await,
        "the stack still names it"
    );

    // The text report says what it would do and how.
    let text = run(&["gc", "--env", "sandbox", "--keep", "0", "--min-age", "0"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stderr.contains("keep artifacts/"), "{text:?}");
}
