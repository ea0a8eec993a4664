//! The datalake handler's own overhead, without the store: event decoding, routing by
//! the contract, JWT verification, flags, the contract's body check, the dataset's
//! schema over every record, chunking, serialisation, the log and EMF lines; over an
//! in-memory store that answers at once.
//!
//!     cargo run --release -p stackpro-datalake --example ingest_overhead -- [REQUESTS] > /dev/null
//!
//! Prints p50/p90/p99/max per route (microseconds) on stderr. Used by
//! scripts/bench-handlers.sh; not a test.

use serde_json::{json, Value};
use stackpro_datalake::model::{Chunk, Dataset, Page};
use stackpro_datalake::store::ChunkPage;
use stackpro_datalake::{Datalake, Store};
use stackpro_runtime::{IdempotencyWrite, StateStore, StoreError, StoredResponse};
use stackpro_testkit::{overhead, Event};

const DATASET: &str = "01930000-0000-7000-8000-000000000000";

/// Answers every call at once from memory: what remains is the handler's own work.
struct MemoryStore {
    dataset: Dataset,
    chunk: Chunk,
}

impl Store for MemoryStore {
    async fn create_dataset(
        &self,
        _: &str,
        _: &Dataset,
        _: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn get_dataset(&self, _: &str, _: &str) -> Result<Option<Dataset>, StoreError> {
        Ok(Some(self.dataset.clone()))
    }
    async fn list_datasets(
        &self,
        _: &str,
        _: i32,
        _: Option<&str>,
    ) -> Result<Page<Dataset>, StoreError> {
        Ok(Page {
            items: vec![self.dataset.clone()],
            next_cursor: None,
        })
    }
    async fn ingest(
        &self,
        _: &str,
        _: &Dataset,
        _: &[Chunk],
        _: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn chunks(
        &self,
        _: &str,
        _: &str,
        _: (&str, &str),
        _: i32,
        _: Option<&str>,
    ) -> Result<ChunkPage, StoreError> {
        Ok((
            vec![("REC#x#0000000000000#b#000".into(), self.chunk.clone())],
            None,
        ))
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    stackpro_runtime::telemetry::init_logging();
    let schema = json!({
        "type": "object", "required": ["value", "label", "at"], "additionalProperties": false,
        "properties": {"value": {"type": "integer"}, "label": {"type": "string", "maxLength": 64}, "at": {"type": "string", "format": "date-time"}}
    });
    let records: Vec<Value> = (0..100)
        .map(|i| json!({"value": i, "label": format!("record {i}"), "at": "2026-11-30T00:00:00Z"}))
        .collect();
    let store = MemoryStore {
        dataset: Dataset {
            id: DATASET.into(),
            name: "bench".into(),
            schema,
            retention_days: 30,
            record_count: 0,
            created_by: "bench".into(),
            created_at: "2026-11-30T00:00:00Z".into(),
        },
        chunk: stackpro_datalake::model::chunks("b", 0, records.clone()).remove(0),
    };
    // Never called: the benchmark does not export.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build(),
    );
    let handler = Datalake::new(store, stackpro_runtime::bucket::Bucket::new(s3, "unused"));
    let service = overhead::offline_service("datalake", handler, stackpro_datalake::CONTRACT);
    let token = overhead::token("datalake");
    let path = format!("/v1/datasets/{DATASET}/records");
    let ingest = Event::post(&path)
        .token(&token)
        .json(json!({"records": records}));
    let list = Event::get(&path).query("limit", "100").token(&token);
    let cases = [
        ("ingest 100 records", overhead::event_json(ingest)),
        ("list 100 records", overhead::event_json(list)),
    ];
    overhead::report(&service, &cases, n).await;
}
