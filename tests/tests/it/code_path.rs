//! `stackpro deploy --code`, the code-only path, on the emulator: what it changes
//! (the function's code, a version, the alias, a `code` record) and what it leaves
//! (the stack), what it refuses, and the full deploy that catches the stack up.

use serde_json::Value;
use stackpro_tests::sdk_config_for;

use crate::cli::{bootstrapped, run};

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn summary(stdout: &str) -> Value {
    json_lines(stdout)
        .into_iter()
        .find(|l| l["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_only_ships_the_code_refuses_more_and_the_next_full_deploy_reconciles() {
    let (emulator, project) = bootstrapped("sandbox");
    let run = |args: &[&str]| run(&project, &emulator, args);
    let stack = "stackpro-messaging-sandbox";
    let conf = sdk_config_for(&emulator.url, "eu-west-1");
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let artifact_key = || async {
        let out = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let s = out.stacks()[0].clone();
        let key = s
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some("ArtifactKey"))
            .and_then(|p| p.parameter_value())
            .unwrap()
            .to_string();
        (key, s.stack_status().unwrap().as_str().to_string())
    };
    let first = run(&["deploy", "messaging", "--env", "sandbox", "--no-build"]);
    assert_eq!(first.code, 0, "{first:?}");
    let (key1, status1) = artifact_key().await;

    // A code change: shipped without CloudFormation.
    project.with_artifacts("2");
    let code = run(&[
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--code",
        "--output",
        "json",
    ]);
    assert_eq!(code.code, 0, "{code:?}");
    let cap = summary(&code.stdout)["capabilities"][0].clone();
    assert_eq!(cap["decision"], "code", "{cap}");
    assert_eq!(cap["function_version"], "2", "{cap}");
    let (key_after, status_after) = artifact_key().await;
    assert_eq!(
        (key_after.as_str(), status_after.as_str()),
        (key1.as_str(), status1.as_str()),
        "the stack is not touched"
    );
    let function = lambda
        .get_function_configuration()
        .function_name(stack)
        .send()
        .await
        .unwrap();
    let alias = lambda
        .get_alias()
        .function_name(stack)
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some("2"));
    let version2 = lambda
        .get_function_configuration()
        .function_name(stack)
        .qualifier("2")
        .send()
        .await
        .unwrap();
    assert_eq!(version2.code_sha256(), function.code_sha256());
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let record: Value = serde_json::from_str(
        ssm.get_parameter()
            .name("/stackpro/sandbox/deployments/messaging")
            .send()
            .await
            .unwrap()
            .parameter()
            .unwrap()
            .value()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["kind"], "code");
    assert_ne!(record["artifact_key"], key1.as_str());
    assert_eq!(record["code_sha256"], function.code_sha256().unwrap());

    // status says the stack is behind.
    let status = run(&[
        "status",
        "messaging",
        "--env",
        "sandbox",
        "--output",
        "json",
    ]);
    assert_eq!(status.code, 0, "{status:?}");
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let note = status["capabilities"][0]["live_note"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(note.contains("code-only deployment"), "{status}");
    assert!(note.contains("CloudFormation's view is behind"), "{note}");

    // More than the code: refused, exit 2, naming the change; nothing shipped.
    project.edit("envs/sandbox.yaml", "memory_mb: 128", "memory_mb: 256");
    let refused = run(&[
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--code",
    ]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("Function (AWS::Lambda::Function) Modify: MemorySize"),
        "{refused:?}"
    );
    project.edit("envs/sandbox.yaml", "memory_mb: 256", "memory_mb: 128");

    // Production allows no fast path: refused before anything is touched.
    let production = run(&[
        "deploy",
        "messaging",
        "--env",
        "production",
        "--no-build",
        "--code",
        "--yes",
    ]);
    assert_eq!(production.code, 2, "{production:?}");
    assert!(
        production
            .stderr
            .contains("does not allow the code-only path"),
        "{production:?}"
    );

    // The next full deploy says what it reconciles and brings the stack up to date.
    let full = run(&["deploy", "messaging", "--env", "sandbox", "--no-build"]);
    assert_eq!(full.code, 0, "{full:?}");
    assert!(
        full.stderr.contains("CloudFormation's view was behind"),
        "{full:?}"
    );
    let (key_full, _) = artifact_key().await;
    assert_eq!(key_full, record["artifact_key"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ships_every_new_build_until_stopped() {
    use std::io::BufRead;
    let (emulator, project) = bootstrapped("sandbox");
    let first = run(
        &project,
        &emulator,
        &["deploy", "messaging", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(first.code, 0, "{first:?}");
    let args = [
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--code",
        "--watch",
        "--output",
        "json",
        "--endpoint-url",
        &emulator.url,
    ];
    let (mut cmd, _home) = crate::cli::command(project.path(), &args, &crate::cli::DUMMY_CREDS);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Each cycle ends with a `summary` line; collect them as they come.
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["type"] == "summary" && tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    let next = || {
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("a deploy cycle")
    };
    // The first cycle: the zip is the deployed one, nothing to ship.
    let cycle = next();
    let outcome = &cycle["capabilities"][0];
    assert_eq!(outcome["success"], true, "{cycle}");
    // A new build lands: it is shipped without being asked, as a new version.
    project.with_artifacts("2");
    let cycle = next();
    let outcome = &cycle["capabilities"][0];
    assert_eq!(
        (outcome["decision"].as_str(), outcome["success"].as_bool()),
        (Some("code"), Some(true)),
        "{cycle}"
    );
    assert_eq!(outcome["function_version"], "2", "{cycle}");
    child.kill().unwrap();
    let _ = child.wait();
    let lambda = aws_sdk_lambda::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));
    let alias = lambda
        .get_alias()
        .function_name("stackpro-messaging-sandbox")
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(
        alias.function_version(),
        Some("2"),
        "live serves what watch shipped"
    );
}
