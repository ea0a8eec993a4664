//! Every rendered document of every capability and environment: as an insta snapshot
//! (a template change shows up in review as a diff), parsed back, and held to the
//! invariants the stacks promise.

use serde_json::Value;
use stackpro::config::{Catalogue, EnvConfig};
use stackpro::project::Project;
use stackpro::render::{Rendered, Renderer};
use stackpro_tests::project_root;

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

fn collect_resources(policy: &Value, out: &mut Vec<Value>) {
    for statement in policy["Statement"].as_array().unwrap() {
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
