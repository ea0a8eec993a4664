//! `stackpro flags` on a private emulator: what SSM holds after each command, per
//! environment and per tenant, and the refusals (typos, bad values, production).

use serde_json::Value;
use stackpro_tests::{sdk_config_for, Emulator, ProjectCopy};

use crate::cli::{run, Run};

fn json(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

fn flag<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

async fn ssm_value(emulator: &Emulator, name: &str) -> Option<String> {
    let ssm = aws_sdk_ssm::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    ssm.get_parameter()
        .name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter().and_then(|p| p.value()).map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_list_unset_and_history_per_environment_and_tenant() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let env = ["--env", "sandbox", "--output", "json"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(env.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let go = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&project, &emulator, &refs)
    };

    // Nothing in SSM: every value comes from the env file.
    let before = json(&go(with(&["flags", "list"])));
    let enabled = flag(&before, "CAP_MESSAGING_ENABLED");
    assert_eq!(enabled["value"], "true");
    assert_eq!(enabled["origin"], "env_file");

    // Set for the environment: SSM holds it, list says where it comes from and who.
    let set = json(&go(with(&["flags", "set", "CAP_MESSAGING_ENABLED=false"])));
    assert_eq!(set["changes"][0]["before"], "true");
    assert_eq!(set["changes"][0]["after"], "false");
    assert_eq!(set["reaches_handlers_within_seconds"], 60);
    assert_eq!(
        ssm_value(&emulator, "/stackpro/sandbox/flags/CAP_MESSAGING_ENABLED")
            .await
            .as_deref(),
        Some("false")
    );
    let list = json(&go(with(&["flags", "list"])));
    let enabled = flag(&list, "CAP_MESSAGING_ENABLED");
    assert_eq!(enabled["value"], "false");
    assert_eq!(enabled["origin"], "ssm");
    assert_eq!(enabled["default"], "true");
    assert_eq!(enabled["changed_by"], "arn:aws:sts::123456789012:user/moto");
    assert!(enabled["changed_at"].as_str().is_some());

    // A tenant override wins for that tenant only.
    json(&go(with(&[
        "flags",
        "set",
        "CAP_MESSAGING_VERSION=v2",
        "--tenant",
        "acme",
    ])));
    assert_eq!(
        ssm_value(
            &emulator,
            "/stackpro/sandbox/flags/tenants/acme/CAP_MESSAGING_VERSION"
        )
        .await
        .as_deref(),
        Some("v2")
    );
    let acme = json(&go(with(&[
        "flags",
        "get",
        "CAP_MESSAGING_VERSION",
        "--tenant",
        "acme",
    ])));
    assert_eq!(acme["flags"].as_array().unwrap().len(), 1);
    assert_eq!(flag(&acme, "CAP_MESSAGING_VERSION")["value"], "v2");
    assert_eq!(
        flag(&acme, "CAP_MESSAGING_VERSION")["origin"],
        "tenant_override"
    );
    let other = json(&go(with(&[
        "flags",
        "get",
        "CAP_MESSAGING_VERSION",
        "--tenant",
        "globex",
    ])));
    assert_eq!(flag(&other, "CAP_MESSAGING_VERSION")["value"], "v1");

    // History keeps every value; unset goes back to the default.
    json(&go(with(&["flags", "set", "CAP_MESSAGING_ENABLED=true"])));
    let history = json(&go(with(&["flags", "history", "CAP_MESSAGING_ENABLED"])));
    let values: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["true", "false"], "newest first");
    let unset = json(&go(with(&["flags", "unset", "CAP_MESSAGING_ENABLED"])));
    assert_eq!(unset["changes"][0]["after_origin"], "env_file");
    assert_eq!(
        ssm_value(&emulator, "/stackpro/sandbox/flags/CAP_MESSAGING_ENABLED").await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typos_bad_values_and_unconfirmed_production_changes_are_refused() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let typo = run(
        &project,
        &emulator,
        &[
            "flags",
            "set",
            "CAP_MESSAGIN_ENABLED=false",
            "--env",
            "sandbox",
        ],
    );
    assert_eq!(typo.code, 2, "{typo:?}");
    assert!(
        typo.stderr
            .contains("error: unknown flag `CAP_MESSAGIN_ENABLED`"),
        "{typo:?}"
    );
    assert!(
        typo.stderr
            .contains("did you mean `CAP_MESSAGING_ENABLED`?"),
        "{typo:?}"
    );

    let bad = run(
        &project,
        &emulator,
        &[
            "flags",
            "set",
            "CAP_MESSAGING_VERSION=2",
            "--env",
            "sandbox",
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr
            .contains("expected a version such as v1 or v2, found `2`"),
        "{bad:?}"
    );

    let unknown_cap = run(
        &project,
        &emulator,
        &[
            "flags",
            "set",
            "CAP_SEARCH_ENABLED=true",
            "--env",
            "sandbox",
        ],
    );
    assert_eq!(unknown_cap.code, 2, "{unknown_cap:?}");

    let prod = run(
        &project,
        &emulator,
        &["flags", "set", "CAP_AI_ENABLED=true", "--env", "production"],
    );
    assert_eq!(prod.code, 2, "{prod:?}");
    assert!(prod.stderr.contains("pass --yes"), "{prod:?}");
    let ssm = aws_sdk_ssm::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let all = ssm.describe_parameters().send().await.unwrap();
    assert!(all.parameters().is_empty(), "nothing was written");

    let yes = run(
        &project,
        &emulator,
        &[
            "flags",
            "set",
            "CAP_AI_ENABLED=true",
            "--env",
            "production",
            "--yes",
        ],
    );
    assert_eq!(yes.code, 0, "{yes:?}");
    assert_eq!(
        ssm_value(&emulator, "/stackpro/production/flags/CAP_AI_ENABLED")
            .await
            .as_deref(),
        Some("true")
    );
}
