//! Where datasets and records live: the [`Store`] trait the handler is written against,
//! and [`DynamoStore`], the implementation that ships, over two tenant-partitioned
//! tables (`capability.yaml`):
//!
//! | table | item | sk | attributes |
//! |---|---|---|---|
//! | datasets | dataset | `DATASET#<id>` | name, schema (JSON), retention_days, record_count, created_by, created_at |
//! | datasets | idempotency record | `IDEMPOTENCY#<key>` | fingerprint, status, body, expires_at (TTL) |
//! | records | chunk of a batch | `REC#<dataset>#<ingested ms, 13 digits>#<batch>#<seq>` | batch_id, first_index, records (JSON), expires_at (TTL) |
//!
//! A batch is one transaction: its chunks (each new, never overwritten), the dataset's
//! `record_count` (conditional on the dataset existing) and the idempotency record, so
//! it is stored all or nothing, and counted once.

use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use serde_json::Value;
use stackpro_runtime::store::{get_n, get_s, n, pk, s, Item, ItemPage, Table, Write};
use stackpro_runtime::{IdempotencyWrite, StoreError, StoredResponse};

use crate::model::{Chunk, Dataset, Page};

/// The operations the datalake handler needs, per tenant.
pub trait Store: Send + Sync + 'static {
    fn create_dataset(
        &self,
        tenant: &str,
        dataset: &Dataset,
        idempotency: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_dataset(
        &self,
        tenant: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Dataset>, StoreError>> + Send;

    fn list_datasets(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Dataset>, StoreError>> + Send;

    /// Stores a batch; [`StoreError::NotFound`] when the dataset is gone.
    fn ingest(
        &self,
        tenant: &str,
        dataset: &Dataset,
        chunks: &[Chunk],
        idempotency: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` chunks with a sort key between `from` and `to` (inclusive), after
    /// the chunk `after` (a cursor of this listing); with the cursor of the next ones.
    fn chunks(
        &self,
        tenant: &str,
        dataset_id: &str,
        range: (&str, &str),
        limit: i32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(Vec<(String, Chunk)>, Option<String>), StoreError>> + Send;

    fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredResponse>, StoreError>> + Send;

    /// A cheap read that proves the store answers (health).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `REC#<dataset>#`: the prefix of a dataset's chunks.
pub fn chunk_prefix(dataset_id: &str) -> String {
    format!("REC#{dataset_id}#")
}

/// The sort key of a chunk; times sort as 13-digit epoch milliseconds.
pub fn chunk_sk(dataset_id: &str, c: &Chunk) -> String {
    format!(
        "{}{:013}#{}#{:03}",
        chunk_prefix(dataset_id),
        c.ingested_at_ms.max(0),
        c.batch_id,
        c.seq
    )
}

/// The sort-key range of the chunks ingested from `from_ms` to `to_ms`, inclusive.
pub fn time_range(dataset_id: &str, from_ms: i64, to_ms: i64) -> (String, String) {
    let p = chunk_prefix(dataset_id);
    (
        format!("{p}{:013}", from_ms.max(0)),
        format!("{p}{:013}#~", to_ms.max(0)),
    )
}

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    datasets: Table,
    records: Table,
}

fn dataset_sk(id: &str) -> String {
    format!("DATASET#{id}")
}

fn dataset_missing() -> StoreError {
    StoreError::NotFound("dataset".into())
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(e.to_string()))
}

fn json(item: &Item, name: &str) -> Result<Value, StoreError> {
    serde_json::from_str(&get_s(item, name)?)
        .map_err(|e| StoreError::Other(format!("attribute {name} is not JSON: {e}")))
}

fn dataset_from(item: &Item) -> Result<Dataset, StoreError> {
    Ok(Dataset {
        id: get_s(item, "id")?,
        name: get_s(item, "name")?,
        schema: json(item, "schema")?,
        retention_days: get_n(item, "retention_days")?.max(1) as u32,
        record_count: get_n(item, "record_count")?.max(0) as u64,
        created_by: get_s(item, "created_by")?,
        created_at: get_s(item, "created_at")?,
    })
}

fn chunk_from(item: &Item) -> Result<(String, Chunk), StoreError> {
    let records = match json(item, "records")? {
        Value::Array(a) => a,
        _ => return Err(StoreError::Other("a chunk's records are not a list".into())),
    };
    Ok((
        get_s(item, "sk")?,
        Chunk {
            batch_id: get_s(item, "batch_id")?,
            ingested_at_ms: get_n(item, "ingested_at_ms")?,
            seq: get_n(item, "seq")?.max(0) as usize,
            first_index: get_n(item, "first_index")?.max(0) as usize,
            records,
        },
    ))
}

impl DynamoStore {
    pub fn new(datasets: Table, records: Table) -> Self {
        DynamoStore { datasets, records }
    }
}

impl Store for DynamoStore {
    async fn create_dataset(
        &self,
        tenant: &str,
        d: &Dataset,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let put = built(
            self.datasets
                .put(tenant, &dataset_sk(&d.id))
                .item("id", s(&d.id))
                .item("name", s(&d.name))
                .item("schema", s(&d.schema.to_string()))
                .item("retention_days", n(d.retention_days))
                .item("record_count", n(d.record_count))
                .item("created_by", s(&d.created_by))
                .item("created_at", s(&d.created_at))
                .condition_expression("attribute_not_exists(sk)")
                .build(),
        )?;
        // The dataset's id is a fresh UUID: if it exists, it is this write.
        let mut writes = vec![Write::put(put, None)];
        if let Some(w) = idempotency {
            writes.push(self.datasets.idempotency_write(tenant, w)?);
        }
        self.datasets
            .transact("create dataset", &d.id, writes)
            .await
    }

    async fn get_dataset(&self, tenant: &str, id: &str) -> Result<Option<Dataset>, StoreError> {
        self.datasets
            .get("get dataset", tenant, &dataset_sk(id))
            .await?
            .as_ref()
            .map(dataset_from)
            .transpose()
    }

    async fn list_datasets(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Dataset>, StoreError> {
        // Newest first: UUID v7 ids sort by creation time.
        let ItemPage { items, next_cursor } = self
            .datasets
            .query_prefix(tenant, "DATASET#", limit, cursor, false)
            .await?;
        Ok(Page {
            items: items.iter().map(dataset_from).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn ingest(
        &self,
        tenant: &str,
        dataset: &Dataset,
        chunks: &[Chunk],
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let count: usize = chunks.iter().map(|c| c.records.len()).sum();
        let update = built(
            Update::builder()
                .table_name(self.datasets.name())
                .key("pk", pk(tenant))
                .key("sk", s(&dataset_sk(&dataset.id)))
                .update_expression("ADD record_count :n")
                .condition_expression("attribute_exists(sk)")
                .expression_attribute_values(":n", n(count))
                .build(),
        )?;
        let mut writes = vec![Write {
            item: TransactWriteItem::builder().update(update).build(),
            on_condition_failed: Some(dataset_missing()),
        }];
        let expires_at = chunks.first().map_or(0, |c| c.ingested_at_ms / 1000)
            + i64::from(dataset.retention_days) * 86_400;
        for c in chunks {
            let put = built(
                self.records
                    .put(tenant, &chunk_sk(&dataset.id, c))
                    .item("batch_id", s(&c.batch_id))
                    .item("ingested_at_ms", n(c.ingested_at_ms))
                    .item("seq", n(c.seq))
                    .item("first_index", n(c.first_index))
                    .item("records", s(&Value::Array(c.records.clone()).to_string()))
                    .item("expires_at", n(expires_at))
                    // Append-only; a fresh batch id: if it exists, it is this write.
                    .condition_expression("attribute_not_exists(sk)")
                    .build(),
            )?;
            writes.push(Write::put(put, None));
        }
        if let Some(w) = idempotency {
            writes.push(self.datasets.idempotency_write(tenant, w)?);
        }
        let token = chunks.first().map_or("", |c| c.batch_id.as_str());
        self.datasets.transact("ingest batch", token, writes).await
    }

    async fn chunks(
        &self,
        tenant: &str,
        dataset_id: &str,
        range: (&str, &str),
        limit: i32,
        after: Option<&str>,
    ) -> Result<(Vec<(String, Chunk)>, Option<String>), StoreError> {
        let ItemPage { items, next_cursor } = self
            .records
            .query_range(tenant, &chunk_prefix(dataset_id), range, limit, after)
            .await?;
        let now = stackpro_runtime::idempotency::now_epoch_seconds();
        // DynamoDB's TTL deletes lazily: an expired chunk is already gone for readers.
        let live = items
            .iter()
            .filter(|i| get_n(i, "expires_at").map_or(true, |t| t >= now))
            .map(chunk_from)
            .collect::<Result<_, _>>()?;
        Ok((live, next_cursor))
    }

    async fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        self.datasets.idempotency_record(tenant, key).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.datasets.ping().await
    }
}
