//! Where datasets and records live: the [`Store`] trait the handler is written against,
//! and [`DynamoStore`], the implementation that ships, over two tenant-partitioned
//! tables (`capability.yaml`), resources kept as documents (`doc`):
//!
//! | table | item | sk | attributes |
//! |---|---|---|---|
//! | datasets | dataset | `DATASET#<id>` | doc, record_count |
//! | datasets | idempotency record | `IDEMPOTENCY#<key>` | fingerprint, status, body, expires_at (TTL) |
//! | records | chunk of a batch | `REC#<dataset>#<ingested ms, 13 digits>#<batch>#<seq>` | doc, expires_at (TTL) |
//!
//! A batch is one transaction: its chunks (each new, never overwritten), the dataset's
//! `record_count` (conditional on the dataset existing) and the idempotency record, so
//! it is stored all or nothing, and counted once.

use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use stackpro_runtime::store::{doc, get_n, n, pk, s, Item, ItemPage, Table, Write};
use stackpro_runtime::{IdempotencyWrite, StateStore, StoreError};

use crate::model::{Chunk, Dataset, Page};

/// Chunks with their sort keys, and the cursor of the next ones.
pub type ChunkPage = (Vec<(String, Chunk)>, Option<String>);

/// The operations the datalake handler needs, per tenant.
pub trait Store: StateStore {
    fn create_dataset(
        &self,
        tenant: &str,
        d: &Dataset,
        key: Option<&IdempotencyWrite>,
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
        d: &Dataset,
        chunks: &[Chunk],
        key: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Up to `limit` chunks with a sort key in `range` (inclusive), after the cursor `after`.
    fn chunks(
        &self,
        tenant: &str,
        dataset_id: &str,
        range: (&str, &str),
        limit: i32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<ChunkPage, StoreError>> + Send;
}

pub fn chunk_prefix(dataset_id: &str) -> String {
    format!("REC#{dataset_id}#")
}

/// The sort-key range of the chunks ingested from `from_ms` to `to_ms`, inclusive; times
/// sort as 13-digit epoch milliseconds.
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
    pub datasets: Table,
    pub records: Table,
}

fn dataset_sk(id: &str) -> String {
    format!("DATASET#{id}")
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(e.to_string()))
}

/// The dataset document with its live counter.
fn dataset_from(item: &Item) -> Result<Dataset, StoreError> {
    let mut d: Dataset = doc(item)?;
    d.record_count = get_n(item, "record_count")?.max(0) as u64;
    Ok(d)
}

impl Store for DynamoStore {
    async fn create_dataset(
        &self,
        tenant: &str,
        d: &Dataset,
        key: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let put = self
            .datasets
            .put_doc(tenant, &dataset_sk(&d.id), d)?
            .item("record_count", n(0));
        // The dataset's id is a fresh UUID: if it exists, it is this write.
        let mut writes = vec![Write::put(built(put.build())?, None)];
        if let Some(w) = key {
            writes.push(self.datasets.idempotency_write(tenant, w)?);
        }
        self.datasets
            .transact("create dataset", &d.id, writes)
            .await
    }

    async fn get_dataset(&self, tenant: &str, id: &str) -> Result<Option<Dataset>, StoreError> {
        let item = self
            .datasets
            .get("get dataset", tenant, &dataset_sk(id))
            .await?;
        item.as_ref().map(dataset_from).transpose()
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
            .query_after(tenant, "DATASET#", limit, cursor, false)
            .await?;
        let items = items.iter().map(dataset_from).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn ingest(
        &self,
        tenant: &str,
        d: &Dataset,
        chunks: &[Chunk],
        key: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let count: usize = chunks.iter().map(|c| c.records.len()).sum();
        let update = Update::builder()
            .table_name(self.datasets.name())
            .key("pk", pk(tenant))
            .key("sk", s(&dataset_sk(&d.id)))
            .update_expression("ADD record_count :n")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":n", n(count));
        let missing = StoreError::NotFound("dataset".into());
        let mut writes = vec![Write {
            item: TransactWriteItem::builder()
                .update(built(update.build())?)
                .build(),
            on_condition_failed: Some(missing),
        }];
        for c in chunks {
            let sk = format!(
                "{}{:013}#{}#{:03}",
                chunk_prefix(&d.id),
                c.ingested_at_ms,
                c.batch_id,
                c.seq
            );
            let expires_at = c.ingested_at_ms / 1000 + i64::from(d.retention_days) * 86_400;
            let put = self
                .records
                .put_doc(tenant, &sk, c)?
                .item("expires_at", n(expires_at));
            // A fresh batch id: if the chunk exists, it is this write.
            writes.push(Write::put(built(put.build())?, None));
        }
        if let Some(w) = key {
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
    ) -> Result<ChunkPage, StoreError> {
        let prefix = chunk_prefix(dataset_id);
        let ItemPage { items, next_cursor } = self
            .records
            .query_range(tenant, &prefix, range, limit, after)
            .await?;
        let now = stackpro_runtime::idempotency::now_epoch_seconds();
        // DynamoDB's TTL deletes lazily: an expired chunk is already gone for readers.
        let live = items
            .iter()
            .filter(|i| get_n(i, "expires_at").is_ok_and(|t| t >= now));
        let chunks = live
            .map(|i| Ok((stackpro_runtime::store::get_s(i, "sk")?, doc(i)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok((chunks, next_cursor))
    }
}

/// Health and idempotency records live in the datasets table.
impl AsRef<Table> for DynamoStore {
    fn as_ref(&self) -> &Table {
        &self.datasets
    }
}
