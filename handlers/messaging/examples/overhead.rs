//! The handler's own overhead, without the store: event decoding, routing, JWT
//! verification, flags, body parsing and validation, serialisation, the log line and
//! the EMF line, measured over an in-memory store that answers at once.
//!
//!     cargo run --release -p stackpro-messaging --example overhead -- [REQUESTS] > /dev/null
//!
//! Prints p50/p90/p99/max per route (microseconds) on stderr. Used by
//! scripts/bench-handlers.sh; not a test.

use std::sync::Arc;
use std::time::Instant;

use stackpro_messaging::model::{Message, Page, Thread};
use stackpro_messaging::{Messaging, Store};
use stackpro_runtime::auth::{sign, Claims};
use stackpro_runtime::{Config, IdempotencyWrite, Runtime, Service, StoreError, StoredResponse};

const SECRET: &str = "overhead-benchmark-secret";
const THREAD: &str = "01930000-0000-7000-8000-000000000000";

/// Answers every call at once from memory: what remains is the handler's own work.
struct MemoryStore {
    threads: Vec<Thread>,
}

impl Store for MemoryStore {
    async fn list_threads(
        &self,
        _: &str,
        limit: i32,
        _: Option<&str>,
    ) -> Result<Page<Thread>, StoreError> {
        Ok(Page {
            items: self.threads.iter().take(limit as usize).cloned().collect(),
            next_cursor: Some("VEhSRUFEIzAxOTM".into()),
        })
    }
    async fn get_thread(&self, _: &str, _: &str) -> Result<Option<Thread>, StoreError> {
        Ok(self.threads.first().cloned())
    }
    async fn create_thread(
        &self,
        _: &str,
        _: &Thread,
        _: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn list_messages(
        &self,
        _: &str,
        _: &str,
        _: i32,
        _: Option<&str>,
    ) -> Result<Page<Message>, StoreError> {
        Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        })
    }
    async fn post_message(
        &self,
        _: &str,
        _: &Message,
        _: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn idempotency_record(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        Ok(None)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn fixture(name: &str, token: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["headers"]["authorization"] = format!("Bearer {token}").into();
    v.to_string()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    stackpro_runtime::telemetry::init_logging();
    let config = Config::from_vars(
        [
            ("STACKPRO_ENV", "local"),
            ("STACKPRO_CAPABILITY", "messaging"),
            ("STACKPRO_TABLE_THREADS", "unused"),
            ("STACKPRO_JWT_SECRET", SECRET),
            ("CAP_MESSAGING_ENABLED", "true"),
            ("CAP_MESSAGING_DEGRADED", "false"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = sign(
        &Claims {
            sub: "bench".into(),
            tenant_id: "bench".into(),
            role: "member".into(),
            scope: "messaging:read messaging:write".into(),
            exp: now + 3600,
            aud: "stackpro".into(),
        },
        SECRET,
    );
    let thread = Thread {
        id: THREAD.into(),
        title: "A thread of the benchmark".into(),
        created_by: "bench".into(),
        created_at: "2026-11-23T00:00:00Z".into(),
        updated_at: "2026-11-23T00:00:00Z".into(),
        message_count: 3,
    };
    let store = MemoryStore {
        threads: vec![thread; 20],
    };
    let handler = Messaging::new(store);
    let contract = stackpro_runtime::load_contract(stackpro_messaging::CONTRACT).unwrap();
    let service = Service::new(
        Arc::new(Runtime::offline(config)),
        Arc::new(handler),
        contract,
    )
    .unwrap();

    eprintln!("route                  requests   p50 us   p90 us   p99 us   max us");
    for name in ["list_threads", "get_thread", "post_message"] {
        let event = fixture(name, &token);
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let started = Instant::now();
            let request = lambda_http::request::from_str(&event).unwrap();
            let response = service.call(request).await;
            let elapsed = started.elapsed().as_secs_f64() * 1e6;
            assert!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            if i >= n / 10 {
                samples.push(elapsed); // the first tenth warms up
            }
        }
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        eprintln!(
            "{name:<22} {n:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            percentile(&samples, 0.50),
            percentile(&samples, 0.90),
            percentile(&samples, 0.99),
            samples[samples.len() - 1]
        );
    }
}
