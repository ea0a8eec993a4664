//! Stack states and event sequences the emulator cannot produce (failed resources,
//! rollbacks, ROLLBACK_COMPLETE, throttling), served to the real SDK clients as
//! CloudFormation's own wire format (query protocol XML) by an in-process HTTP client,
//! and driven through stackpro's real `watch`, `failures`, event lines and `prepare`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;
use stackpro::stack::{self, Baseline, Event};
use stackpro_tests::project_root;

const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

fn fixture(name: &str) -> Value {
    let path = project_root().join("tests/fixtures/cfn").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn event_xml(stack: &Value, e: &Value) -> String {
    let reason = e["reason"]
        .as_str()
        .map(|r| format!("<ResourceStatusReason>{}</ResourceStatusReason>", esc(r)))
        .unwrap_or_default();
    format!(
        "<member><EventId>{}</EventId><StackName>{}</StackName><StackId>{}</StackId>\
         <LogicalResourceId>{}</LogicalResourceId><PhysicalResourceId>{}</PhysicalResourceId>\
         <ResourceType>{}</ResourceType><Timestamp>{}</Timestamp><ResourceStatus>{}</ResourceStatus>{reason}</member>",
        e["id"].as_str().unwrap(),
        stack["stack_name"].as_str().unwrap(),
        stack["stack_id"].as_str().unwrap(),
        e["logical"].as_str().unwrap(),
        e["logical"].as_str().unwrap(),
        e["type"].as_str().unwrap(),
        e["time"].as_str().unwrap(),
        e["status"].as_str().unwrap(),
    )
}

fn stacks_xml(fx: &Value, status: &str) -> String {
    format!(
        "<DescribeStacksResponse xmlns=\"{NS}\"><DescribeStacksResult><Stacks><member>\
         <StackName>{}</StackName><StackId>{}</StackId><CreationTime>2026-11-22T09:00:00.000Z</CreationTime>\
         <StackStatus>{status}</StackStatus><EnableTerminationProtection>false</EnableTerminationProtection>\
         </member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
         </DescribeStacksResponse>",
        fx["stack_name"].as_str().unwrap(),
        fx["stack_id"].as_str().unwrap(),
    )
}

fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{}</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        esc(message)
    )
}

fn response(status: u16, content_type: &str, body: String) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(SdkBody::from(body))
        .unwrap()
}

fn action(req: &http::Request<SdkBody>) -> String {
    let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
    body.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}

/// S3 HeadObject's answer for the artifact: stored, with the CodeSha256 of its zip.
fn artifact_stored() -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header(
            "x-amz-meta-code-sha256",
            "MFLTYRCZRlwg2rXxqprlRathA4OaYNuCTjrOw/Gb+P4=",
        )
        .header("content-length", "0")
        .body(SdkBody::empty())
        .unwrap()
}

/// An SDK configuration whose every call is answered by `client` (and whose endpoint is
/// loopback, so nothing could leave the machine). Retries are off: throttling reaches
/// stackpro's own polling, which is what is under test.
fn config(
    client: impl aws_smithy_runtime_api::client::http::HttpClient + 'static,
) -> stackpro::aws::AwsContext {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url("http://127.0.0.1:9")
        .http_client(client)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "testing", "testing", None, None, "recorded",
                ),
            ),
        )
        .build();
    stackpro::aws::AwsContext::from_config(config, "eu-west-1", Some("http://127.0.0.1:9".into()))
}

/// The reads a deploy sends beside DescribeStacks, answered as for a capability with no
/// live alias and no deployment record, whose deployed template is `{}`, and with no
/// table or log group left by an earlier stack.
fn other_reads(req: &http::Request<SdkBody>) -> Option<http::Response<SdkBody>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok());
    if target == Some("DynamoDB_20120810.DescribeTable") {
        return Some(response(
            400,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#.into(),
        ));
    }
    if target == Some("Logs_20140328.DescribeLogGroups") {
        return Some(response(
            200,
            "application/x-amz-json-1.1",
            r#"{"logGroups":[]}"#.into(),
        ));
    }
    if req.uri().to_string().contains("/aliases/") {
        return Some(
            http::Response::builder()
                .status(404)
                .header("content-type", "application/json")
                .header("x-amzn-errortype", "ResourceNotFoundException")
                .body(SdkBody::from(
                    r#"{"Type":"User","message":"Function not found"}"#,
                ))
                .unwrap(),
        );
    }
    if req
        .headers()
        .get("x-amz-target")
        .is_some_and(|t| t == "AmazonSSM.GetParameter")
    {
        return Some(response(
            400,
            "application/x-amz-json-1.1",
            r#"{"__type":"ParameterNotFound","message":"Parameter not found"}"#.into(),
        ));
    }
    if action(req) == "GetTemplate" {
        return Some(response(
            200,
            "text/xml",
            format!(
                "<GetTemplateResponse xmlns=\"{NS}\"><GetTemplateResult><TemplateBody>{{}}</TemplateBody>\
                 </GetTemplateResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetTemplateResponse>"
            ),
        ));
    }
    None
}

/// The update of `update-rollback.json`, revealed `step` events per DescribeStacks poll,
/// with DescribeStackEvents paged newest first (two per page) and throttled `throttles`
/// times first.
fn rolling_back_stack(
    step: usize,
    throttles: usize,
) -> (stackpro::aws::AwsContext, Arc<AtomicUsize>) {
    let fx = fixture("update-rollback.json");
    let revealed = Arc::new(Mutex::new(0usize));
    let throttled = Arc::new(AtomicUsize::new(0));
    let t = throttled.clone();
    let client = infallible_client_fn(move |req| {
        let events = fx["events"].as_array().unwrap();
        match action(&req).as_str() {
            "DescribeStackEvents" => {
                if t.load(Ordering::SeqCst) < throttles {
                    t.fetch_add(1, Ordering::SeqCst);
                    return response(400, "text/xml", error_xml("Throttling", "Rate exceeded"));
                }
                let n = *revealed.lock().unwrap();
                let mut all: Vec<&Value> = fx["before"].as_array().unwrap().iter().collect();
                all.extend(events.iter().take(n));
                all.reverse();
                let body =
                    String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
                let page: usize = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("NextToken="))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let members: String = all
                    .iter()
                    .skip(page * 2)
                    .take(2)
                    .map(|e| event_xml(&fx, e))
                    .collect();
                let next = if (page + 1) * 2 < all.len() {
                    format!("<NextToken>{}</NextToken>", page + 1)
                } else {
                    String::new()
                };
                response(
                    200,
                    "text/xml",
                    format!(
                        "<DescribeStackEventsResponse xmlns=\"{NS}\"><DescribeStackEventsResult>\
                         <StackEvents>{members}</StackEvents>{next}</DescribeStackEventsResult>\
                         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStackEventsResponse>"
                    ),
                )
            }
            "DescribeStacks" => {
                let mut n = revealed.lock().unwrap();
                *n = (*n + step).min(events.len());
                let status = events[..*n]
                    .iter()
                    .rev()
                    .find(|e| e["type"] == "AWS::CloudFormation::Stack")
                    .map(|e| e["status"].as_str().unwrap())
                    .unwrap_or("UPDATE_COMPLETE");
                response(200, "text/xml", stacks_xml(&fx, status))
            }
            other => response(
                400,
                "text/xml",
                error_xml("InvalidAction", &format!("unexpected {other}")),
            ),
        }
    });
    (config(client), throttled)
}

fn baseline() -> Baseline {
    Baseline {
        since: aws_smithy_types::DateTime::from_str(
            "2026-11-22T09:00:00.000Z",
            aws_smithy_types::date_time::Format::DateTime,
        )
        .unwrap(),
        seen: HashSet::from(["old-1".to_string()]),
    }
}

#[tokio::test]
async fn a_failed_update_is_followed_to_its_rollback_and_names_the_real_cause() {
    let (ctx, _) = rolling_back_stack(3, 0);
    let shown = Mutex::new(Vec::<Event>::new());
    let watched = stack::watch(
        &ctx,
        "stackpro-messaging-sandbox",
        baseline(),
        std::time::Duration::from_secs(60),
        &|e| shown.lock().unwrap().push(e.clone()),
    )
    .await
    .expect("the watch ends when the stack settles");

    // Every event of the operation, once, oldest first; nothing from before it.
    let shown = shown.into_inner().unwrap();
    let ids: Vec<&str> = shown.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        ["e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11"]
    );
    assert_eq!(
        watched.stack.stack_status().unwrap().as_str(),
        "UPDATE_ROLLBACK_COMPLETE"
    );

    // The failure is the function's own reason, not the table's cancellation echo.
    let failures = stack::failures(&watched.events);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].logical_id, "Function");
    assert_eq!(failures[0].status, "UPDATE_FAILED");
    assert!(
        failures[0]
            .reason
            .contains("Member must have value greater than or equal to 128"),
        "{failures:?}"
    );

    // Without a terminal each event is one timestamped line.
    let line = stackpro::progress::plain_event_line("messaging", 9, &shown[3]);
    assert!(
        line.starts_with(
            "2026-11-23T10:00:04.87Z messaging  UPDATE_FAILED                \
             Function (AWS::Lambda::Function)  Resource handler returned message:"
        ),
        "{line}"
    );
    assert!(line.contains("HandlerErrorCode: InvalidRequest"), "{line}");
}

#[tokio::test]
async fn throttling_slows_the_watch_down_and_never_fails_it() {
    let (ctx, throttled) = rolling_back_stack(11, 3);
    let watched = stack::watch(
        &ctx,
        "stackpro-messaging-sandbox",
        baseline(),
        std::time::Duration::from_secs(60),
        &|_| {},
    )
    .await
    .expect("throttling is not a failure");
    assert_eq!(
        throttled.load(Ordering::SeqCst),
        3,
        "three throttled answers were served"
    );
    assert_eq!(watched.events.len(), 11);
}

#[tokio::test]
async fn an_empty_rolled_back_stack_is_deleted_and_created_again() {
    // ROLLBACK_COMPLETE until DeleteStack, then gone.
    let fx = fixture("update-rollback.json");
    let deleted = Arc::new(AtomicUsize::new(0));
    let d = deleted.clone();
    let client = infallible_client_fn(move |req| {
        if req.method() == "HEAD" {
            return artifact_stored();
        }
        if let Some(answer) = other_reads(&req) {
            return answer;
        }
        match action(&req).as_str() {
            "DescribeStacks" if d.load(Ordering::SeqCst) == 0 => {
                response(200, "text/xml", stacks_xml(&fx, "ROLLBACK_COMPLETE"))
            }
            "DescribeStacks" => response(
                400,
                "text/xml",
                error_xml(
                    "ValidationError",
                    "Stack with id stackpro-messaging-sandbox does not exist",
                ),
            ),
            "DeleteStack" => {
                d.fetch_add(1, Ordering::SeqCst);
                response(
                    200,
                    "text/xml",
                    format!("<DeleteStackResponse xmlns=\"{NS}\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteStackResponse>"),
                )
            }
            other => response(
                400,
                "text/xml",
                error_xml("InvalidAction", &format!("unexpected {other}")),
            ),
        }
    });
    let ctx = config(client);

    let plan = prepare_messaging(ctx, Default::default())
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.help()));
    assert_eq!(
        deleted.load(Ordering::SeqCst),
        1,
        "the empty stack was deleted"
    );
    assert_eq!(plan.decision, stackpro::deploy::Decision::Create);
    assert_eq!(
        plan.notes,
        ["deleted the empty ROLLBACK_COMPLETE stack to create it again"]
    );
    assert!(plan.diff.count(stackpro::diff::Action::Add) > 10);
}

#[tokio::test]
async fn a_failed_rollback_is_continued_skipping_the_named_resources() {
    // UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback, then the rollback completes.
    let fx = fixture("update-rollback.json");
    let continued = Arc::new(Mutex::new(String::new()));
    let c = continued.clone();
    let client = infallible_client_fn(move |req| {
        let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
        match action(&req).as_str() {
            "DescribeStackEvents" => response(
                200,
                "text/xml",
                format!(
                    "<DescribeStackEventsResponse xmlns=\"{NS}\"><DescribeStackEventsResult><StackEvents>{}</StackEvents>\
                     </DescribeStackEventsResult></DescribeStackEventsResponse>",
                    event_xml(&fx, &serde_json::json!({"id": "f1", "time": "2026-11-23T10:00:09.000Z",
                        "logical": "TableThreads", "type": "AWS::DynamoDB::Table", "status": "UPDATE_FAILED",
                        "reason": "Resource handler returned message: \"Table is being updated\""}))
                ),
            ),
            "ContinueUpdateRollback" => {
                *c.lock().unwrap() = body;
                response(
                    200,
                    "text/xml",
                    format!("<ContinueUpdateRollbackResponse xmlns=\"{NS}\"><ContinueUpdateRollbackResult/></ContinueUpdateRollbackResponse>"),
                )
            }
            "DescribeStacks" => response(200, "text/xml", stacks_xml(&fx, "UPDATE_ROLLBACK_COMPLETE")),
            other => response(400, "text/xml", error_xml("InvalidAction", &format!("unexpected {other}"))),
        }
    });
    let ctx = config(client);
    let found = aws_sdk_cloudformation::types::Stack::builder()
        .stack_name("stackpro-messaging-sandbox")
        .stack_status(aws_sdk_cloudformation::types::StackStatus::UpdateRollbackFailed)
        .creation_time(aws_smithy_types::DateTime::from_secs(0))
        .build();
    let report = stackpro::commands::rollback::RollbackReport {
        capability: "messaging".into(),
        environment: "sandbox".into(),
        stack_name: "stackpro-messaging-sandbox".into(),
        action: String::new(),
        from_version: None,
        to_version: None,
        to_deployment: None,
        deployment: None,
        status: None,
        skipped: Vec::new(),
        notes: Vec::new(),
        duration_ms: 0,
    };
    let progress =
        stackpro::progress::Progress::with_mode(stackpro::progress::Mode::Plain, &["messaging"]);
    let report = stackpro::commands::rollback::continue_rollback(
        &ctx,
        &found,
        &["TableThreads".to_string()],
        &progress,
        "messaging",
        report,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.action, "continued_rollback");
    assert_eq!(report.status.as_deref(), Some("UPDATE_ROLLBACK_COMPLETE"));
    assert_eq!(report.skipped, ["TableThreads"]);
    let sent = continued.lock().unwrap().clone();
    assert!(
        sent.contains("ResourcesToSkip.member.1=TableThreads"),
        "{sent}"
    );
    assert!(
        sent.contains("StackName=stackpro-messaging-sandbox"),
        "{sent}"
    );
}

/// `deploy::prepare` of the messaging capability in sandbox, on the answers of `ctx`.
async fn prepare_messaging(
    ctx: stackpro::aws::AwsContext,
    options: stackpro::deploy::Options,
) -> stackpro::error::Result<stackpro::deploy::Plan> {
    prepare_messaging_shared(ctx, options).await.1
}

/// The same, with what the capability's execution shares.
async fn prepare_messaging_shared(
    ctx: stackpro::aws::AwsContext,
    options: stackpro::deploy::Options,
) -> (
    Arc<stackpro::deploy::Shared>,
    stackpro::error::Result<stackpro::deploy::Plan>,
) {
    let (shared, cap, rendered, artifact) = messaging_in_sandbox(ctx, options);
    (
        shared.clone(),
        stackpro::deploy::prepare(shared, cap, rendered, artifact).await,
    )
}

/// What a deploy of messaging in sandbox works from, on the answers of `ctx`.
fn messaging_in_sandbox(
    ctx: stackpro::aws::AwsContext,
    options: stackpro::deploy::Options,
) -> (
    Arc<stackpro::deploy::Shared>,
    stackpro::config::Capability,
    stackpro::render::Rendered,
    stackpro::build::Artifact,
) {
    let project =
        stackpro::project::Project::discover(Some(&project_root()), &project_root()).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let env = catalogue.load_env(&project, "sandbox").unwrap();
    let cap = catalogue.get("messaging").unwrap().clone();
    let rendered = stackpro::render::Renderer::new(&project)
        .render(&cap, &env)
        .unwrap();
    let artifact = stackpro::build::Artifact {
        capability: "messaging".into(),
        package: cap.handler.package.clone(),
        binary: cap.handler.binary.clone(),
        zip: project_root().join("unused.zip"),
        zip_bytes: 1,
        binary_sha256: "ab".repeat(32),
        code_sha256: "MFLTYRCZRlwg2rXxqprlRathA4OaYNuCTjrOw/Gb+P4=".into(),
    };
    let shared = Arc::new(stackpro::deploy::Shared {
        ctx,
        env,
        identity: stackpro::aws::CallerIdentity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/test".into(),
        },
        bucket: "stackpro-artifacts-sandbox-123456789012-eu-west-1".into(),
        git_commit: None,
        options,
        progress: stackpro::progress::Progress::with_mode(
            stackpro::progress::Mode::Plain,
            &["messaging"],
        ),
    });
    (shared, cap, rendered, artifact)
}

/// Answers for a stack stuck in `status`: the artifact is stored, the stack is read.
fn stack_in(status: &'static str) -> stackpro::aws::AwsContext {
    let fx = fixture("update-rollback.json");
    config(infallible_client_fn(move |req| {
        if req.method() == "HEAD" {
            return artifact_stored();
        }
        if let Some(answer) = other_reads(&req) {
            return answer;
        }
        match action(&req).as_str() {
            "DescribeStacks" => response(200, "text/xml", stacks_xml(&fx, status)),
            other => response(
                400,
                "text/xml",
                error_xml("InvalidAction", &format!("unexpected {other}")),
            ),
        }
    }))
}

#[tokio::test]
async fn a_busy_stack_with_no_wait_and_a_stuck_stack_are_refused_with_the_way_out() {
    let busy = prepare_messaging(
        stack_in("UPDATE_IN_PROGRESS"),
        stackpro::deploy::Options {
            no_wait: true,
            ..Default::default()
        },
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(busy.exit_status().code(), 1);
    assert_eq!(
        busy.to_string(),
        "stack stackpro-messaging-sandbox is UPDATE_IN_PROGRESS: another operation is running"
    );
    assert!(
        busy.help().unwrap().contains("without --no-wait"),
        "{:?}",
        busy.help()
    );

    let stuck = prepare_messaging(stack_in("UPDATE_ROLLBACK_FAILED"), Default::default())
        .await
        .err()
        .expect("refused");
    assert!(
        stuck.to_string().contains("is UPDATE_ROLLBACK_FAILED"),
        "{stuck}"
    );
    assert!(
        stuck
            .help()
            .unwrap()
            .contains("`stackpro rollback messaging --env sandbox`"),
        "{:?}",
        stuck.help()
    );
}

/// A deployed messaging stack whose drift detection takes one poll and finds the
/// function's memory changed by hand (`drifted`), or nothing; its record is a
/// code-only deployment the stack does not know of (`code_only`).
fn drift_answers(drifted: bool, code_only: bool) -> stackpro::aws::AwsContext {
    let polls = Arc::new(AtomicUsize::new(0));
    config(infallible_client_fn(move |req| {
        let uri = req.uri().to_string();
        if uri.contains("/aliases/") {
            return response(
                200,
                "application/json",
                r#"{"AliasArn":"arn:aws:lambda:eu-west-1:123456789012:function:stackpro-messaging-sandbox:live","Name":"live","FunctionVersion":"4"}"#.into(),
            );
        }
        if req
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t == "AmazonSSM.GetParameter")
        {
            let kind = if code_only { "code" } else { "deploy" };
            let record = serde_json::json!({
                "time": "2026-11-30T01:00:00Z", "actor": "arn:aws:iam::123456789012:user/dev",
                "git_commit": null, "artifact_sha256": "b".repeat(64),
                "artifact_key": "artifacts/messaging/new.zip", "code_sha256": "c",
                "template_sha256": "t", "fingerprint": "f", "function_version": "4", "kind": kind
            });
            let body = serde_json::json!({"Parameter": {
                "Name": "/stackpro/sandbox/deployments/messaging", "Type": "String",
                "Value": record.to_string(), "Version": 5
            }});
            return response(200, "application/x-amz-json-1.1", body.to_string());
        }
        let stack_id =
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/stackpro-messaging-sandbox/1";
        let meta = "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>";
        match action(&req).as_str() {
            "DescribeStacks" => response(
                200,
                "text/xml",
                format!(
                    "<DescribeStacksResponse xmlns=\"{NS}\"><DescribeStacksResult><Stacks><member>\
                     <StackName>stackpro-messaging-sandbox</StackName><StackId>{stack_id}</StackId>\
                     <CreationTime>2026-11-22T09:00:00.000Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>\
                     <Parameters><member><ParameterKey>ArtifactKey</ParameterKey>\
                     <ParameterValue>artifacts/messaging/old.zip</ParameterValue></member></Parameters>\
                     <DriftInformation><StackDriftStatus>{}</StackDriftStatus>\
                     <LastCheckTimestamp>2026-11-30T02:00:00.000Z</LastCheckTimestamp></DriftInformation>\
                     </member></Stacks></DescribeStacksResult>{meta}</DescribeStacksResponse>",
                    if drifted { "DRIFTED" } else { "IN_SYNC" }
                ),
            ),
            // CloudWatch (query protocol): no alarm in ALARM.
            "DescribeAlarms" => response(
                200,
                "text/xml",
                "<DescribeAlarmsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
                 <DescribeAlarmsResult><MetricAlarms/><CompositeAlarms/></DescribeAlarmsResult>\
                 <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAlarmsResponse>"
                    .into(),
            ),
            "DetectStackDrift" => response(
                200,
                "text/xml",
                format!(
                    "<DetectStackDriftResponse xmlns=\"{NS}\"><DetectStackDriftResult>\
                     <StackDriftDetectionId>d-1</StackDriftDetectionId></DetectStackDriftResult>{meta}\
                     </DetectStackDriftResponse>"
                ),
            ),
            "DescribeStackDriftDetectionStatus" => {
                let done = polls.fetch_add(1, Ordering::SeqCst) >= 1;
                let (status, drift) = match (done, drifted) {
                    (false, _) => ("DETECTION_IN_PROGRESS", String::new()),
                    (true, true) => ("DETECTION_COMPLETE", "<StackDriftStatus>DRIFTED</StackDriftStatus><DriftedStackResourceCount>1</DriftedStackResourceCount>".to_string()),
                    (true, false) => ("DETECTION_COMPLETE", "<StackDriftStatus>IN_SYNC</StackDriftStatus><DriftedStackResourceCount>0</DriftedStackResourceCount>".to_string()),
                };
                response(
                    200,
                    "text/xml",
                    format!(
                        "<DescribeStackDriftDetectionStatusResponse xmlns=\"{NS}\"><DescribeStackDriftDetectionStatusResult>\
                         <StackId>{stack_id}</StackId><StackDriftDetectionId>d-1</StackDriftDetectionId>\
                         <DetectionStatus>{status}</DetectionStatus>{drift}<Timestamp>2026-11-30T02:00:00.000Z</Timestamp>\
                         </DescribeStackDriftDetectionStatusResult>{meta}</DescribeStackDriftDetectionStatusResponse>"
                    ),
                )
            }
            "DescribeStackResourceDrifts" => response(
                200,
                "text/xml",
                format!(
                    "<DescribeStackResourceDriftsResponse xmlns=\"{NS}\"><DescribeStackResourceDriftsResult><StackResourceDrifts>\
                     <member><StackId>{stack_id}</StackId><LogicalResourceId>Function</LogicalResourceId>\
                     <PhysicalResourceId>stackpro-messaging-sandbox</PhysicalResourceId><ResourceType>AWS::Lambda::Function</ResourceType>\
                     <ExpectedProperties>{{&quot;MemorySize&quot;:128}}</ExpectedProperties><ActualProperties>{{&quot;MemorySize&quot;:512}}</ActualProperties>\
                     <PropertyDifferences><member><PropertyPath>/MemorySize</PropertyPath><ExpectedValue>128</ExpectedValue>\
                     <ActualValue>512</ActualValue><DifferenceType>NOT_EQUAL</DifferenceType></member></PropertyDifferences>\
                     <StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus><Timestamp>2026-11-30T02:00:01.000Z</Timestamp></member>\
                     <member><StackId>{stack_id}</StackId><LogicalResourceId>TableThreads</LogicalResourceId>\
                     <PhysicalResourceId>stackpro-messaging-sandbox-threads</PhysicalResourceId><ResourceType>AWS::DynamoDB::Table</ResourceType>\
                     <StackResourceDriftStatus>IN_SYNC</StackResourceDriftStatus><Timestamp>2026-11-30T02:00:01.000Z</Timestamp></member>\
                     </StackResourceDrifts></DescribeStackResourceDriftsResult>{meta}</DescribeStackResourceDriftsResponse>"
                ),
            ),
            other => response(
                400,
                "text/xml",
                error_xml("InvalidAction", &format!("unexpected {other}")),
            ),
        }
    }))
}

#[tokio::test]
async fn drift_names_each_changed_property_and_the_code_the_stack_does_not_know() {
    let found = stackpro::drift::check(
        &drift_answers(true, true),
        "sandbox",
        "messaging",
        "stackpro-messaging-sandbox",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(found.drifted);
    assert_eq!(found.stack_drift_status, "DRIFTED");
    assert_eq!(found.resources.len(), 1, "in-sync resources are left out");
    let function = &found.resources[0];
    assert_eq!(
        (function.logical_id.as_str(), function.status.as_str()),
        ("Function", "MODIFIED")
    );
    let p = &function.properties[0];
    assert_eq!(p.path, "/MemorySize");
    assert_eq!(
        (
            p.expected.as_deref(),
            p.actual.as_deref(),
            p.difference.as_str()
        ),
        (Some("128"), Some("512"), "NOT_EQUAL")
    );
    assert_eq!(found.outside_stack.len(), 1, "{:?}", found.outside_stack);
    assert!(
        found.outside_stack[0].contains("code-only deployment #5 runs artifacts/messaging/new.zip"),
        "{:?}",
        found.outside_stack
    );

    // In sync, and the record is a full deploy: nothing drifted.
    let clean = stackpro::drift::check(
        &drift_answers(false, false),
        "sandbox",
        "messaging",
        "stackpro-messaging-sandbox",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!clean.drifted, "{clean:?}");
    assert_eq!(clean.stack_drift_status, "IN_SYNC");
    assert!(clean.resources.is_empty() && clean.outside_stack.is_empty());

    // What `stackpro drift --output json` prints of the two is what its schema says.
    crate::cli::check_report(
        "drift",
        &stackpro::commands::drift::DriftReport {
            environment: "sandbox".into(),
            drifted: true,
            capabilities: vec![found, clean],
        },
    );
}

/// Lambda's GetAccountSettings (REST JSON), which the emulator does not serve, as AWS
/// answers for an account still at the new-account limit, read by the door `doctor` uses
/// and judged as `doctor` judges it.
#[tokio::test]
async fn doctor_reads_the_accounts_concurrency_and_a_new_account_can_reserve_nothing() {
    let client = infallible_client_fn(|req| {
        assert_eq!(req.method(), "GET");
        assert!(
            req.uri().path().starts_with("/2016-08-19/account-settings"),
            "{}",
            req.uri()
        );
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(SdkBody::from(
                r#"{"AccountLimit":{"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800,"ConcurrentExecutions":10,"UnreservedConcurrentExecutions":10},"AccountUsage":{"TotalCodeSize":0,"FunctionCount":0}}"#,
            ))
            .unwrap()
    });
    let account = stackpro::aws::lambda::account_concurrency(&config(client))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((account.limit, account.unreserved), (10, 10));
    // The sandbox reserves 10 for each of the four functions: refused on such an account.
    let check = stackpro::commands::doctor::concurrency_check(
        account.limit,
        account.unreserved,
        10,
        4,
        "sandbox",
    );
    assert_eq!(check.verdict, "too_much");
    assert!(check.note.contains("raise the quota"), "{}", check.note);
}

#[tokio::test]
async fn status_says_what_the_last_drift_detection_found() {
    for (drifted, expected) in [(true, "DRIFTED"), (false, "IN_SYNC")] {
        let status = stackpro::commands::status::capability_status(
            &drift_answers(drifted, false),
            "sandbox",
            "stackpro-messaging-sandbox",
            "messaging",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let drift = status
            .drift
            .expect("DescribeStacks carried DriftInformation");
        assert_eq!(drift.status, expected);
        assert_eq!(drift.checked_at.as_deref(), Some("2026-11-30T02:00:00Z"));
        let text = stackpro::commands::status::StatusReport {
            environment: "sandbox".into(),
            capabilities: vec![stackpro::commands::status::CapabilityStatus {
                drift: Some(drift),
                ..status
            }],
        }
        .to_string();
        if drifted {
            assert!(text.contains("DRIFTED       at the last detection (2026-11-30T02:00:00Z): `stackpro drift messaging --env sandbox`"), "{text}");
        } else {
            assert!(text.contains("in sync at the last detection"), "{text}");
        }
    }
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(v: &str) -> String {
    stackpro_runtime::contract::percent_decode(&v.replace('+', " "))
}

/// A query-protocol request's parameters.
fn params_of(body: &str) -> std::collections::BTreeMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect()
}

#[tokio::test]
async fn a_create_imports_the_kept_table_then_creates_the_rest() {
    // No stack; the table exists (kept by a destroy), the log groups do not.
    let phase = Arc::new(Mutex::new("none"));
    let sent = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let (ph, log) = (phase.clone(), sent.clone());
    let fx = fixture("update-rollback.json");
    let client = infallible_client_fn(move |req| {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if req.method() == "HEAD" {
            return artifact_stored();
        }
        if target == "DynamoDB_20120810.DescribeTable" {
            return response(
                200,
                "application/x-amz-json-1.0",
                r#"{"Table":{"TableName":"stackpro-messaging-sandbox-threads","TableStatus":"ACTIVE"}}"#.into(),
            );
        }
        if let Some(answer) = other_reads(&req) {
            return answer;
        }
        let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
        let act = action(&req);
        if !act.is_empty() {
            log.lock().unwrap().push((act.clone(), body.clone()));
        }
        let meta = "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>";
        let ok = |name: &str, result: &str| {
            response(
                200,
                "text/xml",
                format!("<{name}Response xmlns=\"{NS}\">{result}{meta}</{name}Response>"),
            )
        };
        let change_set_id = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/stackpro-1/1";
        let now = *ph.lock().unwrap();
        match act.as_str() {
            "DescribeStacks" => match now {
                "none" => response(400, "text/xml", error_xml("ValidationError", "Stack with id stackpro-messaging-sandbox does not exist")),
                "review" => response(200, "text/xml", stacks_xml(&fx, "REVIEW_IN_PROGRESS")),
                "imported" => response(200, "text/xml", stacks_xml(&fx, "IMPORT_COMPLETE")),
                _ => response(200, "text/xml", stacks_xml(&fx, "UPDATE_COMPLETE")),
            },
            "CreateChangeSet" => {
                *ph.lock().unwrap() = "review";
                ok("CreateChangeSet", &format!("<CreateChangeSetResult><Id>{change_set_id}</Id><StackId>{}</StackId></CreateChangeSetResult>", fx["stack_id"].as_str().unwrap()))
            }
            "DescribeChangeSet" => ok(
                "DescribeChangeSet",
                &format!(
                    "<DescribeChangeSetResult><ChangeSetId>{change_set_id}</ChangeSetId><ChangeSetName>stackpro-1</ChangeSetName>\
                     <Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus><Changes><member><Type>Resource</Type>\
                     <ResourceChange><Action>Import</Action><LogicalResourceId>TableThreads</LogicalResourceId>\
                     <PhysicalResourceId>stackpro-messaging-sandbox-threads</PhysicalResourceId><ResourceType>AWS::DynamoDB::Table</ResourceType>\
                     </ResourceChange></member></Changes></DescribeChangeSetResult>"
                ),
            ),
            "ExecuteChangeSet" => {
                *ph.lock().unwrap() = "imported";
                ok("ExecuteChangeSet", "<ExecuteChangeSetResult/>")
            }
            "DescribeStackEvents" => ok("DescribeStackEvents", "<DescribeStackEventsResult><StackEvents/></DescribeStackEventsResult>"),
            "SetStackPolicy" => ok("SetStackPolicy", ""),
            "UpdateStack" => {
                *ph.lock().unwrap() = "updated";
                ok("UpdateStack", &format!("<UpdateStackResult><StackId>{}</StackId></UpdateStackResult>", fx["stack_id"].as_str().unwrap()))
            }
            other => response(400, "text/xml", error_xml("InvalidAction", &format!("unexpected {other}"))),
        }
    });
    let (shared, plan) = prepare_messaging_shared(config(client), Default::default()).await;
    let plan = plan.unwrap_or_else(|e| panic!("{e}: {:?}", e.help()));
    assert_eq!(plan.decision, stackpro::deploy::Decision::Create);
    let adopted: Vec<String> = plan.adopt.iter().map(ToString::to_string).collect();
    assert_eq!(
        adopted,
        ["TableThreads (AWS::DynamoDB::Table stackpro-messaging-sandbox-threads)"]
    );
    let outcome = stackpro::deploy::execute(shared, plan).await;
    // The release after the stack is not answered here: what matters is the stack.
    assert_eq!(outcome.status, "UPDATE_COMPLETE", "{outcome:?}");

    let sent = sent.lock().unwrap().clone();
    let writes: Vec<&str> = sent
        .iter()
        .map(|(a, _)| a.as_str())
        .filter(|a| !a.starts_with("Describe"))
        .collect();
    assert_eq!(
        writes,
        [
            "CreateChangeSet",
            "ExecuteChangeSet",
            "SetStackPolicy",
            "UpdateStack"
        ],
        "import, then the rest as an update (never CreateStack)"
    );
    let import = params_of(&sent.iter().find(|(a, _)| a == "CreateChangeSet").unwrap().1);
    assert_eq!(import["ChangeSetType"], "IMPORT");
    assert_eq!(
        import["ResourcesToImport.member.1.LogicalResourceId"],
        "TableThreads"
    );
    assert_eq!(
        import["ResourcesToImport.member.1.ResourceType"],
        "AWS::DynamoDB::Table"
    );
    assert_eq!(
        import["ResourcesToImport.member.1.ResourceIdentifier.entry.1.key"],
        "TableName"
    );
    assert_eq!(
        import["ResourcesToImport.member.1.ResourceIdentifier.entry.1.value"],
        "stackpro-messaging-sandbox-threads"
    );
    assert!(
        !import.keys().any(|k| k.starts_with("DeploymentConfig")),
        "the import runs in the standard mode"
    );
    let template: Value = serde_json::from_str(&import["TemplateBody"]).unwrap();
    let resources: Vec<&String> = template["Resources"].as_object().unwrap().keys().collect();
    assert_eq!(
        resources,
        ["TableThreads"],
        "the import template holds only the imported table"
    );
    assert_eq!(
        template["Resources"]["TableThreads"]["DeletionPolicy"],
        "Retain"
    );
    assert!(template.get("Outputs").is_none());
    let update = params_of(&sent.iter().find(|(a, _)| a == "UpdateStack").unwrap().1);
    assert!(
        update["TemplateBody"].contains("AWS::Lambda::Function"),
        "the full template follows"
    );
    assert_eq!(update["Parameters.member.2.ParameterKey"], "ArtifactKey");
    // The sandbox deploys in CloudFormation's express mode, with rollback kept on.
    assert_eq!(update["DeploymentConfig.Mode"], "EXPRESS");
    assert_eq!(update["DeploymentConfig.DisableRollback"], "false");
}

/// The code path's answers: UpdateFunctionCode says `InProgress` (as AWS does; the
/// emulator applies code at once), GetFunctionConfiguration says `InProgress` until
/// the `polls`-th read, then `last`. Every Lambda and SSM call is logged.
fn code_update_answers(
    polls: usize,
    last: &'static str,
    sent: Arc<Mutex<Vec<String>>>,
) -> stackpro::aws::AwsContext {
    let reads = Arc::new(Mutex::new(0usize));
    config(infallible_client_fn(move |req| {
        let path = req.uri().path().to_string();
        let call = format!("{} {path}", req.method());
        sent.lock().unwrap().push(call.clone());
        let json = |body: String| response(200, "application/json", body);
        let sha = "MFLTYRCZRlwg2rXxqprlRathA4OaYNuCTjrOw/Gb+P4=";
        let config = |status: &str| {
            json(format!(
                r#"{{"FunctionName":"stackpro-messaging-sandbox","CodeSha256":"{sha}","Version":"$LATEST","LastUpdateStatus":"{status}","LastUpdateStatusReason":"{}"}}"#,
                if status == "Failed" {
                    "the zip has no bootstrap file"
                } else {
                    ""
                }
            ))
        };
        if path.ends_with("/code") {
            return config("InProgress");
        }
        if path.ends_with("/configuration") {
            let mut n = reads.lock().unwrap();
            *n += 1;
            return config(if *n < polls { "InProgress" } else { last });
        }
        if path.ends_with("/versions") {
            return json(format!(
                r#"{{"FunctionName":"stackpro-messaging-sandbox","CodeSha256":"{sha}","Version":"4"}}"#
            ));
        }
        if path.ends_with("/aliases/live") {
            return json(r#"{"Name":"live","FunctionVersion":"4"}"#.into());
        }
        if req
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t == "AmazonSSM.PutParameter")
        {
            return response(
                200,
                "application/x-amz-json-1.1",
                r#"{"Version":7,"Tier":"Standard"}"#.into(),
            );
        }
        response(
            404,
            "application/json",
            format!(r#"{{"message":"unexpected {call}"}}"#),
        )
    }))
}

/// `code_path::ship` of messaging in sandbox on `ctx`, from reads of a settled stack
/// that runs the same template with an older artifact, `live` on version 3.
async fn ship_code(
    ctx: stackpro::aws::AwsContext,
) -> stackpro::error::Result<stackpro::deploy::Outcome> {
    use aws_sdk_cloudformation::types::{Parameter, Stack, StackStatus, Tag};
    let (shared, cap, rendered, artifact) = messaging_in_sandbox(ctx, Default::default());
    let param = |k: &str, v: &str| {
        Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    let mut stack = Stack::builder()
        .stack_name(&rendered.stack_name)
        .stack_status(StackStatus::UpdateComplete)
        .creation_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .parameters(param("ArtifactBucket", &shared.bucket))
        .parameters(param("ArtifactKey", "artifacts/messaging/older.zip"));
    for (k, v) in stackpro::deploy::stack_tags(&shared.env, "messaging") {
        stack = stack.tags(Tag::builder().key(k).value(v).build());
    }
    let reads = stackpro::deploy::Reads {
        stack: Some(stack.build()),
        template: Some(rendered.template.clone()),
        live: Some(stackpro::release::Live {
            version: "3".into(),
            canary: None,
        }),
        previous: None,
        stored: Some(
            [(
                "code-sha256".to_string(),
                "MFLTYRCZRlwg2rXxqprlRathA4OaYNuCTjrOw/Gb+P4=".to_string(),
            )]
            .into(),
        ),
    };
    stackpro::code_path::ship(&shared, &cap, &rendered, &artifact, reads).await
}

#[tokio::test]
async fn a_code_update_in_progress_is_polled_until_applied_before_the_version() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let outcome = ship_code(code_update_answers(2, "Successful", sent.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.help()));
    assert_eq!(outcome.function_version.as_deref(), Some("4"));
    assert_eq!(outcome.deployment, Some(7));
    let sent = sent.lock().unwrap().clone();
    let f = "/2015-03-31/functions/stackpro-messaging-sandbox";
    assert_eq!(
        sent,
        [
            format!("PUT {f}/code"),
            format!("GET {f}/configuration"),
            format!("GET {f}/configuration"),
            format!("POST {f}/versions"),
            format!("PUT {f}/aliases/live"),
            "POST /".to_string(),
        ],
        "the version is published only once the update says Successful"
    );
}

#[tokio::test]
async fn a_code_update_that_fails_names_lambdas_reason_and_publishes_nothing() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let err = ship_code(code_update_answers(1, "Failed", sent.clone()))
        .await
        .expect_err("a failed update is an error");
    let text = format!("{err}");
    assert!(
        text.contains("could not apply the new code: the zip has no bootstrap file"),
        "{text}"
    );
    assert!(err.help().is_some());
    let sent = sent.lock().unwrap().clone();
    assert!(
        !sent
            .iter()
            .any(|c| c.ends_with("/versions") || c.contains("aliases")),
        "{sent:?}"
    );
}
