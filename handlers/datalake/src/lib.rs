//! The datalake capability: datasets per tenant, each with a JSON Schema given at
//! creation; batches of records checked against it and stored all or nothing; records
//! read back by ingestion time; exports to the capability's bucket as gzipped JSON Lines.
//!
//! The contract is `handlers/datalake/openapi.yaml`. The runtime routes by it,
//! authenticates, checks requests against it (batch size and body limit included),
//! answers health, degrades reads, refuses writes in degraded mode and keeps
//! Idempotency-Keys; this crate is the model, the queries and the export.

use std::sync::Arc;

use serde_json::{json, Value};
use stackpro_runtime::bucket::Bucket;
use stackpro_runtime::contract::{check_value, compile_user_schema, SchemaCache};
use stackpro_runtime::time::{millis_of, now_rfc3339, rfc3339};
use stackpro_runtime::{ApiError, ApiRequest, Handler, Reply, RequestContext, StoreError};

pub mod export;
pub mod model;
pub mod store;

use model::{CreateDataset, Dataset, ExportRequest, Record, RecordBatch};
pub use store::{DynamoStore, Store};

/// The contract this handler serves.
pub const CONTRACT: &str = include_str!("../openapi.yaml");
/// Chunks read per query while paging records.
const CHUNKS_PER_QUERY: i32 = 25;
/// The latest time a range can name.
const END_OF_TIME: i64 = 9_999_999_999_999;

/// The datalake handler over a store and the export bucket.
pub struct Datalake<S> {
    store: S,
    bucket: Bucket,
    schemas: SchemaCache,
}

impl<S: Store> Datalake<S> {
    pub fn new(store: S, bucket: Bucket) -> Self {
        Datalake {
            store,
            bucket,
            schemas: SchemaCache::default(),
        }
    }

    async fn dataset(&self, tenant: &str, id: &str) -> Result<Dataset, ApiError> {
        let missing = || ApiError::not_found(format!("no dataset {id}"));
        if uuid::Uuid::parse_str(id).map_or(true, |u| u.hyphenated().to_string() != id) {
            return Err(missing());
        }
        self.store
            .get_dataset(tenant, id)
            .await
            .map_err(answer)?
            .ok_or_else(missing)
    }

    async fn create_dataset(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let input: CreateDataset = ctx.input()?;
        compile_user_schema(&input.schema).map_err(|e| {
            ApiError::invalid("schema", format!("schema is not a usable JSON Schema: {e}"))
        })?;
        let d = Dataset {
            id: uuid::Uuid::now_v7().to_string(),
            name: input.name,
            schema: input.schema,
            retention_days: input.retention_days,
            record_count: 0,
            created_by: ctx.subject(),
            created_at: now_rfc3339(),
        };
        let body = to_value(&d);
        let key = ctx.idempotency_record(201, &body);
        self.store
            .create_dataset(tenant, &d, key.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }

    async fn list_datasets(&self, tenant: &str, req: &ApiRequest) -> Result<Reply, ApiError> {
        let limit = req.query_int("limit", 20)? as i32;
        let page = self
            .store
            .list_datasets(tenant, limit, req.query("cursor"))
            .await
            .map_err(answer)?;
        let items: Vec<Value> = page.items.iter().map(summary).collect();
        Ok(Reply::ok(
            json!({"items": items, "next_cursor": page.next_cursor}),
        ))
    }

    async fn ingest(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let d = self.dataset(tenant, ctx.param(0)).await?;
        let batch: RecordBatch = ctx.input()?;
        let schema = self
            .schemas
            .get(&format!("{tenant}|{}", d.id), &d.schema)
            .map_err(|e| {
                tracing::error!(dataset = %d.id, "stored schema does not compile: {e}");
                ApiError::internal()
            })?;
        for (i, record) in batch.records.iter().enumerate() {
            check_value(&schema, record, &format!("records[{i}]"))?;
            if record.to_string().len() >= model::CHUNK_BYTES {
                let limit = model::CHUNK_BYTES - 1;
                let message = format!("record {i} is over {limit} bytes, the limit for one record");
                return Err(ApiError::invalid(&format!("records[{i}]"), message).too_large());
            }
        }
        let batch_id = uuid::Uuid::now_v7().to_string();
        let (at, accepted) = (model::batch_millis(&batch_id), batch.records.len());
        let chunks = model::chunks(&batch_id, at, batch.records);
        let body = json!({"batch_id": batch_id, "dataset_id": d.id, "accepted": accepted, "ingested_at": rfc3339(at)});
        let key = ctx.idempotency_record(201, &body);
        self.store
            .ingest(tenant, &d, &chunks, key.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }

    /// Records by ingestion time. The cursor is the id of the last record of the
    /// previous page (`<batch>.<index>`; the batch id is a UUID v7 of its ingestion
    /// millisecond): the page starts at that batch's chunks, after that index.
    async fn list_records(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let d = self.dataset(tenant, ctx.param(0)).await?;
        let limit = req.query_int("limit", 100)? as usize;
        let (from, to) = (
            req.query_time("from", 0)?,
            req.query_time("to", END_OF_TIME)?,
        );
        let (mut start, end) = store::time_range(&d.id, from, to);
        let resume = req.query("cursor").and_then(model::record_position);
        if let Some((batch, at, _)) = resume {
            start = start.max(format!("{}{at:013}#{batch}#", store::chunk_prefix(&d.id)));
        }
        let (mut items, mut after, mut next) = (Vec::<Record>::new(), None, None);
        'pages: loop {
            if start > end {
                break; // a position after `to` (BETWEEN refuses reversed bounds)
            }
            let (chunks, more) = self
                .store
                .chunks(
                    tenant,
                    &d.id,
                    (&start, &end),
                    CHUNKS_PER_QUERY,
                    after.as_deref(),
                )
                .await
                .map_err(answer)?;
            for (_, chunk) in chunks {
                let seen = resume
                    .filter(|(batch, _, _)| *batch == chunk.batch_id)
                    .map_or(0, |(_, _, index)| index + 1);
                for r in chunk.records().skip(seen.saturating_sub(chunk.first_index)) {
                    if items.len() == limit {
                        next = items.last().map(|r: &Record| r.id.clone());
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
        let d = self.dataset(tenant, ctx.param(0)).await?;
        let input: ExportRequest = if ctx.input.is_some() {
            ctx.input()?
        } else {
            ExportRequest::default()
        };
        let from = millis_of("from", input.from.as_deref(), 0)?;
        let to = millis_of("to", input.to.as_deref(), END_OF_TIME)?;
        let (start, end) = store::time_range(&d.id, from, to);
        let (mut records, mut after) = (Vec::new(), None);
        loop {
            let (chunks, more) = self
                .store
                .chunks(tenant, &d.id, (&start, &end), 100, after.as_deref())
                .await
                .map_err(answer)?;
            records.extend(chunks.iter().flat_map(|(_, c)| c.records()));
            match more {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let (export_id, count) = (uuid::Uuid::now_v7().to_string(), records.len());
        let objects = export::objects(tenant, &d.id, &export_id, records).map_err(|e| {
            tracing::error!("export encoding failed: {e}");
            ApiError::internal()
        })?;
        let (mut written, mut bytes) = (Vec::new(), 0);
        for o in objects {
            bytes += o.body.len();
            written.push(json!({"key": o.key, "records": o.records, "bytes": o.body.len()}));
            self.bucket
                .put(&o.key, o.body, "application/gzip")
                .await
                .map_err(|e| e.answer("the export bucket"))?;
        }
        let bucket = self.bucket.name();
        Ok(Reply::created(
            json!({"export_id": export_id, "bucket": bucket, "objects": written, "records": count, "bytes": bytes}),
        ))
    }
}

impl<S: Store> Handler for Datalake<S> {
    const OPERATIONS: &'static [&'static str] = &[
        "listDatasets",
        "createDataset",
        "getDataset",
        "listRecords",
        "ingestRecords",
        "exportDataset",
    ];
    type State = S;

    async fn handle(&self, ctx: RequestContext, req: ApiRequest) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        match ctx.route.operation {
            "listDatasets" => self.list_datasets(tenant, &req).await,
            "createDataset" => self.create_dataset(&ctx, tenant).await,
            "getDataset" => Ok(Reply::ok(to_value(
                &self.dataset(tenant, ctx.param(0)).await?,
            ))),
            "listRecords" => self.list_records(&ctx, tenant, &req).await,
            "ingestRecords" => self.ingest(&ctx, tenant).await,
            "exportDataset" => self.export(&ctx, tenant).await,
            other => Err(ApiError::not_found(format!("no operation {other}"))),
        }
    }

    fn state(&self) -> &S {
        &self.store
    }
}

/// Builds the handler the way `main` does: clients once, over the runtime.
pub async fn service(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<stackpro_runtime::Service<Datalake<DynamoStore>>, stackpro_runtime::ConfigError> {
    let contract = stackpro_runtime::load_contract(CONTRACT)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let table = |name| {
        Ok::<_, stackpro_runtime::ConfigError>(stackpro_runtime::Table::new(
            dynamodb.clone(),
            config.table(name)?,
        ))
    };
    let store = DynamoStore {
        datasets: table("datasets")?,
        records: table("records")?,
    };
    let bucket = Bucket::new(aws_sdk_s3::Client::new(sdk), config.bucket("export")?);
    let runtime = stackpro_runtime::Runtime::init(config, sdk).await;
    stackpro_runtime::Service::new(
        Arc::new(runtime),
        Arc::new(Datalake::new(store, bucket)),
        contract,
    )
}

/// A dataset as listings show it: without its schema.
fn summary(d: &Dataset) -> Value {
    let mut v = to_value(d);
    v.as_object_mut().map(|m| m.remove("schema"));
    v
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn answer(e: StoreError) -> ApiError {
    e.answer("the datalake store")
}
