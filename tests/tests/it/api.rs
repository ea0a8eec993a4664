//! `status`'s API check through the real API Gateway client, on the emulator's
//! apigatewayv2 service. The emulator's CloudFormation skips every AWS::ApiGatewayV2
//! resource (README, "Testing"), so a deployed stack there names no real API: these
//! tests make the API with the SDK, as the template would, and check the door and the
//! comparison `status` runs on it; deploy.rs checks what `status` says on the emulator.

use stackpro::api::{self, ApiState};
use stackpro::config::Throttle;
use stackpro_tests::Emulator;

/// An HTTP API like the template's: the given routes to one Lambda integration, and a
/// `$default` stage with auto-deploy, throttling and access logs.
async fn make_api(client: &aws_sdk_apigatewayv2::Client, routes: &[&str]) -> String {
    let api = client
        .create_api()
        .name("stackpro-messaging-sandbox")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let id = api.api_id().unwrap().to_string();
    let integration = client
        .create_integration()
        .api_id(&id)
        .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::AwsProxy)
        .integration_uri(
            "arn:aws:lambda:eu-west-1:123456789012:function:stackpro-messaging-sandbox:live",
        )
        .payload_format_version("2.0")
        .send()
        .await
        .unwrap();
    let target = format!("integrations/{}", integration.integration_id().unwrap());
    for key in routes {
        client
            .create_route()
            .api_id(&id)
            .route_key(*key)
            .target(&target)
            .send()
            .await
            .unwrap();
    }
    client
        .create_stage()
        .api_id(&id)
        .stage_name("$default")
        .auto_deploy(true)
        .default_route_settings(
            aws_sdk_apigatewayv2::types::RouteSettings::builder()
                .throttling_rate_limit(20.0)
                .throttling_burst_limit(40)
                .build(),
        )
        .access_log_settings(
            aws_sdk_apigatewayv2::types::AccessLogSettings::builder()
                .destination_arn("arn:aws:logs:eu-west-1:123456789012:log-group:stackpro-messaging-sandbox-access")
                .format("$context.requestId")
                .build(),
        )
        .send()
        .await
        .unwrap();
    id
}

fn messaging_routes() -> Vec<String> {
    let project = stackpro::project::Project::discover(
        Some(&stackpro_tests::project_root()),
        &stackpro_tests::project_root(),
    )
    .unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let cap = catalogue.select(&["messaging".to_string()], false).unwrap()[0];
    cap.routes.iter().map(|r| r.key()).collect()
}

#[tokio::test]
async fn an_api_that_serves_the_contract_is_ok_and_one_that_drifted_is_named() {
    let emulator = Emulator::start();
    let config = stackpro_tests::sdk_config_for(&emulator.url, "eu-west-1");
    let client = aws_sdk_apigatewayv2::Client::new(&config);
    let ctx =
        stackpro::aws::AwsContext::from_config(config, "eu-west-1", Some(emulator.url.clone()));
    let contract = messaging_routes();
    assert!(contract.len() >= 5, "{contract:?}");
    let throttle = Throttle {
        rate_per_second: 20.0,
        burst: 40,
    };

    // As deployed: every contract route and the catch-all.
    let mut keys: Vec<&str> = contract.iter().map(String::as_str).collect();
    keys.push("$default");
    let id = make_api(&client, &keys).await;
    let found = stackpro::aws::apigateway::http_api(&ctx, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.routes.len(), contract.len() + 1);
    let stage = found.stage.clone().unwrap();
    assert_eq!(
        (stage.throttle_rate, stage.throttle_burst),
        (Some(20.0), Some(40))
    );
    assert!(stage.access_log_destination.is_some());
    let check = api::compare(&id, &contract, Some(&throttle), Some(found));
    assert_eq!(check.state, ApiState::Ok, "{check:?}");

    // Changed by hand: a contract route deleted, one added the contract does not have.
    let mut drifted: Vec<&str> = keys.clone();
    let removed = drifted.remove(0);
    drifted.push("DELETE /v1/everything");
    let id = make_api(&client, &drifted).await;
    let found = stackpro::aws::apigateway::http_api(&ctx, &id)
        .await
        .unwrap();
    // The environment asks for other limits than the stage has.
    let stricter = Throttle {
        rate_per_second: 5.0,
        burst: 10,
    };
    let check = api::compare(&id, &contract, Some(&stricter), found);
    assert_eq!(check.state, ApiState::Differs);
    assert_eq!(check.missing_routes, [removed]);
    assert_eq!(check.extra_routes, ["DELETE /v1/everything"]);
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    assert!(check.problems[0].contains(
        "20 per second, burst 40 where the environment file says 5 per second, burst 10"
    ));
}

#[tokio::test]
async fn an_api_id_api_gateway_does_not_know_is_missing() {
    let emulator = Emulator::start();
    let config = stackpro_tests::sdk_config_for(&emulator.url, "eu-west-1");
    let ctx =
        stackpro::aws::AwsContext::from_config(config, "eu-west-1", Some(emulator.url.clone()));
    let found = stackpro::aws::apigateway::http_api(&ctx, "gone4242")
        .await
        .unwrap();
    assert!(found.is_none());
    let check = api::compare("gone4242", &messaging_routes(), None, found);
    assert_eq!(check.state, ApiState::Missing);
    assert!(check.is_problem());
}
