//! API Gateway (HTTP APIs): what a deployed capability's API really is (its routes, its
//! `$default` stage's throttling and access logging), for `status` to hold against the
//! contract.

use serde::Serialize;

use super::AwsContext;
use crate::error::Result;

fn client(ctx: &AwsContext) -> &aws_sdk_apigatewayv2::Client {
    super::sdk_client!(ctx, apigateway, aws_sdk_apigatewayv2, "apigateway")
}

/// An HTTP API as API Gateway serves it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HttpApi {
    pub api_id: String,
    pub name: String,
    pub protocol: String,
    /// `https://<id>.execute-api.<region>.amazonaws.com`
    pub endpoint: Option<String>,
    /// Every route key (`GET /v1/threads`, `$default`), sorted.
    pub routes: Vec<String>,
    /// The `$default` stage, when there is one.
    pub stage: Option<Stage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Stage {
    pub name: String,
    pub auto_deploy: bool,
    /// Requests per second over every route, when set.
    pub throttle_rate: Option<f64>,
    pub throttle_burst: Option<i32>,
    /// Where access logs go (a log group ARN), when they are on.
    pub access_log_destination: Option<String>,
}

/// The API `api_id` with its routes and `$default` stage, or `None` when API Gateway
/// has no such API (deleted outside CloudFormation).
pub async fn http_api(ctx: &AwsContext, api_id: &str) -> Result<Option<HttpApi>> {
    let api = match client(ctx).get_api().api_id(api_id).send().await {
        Ok(api) => api,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(err) => return Err(ctx.error("apigateway", "GetApi", api_id, err)),
    };
    let mut routes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client(ctx)
            .get_routes()
            .api_id(api_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| ctx.error("apigateway", "GetRoutes", api_id, e))?;
        routes.extend(
            page.items()
                .iter()
                .filter_map(|r| r.route_key().map(str::to_string)),
        );
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    routes.sort();
    let stage = match client(ctx)
        .get_stage()
        .api_id(api_id)
        .stage_name("$default")
        .send()
        .await
    {
        Ok(stage) => Some(Stage {
            name: stage.stage_name().unwrap_or("$default").to_string(),
            auto_deploy: stage.auto_deploy().unwrap_or(false),
            throttle_rate: stage
                .default_route_settings()
                .and_then(|s| s.throttling_rate_limit()),
            throttle_burst: stage
                .default_route_settings()
                .and_then(|s| s.throttling_burst_limit()),
            access_log_destination: stage
                .access_log_settings()
                .and_then(|s| s.destination_arn())
                .map(str::to_string),
        }),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            None
        }
        Err(err) => return Err(ctx.error("apigateway", "GetStage", api_id, err)),
    };
    Ok(Some(HttpApi {
        api_id: api_id.to_string(),
        name: api.name().unwrap_or_default().to_string(),
        protocol: api
            .protocol_type()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        endpoint: api.api_endpoint().map(str::to_string),
        routes,
        stage,
    }))
}
