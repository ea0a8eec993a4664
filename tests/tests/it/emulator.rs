//! Every capability's rendered stack, deployed on the local emulator with the real
//! CloudFormation client, and the resources it made checked with the real service clients.
//!
//! The stacks hold no Lambda version, alias or invoke permission (`stackpro deploy`
//! makes those through the Lambda API; see `deploy.rs`), so every template deploys in
//! one step here. The emulator skips the API Gateway v2 resources and alarms.

use aws_sdk_cloudformation::types::{Capability as CfnCapability, Parameter, StackStatus};
use stackpro::config::Catalogue;
use stackpro::project::Project;
use stackpro::render::Renderer;
use stackpro_tests::{empty_zip, project_root, Emulator};

const BUCKET: &str = "stackpro-artifacts-local";
const KEY: &str = "handlers/test/bootstrap.zip";

/// The parameters a deploy passes: where the code is.
fn stack_parameters() -> Vec<Parameter> {
    [("ArtifactBucket", BUCKET), ("ArtifactKey", KEY)]
        .into_iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capability_stack_deploys_on_the_emulator() {
    let emulator = Emulator::start();
    let conf = emulator.sdk_config();
    let project = Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let env = catalogue.load_env(&project, "local").unwrap();
    let renderer = Renderer::new(&project);

    let s3 = aws_sdk_s3::Client::new(&conf);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let (zip, _) = empty_zip();
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(zip.into())
        .send()
        .await
        .unwrap();

    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let dynamodb = aws_sdk_dynamodb::Client::new(&conf);
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&conf);

    for cap in &catalogue.capabilities {
        let rendered = renderer.render(cap, &env).unwrap();
        cfn.create_stack()
            .stack_name(&rendered.stack_name)
            .template_body(&rendered.template)
            .set_parameters(Some(stack_parameters()))
            .capabilities(CfnCapability::CapabilityIam)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "create {}: {}",
                    rendered.stack_name,
                    stackpro::aws::error_chain(&e)
                )
            });

        let stack = cfn
            .describe_stacks()
            .stack_name(&rendered.stack_name)
            .send()
            .await
            .unwrap()
            .stacks()
            .first()
            .cloned()
            .expect("the stack exists");
        assert_eq!(
            stack.stack_status(),
            Some(&StackStatus::CreateComplete),
            "{}",
            rendered.stack_name
        );
        let outputs: std::collections::BTreeMap<String, String> = stack
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap_or_default().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            outputs.get("FunctionName").map(String::as_str),
            Some(rendered.stack_name.as_str()),
            "{outputs:?}"
        );
        assert!(
            outputs
                .get("ApiUrl")
                .is_some_and(|u| u.starts_with("https://")),
            "{outputs:?}"
        );
        assert!(
            outputs
                .get("AliasArn")
                .is_some_and(|a| a.ends_with(":live")),
            "{outputs:?}"
        );

        // The function: runtime, handler, memory and timeout from the env, its variables.
        let function = lambda
            .get_function_configuration()
            .function_name(&rendered.stack_name)
            .send()
            .await
            .unwrap();
        assert_eq!(function.handler(), Some("bootstrap"));
        assert_eq!(
            function.runtime().map(|r| r.as_str()),
            Some("provided.al2023")
        );
        assert_eq!(function.memory_size(), Some(128));
        let vars = function
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        assert_eq!(vars.get("STACKPRO_ENV").map(String::as_str), Some("local"));
        assert_eq!(vars.get("STACKPRO_CAPABILITY"), Some(&cap.name));
        let enabled = format!("CAP_{}_ENABLED", cap.name.to_uppercase());
        assert_eq!(
            vars.get(&enabled).map(String::as_str),
            Some("true"),
            "{vars:?}"
        );

        // Every table: on demand, with its key schema, named after the stack.
        for table in &cap.tables {
            let name = format!("{}-{}", rendered.stack_name, table.name);
            let described = dynamodb
                .describe_table()
                .table_name(&name)
                .send()
                .await
                .unwrap();
            let t = described.table().unwrap();
            assert_eq!(
                t.billing_mode_summary()
                    .and_then(|b| b.billing_mode())
                    .map(|m| m.as_str()),
                Some("PAY_PER_REQUEST"),
                "{name}"
            );
            assert_eq!(t.key_schema()[0].attribute_name(), table.partition_key.name);
            assert_eq!(
                outputs.get(&format!(
                    "Table{}Name",
                    stackpro::render::pascal_case(&table.name)
                )),
                Some(&name)
            );
        }

        // Every bucket: named for the account and region, encrypted, handed to the
        // function, in the outputs. (The emulator ignores versioning, the public access
        // block, ownership controls and the bucket policy: asserted on the templates.)
        for bucket in &cap.buckets {
            let name = stackpro::config::bucket_name(
                &rendered.stack_name,
                &bucket.name,
                stackpro_tests::EMULATOR_ACCOUNT,
                "us-east-1",
            );
            let encryption = s3
                .get_bucket_encryption()
                .bucket(&name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {}", stackpro::aws::error_chain(&e)));
            let rule = &encryption
                .server_side_encryption_configuration()
                .unwrap()
                .rules()[0];
            assert_eq!(
                rule.apply_server_side_encryption_by_default()
                    .map(|d| d.sse_algorithm().as_str()),
                Some("AES256"),
                "{name}"
            );
            assert_eq!(
                vars.get(&stackpro::render::bucket_env_var(&bucket.name)),
                Some(&name),
                "{vars:?}"
            );
            assert_eq!(
                outputs.get(&format!("{}Name", bucket.logical_id())),
                Some(&name),
                "{outputs:?}"
            );
        }

        // The SSM entries the stack writes, under the capability's own path.
        for entry in &rendered.ssm_entries {
            let got = ssm.get_parameter().name(&entry.name).send().await.unwrap();
            assert!(
                !got.parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default()
                    .is_empty(),
                "{}",
                entry.name
            );
        }

        // The dashboard, through the query-protocol CloudWatch client.
        let dashboard = cloudwatch
            .get_dashboard()
            .dashboard_name(&rendered.stack_name)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
        assert_eq!(body["widgets"].as_array().unwrap().len(), 7);
    }

    // Tables are retained: deleting a stack leaves its data in place.
    let messaging = env.stack_name("messaging");
    cfn.delete_stack()
        .stack_name(&messaging)
        .send()
        .await
        .unwrap();
    dynamodb
        .describe_table()
        .table_name(format!("{messaging}-threads"))
        .send()
        .await
        .expect("DeletionPolicy Retain keeps the table after the stack is deleted");

    // So are buckets, with their objects.
    let datalake = env.stack_name("datalake");
    let export = stackpro::config::bucket_name(
        &datalake,
        "export",
        stackpro_tests::EMULATOR_ACCOUNT,
        "us-east-1",
    );
    s3.put_object()
        .bucket(&export)
        .key("dataset=d1/dt=2026-11-30/part-0.jsonl.gz")
        .body(b"kept".to_vec().into())
        .send()
        .await
        .unwrap();
    cfn.delete_stack()
        .stack_name(&datalake)
        .send()
        .await
        .unwrap();
    let kept = s3
        .get_object()
        .bucket(&export)
        .key("dataset=d1/dt=2026-11-30/part-0.jsonl.gz")
        .send()
        .await
        .expect("DeletionPolicy Retain keeps the bucket and its objects");
    assert_eq!(
        kept.body.collect().await.unwrap().into_bytes().as_ref(),
        b"kept"
    );
}
