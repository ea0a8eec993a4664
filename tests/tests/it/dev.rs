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
    assert_eq!(names, ["ai", "datalake", "messaging"], "{report}");
    let messaging = &served[2];
    assert_eq!(
        messaging["url"],
        "http://127.0.0.1:9002/lambda-url/messaging"
    );
    // Each finds the others through discovery's override variable.
    assert_eq!(
        messaging["environment"]["CAP_DATALAKE_BASE_URL"],
        "http://127.0.0.1:9001/lambda-url/datalake"
    );
    assert_eq!(
        served[0]["environment"]["CAP_MESSAGING_BASE_URL"],
        "http://127.0.0.1:9002/lambda-url/messaging"
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
    let stack = stackpro::render::environment_variables(
        catalogue.get("messaging").unwrap(),
        &env,
        stackpro_tests::EMULATOR_ACCOUNT,
    );
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
    let run = stackpro(&project_root(), &["dev", "billing", "--dry-run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("capability billing has no handler crate"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("serve one that has: ai, datalake, messaging"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_buckets_are_created_on_the_emulator_under_the_names_the_handler_gets() {
    let emulator = stackpro_tests::Emulator::start();
    let root = project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    // sandbox is in eu-west-1: the bucket needs a location constraint there.
    let env = catalogue.load_env(&project, "sandbox").unwrap();
    let datalake = catalogue.get("datalake").unwrap();
    let ctx = stackpro::aws::AwsContext::from_config(
        stackpro_tests::sdk_config_for(&emulator.url, "eu-west-1"),
        "eu-west-1",
        Some(emulator.url.clone()),
    );
    let s3 = aws_sdk_s3::Client::new(&ctx.config);
    let account = stackpro_tests::EMULATOR_ACCOUNT;
    let ensure = || stackpro::commands::dev::ensure_buckets(&ctx, datalake, &env, account);

    let created = ensure().await.unwrap();
    let expected = "stackpro-datalake-sandbox-export-123456789012-eu-west-1";
    assert_eq!(created, [expected]);
    let location = s3
        .get_bucket_location()
        .bucket(expected)
        .send()
        .await
        .unwrap();
    assert_eq!(
        location.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
    assert!(
        ensure().await.unwrap().is_empty(),
        "existing buckets are left alone"
    );

    let vars = stackpro::commands::dev::dev_environment(
        datalake,
        &env,
        account,
        &emulator.url,
        "eu-west-1",
        &Default::default(),
    );
    assert_eq!(vars["STACKPRO_BUCKET_EXPORT"], expected);
}
