//! The datalake capability: datasets per tenant, each with a JSON Schema given at
//! creation; batches of records checked against it and stored all or nothing; records
//! read back by ingestion time; exports to the capability's bucket as gzipped JSON Lines.
//!
//! The contract is `handlers/datalake/openapi.yaml`. The runtime routes by it,
//! authenticates, checks requests against it (batch size and body limit included),
//! answers health, degrades reads, refuses writes in degraded mode and keeps
//! Idempotency-Keys; this crate is the model, the queries and the export.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stackpro_runtime::contract::{compile_user_schema, describe};
use stackpro_runtime::store::{decode_cursor, encode_cursor};
use stackpro_runtime::time::{now_millis, now_rfc3339, parse_rfc3339};
use stackpro_runtime::{
    ApiError, ApiRequest, Handler, Reply, RequestContext, StoreError, StoredResponse,
};

pub mod export;
pub mod model;
pub mod store;

use export::{S3Sink, Sink};
use model::{CreateDataset, Dataset, ExportRequest, Record, RecordBatch};
pub use store::{DynamoStore, Store};

/// The contract this handler serves.
pub const CONTRACT: &str = include_str!("../openapi.yaml");

const STORE: &str = "the datalake store";
/// Compiled record schemas remembered per instance (datasets never change schema).
const VALIDATORS: usize = 256;
/// Chunks read per query while paging records.
const CHUNKS_PER_QUERY: i32 = 25;

/// The datalake handler over a store and an export sink.
pub struct Datalake<S, X> {
    store: S,
    sink: X,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl<S: Store, X: Sink> Datalake<S, X> {
    pub fn new(store: S, sink: X) -> Self {
        Datalake {
            store,
            sink,
            validators: Mutex::default(),
        }
    }

    async fn dataset(&self, tenant: &str, id: &str) -> Result<Dataset, ApiError> {
        let missing = || ApiError::not_found(format!("no dataset {id}"));
        if !model::is_dataset_id(id) {
            return Err(missing());
        }
        self.store
            .get_dataset(tenant, id)
            .await
            .map_err(answer)?
            .ok_or_else(missing)
    }

    /// The dataset's record schema, compiled once per instance.
    fn validator(&self, tenant: &str, d: &Dataset) -> Result<Arc<jsonschema::Validator>, ApiError> {
        let key = format!("{tenant}|{}", d.id);
        if let Some(v) = self
            .validators
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(v);
        }
        let v = Arc::new(compile_user_schema(&d.schema).map_err(|e| {
            tracing::error!(dataset = %d.id, "stored schema does not compile: {e}");
            ApiError::internal()
        })?);
        if let Ok(mut m) = self.validators.lock() {
            if m.len() >= VALIDATORS {
                m.clear();
            }
            m.insert(key, v.clone());
        }
        Ok(v)
    }

    async fn create_dataset(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let input: CreateDataset = ctx.input()?;
        compile_user_schema(&input.schema).map_err(|e| {
            ApiError::invalid("schema", format!("schema is not a usable JSON Schema: {e}"))
        })?;
        let dataset = Dataset {
            id: uuid::Uuid::now_v7().to_string(),
            name: input.name,
            schema: input.schema,
            retention_days: input
                .retention_days
                .unwrap_or(model::DEFAULT_RETENTION_DAYS),
            record_count: 0,
            created_by: ctx.subject(),
            created_at: now_rfc3339(),
        };
        let body = serde_json::to_value(&dataset).unwrap_or(Value::Null);
        let record = ctx.idempotency_record(201, &body);
        self.store
            .create_dataset(tenant, &dataset, record.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }

    async fn list_datasets(&self, tenant: &str, req: &ApiRequest) -> Result<Reply, ApiError> {
        let limit = limit(req, 20)?;
        let page = self
            .store
            .list_datasets(tenant, limit, req.query("cursor"))
            .await
            .map_err(answer)?;
        let items: Vec<Value> = page.items.iter().map(Dataset::summary).collect();
        Ok(Reply::ok(
            json!({"items": items, "next_cursor": page.next_cursor}),
        ))
    }

    async fn ingest(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let dataset = self.dataset(tenant, ctx.param(0)).await?;
        let batch: RecordBatch = ctx.input()?;
        let validator = self.validator(tenant, &dataset)?;
        for (i, record) in batch.records.iter().enumerate() {
            if let Some((field, message)) =
                validator.iter_errors(record).next().map(|e| describe(&e))
            {
                let field = if field == "body" {
                    format!("records[{i}]")
                } else {
                    format!("records[{i}].{field}")
                };
                return Err(ApiError::invalid(&field, format!("record {i}: {message}")));
            }
            let size = record.to_string().len();
            if size >= model::CHUNK_BYTES {
                return Err(ApiError::invalid(
                    &format!("records[{i}]"),
                    format!(
                        "record {i} is {size} bytes; one record is at most {} bytes",
                        model::CHUNK_BYTES - 1
                    ),
                )
                .too_large());
            }
        }
        let (batch_id, at) = (uuid::Uuid::now_v7().to_string(), now_millis());
        let accepted = batch.records.len();
        let chunks = model::chunks(&batch_id, at, batch.records);
        let body = json!({
            "batch_id": batch_id,
            "dataset_id": dataset.id,
            "accepted": accepted,
            "ingested_at": stackpro_runtime::time::rfc3339(at),
        });
        let record = ctx.idempotency_record(201, &body);
        self.store
            .ingest(tenant, &dataset, &chunks, record.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }

    /// Records by ingestion time. The cursor is the chunk a page stopped in and the
    /// index of the next record in it.
    async fn list_records(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let dataset = self.dataset(tenant, ctx.param(0)).await?;
        let limit = limit(req, 100)? as usize;
        let (from, to) = (
            time(req.query("from"), 0)?,
            time(req.query("to"), i64::MAX / 2)?,
        );
        let (mut start, end) = store::time_range(&dataset.id, from, to);
        let mut resume: Option<(String, usize)> = None;
        if let Some(c) = req.query("cursor") {
            let raw = decode_cursor(c, &store::chunk_prefix(&dataset.id)).map_err(answer)?;
            let (sk, at) = raw
                .rsplit_once('|')
                .and_then(|(sk, i)| Some((sk.to_string(), i.parse().ok()?)))
                .ok_or_else(|| answer(StoreError::BadCursor))?;
            start = sk.clone();
            resume = Some((sk, at));
        }
        let (mut items, mut after, mut next) = (Vec::<Record>::new(), None, None);
        'pages: loop {
            let (chunks, more) = self
                .store
                .chunks(
                    tenant,
                    &dataset.id,
                    (&start, &end),
                    CHUNKS_PER_QUERY,
                    after.as_deref(),
                )
                .await
                .map_err(answer)?;
            for (sk, chunk) in chunks {
                let skip = match &resume {
                    Some((resume_sk, at)) if *resume_sk == sk => *at,
                    _ => 0,
                };
                for (i, r) in chunk.records().enumerate().skip(skip) {
                    if items.len() == limit {
                        next = Some(encode_cursor(&format!("{sk}|{i}")));
                        break 'pages;
                    }
                    items.push(r);
                }
            }
            match more {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        Ok(Reply::ok(json!({"items": items, "next_cursor": next})))
    }

    async fn export(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let dataset = self.dataset(tenant, ctx.param(0)).await?;
        let input: ExportRequest = match ctx.input {
            Some(_) => ctx.input()?,
            None => ExportRequest::default(),
        };
        let from = time(input.from.as_deref(), 0)?;
        let to = time(input.to.as_deref(), i64::MAX / 2)?;
        let (start, end) = store::time_range(&dataset.id, from, to);
        let (mut records, mut after) = (Vec::new(), None);
        loop {
            let (chunks, more) = self
                .store
                .chunks(tenant, &dataset.id, (&start, &end), 100, after.as_deref())
                .await
                .map_err(answer)?;
            records.extend(chunks.iter().flat_map(|(_, c)| c.records()));
            match more {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let export_id = uuid::Uuid::now_v7().to_string();
        let count = records.len();
        let objects = export::objects(tenant, &dataset.id, &export_id, records).map_err(|e| {
            tracing::error!("export encoding failed: {e}");
            ApiError::internal()
        })?;
        let mut written = Vec::new();
        let mut bytes = 0;
        for o in objects {
            bytes += o.body.len();
            written.push(json!({"key": o.key, "records": o.records, "bytes": o.body.len()}));
            self.sink
                .put(&o.key, o.body)
                .await
                .map_err(|e| e.answer("the export bucket"))?;
        }
        Ok(Reply::created(json!({
            "export_id": export_id,
            "bucket": self.sink.bucket(),
            "objects": written,
            "records": count,
            "bytes": bytes,
        })))
    }
}

impl<S: Store, X: Sink> Handler for Datalake<S, X> {
    const OPERATIONS: &'static [&'static str] = &[
        "listDatasets",
        "createDataset",
        "getDataset",
        "listRecords",
        "ingestRecords",
        "exportDataset",
    ];

    async fn handle(&self, ctx: RequestContext, req: ApiRequest) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        match ctx.route.operation {
            "listDatasets" => self.list_datasets(tenant, &req).await,
            "createDataset" => self.create_dataset(&ctx, tenant).await,
            "getDataset" => {
                let d = self.dataset(tenant, ctx.param(0)).await?;
                Ok(Reply::ok(serde_json::to_value(d).unwrap_or(Value::Null)))
            }
            "listRecords" => self.list_records(&ctx, tenant, &req).await,
            "ingestRecords" => self.ingest(&ctx, tenant).await,
            "exportDataset" => self.export(&ctx, tenant).await,
            other => Err(ApiError::not_found(format!("no operation {other}"))),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    async fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        self.store.idempotency_record(tenant, key).await
    }
}

/// Builds the handler the way `main` does: clients once, over the runtime.
pub async fn service(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<stackpro_runtime::Service<Datalake<DynamoStore, S3Sink>>, stackpro_runtime::ConfigError>
{
    let contract = stackpro_runtime::load_contract(CONTRACT)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let store = DynamoStore::new(
        stackpro_runtime::Table::new(dynamodb.clone(), config.table("datasets")?),
        stackpro_runtime::Table::new(dynamodb, config.table("records")?),
    );
    let sink = S3Sink {
        client: aws_sdk_s3::Client::new(sdk),
        bucket: config.bucket("exports")?.to_string(),
    };
    let runtime = stackpro_runtime::Runtime::init(config, sdk).await;
    stackpro_runtime::Service::new(
        Arc::new(runtime),
        Arc::new(Datalake::new(store, sink)),
        contract,
    )
}

/// A page size from `limit` (the contract bounds it).
fn limit(req: &ApiRequest, default: i32) -> Result<i32, ApiError> {
    req.query("limit").map_or(Ok(default), |l| {
        l.parse()
            .map_err(|_| ApiError::invalid("limit", "limit must be a whole number"))
    })
}

/// Epoch milliseconds of an optional RFC 3339 time (the contract checks the format).
fn time(text: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match text {
        None => Ok(default),
        Some(t) => parse_rfc3339(t)
            .ok_or_else(|| ApiError::invalid("time", format!("`{t}` is not an RFC 3339 time"))),
    }
}

fn answer(e: StoreError) -> ApiError {
    e.answer(STORE)
}
