//! The datalake handler's own overhead, without the store: event decoding, routing by
//! the contract, JWT verification, flags, the contract's body check, the dataset's
//! schema over every record, chunking, serialisation, the log and EMF lines; over an
//! in-memory store that answers at once.
//!
//!     cargo run --release -p stackpro-datalake --example ingest_overhead -- [REQUESTS] > /dev/null
//!
//! Prints p50/p90/p99/max per route (microseconds) on stderr. Used by
//! scripts/bench-handlers.sh; not a test.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use stackpro_datalake::model::{Chunk, Dataset, Page};
use stackpro_datalake::store::ChunkPage;
use stackpro_datalake::{Datalake, Store};
use stackpro_runtime::auth::{sign, Claims};
use stackpro_runtime::{Config, IdempotencyWrite, Runtime, Service, StoreError, StoredResponse};

const SECRET: &str = "overhead-benchmark-secret";
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

fn event(method: &str, path: &str, route: &str, token: &str, body: Option<&Value>) -> String {
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "limit=100",
        "queryStringParameters": {"limit": "100"},
        "headers": {"authorization": format!("Bearer {token}"), "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "bench", "routeKey": route, "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
    .to_string()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    stackpro_runtime::telemetry::init_logging();
    let config = Config::from_vars(
        [
            ("STACKPRO_ENV", "local"),
            ("STACKPRO_CAPABILITY", "datalake"),
            ("STACKPRO_JWT_SECRET", SECRET),
            ("CAP_DATALAKE_ENABLED", "true"),
            ("CAP_DATALAKE_DEGRADED", "false"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = sign(
        &Claims {
            sub: "bench".into(),
            tenant_id: "bench".into(),
            role: "member".into(),
            scope: "datalake:read datalake:write".into(),
            exp,
            aud: "stackpro".into(),
        },
        SECRET,
    );
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
    let contract = stackpro_runtime::load_contract(stackpro_datalake::CONTRACT).unwrap();
    // Never called: the benchmark does not export.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build(),
    );
    let handler = Datalake::new(store, stackpro_runtime::bucket::Bucket::new(s3, "unused"));
    let service = Service::new(
        Arc::new(Runtime::offline(config)),
        Arc::new(handler),
        contract,
    )
    .unwrap();
    let path = format!("/v1/datasets/{DATASET}/records");
    let route = "/v1/datasets/{dataset_id}/records";
    let batch = json!({"records": records});
    let cases = [
        (
            "ingest 100 records",
            event(
                "POST",
                &path,
                &format!("POST {route}"),
                &token,
                Some(&batch),
            ),
        ),
        (
            "list 100 records",
            event("GET", &path, &format!("GET {route}"), &token, None),
        ),
    ];
    eprintln!("route                  requests   p50 us   p90 us   p99 us   max us");
    for (name, event) in cases {
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let started = Instant::now();
            let request = lambda_http::request::from_str(&event).unwrap();
            let response = service.call(request).await;
            let elapsed = started.elapsed().as_secs_f64() * 1e6;
            assert!(
                response.status().is_success(),
                "{name}: {} {:?}",
                response.status(),
                response.body()
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
