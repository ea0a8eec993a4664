//! The ai handler's own overhead, without the store or the model: event decoding,
//! routing by the contract, JWT verification, flags, the contract's body check, the
//! prompt hash, the quota admission and settlement built as DynamoDB transactions would
//! be, serialisation, the log and EMF lines; over an in-memory store and a provider
//! that both answer at once.
//!
//!     cargo run --release -p stackpro-ai --example request_overhead -- [REQUESTS] > /dev/null
//!
//! Prints p50/p90/p99/max per route (microseconds) on stderr. Used by
//! scripts/bench-ai.sh; not a test.

use std::sync::Arc;

use serde_json::json;
use stackpro_ai::model::{
    CachedAnswer, Prompt, RequestRecord, Settings, TenantLimits, Usage, Used,
};
use stackpro_ai::provider::{Completion, Provider, ProviderError};
use stackpro_ai::store::{Admission, Settlement, Store};
use stackpro_ai::Ai;
use stackpro_runtime::outbox::Entry;
use stackpro_runtime::{Config, Runtime, Service, StateStore, StoreError, StoredResponse};
use stackpro_testkit::{overhead, Event, SECRET};

/// Answers every call at once from memory; `hit` decides whether the cache has a fresh
/// answer.
struct MemoryStore {
    hit: bool,
}

impl StateStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn idempotency_record(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        Ok(None)
    }
}

impl Store for MemoryStore {
    async fn limits(&self, _: &str) -> Result<Option<TenantLimits>, StoreError> {
        Ok(None)
    }
    async fn put_limits(&self, _: &str, _: &TenantLimits) -> Result<(), StoreError> {
        Ok(())
    }
    async fn used(&self, _: &str, _: i64, _: &str) -> Result<Used, StoreError> {
        Ok(Used::default())
    }
    async fn cached(&self, _: &str, _: &str, _: &str) -> Result<Option<CachedAnswer>, StoreError> {
        Ok(self.hit.then(|| CachedAnswer {
            answer: "cached".into(),
            usage: Usage::new(10, 10),
            fresh_until: i64::MAX,
        }))
    }
    async fn admit(&self, a: &Admission<'_>) -> Result<(), StoreError> {
        std::hint::black_box(a);
        Ok(())
    }
    async fn settle(&self, s: &Settlement<'_>) -> Result<(), StoreError> {
        std::hint::black_box(s);
        Ok(())
    }
    async fn get_request(&self, _: &str, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        Ok(Some(RequestRecord {
            id: id.to_string(),
            model: "small".into(),
            model_id: "amazon.nova-micro-v1:0".into(),
            provider: "bedrock".into(),
            status: stackpro_ai::model::Status::Completed,
            prompt_sha256: "0".repeat(64),
            prompt: None,
            answer: None,
            usage: Usage::new(12, 30),
            latency_ms: Some(420),
            cached: false,
            created_by: "user@bench".into(),
            created_at: "2026-11-30T12:00:00.000Z".into(),
            completed_at: Some("2026-11-30T12:00:00.420Z".into()),
        }))
    }
    async fn outbox_pending(&self, _: i32) -> Result<Vec<Entry>, StoreError> {
        Ok(Vec::new())
    }
    async fn outbox_remove(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Answers at once.
struct Instant;

impl Provider for Instant {
    fn name(&self) -> &'static str {
        "bedrock"
    }
    async fn call(&self, _: &str, prompt: &Prompt) -> Result<Completion, ProviderError> {
        Ok(Completion {
            text: format!("{} tokens at most", prompt.max_tokens),
            usage: Usage::new(12, 30),
        })
    }
}

fn service(hit: bool) -> Service<Ai<MemoryStore, Instant>> {
    let mut vars: Vec<(String, String)> = vec![
        ("STACKPRO_ENV".into(), "local".into()),
        ("STACKPRO_CAPABILITY".into(), "ai".into()),
        ("STACKPRO_JWT_SECRET".into(), SECRET.into()),
        ("CAP_AI_ENABLED".into(), "true".into()),
        ("CAP_AI_DEGRADED".into(), "false".into()),
        ("CAP_AI_MODEL".into(), "small".into()),
    ];
    // The capability's declared defaults, as its stack sets them.
    let declared: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../capability.yaml")).expect("capability.yaml parses");
    for (name, setting) in declared["settings"].as_mapping().expect("settings") {
        let value = match &setting["default"] {
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other).unwrap().trim().to_string(),
        };
        vars.push((
            stackpro_conventions::vars::setting(name.as_str().unwrap()),
            value,
        ));
    }
    let config = Config::from_vars(vars).expect("the offline configuration is complete");
    let settings = Settings::from_config(&config).expect("the settings are valid");
    let runtime = Arc::new(Runtime::offline(config));
    let handler = Ai::new(MemoryStore { hit }, Instant, settings, runtime.clone());
    let contract =
        stackpro_runtime::load_contract(stackpro_ai::CONTRACT).expect("the contract loads");
    Service::new(runtime, Arc::new(handler), contract).expect("the handler serves its contract")
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let token = overhead::token("ai");
    let ask = || {
        overhead::event_json(
            Event::post("/v1/requests")
                .token(&token)
                .json(json!({"prompt": "Summarise the quarterly report in three bullet points.", "max_tokens": 256})),
        )
    };
    let miss = service(false);
    overhead::report(
        &miss,
        &[
            ("POST /v1/requests (model)", ask()),
            (
                "GET /v1/requests/{id}",
                overhead::event_json(
                    Event::get("/v1/requests/01930000-0000-7000-8000-000000000000").token(&token),
                ),
            ),
            (
                "GET /v1/quotas",
                overhead::event_json(Event::get("/v1/quotas").token(&token)),
            ),
        ],
        n,
    )
    .await;
    let hit = service(true);
    overhead::report(&hit, &[("POST /v1/requests (cache)", ask())], n).await;
}
