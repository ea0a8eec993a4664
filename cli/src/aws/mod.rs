//! The only door to AWS: the SDK configuration from `aws-config`, one module per
//! service, and SDK errors turned into ones a person can act on.
//!
//! Everything that talks to AWS goes through [`AwsContext`], so profiles, SSO,
//! `AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` work as AWS users expect. The
//! environment file decides the region (that is where its stacks live) and, for the
//! local environment, the emulator endpoint; flags override both.
//!
//! The service modules ([`apigateway`], [`cloudformation`], [`lambda`], [`s3`], [`ssm`], [`sts`],
//! [`logs`], [`cloudwatch`], [`dynamodb`]) are the only places that build an SDK
//! client (once per context, on first use) and send a request; each call returns
//! stackpro's own types or errors, so the rest of the program never holds a client.
//! `scripts/aws-doors.sh` counts the places outside them that do (the goal is 0).

pub mod apigateway;
pub mod cloudformation;
pub mod cloudwatch;
pub mod dynamodb;
pub mod lambda;
pub mod logs;
pub mod s3;
pub mod ssm;
pub mod sts;

pub use sts::{caller_identity, check_account, CallerIdentity};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use clap::Args;
use serde::Serialize;

use crate::config::{is_loopback_url, EnvConfig};
use crate::error::Error;

/// The AWS flags every command accepts.
#[derive(Debug, Clone, Args, Default)]
pub struct AwsArgs {
    /// AWS profile to use (default: AWS_PROFILE, then the default profile)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (default: the region of the environment file)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (default: AWS_ENDPOINT_URL, then the
    /// environment file's endpoint_url)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Where a setting came from, for `doctor` and error messages.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flag,
    Environment,
    EnvFile,
    SdkDefault,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Flag => "command-line flag",
            Source::Environment => "process environment",
            Source::EnvFile => "environment file",
            Source::SdkDefault => "AWS SDK default chain",
        })
    }
}

/// How long one AWS call may take, by kind. Every call has a connect, a read and a
/// whole-operation timeout, and the SDK's standard retries (three attempts, backing off
/// with jitter) within that operation timeout; waits on a stack operation are loops of
/// such calls, bounded by their own deadlines (`stack`). A hung endpoint (connection
/// accepted, no answer) ends in [`Error::NoAnswer`] within the operation timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Every call but the two below: connect 3 s, 8 s to the answer's headers, 10 s per
    /// attempt, 25 s in all.
    Quick,
    /// CloudWatch Logs' FilterLogEvents, which scans: 20 s per attempt, 25 s in all.
    Scan,
    /// S3 objects' bytes (zips up to Lambda's 250 MB on a slow uplink): no read
    /// timeout, 15 minutes per attempt, 30 in all.
    Transfer,
}

impl CallKind {
    pub const CONNECT: Duration = Duration::from_secs(3);

    pub fn timeouts(self) -> TimeoutConfig {
        let (read, attempt, operation) = match self {
            CallKind::Quick => (Some(8), 10, 25),
            CallKind::Scan => (Some(20), 20, 25),
            CallKind::Transfer => (None, 15 * 60, 30 * 60),
        };
        let mut config = TimeoutConfig::builder()
            .connect_timeout(Self::CONNECT)
            .operation_attempt_timeout(Duration::from_secs(attempt))
            .operation_timeout(Duration::from_secs(operation));
        if let Some(read) = read {
            config = config.read_timeout(Duration::from_secs(read));
        }
        config.build()
    }
}

/// Builds a service's client from the context's configuration (once, by the service
/// module): with the timeouts of its kind of calls when they are not the default
/// ones, and the slow-call notice on a terminal.
macro_rules! sdk_client {
    ($ctx:expr, $field:ident, $sdk:ident, $service:literal) => {
        $crate::aws::sdk_client!($ctx, $field, $sdk, $service, $crate::aws::CallKind::Quick)
    };
    ($ctx:expr, $field:ident, $sdk:ident, $service:literal, $kind:expr) => {
        $ctx.clients.$field.get_or_init(|| {
            let mut config = $sdk::config::Builder::from(&$ctx.config);
            if $kind != $crate::aws::CallKind::Quick {
                config = config.timeout_config($kind.timeouts());
            }
            if let Some(notice) = $ctx.slow_call_notice($service) {
                config = config.interceptor(notice);
            }
            $sdk::Client::from_conf(config.build())
        })
    };
}
pub(crate) use sdk_client;

/// On a terminal, says which call is still waiting after a second, and how long it
/// may still take; said once per call, nothing when the answer comes in time.
#[derive(Debug)]
pub struct SlowCallNotice {
    service: &'static str,
    endpoint: String,
}

/// The pending notice of one call, cancelled when the call ends.
#[derive(Debug, Clone)]
struct PendingNotice(tokio::task::AbortHandle);

impl aws_smithy_types::config_bag::Storable for PendingNotice {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for SlowCallNotice {
    fn name(&self) -> &'static str {
        "SlowCallNotice"
    }

    // Not `read_before_execution`: a client's interceptors see that before the
    // operation's own configuration (its name among it) is in the bag.
    fn read_before_serialization(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(());
        };
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "a call".into());
        let limit = cfg
            .load::<TimeoutConfig>()
            .and_then(TimeoutConfig::operation_timeout)
            .map(|t| format!(" (gives up after {} s)", t.as_secs()))
            .unwrap_or_default();
        let line = format!(
            "waiting for {} {operation} at {}{limit}",
            self.service, self.endpoint
        );
        let task = runtime.spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            eprintln!("{line}");
        });
        cfg.interceptor_state()
            .store_put(PendingNotice(task.abort_handle()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<
            '_,
        >,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(pending) = cfg.load::<PendingNotice>() {
            pending.0.abort();
        }
        Ok(())
    }
}

/// The loaded AWS configuration of one environment, and where each part came from.
#[derive(Debug, Clone)]
pub struct AwsContext {
    pub config: SdkConfig,
    pub region: String,
    pub region_source: Source,
    /// The endpoint every client calls, when it is not AWS's own.
    pub endpoint: Option<String>,
    pub endpoint_source: Option<Source>,
    pub profile: Option<String>,
    /// The service clients, each built once on first use by its service module.
    clients: Arc<Clients>,
}

/// One client per service, built lazily from the context's configuration.
#[derive(Debug, Default)]
struct Clients {
    apigateway: OnceLock<aws_sdk_apigatewayv2::Client>,
    cloudformation: OnceLock<aws_sdk_cloudformation::Client>,
    cloudwatch: OnceLock<aws_sdk_cloudwatch::Client>,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    lambda: OnceLock<aws_sdk_lambda::Client>,
    logs: OnceLock<aws_sdk_cloudwatchlogs::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    ssm: OnceLock<aws_sdk_ssm::Client>,
    sts: OnceLock<aws_sdk_sts::Client>,
}

impl AwsContext {
    /// A context over an SDK configuration made elsewhere (tests that answer every call
    /// in-process, a configuration with credentials of its own).
    pub fn from_config(config: SdkConfig, region: &str, endpoint: Option<String>) -> Self {
        AwsContext {
            config,
            region: region.to_string(),
            region_source: Source::Flag,
            endpoint_source: endpoint.as_ref().map(|_| Source::Flag),
            endpoint,
            profile: None,
            clients: Arc::default(),
        }
    }

    pub async fn load(args: &AwsArgs, env: &EnvConfig) -> Self {
        let (region, region_source) = match &args.region {
            Some(r) => (r.clone(), Source::Flag),
            None => (env.region.clone(), Source::EnvFile),
        };
        let from_process = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty());
        let (endpoint, endpoint_source) =
            match (&args.endpoint_url, from_process, &env.endpoint_url) {
                (Some(url), _, _) => (Some(url.clone()), Some(Source::Flag)),
                (None, Some(url), _) => (Some(url), Some(Source::Environment)),
                (None, None, Some(url)) => (Some(url.clone()), Some(Source::EnvFile)),
                (None, None, None) => (None, None),
            };

        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .timeout_config(CallKind::Quick.timeouts());
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &endpoint {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let profile = args
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
        AwsContext {
            config,
            region,
            region_source,
            endpoint,
            endpoint_source,
            profile,
            clients: Arc::default(),
        }
    }

    /// The same context with dummy credentials, for a loopback emulator that accepts
    /// any (the caller's may be real, or absent). Its clients are its own.
    pub fn with_local_credentials(&self) -> AwsContext {
        let credentials =
            aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "stackpro-dev");
        AwsContext {
            config: self
                .config
                .to_builder()
                .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                    credentials,
                ))
                .build(),
            clients: Arc::default(),
            ..self.clone()
        }
    }

    /// The endpoint a service is called at, for messages.
    pub fn endpoint_for(&self, service: &str) -> String {
        match &self.endpoint {
            Some(url) => url.clone(),
            None => {
                // CloudWatch's API host is `monitoring`; every other service's is its name.
                let host = if service == "cloudwatch" {
                    "monitoring"
                } else {
                    service
                };
                format!("https://{host}.{}.amazonaws.com", self.region)
            }
        }
    }

    /// The slow-call notice for a service's client, when somebody watches stderr
    /// (the same test as the progress display's).
    pub fn slow_call_notice(&self, service: &'static str) -> Option<SlowCallNotice> {
        crate::progress::watched_stderr().then(|| SlowCallNotice {
            service,
            endpoint: self.endpoint_for(service),
        })
    }

    pub fn is_local(&self) -> bool {
        self.endpoint.as_deref().is_some_and(is_loopback_url)
    }

    /// Turns an SDK error into one that names what failed and what to do.
    pub fn error<E>(
        &self,
        service: &'static str,
        operation: &'static str,
        target: &str,
        err: aws_sdk_sts::error::SdkError<E, HttpResponse>,
    ) -> Error
    where
        E: std::error::Error + aws_sdk_sts::error::ProvideErrorMetadata + Send + Sync + 'static,
    {
        use aws_sdk_sts::error::SdkError;
        let chain = error_chain(&err);
        if chain.contains("loading credentials")
            || chain.contains("no providers in chain provided credentials")
            || chain.contains("the credential provider was not enabled")
        {
            return Error::NoCredentials {
                target: self.describe_target(),
                detail: chain,
            };
        }
        // Connected, but no answer in time: an attempt's or the operation's timeout, or
        // the HTTP read timeout (the last attempt's error, when retries ran out).
        let no_answer = matches!(&err, SdkError::TimeoutError(_))
            || chain.contains("HTTP read timeout")
            || chain.contains("attempt timeout");
        if no_answer {
            return Error::NoAnswer {
                service,
                operation,
                endpoint: self.endpoint_for(service),
                detail: chain,
                local: self.is_local(),
            };
        }
        match &err {
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => Error::Unreachable {
                service,
                endpoint: self.endpoint_for(service),
                detail: chain,
                local: self.is_local(),
            },
            SdkError::ServiceError(service_err) => Error::Aws {
                operation,
                target: target.to_string(),
                detail: self.service_error_detail(
                    service,
                    service_err.err(),
                    service_err.raw(),
                    chain,
                ),
            },
            _ => Error::Aws {
                operation,
                target: target.to_string(),
                detail: chain,
            },
        }
    }

    /// What a service's error answer says: its code and message, or what the answer
    /// was when it had no error document. `chain` when there is nothing better.
    fn service_error_detail(
        &self,
        service: &str,
        e: &impl aws_sdk_sts::error::ProvideErrorMetadata,
        raw: &HttpResponse,
        chain: String,
    ) -> String {
        let status = raw.status().as_u16();
        match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            // An answer without an error document: an internal error of the
            // endpoint, or an API a local emulator does not implement.
            _ if status >= 500 && self.is_local() => format!(
                "the emulator at {} answered HTTP {status} with no error document: it does not implement this call for this input (see the README's Testing section)",
                self.endpoint_for(service)
            ),
            _ if status >= 500 => format!(
                "the service answered HTTP {status} with no error document (an internal error; try again)"
            ),
            // A body the SDK could not read: show what it said.
            _ => match raw
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .filter(|b| !b.trim().is_empty())
            {
                Some(body) => format!(
                    "HTTP {status} with an answer the SDK could not read: {}",
                    body.chars().take(300).collect::<String>().trim()
                ),
                None => chain,
            },
        }
    }

    fn describe_target(&self) -> String {
        match &self.profile {
            Some(p) => format!("profile `{p}` in {}", self.region),
            None => format!("the default credential chain in {}", self.region),
        }
    }
}

/// The messages of an error and its sources, joined: `a: b: c`, without the Debug dump
/// `DisplayErrorContext` appends.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

impl Error {
    /// Whether this is a service's "slow down" answer (Throttling, ThrottlingException,
    /// TooManyRequestsException): pollers back off and try again instead of failing.
    pub fn is_throttling(&self) -> bool {
        matches!(self, Error::Aws { detail, .. }
            if detail.starts_with("Throttl") || detail.starts_with("TooManyRequests"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_but_a_transfer_gives_up_within_25_seconds_and_retries_inside_that() {
        for kind in [CallKind::Quick, CallKind::Scan] {
            let t = kind.timeouts();
            let operation = t.operation_timeout().unwrap();
            assert_eq!(operation, Duration::from_secs(25), "{kind:?}");
            assert!(
                t.operation_attempt_timeout().unwrap() < operation,
                "{kind:?}"
            );
            assert!(t.read_timeout().unwrap() <= t.operation_attempt_timeout().unwrap());
            assert_eq!(t.connect_timeout(), Some(CallKind::CONNECT));
        }
        // A zip's upload may take minutes on a slow uplink: no read timeout cuts it,
        // but it is still bounded.
        let t = CallKind::Transfer.timeouts();
        assert_eq!(t.read_timeout(), None);
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(30 * 60)));
        assert_eq!(t.connect_timeout(), Some(CallKind::CONNECT));
    }

    #[test]
    fn cloudwatch_is_called_at_its_monitoring_host() {
        let ctx = AwsContext::from_config(SdkConfig::builder().build(), "eu-west-1", None);
        assert_eq!(
            ctx.endpoint_for("cloudwatch"),
            "https://monitoring.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            ctx.endpoint_for("sts"),
            "https://sts.eu-west-1.amazonaws.com"
        );
    }
}
