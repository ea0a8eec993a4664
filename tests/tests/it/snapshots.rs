//! Every rendered document of every capability and environment: as an insta snapshot
//! (a template change shows up in review as a diff), parsed back, and held to the
//! invariants the stacks promise.

use serde_json::Value;
use stackpro::config::{Capability, Catalogue, EnvConfig};
use stackpro::project::Project;
use stackpro::render::{Rendered, Renderer};
use stackpro_tests::project_root;

/// Snapshots are read from this clone's `tests/tests/it/snapshots`, found at run time:
/// insta's default is the source directory compiled into the binary, which with a kept
/// target directory shared by several clones (CI's) can be another clone's.
pub(crate) fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(project_root().join("tests/tests/it/snapshots"));
    settings
}

fn render_all() -> Vec<(EnvConfig, Rendered)> {
    let project = Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let renderer = Renderer::new(&project);
    let mut out = Vec::new();
    for env in catalogue.load_envs(&project, None).unwrap() {
        for cap in &catalogue.capabilities {
            out.push((env.clone(), renderer.render(cap, &env).unwrap()));
        }
    }
    out
}

#[test]
fn every_document_matches_its_snapshot() {
    let all = render_all();
    assert_eq!(all.len(), 12, "4 capabilities x 3 environments");
    let _snapshots = snapshot_settings().bind_to_scope();
    for (env, r) in &all {
        let name = format!("{}__{}", env.name, r.capability);
        insta::assert_snapshot!(format!("{name}__template"), r.template);
        insta::assert_snapshot!(format!("{name}__dashboard"), r.dashboard);
        insta::assert_snapshot!(format!("{name}__ssm"), r.ssm);
    }
}

#[test]
fn every_bootstrap_template_matches_its_snapshot_and_protects_the_bucket() {
    let project = Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let renderer = Renderer::new(&project);
    let _snapshots = snapshot_settings().bind_to_scope();
    for env in catalogue.load_envs(&project, None).unwrap() {
        let rendered = renderer.render_bootstrap(&env).unwrap();
        insta::assert_snapshot!(format!("{}__bootstrap", env.name), rendered.template);
        let bucket = &rendered.template_value["Resources"]["ArtifactBucket"];
        assert_eq!(bucket["DeletionPolicy"], "Retain");
        let p = &bucket["Properties"];
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "AES256"
        );
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][key], true, "{key}");
        }
        let rule = &p["LifecycleConfiguration"]["Rules"][0];
        assert_eq!(
            rule["NoncurrentVersionExpiration"]["NoncurrentDays"],
            stackpro::render::ARTIFACT_NONCURRENT_DAYS
        );
        let policy = &rendered.template_value["Resources"]["ArtifactBucketPolicy"]["Properties"]
            ["PolicyDocument"];
        assert_eq!(
            policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
    }
}

#[test]
fn every_document_parses_back() {
    for (_, r) in render_all() {
        let template: Value = serde_yaml::from_str(&r.template).unwrap();
        assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
        let dashboard: Value = serde_json::from_str(&r.dashboard).unwrap();
        assert_eq!(dashboard["widgets"].as_array().unwrap().len(), 7);
        let ssm: Vec<Value> = serde_yaml::from_str(&r.ssm).unwrap();
        assert_eq!(ssm.len(), r.ssm_entries.len());
        // The stack embeds exactly the dashboard that was rendered on its own.
        let embedded: Value = serde_json::from_str(
            template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(embedded, dashboard);
    }
}

fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn tables_are_retained_on_demand_recoverable_and_encrypted() {
    for (env, r) in render_all() {
        let tables = resources_of(&r.template_value, "AWS::DynamoDB::Table");
        assert!(!tables.is_empty());
        for (id, t) in tables {
            let at = format!("{} {} {id}", env.name, r.capability);
            assert_eq!(t["DeletionPolicy"], "Retain", "{at}");
            assert_eq!(t["UpdateReplacePolicy"], "Retain", "{at}");
            let p = &t["Properties"];
            assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "{at}");
            assert_eq!(
                p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
                "{at}"
            );
            assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{at}");
            assert_eq!(
                p["DeletionProtectionEnabled"], env.termination_protection,
                "{at}"
            );
        }
    }
}

/// What every capability bucket promises: encrypted, private, owner-enforced, versioned,
/// retained, TLS only; named deterministically; its name handed to the function, the
/// SSM path and the outputs.
fn assert_bucket_invariants(env: &EnvConfig, cap: &Capability, r: &Rendered) -> usize {
    let declared = &cap.buckets;
    let res = &r.template_value["Resources"];
    let buckets = resources_of(&r.template_value, "AWS::S3::Bucket");
    let policies = resources_of(&r.template_value, "AWS::S3::BucketPolicy");
    for (id, b) in &buckets {
        let at = format!("{} {} {id}", env.name, r.capability);
        assert_eq!(b["DeletionPolicy"], "Retain", "{at}");
        assert_eq!(b["UpdateReplacePolicy"], "Retain", "{at}");
        let p = &b["Properties"];
        let name = declared
            .iter()
            .find(|b| b.logical_id() == **id)
            .map(|b| b.name.clone())
            .unwrap_or_else(|| panic!("{at}: a bucket capability.yaml does not declare"));
        assert_eq!(
            p["BucketName"]["Fn::Sub"],
            format!(
                "stackpro-{}-{}-{name}-${{AWS::AccountId}}-${{AWS::Region}}",
                r.capability, env.name
            ),
            "{at}"
        );
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "AES256",
            "{at}"
        );
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][key], true, "{at} {key}");
        }
        assert_eq!(
            p["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced",
            "{at}"
        );
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled", "{at}");
        assert!(p.get("AccessControl").is_none(), "{at}: no ACLs");

        // Exactly one policy on it, denying every request not made over TLS, on the
        // bucket and its objects.
        let own: Vec<&Value> = policies
            .iter()
            .filter(|(_, pol)| pol["Properties"]["Bucket"]["Ref"] == id.as_str())
            .map(|(_, pol)| &pol["Properties"]["PolicyDocument"])
            .collect();
        assert_eq!(own.len(), 1, "{at}: one bucket policy");
        let deny = own[0]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Effect"] == "Deny")
            .unwrap_or_else(|| panic!("{at}: no Deny statement"));
        assert_eq!(deny["Principal"], "*", "{at}");
        assert_eq!(deny["Action"], "s3:*", "{at}");
        assert_eq!(
            deny["Condition"]["Bool"]["aws:SecureTransport"], "false",
            "{at}"
        );
        assert_eq!(deny["Resource"][0]["Fn::GetAtt"][0], id.as_str(), "{at}");
        assert_eq!(
            deny["Resource"][1]["Fn::Sub"],
            format!("${{{id}.Arn}}/*"),
            "{at}"
        );

        // The function reads the name from its variable; SSM and the outputs have it.
        let var = format!(
            "STACKPRO_BUCKET_{}",
            name.to_ascii_uppercase().replace('-', "_")
        );
        assert_eq!(
            res["Function"]["Properties"]["Environment"]["Variables"][&var]["Ref"],
            id.as_str(),
            "{at}"
        );
        let parameter = &res[format!("{id}Parameter")]["Properties"];
        assert_eq!(
            parameter["Name"],
            format!(
                "/stackpro/{}/capabilities/{}/buckets/{name}",
                env.name, r.capability
            ),
            "{at}"
        );
        assert_eq!(parameter["Value"]["Ref"], id.as_str(), "{at}");
        assert_eq!(
            r.template_value["Outputs"][format!("{id}Name")]["Value"]["Ref"],
            id.as_str(),
            "{at}"
        );
    }
    assert_eq!(
        policies.len(),
        buckets.len(),
        "{} {}",
        env.name,
        r.capability
    );
    assert_eq!(
        buckets.len(),
        declared.len(),
        "{} {}",
        env.name,
        r.capability
    );

    // The role's S3 access: only its own buckets, objects read and written (never
    // deleted), the bucket listed; nothing when it has no bucket.
    let role = &res["ExecutionRole"]["Properties"];
    let statements: Vec<&Value> = role["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .filter(|s| {
            serde_json::to_string(&s["Action"])
                .unwrap()
                .contains("\"s3:")
        })
        .collect();
    if buckets.is_empty() {
        assert!(statements.is_empty(), "{} {}", env.name, r.capability);
        return 0;
    }
    let mut granted = std::collections::BTreeSet::new();
    for s in &statements {
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<&str> = s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for resource in s["Resource"].as_array().unwrap() {
            if let Some(sub) = resource["Fn::Sub"].as_str() {
                let id = sub
                    .strip_prefix("${")
                    .and_then(|r| r.strip_suffix(".Arn}/*"))
                    .unwrap_or_else(|| panic!("object ARN of a bucket in the stack: {sub}"));
                assert!(buckets.iter().any(|(b, _)| *b == id), "{id}");
                assert_eq!(
                    actions,
                    ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
                );
                granted.insert(format!("{id}/*"));
            } else {
                let id = resource["Fn::GetAtt"][0].as_str().unwrap();
                assert_eq!(resource["Fn::GetAtt"][1], "Arn");
                assert!(buckets.iter().any(|(b, _)| *b == id), "{id}");
                assert_eq!(actions, ["s3:ListBucket"]);
                granted.insert(id.to_string());
            }
        }
    }
    for (id, _) in &buckets {
        assert!(granted.contains(&format!("{id}/*")), "{id} objects");
        assert!(granted.contains(id.as_str()), "{id} listing");
    }
    buckets.len()
}

#[test]
fn buckets_are_encrypted_private_tls_only_retained_and_scoped() {
    let project = Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let mut seen = 0;
    for (env, r) in render_all() {
        seen += assert_bucket_invariants(&env, catalogue.get(&r.capability).unwrap(), &r);
        if r.capability == "datalake" {
            let vars = &r.template_value["Resources"]["Function"]["Properties"]["Environment"]
                ["Variables"];
            assert_eq!(vars["STACKPRO_BUCKET_EXPORT"]["Ref"], "BucketExport");
        }
    }
    assert_eq!(seen, 3, "datalake's export bucket in each environment");
}

#[test]
fn a_bucket_with_expire_days_gets_a_lifecycle_rule() {
    let copy = stackpro_tests::ProjectCopy::new();
    copy.edit(
        "handlers/datalake/capability.yaml",
        "  - name: export\n",
        "  - name: export\n    expire_days: 30\n  - name: raw-in\n",
    );
    let project = Project::discover(Some(copy.path()), copy.path()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let env = catalogue.load_env(&project, "sandbox").unwrap();
    let r = Renderer::new(&project)
        .render(catalogue.get("datalake").unwrap(), &env)
        .unwrap();
    assert_eq!(
        assert_bucket_invariants(&env, catalogue.get("datalake").unwrap(), &r),
        2
    );
    let res = &r.template_value["Resources"];
    let rule = &res["BucketExport"]["Properties"]["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(rule["ExpirationInDays"], 30);
    assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 30);
    assert_eq!(
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
        1
    );
    assert!(res["BucketRawIn"]["Properties"]
        .get("LifecycleConfiguration")
        .is_none());
    let vars = stackpro::render::environment_variables(
        catalogue.get("datalake").unwrap(),
        &env,
        "210987654321",
    );
    assert_eq!(
        vars["STACKPRO_BUCKET_RAW_IN"],
        "stackpro-datalake-sandbox-raw-in-210987654321-eu-west-1"
    );
    assert_eq!(
        vars["STACKPRO_BUCKET_EXPORT"],
        "stackpro-datalake-sandbox-export-210987654321-eu-west-1"
    );
}

/// Every statement's resources but X-Ray's: its write actions take no resource (`*` is
/// the only form IAM accepts), so that statement must hold those two actions and no other.
fn collect_resources(policy: &Value, out: &mut Vec<Value>) {
    for statement in policy["Statement"].as_array().unwrap() {
        if statement["Sid"] == "WriteTraces" {
            assert_eq!(
                statement["Action"],
                serde_json::json!(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
            );
            continue;
        }
        match &statement["Resource"] {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
}

#[test]
fn the_role_names_its_resources_and_never_grants_star() {
    for (env, r) in render_all() {
        let role = &r.template_value["Resources"]["ExecutionRole"]["Properties"];
        let mut resources = Vec::new();
        for policy in role["Policies"].as_array().unwrap() {
            collect_resources(&policy["PolicyDocument"], &mut resources);
        }
        assert!(!resources.is_empty());
        for resource in &resources {
            assert_ne!(
                resource,
                &Value::String("*".into()),
                "{} {}",
                env.name,
                r.capability
            );
        }
        let text = serde_json::to_string(&resources).unwrap();
        assert!(
            text.contains(&format!(
                "parameter/stackpro/{}/capabilities/{}/*",
                env.name, r.capability
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("parameter/stackpro/{}/flags/*", env.name)),
            "{text}"
        );
        assert!(
            !text.contains("parameter/stackpro/*"),
            "no SSM access beyond its paths: {text}"
        );
    }
}

#[test]
fn function_version_and_api_are_wired_to_the_live_alias() {
    for (env, r) in render_all() {
        let res = &r.template_value["Resources"];
        let f = &res["Function"]["Properties"];
        assert_eq!(f["Runtime"], "provided.al2023");
        assert_eq!(f["Handler"], "bootstrap");
        let memory = if env.name == "production" { 512 } else { 128 };
        assert_eq!(f["MemorySize"], memory, "{} {}", env.name, r.capability);
        assert_eq!(f["Code"]["S3Bucket"]["Ref"], "ArtifactBucket");
        assert_eq!(f["Code"]["S3Key"]["Ref"], "ArtifactKey");
        let vars = &f["Environment"]["Variables"];
        assert_eq!(vars["STACKPRO_ENV"], env.name.as_str());
        assert_eq!(vars["STACKPRO_CAPABILITY"], r.capability.as_str());

        // Versions, the alias and its invoke permission belong to `stackpro deploy`
        // (Lambda API), so rollbacks and canaries never drift from the template.
        for release in ["FunctionVersion", "LiveAlias", "InvokePermission"] {
            assert!(res.get(release).is_none(), "{release}");
        }
        let integration = &res["Integration"]["Properties"];
        assert_eq!(integration["PayloadFormatVersion"], "2.0");
        assert_eq!(
            integration["IntegrationUri"]["Fn::Sub"],
            "${Function.Arn}:live"
        );
        let stage = &res["DefaultStage"]["Properties"];
        assert_eq!(stage["StageName"], "$default");
        let format: Value =
            serde_json::from_str(stage["AccessLogSettings"]["Format"].as_str().unwrap()).unwrap();
        assert_eq!(format["requestId"], "$context.requestId");

        let routes = resources_of(&r.template_value, "AWS::ApiGatewayV2::Route");
        assert!(routes
            .iter()
            .any(|(_, route)| route["Properties"]["RouteKey"] == "GET /v1/health"));
        // Every route, `$default` (what no other route matches) included, goes to the
        // one integration, so the handler answers 405 and unknown paths itself.
        let default = &res["RouteDefault"]["Properties"];
        assert_eq!(default["RouteKey"], "$default");
        for (id, route) in &routes {
            assert_eq!(
                route["Properties"]["Target"]["Fn::Sub"], "integrations/${Integration}",
                "{id}"
            );
        }
        let keys: Vec<&str> = routes
            .iter()
            .map(|(_, route)| route["Properties"]["RouteKey"].as_str().unwrap())
            .collect();
        let catalogue =
            Catalogue::load(&Project::discover(Some(&project_root()), &project_root()).unwrap())
                .unwrap();
        let mut expected: Vec<String> = catalogue
            .get(&r.capability)
            .unwrap()
            .routes
            .iter()
            .map(|route| route.key())
            .collect();
        expected.push("$default".into());
        let mut keys: Vec<String> = keys.into_iter().map(String::from).collect();
        keys.sort();
        expected.sort();
        assert_eq!(keys, expected, "{} {}", env.name, r.capability);

        let base_url = &res["BaseUrlParameter"]["Properties"];
        assert_eq!(
            base_url["Name"],
            format!(
                "/stackpro/{}/capabilities/{}/base-url",
                env.name, r.capability
            )
        );
        let outputs = r.template_value["Outputs"].as_object().unwrap();
        for key in ["ApiUrl", "ApiId", "FunctionName", "AliasArn"] {
            assert!(outputs.contains_key(key), "{key} missing");
        }
        assert_eq!(
            res["LogGroup"]["Properties"]["RetentionInDays"],
            env.log_retention_days
        );
    }
}

#[test]
fn alarms_follow_the_environment_and_capability_thresholds() {
    for (env, r) in render_all() {
        let res = &r.template_value["Resources"];
        let error_rate = &res["ErrorRateAlarm"]["Properties"];
        let expected_rate = if r.capability == "billing" { 0.5 } else { 1.0 };
        assert_eq!(
            error_rate["Threshold"].as_f64(),
            Some(expected_rate),
            "{}",
            r.capability
        );
        assert_eq!(error_rate["EvaluationPeriods"], 5);
        assert_eq!(error_rate["DatapointsToAlarm"], 5);
        let latency = &res["LatencyAlarm"]["Properties"];
        let expected_ms = match r.capability.as_str() {
            "ai" => 5000.0,
            "datalake" => 800.0,
            _ => 500.0,
        };
        assert_eq!(
            latency["Threshold"].as_f64(),
            Some(expected_ms),
            "{}",
            r.capability
        );
        assert_eq!(latency["ExtendedStatistic"], "p95");
        assert_eq!(latency["EvaluationPeriods"], 10);
        assert_eq!(latency["Dimensions"][0]["Value"], env.name.as_str());
    }
}

#[test]
fn a_capability_with_a_contract_takes_its_routes_from_it() {
    let project = Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = Catalogue::load(&project).unwrap();
    let messaging = catalogue.get("messaging").unwrap();
    let contract: Value = serde_yaml::from_str(
        &std::fs::read_to_string(project_root().join("handlers/messaging/openapi.yaml")).unwrap(),
    )
    .unwrap();
    let mut documented = Vec::new();
    for (path, item) in contract["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let routes: Vec<String> = messaging.routes.iter().map(|r| r.key()).collect();
    assert_eq!(routes.len(), 6, "{routes:?}");
    documented.sort();
    let mut sorted = routes.clone();
    sorted.sort();
    assert_eq!(sorted, documented);
    // In the contract's order.
    assert_eq!(routes[0], "GET /v1/health");
    assert_eq!(routes[5], "POST /v1/threads/{thread_id}/messages");

    // A `routes:` list that agrees with the contract is accepted (and changes nothing).
    let copy = stackpro_tests::ProjectCopy::new();
    copy.edit(
        "handlers/messaging/capability.yaml",
        "tables:\n",
        &format!(
            "routes:\n{}tables:\n",
            routes
                .iter()
                .rev()
                .map(|r| format!("  - {r}\n"))
                .collect::<String>()
        ),
    );
    let project = Project::discover(Some(copy.path()), copy.path()).unwrap();
    let again = Catalogue::load(&project).unwrap();
    let keys: Vec<String> = again
        .get("messaging")
        .unwrap()
        .routes
        .iter()
        .map(|r| r.key())
        .collect();
    assert_eq!(keys, routes);
}

#[test]
fn each_environment_gets_its_ceilings_tracing_and_keys() {
    for (env, r) in render_all() {
        let resources = &r.template_value["Resources"];
        let function = &resources["Function"]["Properties"];
        let (reserved, rate, burst) = match env.name.as_str() {
            "local" => (5, 20.0, 40),
            "sandbox" => (10, 20.0, 40),
            "production" => (100, 500.0, 1000),
            other => panic!("an environment the test does not know: {other}"),
        };
        let at = format!("{} {}", env.name, r.capability);
        assert_eq!(function["ReservedConcurrentExecutions"], reserved, "{at}");
        assert_eq!(function["TracingConfig"]["Mode"], "Active", "{at}");
        let route = &resources["DefaultStage"]["Properties"]["DefaultRouteSettings"];
        assert_eq!(route["ThrottlingRateLimit"], rate, "{at}");
        assert_eq!(route["ThrottlingBurstLimit"], burst, "{at}");

        let key_arn = serde_json::json!({"Fn::GetAtt": ["Key", "Arn"]});
        let tables: Vec<&Value> = resources
            .as_object()
            .unwrap()
            .values()
            .filter(|v| v["Type"] == "AWS::DynamoDB::Table")
            .collect();
        assert!(!tables.is_empty(), "{at}");
        if env.name == "production" {
            // One customer-managed key, kept with the data it opens.
            let key = &resources["Key"];
            assert_eq!(key["Type"], "AWS::KMS::Key", "{at}");
            assert_eq!(key["DeletionPolicy"], "Retain", "{at}");
            assert_eq!(key["Properties"]["EnableKeyRotation"], true, "{at}");
            assert_eq!(function["KmsKeyArn"], key_arn, "{at}");
            for group in ["LogGroup", "AccessLogGroup"] {
                assert_eq!(resources[group]["Properties"]["KmsKeyId"], key_arn, "{at}");
            }
            for table in &tables {
                let sse = &table["Properties"]["SSESpecification"];
                assert_eq!(sse["SSEType"], "KMS", "{at}");
                assert_eq!(sse["KMSMasterKeyId"], key_arn, "{at}");
            }
            // The logs service may use the key for this stack's two log groups only.
            let statements = key["Properties"]["KeyPolicy"]["Statement"]
                .as_array()
                .unwrap();
            let logs = statements
                .iter()
                .find(|s| s["Sid"] == "LogsEncryptsOwnLogGroups")
                .unwrap();
            let groups = &logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"];
            assert_eq!(groups.as_array().unwrap().len(), 2, "{at}");
        } else {
            assert!(resources.get("Key").is_none(), "{at}");
            assert!(function.get("KmsKeyArn").is_none(), "{at}");
            for table in &tables {
                assert!(table["Properties"]["SSESpecification"]
                    .get("SSEType")
                    .is_none());
            }
        }
    }
}
