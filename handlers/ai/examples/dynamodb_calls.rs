//! DynamoDB calls per request of the ai handler, counted by an interceptor on its own
//! DynamoDB client while it serves requests over a private emulator (moto), with a
//! provider that answers at once and billing on loopback:
//!
//!     cargo run -p stackpro-ai --example dynamodb_calls
//!
//! Prints, per kind of request, the calls by operation on stderr (stdout carries the
//! handler's log lines). Used by scripts/bench-ai.sh.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::json;
use stackpro_ai::model::{Prompt, Settings, Usage};
use stackpro_ai::provider::{Completion, Provider, ProviderError};
use stackpro_testkit::{Answer, Event, Harness, Loopback, Token};

/// Counts operations by name.
#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "Counter"
    }

    /// Every HTTP request sent (an SDK retry counts again), by its `X-Amz-Target`
    /// (`DynamoDB_20120810.TransactWriteItems`).
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string();
        *self.0.lock().unwrap().entry(name).or_default() += 1;
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Answers at once.
struct Instant;

impl Provider for Instant {
    fn name(&self) -> &'static str {
        "bedrock"
    }
    async fn call(&self, _: &str, p: &Prompt) -> Result<Completion, ProviderError> {
        Ok(Completion {
            text: format!("answer to {}", p.prompt),
            usage: Usage::new(10, 20),
        })
    }
}

#[tokio::main]
async fn main() {
    let billing = Loopback::start(|seen| Answer::json(201, seen.json()));
    let counter = Counter::default();
    let counting = counter.clone();
    let h = Harness::setup("ai")
        .var("CAP_BILLING_BASE_URL", &billing.url)
        // The default 60 a minute would refuse the later rounds.
        .var(
            &stackpro_conventions::vars::setting("quota_requests_per_minute"),
            "100000",
        )
        .start(move |config, sdk| async move {
            let settings = Settings::from_config(&config)?;
            let dynamodb = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(counting)
                    .build(),
            );
            stackpro_ai::service_over(config, &sdk, dynamodb, settings, Instant).await
        })
        .await;
    let t = Token::writer("ai", "bench").sign();
    let ask = |prompt: &str, key: Option<&str>| {
        let mut e = Event::post("/v1/requests")
            .token(&t)
            .json(json!({"prompt": prompt}));
        if let Some(k) = key {
            e = e.header("idempotency-key", k);
        }
        h.send(e)
    };
    // Warm: the tenant's limits are read once per discovery TTL per instance.
    assert_eq!(ask("warm", None).await.status, 201);
    counter.take();
    let n = 20;
    let report = |what: &str, calls: BTreeMap<String, usize>| {
        let total: usize = calls.values().sum();
        let per: Vec<String> = calls
            .iter()
            .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64))
            .collect();
        println!(
            "{what:<40} {:.2} calls/request: {}",
            total as f64 / n as f64,
            per.join(", ")
        );
    };
    for i in 0..n {
        assert_eq!(ask(&format!("q{i}"), None).await.status, 201);
    }
    report("accepted, model answers (cache miss)", counter.take());
    for i in 0..n {
        assert_eq!(ask(&format!("q{i}"), None).await.status, 201);
    }
    report("accepted, answered from the cache", counter.take());
    for i in 0..n {
        assert_eq!(
            ask(&format!("k{i}"), Some(&format!("key-{i}")))
                .await
                .status,
            201
        );
    }
    report("accepted, with an Idempotency-Key", counter.take());
    for i in 0..n {
        assert_eq!(
            ask(&format!("k{i}"), Some(&format!("key-{i}")))
                .await
                .status,
            201
        );
    }
    report("repeated Idempotency-Key (replay)", counter.take());
}
