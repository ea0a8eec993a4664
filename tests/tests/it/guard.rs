//! The server-side data-loss guard: the stack policy every stack carries, set by
//! `stackpro deploy` and read back from the emulator (which stores stack policies but
//! does not enforce them; the policy's effect is CloudFormation's).

use serde_json::{json, Value};
use stackpro_tests::sdk_config_for;

use crate::cli::{bootstrapped, run};

async fn policy(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Value {
    let body = cfn
        .get_stack_policy()
        .stack_name(stack)
        .send()
        .await
        .unwrap()
        .stack_policy_body()
        .map(str::to_string)
        .expect("the stack has a policy");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stack_carries_the_guard_and_allow_replace_lifts_it_for_one_update_only() {
    let (emulator, project) = bootstrapped("sandbox");
    let run = |args: &[&str]| run(&project, &emulator, args);
    let stack = "stackpro-messaging-sandbox";
    let cfn = aws_sdk_cloudformation::Client::new(&sdk_config_for(&emulator.url, "eu-west-1"));

    let created = run(&["deploy", "messaging", "--env", "sandbox", "--no-build"]);
    assert_eq!(created.code, 0, "{created:?}");
    let set = policy(&cfn, stack).await;
    let deny = set["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .expect("a Deny statement")
        .clone();
    assert_eq!(deny["Action"], json!(["Update:Replace", "Update:Delete"]));
    let types = deny["Condition"]["StringEquals"]["ResourceType"]
        .as_array()
        .unwrap()
        .clone();
    for t in [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
        "AWS::SQS::Queue",
    ] {
        assert!(types.contains(&json!(t)), "{t} in {set}");
    }

    // A new table key replaces the table: allowed with --allow-replace, through an
    // update whose own policy allows it; the stack's policy is the same afterwards.
    project.edit(
        "handlers/messaging/capability.yaml",
        "{ name: pk, type: S }",
        "{ name: tenant, type: S }",
    );
    let replaced = run(&[
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--allow-replace",
    ]);
    assert_eq!(replaced.code, 0, "{replaced:?}");
    assert!(
        replaced
            .stderr
            .contains("TableThreads (AWS::DynamoDB::Table) would be replaced"),
        "{replaced:?}"
    );
    assert!(
        replaced
            .stderr
            .contains("the stack policy is lifted for this update only"),
        "{replaced:?}"
    );
    assert_eq!(policy(&cfn, stack).await, set, "the guard is back in place");
}
