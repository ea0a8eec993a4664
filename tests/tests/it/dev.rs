//! `stackpro dev`: what it would serve (`--dry-run`), and what it refuses. Serving for
//! real is exercised by scripts/contract-test.sh (cargo lambda watch plus schemathesis).

use stackpro_tests::project_root;

use crate::cli::stackpro;

#[test]
fn dry_run_plans_loopback_servers_with_the_stacks_variables() {
    let run = stackpro(&project_root(), &["dev", "--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["environment"], "local");
    assert_eq!(report["endpoint"], "http://127.0.0.1:5000");
    let served = report["served"].as_array().unwrap();
    // Only capabilities with a handler crate are served, one port each, in name order.
    let names: Vec<&str> = served
        .iter()
        .map(|s| s["capability"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["datalake", "messaging"], "{report}");
    let messaging = &served[1];
    assert_eq!(
        messaging["url"],
        "http://127.0.0.1:9001/lambda-url/messaging"
    );
    // Each finds the other through discovery's override variable.
    assert_eq!(
        messaging["environment"]["CAP_DATALAKE_BASE_URL"],
        "http://127.0.0.1:9000/lambda-url/datalake"
    );
    let command: Vec<&str> = messaging["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        command
            .windows(2)
            .any(|w| w == ["--invoke-address", "127.0.0.1"]),
        "{command:?}"
    );
    assert!(
        command.windows(2).any(|w| w == ["--bin", "messaging"]),
        "{command:?}"
    );

    // The deployed stack's variables, pointed at the emulator, with dummy credentials.
    let root = project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let env = catalogue.load_env(&project, "local").unwrap();
    let stack = stackpro::render::environment_variables(catalogue.get("messaging").unwrap(), &env);
    let vars = messaging["environment"].as_object().unwrap();
    for (k, v) in &stack {
        assert_eq!(vars[k], v.as_str(), "{k}");
    }
    assert_eq!(vars["AWS_ENDPOINT_URL"], "http://127.0.0.1:5000");
    assert_eq!(vars["AWS_ACCESS_KEY_ID"], "testing");
    assert!(vars["STACKPRO_JWT_SECRET"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[test]
fn environments_that_are_not_a_loopback_emulator_are_refused() {
    for args in [
        vec!["dev", "--env", "sandbox", "--dry-run"],
        vec![
            "dev",
            "--endpoint-url",
            "https://dynamodb.us-east-1.amazonaws.com",
            "--dry-run",
        ],
    ] {
        let run = stackpro(&project_root(), &args);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(
            run.stderr.contains("against a local AWS emulator"),
            "{run:?}"
        );
        assert!(run.stderr.contains("help: use --env local"), "{run:?}");
    }
}

#[test]
fn a_capability_without_a_handler_crate_is_refused() {
    let run = stackpro(&project_root(), &["dev", "ai", "--dry-run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("capability ai has no handler crate"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("serve one that has: datalake, messaging"),
        "{run:?}"
    );
}
