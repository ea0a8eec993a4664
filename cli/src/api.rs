//! A deployed capability's HTTP API held against what it should be: the contract's
//! routes (and the `$default` catch-all the template adds), a `$default` stage that
//! deploys automatically, logs access, and throttles as the environment file says.
//! `status` reports the differences, and an API that is gone.

use serde::Serialize;

use crate::aws::apigateway::HttpApi;
use crate::config::Throttle;

/// What `status` found of a capability's HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApiCheck {
    pub state: ApiState,
    /// The API's id, from the stack's `ApiId` output.
    pub api_id: Option<String>,
    /// Routes the contract has and the API lacks.
    pub missing_routes: Vec<String>,
    /// Routes the API serves and the contract does not name.
    pub extra_routes: Vec<String>,
    /// Stage settings that differ from the environment file's.
    pub problems: Vec<String>,
    /// Why the API was not checked (`not_checked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The API as API Gateway serves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<HttpApi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiState {
    /// Every route and stage setting is as it should be.
    Ok,
    /// Routes or stage settings differ.
    Differs,
    /// The stack names an API that API Gateway does not have.
    Missing,
    /// Not checked: the stack names no API id that could be looked up.
    NotChecked,
}

impl ApiCheck {
    /// Whether a gate (`status`'s exit code) should stop on it.
    pub fn is_problem(&self) -> bool {
        matches!(self.state, ApiState::Differs | ApiState::Missing)
    }

    fn not_checked(api_id: Option<String>, note: String) -> Self {
        ApiCheck {
            state: ApiState::NotChecked,
            api_id,
            missing_routes: Vec::new(),
            extra_routes: Vec::new(),
            problems: Vec::new(),
            note: Some(note),
            api: None,
        }
    }
}

/// A value CloudFormation left as written (`https://${HttpApi}.execute-api...`): the
/// local emulator's CloudFormation does not create `AWS::ApiGatewayV2` resources, so
/// their references stay unresolved there. Never the case on AWS.
pub fn is_unresolved(value: &str) -> bool {
    value.contains("${")
}

/// How a report names such a value.
pub const EMULATOR_ONLY: &str = "emulator-only value: the emulator's CloudFormation creates no API Gateway resources and leaves this unresolved; `stackpro dev` serves the API locally";

/// The API id to look up from the stack's `ApiId` output, or why there is none.
pub fn api_id(output: Option<&str>) -> Result<String, Box<ApiCheck>> {
    match output {
        None => Err(Box::new(ApiCheck::not_checked(
            None,
            "the stack has no ApiId output (deployed by an older stackpro: deploy again)".into(),
        ))),
        Some(id) if is_unresolved(id) => Err(Box::new(ApiCheck::not_checked(
            Some(id.to_string()),
            EMULATOR_ONLY.to_string(),
        ))),
        Some(id) => Ok(id.to_string()),
    }
}

/// `api` (what API Gateway answered for `api_id`) against the contract's route keys and
/// the environment's throttle.
pub fn compare(
    api_id: &str,
    contract_routes: &[String],
    throttle: Option<&Throttle>,
    api: Option<HttpApi>,
) -> ApiCheck {
    let Some(api) = api else {
        return ApiCheck {
            state: ApiState::Missing,
            api_id: Some(api_id.to_string()),
            missing_routes: Vec::new(),
            extra_routes: Vec::new(),
            problems: vec![format!(
                "API Gateway has no API {api_id}, which the stack names: it was deleted outside CloudFormation"
            )],
            note: None,
            api: None,
        };
    };
    let mut expected: Vec<String> = contract_routes.to_vec();
    expected.push("$default".into());
    let missing_routes: Vec<String> = expected
        .iter()
        .filter(|r| !api.routes.contains(r))
        .cloned()
        .collect();
    let extra_routes: Vec<String> = api
        .routes
        .iter()
        .filter(|r| !expected.contains(r))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    match &api.stage {
        None => problems.push("no $default stage: the API serves nothing".to_string()),
        Some(stage) => {
            if !stage.auto_deploy {
                problems.push("the $default stage does not deploy changes automatically".into());
            }
            if stage.access_log_destination.is_none() {
                problems.push("access logging is off on the $default stage".into());
            }
            match throttle {
                Some(t) => {
                    if stage.throttle_rate != Some(t.rate_per_second)
                        || stage.throttle_burst != i32::try_from(t.burst).ok()
                    {
                        problems.push(format!(
                            "throttling is {} where the environment file says {} per second, burst {}",
                            describe_throttle(stage.throttle_rate, stage.throttle_burst),
                            t.rate_per_second,
                            t.burst
                        ));
                    }
                }
                None => {
                    if stage.throttle_rate.is_some() || stage.throttle_burst.is_some() {
                        problems.push(format!(
                            "throttling is {} where the environment file sets none",
                            describe_throttle(stage.throttle_rate, stage.throttle_burst)
                        ));
                    }
                }
            }
        }
    }
    let state = if missing_routes.is_empty() && extra_routes.is_empty() && problems.is_empty() {
        ApiState::Ok
    } else {
        ApiState::Differs
    };
    ApiCheck {
        state,
        api_id: Some(api_id.to_string()),
        missing_routes,
        extra_routes,
        problems,
        note: None,
        api: Some(api),
    }
}

fn describe_throttle(rate: Option<f64>, burst: Option<i32>) -> String {
    match (rate, burst) {
        (None, None) => "off".into(),
        (rate, burst) => format!(
            "{} per second, burst {}",
            rate.map_or("unset".into(), |r| r.to_string()),
            burst.map_or("unset".into(), |b| b.to_string())
        ),
    }
}

/// One line for people: `ok (12 routes)`, what differs, or why it was not checked.
pub fn summary(check: &ApiCheck) -> String {
    match check.state {
        ApiState::Ok => format!(
            "{} serves the contract's {} routes; stage throttled and logged as set",
            check.api_id.as_deref().unwrap_or_default(),
            check
                .api
                .as_ref()
                .map_or(0, |a| a.routes.len().saturating_sub(1))
        ),
        ApiState::NotChecked => {
            format!("not checked: {}", check.note.as_deref().unwrap_or_default())
        }
        ApiState::Missing | ApiState::Differs => {
            let mut parts = Vec::new();
            if !check.missing_routes.is_empty() {
                parts.push(format!(
                    "missing routes {}",
                    check.missing_routes.join(", ")
                ));
            }
            if !check.extra_routes.is_empty() {
                parts.push(format!(
                    "routes not in the contract {}",
                    check.extra_routes.join(", ")
                ));
            }
            parts.extend(check.problems.iter().cloned());
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::apigateway::Stage;

    fn api(routes: &[&str], stage: Option<Stage>) -> HttpApi {
        HttpApi {
            api_id: "abc123".into(),
            name: "stackpro-sandbox-messaging".into(),
            protocol: "HTTP".into(),
            endpoint: Some("https://abc123.execute-api.eu-west-1.amazonaws.com".into()),
            routes: routes.iter().map(|r| r.to_string()).collect(),
            stage,
        }
    }

    fn stage(rate: Option<f64>, burst: Option<i32>) -> Stage {
        Stage {
            name: "$default".into(),
            auto_deploy: true,
            throttle_rate: rate,
            throttle_burst: burst,
            access_log_destination: Some("arn:aws:logs:eu-west-1:1:log-group:g".into()),
        }
    }

    fn contract() -> Vec<String> {
        vec!["GET /v1/threads".into(), "POST /v1/threads".into()]
    }

    const THROTTLE: Throttle = Throttle {
        rate_per_second: 20.0,
        burst: 40,
    };

    #[test]
    fn an_api_as_deployed_is_ok() {
        let found = api(
            &["$default", "GET /v1/threads", "POST /v1/threads"],
            Some(stage(Some(20.0), Some(40))),
        );
        let check = compare("abc123", &contract(), Some(&THROTTLE), Some(found));
        assert_eq!(check.state, ApiState::Ok, "{check:?}");
        assert!(!check.is_problem());
        assert!(
            summary(&check).contains("the contract's 2 routes"),
            "{}",
            summary(&check)
        );
    }

    #[test]
    fn routes_that_differ_from_the_contract_are_named_both_ways() {
        let found = api(
            &["$default", "GET /v1/threads", "DELETE /v1/everything"],
            Some(stage(Some(20.0), Some(40))),
        );
        let check = compare("abc123", &contract(), Some(&THROTTLE), Some(found));
        assert_eq!(check.state, ApiState::Differs);
        assert_eq!(check.missing_routes, ["POST /v1/threads"]);
        assert_eq!(check.extra_routes, ["DELETE /v1/everything"]);
        assert!(check.is_problem());
        let text = summary(&check);
        assert!(text.contains("missing routes POST /v1/threads"), "{text}");
        assert!(
            text.contains("routes not in the contract DELETE /v1/everything"),
            "{text}"
        );
    }

    #[test]
    fn stage_settings_are_held_to_the_environment_file() {
        let mut s = stage(Some(100.0), Some(40));
        s.access_log_destination = None;
        s.auto_deploy = false;
        let found = api(
            &["$default", "GET /v1/threads", "POST /v1/threads"],
            Some(s),
        );
        let check = compare("abc123", &contract(), Some(&THROTTLE), Some(found));
        assert_eq!(check.state, ApiState::Differs);
        assert_eq!(check.problems.len(), 3, "{:?}", check.problems);
        assert!(check.problems[2].contains(
            "100 per second, burst 40 where the environment file says 20 per second, burst 40"
        ));
        // Throttling where the environment file sets none is a difference too.
        let found = api(
            &["$default", "GET /v1/threads", "POST /v1/threads"],
            Some(stage(Some(5.0), None)),
        );
        let check = compare("abc123", &contract(), None, Some(found));
        assert!(check.problems[0]
            .contains("5 per second, burst unset where the environment file sets none"));
        // No stage at all.
        let found = api(&["$default", "GET /v1/threads", "POST /v1/threads"], None);
        let check = compare("abc123", &contract(), None, Some(found));
        assert_eq!(
            check.problems,
            ["no $default stage: the API serves nothing"]
        );
    }

    #[test]
    fn an_api_the_stack_names_but_api_gateway_lacks_is_missing() {
        let check = compare("gone42", &contract(), None, None);
        assert_eq!(check.state, ApiState::Missing);
        assert!(check.problems[0].contains("no API gone42"));
    }

    #[test]
    fn an_unresolved_api_id_is_said_to_be_the_emulators() {
        let check = api_id(Some("${HttpApi}")).unwrap_err();
        assert_eq!(check.state, ApiState::NotChecked);
        assert!(!check.is_problem());
        assert!(summary(&check).contains("emulator-only value"));
        assert!(api_id(None)
            .unwrap_err()
            .note
            .unwrap()
            .contains("no ApiId output"));
        assert_eq!(api_id(Some("abc123")).unwrap(), "abc123");
        assert!(is_unresolved(
            "https://${HttpApi}.execute-api.eu-west-1.amazonaws.com"
        ));
        assert!(!is_unresolved(
            "https://abc123.execute-api.eu-west-1.amazonaws.com"
        ));
    }
}
