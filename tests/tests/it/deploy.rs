//! `stackpro deploy`, `status` and `destroy` end to end on a private emulator, through
//! the real binary, asserting on what the emulator then holds as well as on the report.
//!
//! The handler zips are put where `stackpro build` leaves them and deployed with
//! `--no-build` (building the real handlers is the `build` module's test and the e2e
//! script's job); the emulator never runs them.

use std::collections::BTreeMap;

use serde_json::Value;
use stackpro_tests::{sdk_config_for, Emulator, ProjectCopy};

use crate::cli::{bootstrapped, run, Run};

/// The JSON lines a `--output json` deploy printed, by `type`.
fn lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{run:?}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn summary(run: &Run) -> Value {
    let all = lines(run);
    let s = of_type(&all, "summary");
    assert_eq!(s.len(), 1, "one summary line: {run:?}");
    s[0].clone()
}

struct Aws {
    cfn: aws_sdk_cloudformation::Client,
    lambda: aws_sdk_lambda::Client,
    ssm: aws_sdk_ssm::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

fn clients(emulator: &Emulator, region: &str) -> Aws {
    let conf = sdk_config_for(&emulator.url, region);
    Aws {
        cfn: aws_sdk_cloudformation::Client::new(&conf),
        lambda: aws_sdk_lambda::Client::new(&conf),
        ssm: aws_sdk_ssm::Client::new(&conf),
        dynamodb: aws_sdk_dynamodb::Client::new(&conf),
        s3: aws_sdk_s3::Client::new(&conf),
    }
}

async fn stack_status(aws: &Aws, name: &str) -> Option<String> {
    aws.cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_string())
        })
}

async fn live_version(aws: &Aws, function: &str) -> String {
    aws.lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .expect("the live alias exists")
        .function_version()
        .unwrap()
        .to_string()
}

async fn record(aws: &Aws, env: &str, cap: &str) -> (Value, i64) {
    let p = aws
        .ssm
        .get_parameter()
        .name(format!("/stackpro/{env}/deployments/{cap}"))
        .send()
        .await
        .expect("a deployment record")
        .parameter()
        .cloned()
        .unwrap();
    (
        serde_json::from_str(p.value().unwrap()).unwrap(),
        p.version(),
    )
}

/// Change sets waiting to be executed (executed ones stay listed on the emulator).
async fn change_sets(aws: &Aws, stack: &str) -> usize {
    aws.cfn
        .list_change_sets()
        .stack_name(stack)
        .send()
        .await
        .unwrap()
        .summaries()
        .iter()
        .filter(|c| c.execution_status().map(|s| s.as_str()) == Some("AVAILABLE"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_creates_then_is_up_to_date_then_updates_then_guards_the_table() {
    let (emulator, project) = bootstrapped("sandbox");
    let aws = clients(&emulator, "eu-west-1");
    let stack = "stackpro-messaging-sandbox";
    let deploy = [
        "deploy",
        "messaging",
        "--env",
        "sandbox",
        "--no-build",
        "--output",
        "json",
    ];

    // First deploy: the stack is created, the alias points at a published version.
    let first = run(&project, &emulator, &deploy);
    assert_eq!(first.code, 0, "{first:?}");
    let report = summary(&first);
    let cap = &report["capabilities"][0];
    assert_eq!(cap["decision"], "create", "{first:?}");
    assert_eq!(cap["status"], "CREATE_COMPLETE");
    assert_eq!(cap["outputs"]["FunctionName"], stack);
    assert_eq!(cap["function_version"], "1");
    assert_eq!(
        stack_status(&aws, stack).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(live_version(&aws, stack).await, "1");
    let policy = aws
        .lambda
        .get_policy()
        .function_name(stack)
        .qualifier("live")
        .send()
        .await
        .expect("the API may invoke the live alias");
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Sid"], "stackpro-api-invoke", "{policy}");
    assert_eq!(
        statement["Principal"]["Service"], "apigateway.amazonaws.com",
        "{policy}"
    );
    let (rec, n1) = record(&aws, "sandbox", "messaging").await;
    assert_eq!(rec["function_version"], "1");
    assert_eq!(rec["actor"], "arn:aws:sts::123456789012:user/moto");
    let key = rec["artifact_key"].as_str().unwrap();
    assert!(key.starts_with("artifacts/messaging/"), "{key}");
    aws.s3
        .head_object()
        .bucket("stackpro-artifacts-sandbox-123456789012-eu-west-1")
        .key(key)
        .send()
        .await
        .expect("the zip is stored under its content address");
    // JSON mode streamed steps, the plan, the outputs and the result, one per line.
    let all = lines(&first);
    for kind in ["step", "plan", "outputs", "result", "summary"] {
        assert!(!of_type(&all, kind).is_empty(), "no {kind} line: {first:?}");
    }

    // Second deploy: up to date, no change set, no stack operation, no new record.
    let second = run(&project, &emulator, &deploy);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        summary(&second)["capabilities"][0]["decision"],
        "up_to_date"
    );
    assert_eq!(
        stack_status(&aws, stack).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(change_sets(&aws, stack).await, 0);
    assert_eq!(record(&aws, "sandbox", "messaging").await.1, n1);

    // More memory: the diff shows the function modified, the deploy updates it and
    // publishes version 2 for the alias.
    project.edit("envs/sandbox.yaml", "memory_mb: 128", "memory_mb: 256");
    let preview = run(
        &project,
        &emulator,
        &[
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--dry-run",
        ],
    );
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview
            .stderr
            .contains("~ Function (AWS::Lambda::Function)"),
        "{preview:?}"
    );
    assert!(
        preview.stderr.contains("MemorySize: 128 -> 256"),
        "{preview:?}"
    );
    assert_eq!(
        change_sets(&aws, stack).await,
        0,
        "a dry run leaves no change set"
    );
    let memory = |aws: &Aws| {
        let lambda = aws.lambda.clone();
        async move {
            lambda
                .get_function_configuration()
                .function_name(stack)
                .send()
                .await
                .unwrap()
                .memory_size()
        }
    };
    assert_eq!(memory(&aws).await, Some(128), "a dry run changes nothing");
    // envs/sandbox.yaml's ceiling reaches the function (the emulator keeps a template's
    // ReservedConcurrentExecutions; TracingConfig and KmsKeyArn it drops: README, Testing).
    let reserved = aws
        .lambda
        .get_function_concurrency()
        .function_name(stack)
        .send()
        .await
        .unwrap()
        .reserved_concurrent_executions();
    assert_eq!(reserved, Some(10));
    let third = run(&project, &emulator, &deploy);
    assert_eq!(third.code, 0, "{third:?}");
    let cap = summary(&third)["capabilities"][0].clone();
    assert_eq!(cap["decision"], "update");
    let modified: Vec<&str> = cap["diff"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["logical_id"].as_str().unwrap())
        .collect();
    assert_eq!(modified, ["Function"], "{cap}");
    assert_eq!(memory(&aws).await, Some(256));
    assert_eq!(live_version(&aws, stack).await, "2");
    assert_eq!(
        record(&aws, "sandbox", "messaging").await.0["function_version"],
        "2"
    );

    // A new table key would replace the table: refused, exit 1, nothing changed.
    project.edit(
        "handlers/messaging/capability.yaml",
        "{ name: pk, type: S }",
        "{ name: tenant, type: S }",
    );
    let refused = run(
        &project,
        &emulator,
        &["deploy", "messaging", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("TableThreads (AWS::DynamoDB::Table) would be replaced"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("--allow-replace"), "{refused:?}");
    let table = aws
        .dynamodb
        .describe_table()
        .table_name("stackpro-messaging-sandbox-threads")
        .send()
        .await
        .unwrap();
    assert_eq!(
        table.table().unwrap().key_schema()[0].attribute_name(),
        "pk"
    );
    assert_eq!(
        change_sets(&aws, stack).await,
        0,
        "the refused change set is deleted"
    );
    assert_eq!(
        stack_status(&aws, stack).await.as_deref(),
        Some("UPDATE_COMPLETE")
    );

    // status: complete, with the outputs, the record and the live version.
    let status = run(
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
    assert_eq!(status.code, 0, "{status:?}");
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let c = &status["capabilities"][0];
    assert_eq!(c["status"], "UPDATE_COMPLETE");
    assert_eq!(c["live_version"], "2");
    assert_eq!(c["deployment"]["function_version"], "2");
    assert_eq!(
        c["outputs"]["TableThreadsName"],
        "stackpro-messaging-sandbox-threads"
    );
    assert_eq!(c["unhealthy"], false);
    // The emulator's CloudFormation creates no API: the API check says so and does not
    // fail the gate, and the text names the unresolved URL as the emulator's.
    assert_eq!(c["api"]["state"], "not_checked", "{c}");
    assert_eq!(c["api"]["api_id"], "${HttpApi}");
    assert!(
        c["api"]["note"]
            .as_str()
            .unwrap()
            .contains("emulator-only value"),
        "{c}"
    );
    let text = run(
        &project,
        &emulator,
        &["status", "messaging", "--env", "sandbox"],
    );
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stderr.contains("https://${HttpApi}.execute-api.eu-west-1.amazonaws.com\n                (emulator-only value: the emulator's CloudFormation creates no API Gateway resources"),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_without_yes_and_without_a_terminal_changes_nothing() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    project.with_artifacts("1");
    // production pins account 123456789012, the emulator's: only the missing --yes stops it.
    let aws = clients(&emulator, "eu-west-1");
    let run = run(
        &project,
        &emulator,
        &["deploy", "messaging", "--env", "production", "--no-build"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: deploying to production needs confirmation, and there is nobody to ask (no terminal, or a CI job)"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("help: pass --yes"), "{run:?}");
    let stacks = aws.cfn.list_stacks().send().await.unwrap();
    assert!(stacks.stack_summaries().is_empty(), "nothing was created");
    let buckets = aws.s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "nothing was uploaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_without_the_artifact_bucket_says_to_bootstrap() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    project.with_artifacts("1");
    let run = run(
        &project,
        &emulator,
        &["deploy", "--all", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr.matches("error:").count(),
        1,
        "one error, not one per capability: {run:?}"
    );
    assert!(
        run.stderr.contains("error: the artifact bucket stackpro-artifacts-sandbox-123456789012-eu-west-1 of environment sandbox does not exist"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("stackpro bootstrap --env sandbox"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_build_the_error_names_the_zip_and_the_command() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let run = run(
        &project,
        &emulator,
        &["deploy", "ai", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("no handler zip for ai at .stackpro/lambda/ai/bootstrap.zip"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("help: run `stackpro build ai`"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_capabilities_deploy_in_parallel_and_destroy_keeps_the_tables() {
    let (emulator, project) = bootstrapped("sandbox");
    let aws = clients(&emulator, "eu-west-1");
    let all = run(
        &project,
        &emulator,
        &[
            "deploy",
            "--all",
            "--env",
            "sandbox",
            "--no-build",
            "--concurrency",
            "4",
            "--output",
            "json",
        ],
    );
    assert_eq!(all.code, 0, "{all:?}");
    let report = summary(&all);
    let caps: BTreeMap<String, String> = report["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["capability"].as_str().unwrap().to_string(),
                c["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(caps.len(), 4, "{report}");
    assert!(caps.values().all(|d| d == "create"), "{caps:?}");
    for cap in caps.keys() {
        let stack = format!("stackpro-{cap}-sandbox");
        assert_eq!(
            stack_status(&aws, &stack).await.as_deref(),
            Some("CREATE_COMPLETE"),
            "{stack}"
        );
        assert_eq!(live_version(&aws, &stack).await, "1", "{stack}");
    }
    // The events of the four interleave; every one names its capability.
    let events = lines(&all);
    for cap in caps.keys() {
        assert!(
            of_type(&events, "event")
                .iter()
                .any(|e| e["capability"] == cap.as_str()),
            "no event for {cap}"
        );
    }

    // destroy: confirmation needed without a terminal, then the stack goes, the table stays.
    let refused = run(
        &project,
        &emulator,
        &["destroy", "billing", "--env", "sandbox"],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("pass --yes"), "{refused:?}");
    let destroyed = run(
        &project,
        &emulator,
        &[
            "destroy", "billing", "--env", "sandbox", "--yes", "--output", "json",
        ],
    );
    assert_eq!(destroyed.code, 0, "{destroyed:?}");
    let report = summary(&destroyed);
    assert_eq!(report["action"], "deleted", "{destroyed:?}");
    let retained: Vec<&str> = report["retained_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(!retained.is_empty(), "{destroyed:?}");
    for table in &retained {
        assert!(table.starts_with("stackpro-billing-sandbox-"), "{table}");
        aws.dynamodb
            .describe_table()
            .table_name(*table)
            .send()
            .await
            .expect("the table outlives its stack");
    }
    let gone = aws
        .cfn
        .describe_stacks()
        .stack_name("stackpro-billing-sandbox")
        .send()
        .await;
    assert!(
        gone.is_err()
            || gone.unwrap().stacks()[0].stack_status().map(|s| s.as_str())
                == Some("DELETE_COMPLETE"),
        "the stack is deleted"
    );
    let status = run(
        &project,
        &emulator,
        &["status", "billing", "--env", "sandbox", "--output", "json"],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["capabilities"][0]["status"], "NOT_DEPLOYED");

    // Production needs --force as well as a yes.
    let prod = run(
        &project,
        &emulator,
        &["destroy", "billing", "--env", "production", "--yes"],
    );
    assert_eq!(prod.code, 2, "{prod:?}");
    assert!(prod.stderr.contains("needs --force"), "{prod:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_is_guarded_like_a_table_and_outlives_destroy() {
    let (emulator, project) = bootstrapped("sandbox");
    let aws = clients(&emulator, "eu-west-1");
    let stack = "stackpro-datalake-sandbox";
    let bucket = "stackpro-datalake-sandbox-export-123456789012-eu-west-1";
    let key = "dataset=d1/dt=2026-11-30/part-0.jsonl.gz";
    let deploy = [
        "deploy",
        "datalake",
        "--env",
        "sandbox",
        "--no-build",
        "--output",
        "json",
    ];

    let first = run(&project, &emulator, &deploy);
    assert_eq!(first.code, 0, "{first:?}");
    let cap = &summary(&first)["capabilities"][0];
    assert_eq!(cap["outputs"]["BucketExportName"], bucket, "{cap}");
    let encryption = aws
        .s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("the stack made the bucket");
    assert_eq!(
        encryption
            .server_side_encryption_configuration()
            .unwrap()
            .rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let parameter = aws
        .ssm
        .get_parameter()
        .name("/stackpro/sandbox/capabilities/datalake/buckets/export")
        .send()
        .await
        .unwrap();
    assert_eq!(parameter.parameter().unwrap().value(), Some(bucket));
    aws.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(b"{}\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let object_is_there = || async {
        aws.s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    };

    // A bucket whose name a template change would alter is replaced: refused.
    project.edit(
        "templates/stack.yaml.j2",
        "BucketName: { \"Fn::Sub\": {{ bucket.physical_name_sub|tojson }} }",
        "BucketName: { \"Fn::Sub\": {{ (bucket.physical_name_sub ~ \"-v2\")|tojson }} }",
    );
    let replaced = run(
        &project,
        &emulator,
        &["deploy", "datalake", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(replaced.code, 1, "{replaced:?}");
    assert!(
        replaced
            .stderr
            .contains("BucketExport (AWS::S3::Bucket) would be replaced (create-only BucketName)"),
        "{replaced:?}"
    );
    assert!(replaced.stderr.contains("--allow-replace"), "{replaced:?}");
    project.edit(
        "templates/stack.yaml.j2",
        "BucketName: { \"Fn::Sub\": {{ (bucket.physical_name_sub ~ \"-v2\")|tojson }} }",
        "BucketName: { \"Fn::Sub\": {{ bucket.physical_name_sub|tojson }} }",
    );

    // A bucket dropped from capability.yaml (or renamed) is removed: refused.
    let file = "handlers/datalake/capability.yaml";
    let declared = project.read(file);
    let start = declared.find("buckets:\n").unwrap();
    let end = declared[start..].find("\n# ").unwrap() + start + 1;
    project.write(file, &format!("{}{}", &declared[..start], &declared[end..]));
    let removed = run(
        &project,
        &emulator,
        &["deploy", "datalake", "--env", "sandbox", "--no-build"],
    );
    assert_eq!(removed.code, 1, "{removed:?}");
    assert!(
        removed
            .stderr
            .contains("BucketExport (AWS::S3::Bucket) would be removed"),
        "{removed:?}"
    );
    assert_eq!(change_sets(&aws, stack).await, 0, "refused change sets go");
    assert_eq!(
        stack_status(&aws, stack).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert!(
        object_is_there().await,
        "the refused deploys changed nothing"
    );
    project.write(file, &declared);

    // destroy: the bucket and its objects stay, and the report names it.
    let destroyed = run(
        &project,
        &emulator,
        &[
            "destroy", "datalake", "--env", "sandbox", "--yes", "--output", "json",
        ],
    );
    assert_eq!(destroyed.code, 0, "{destroyed:?}");
    let report = summary(&destroyed);
    assert_eq!(report["retained_buckets"], serde_json::json!([bucket]));
    assert_eq!(
        report["retained_tables"],
        serde_json::json!([
            "stackpro-datalake-sandbox-datasets",
            "stackpro-datalake-sandbox-records"
        ])
    );
    assert!(object_is_there().await, "the bucket outlives its stack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_destroy_the_kept_table_is_found_and_the_next_deploy_plans_to_import_it() {
    let (emulator, project) = bootstrapped("sandbox");
    let aws = clients(&emulator, "eu-west-1");
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--output",
            "json",
        ];
        args.extend(extra);
        run(&project, &emulator, &args)
    };
    assert_eq!(deploy(&[]).code, 0);
    let table = "stackpro-messaging-sandbox-threads";
    let key: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        [("pk", "TENANT#acme"), ("sk", "THREAD#kept")]
            .map(|(k, v)| {
                (
                    k.to_string(),
                    aws_sdk_dynamodb::types::AttributeValue::S(v.into()),
                )
            })
            .into();
    aws.dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(key.clone()))
        .send()
        .await
        .unwrap();
    let destroyed = run(
        &project,
        &emulator,
        &["destroy", "messaging", "--env", "sandbox", "--yes"],
    );
    assert_eq!(destroyed.code, 0, "{destroyed:?}");

    // The plan says what it adopts before anything is done.
    let preview = deploy(&["--dry-run"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview.stdout.contains("TableThreads (AWS::DynamoDB::Table stackpro-messaging-sandbox-threads) exists outside any stack"),
        "{preview:?}"
    );
    // The import itself is not run here: the emulator executes an IMPORT change set as
    // a create ("Table already exists"); recorded.rs drives it on CloudFormation's answers.
    let item = aws
        .dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .send()
        .await
        .unwrap();
    assert!(
        item.item().is_some(),
        "the thread written before the destroy is there"
    );
}
