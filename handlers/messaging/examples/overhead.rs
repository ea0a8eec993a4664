//! The handler's own overhead, without the store: event decoding, routing, JWT
//! verification, flags, body parsing and validation, serialisation, the log line and
//! the EMF line, measured over an in-memory store that answers at once.
//!
//!     cargo run --release -p stackpro-messaging --example overhead -- [REQUESTS] > /dev/null
//!
//! Prints p50/p90/p99/max per route (microseconds) on stderr. Used by
//! scripts/bench-handlers.sh; not a test.

use stackpro_messaging::model::{Message, Page, Thread};
use stackpro_messaging::{Messaging, Store};
use stackpro_runtime::{IdempotencyWrite, StateStore, StoreError, StoredResponse};
use stackpro_testkit::overhead;

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
}

impl StateStore for MemoryStore {
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    stackpro_runtime::telemetry::init_logging();
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
    let service = overhead::offline_service(
        "messaging",
        Messaging::new(store),
        stackpro_messaging::CONTRACT,
    );
    let token = overhead::token("messaging");
    let cases =
        ["list_threads", "get_thread", "post_message"].map(|name| (name, fixture(name, &token)));
    overhead::report(&service, &cases, n).await;
}
