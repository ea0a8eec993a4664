//! `stackpro bootstrap` on a private emulator: the artifact bucket is created once,
//! a second run changes nothing, and the wrong account is refused before anything exists.

use stackpro_tests::{Emulator, ProjectCopy};

use crate::cli::{stackpro_with, DUMMY_CREDS as CREDS};

const BUCKET: &str = "stackpro-artifacts-local-123456789012-us-east-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_creates_the_artifact_bucket_once() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let args = [
        "bootstrap",
        "--env",
        "local",
        "--endpoint-url",
        &emulator.url,
        "--output",
        "json",
    ];

    let first = stackpro_with(project.path(), &args, &CREDS);
    assert_eq!(first.code, 0, "{first:?}");
    let report: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(report["action"], "created");
    assert_eq!(report["status"], "CREATE_COMPLETE");
    assert_eq!(report["artifact_bucket"], BUCKET);

    // What the emulator holds: the stack and the encrypted bucket.
    let conf = emulator.sdk_config();
    let s3 = aws_sdk_s3::Client::new(&conf);
    let encryption = s3
        .get_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the bucket exists");
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let stacks = cfn
        .describe_stacks()
        .stack_name("stackpro-bootstrap-local")
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = stacks.stacks()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(
        tags.contains(&("stackpro:environment", "local")),
        "{tags:?}"
    );
    // The artifact bucket is guarded by the stack policy every stack carries.
    let policy = cfn
        .get_stack_policy()
        .stack_name("stackpro-bootstrap-local")
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .stack_policy_body()
            .is_some_and(|p| p.contains("Update:Replace") && p.contains("AWS::S3::Bucket")),
        "{policy:?}"
    );

    let second = stackpro_with(project.path(), &args, &CREDS);
    assert_eq!(second.code, 0, "{second:?}");
    let report: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(
        report["action"], "up_to_date",
        "a second bootstrap changes nothing"
    );
    assert_eq!(report["status"], "CREATE_COMPLETE", "no update was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_refuses_the_wrong_account_before_creating_anything() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    project.edit(
        "envs/local.yaml",
        "region: us-east-1",
        "region: us-east-1\naccount_id: \"999999999999\"",
    );
    let run = stackpro_with(
        project.path(),
        &[
            "bootstrap",
            "--env",
            "local",
            "--endpoint-url",
            &emulator.url,
        ],
        &CREDS,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("error: environment local belongs to account 999999999999"),
        "{run:?}"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&emulator.sdk_config());
    let stacks = cfn.list_stacks().send().await.unwrap();
    assert!(stacks.stack_summaries().is_empty(), "nothing was created");
}
