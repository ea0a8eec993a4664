//! Where threads and messages live: the [`Store`] trait the handler is written against,
//! and [`DynamoStore`], the implementation that ships.
//!
//! One tenant-partitioned table (`capability.yaml`, table `threads`), through the
//! runtime's [`Table`]:
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | thread | `TENANT#<tenant>` | `THREAD#<thread id>` | title, created_by, created_at, updated_at, message_count |
//! | message | `TENANT#<tenant>` | `MSG#<thread id>#<message id>` | author, body, created_at |
//! | idempotency record | `TENANT#<tenant>` | `IDEMPOTENCY#<key>` | fingerprint, status, body, expires_at (TTL) |
//!
//! A message is written in one transaction with its thread's counter and `updated_at`
//! (and the idempotency record when there is a key): the message put is conditional on
//! its key being new (append-only, no overwrite), the thread update on the thread
//! existing.

use std::future::Future;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use stackpro_runtime::store::{get_n, get_s, n, pk, s, Item, Table, Write};
use stackpro_runtime::{IdempotencyWrite, StateStore, StoreError};

use crate::model::{Message, Page, Thread};

/// The operations the messaging handler needs, per tenant.
pub trait Store: StateStore {
    fn list_threads(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Thread>, StoreError>> + Send;

    fn get_thread(
        &self,
        tenant: &str,
        thread_id: &str,
    ) -> impl Future<Output = Result<Option<Thread>, StoreError>> + Send;

    fn create_thread(
        &self,
        tenant: &str,
        thread: &Thread,
        idempotency: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// [`StoreError::NotFound`] when the thread does not exist.
    fn list_messages(
        &self,
        tenant: &str,
        thread_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Message>, StoreError>> + Send;

    /// [`StoreError::NotFound`] when the thread does not exist.
    fn post_message(
        &self,
        tenant: &str,
        message: &Message,
        idempotency: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    table: Table,
}

fn thread_sk(id: &str) -> String {
    format!("THREAD#{id}")
}

fn message_prefix(thread_id: &str) -> String {
    format!("MSG#{thread_id}#")
}

fn thread_from(item: &Item) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: get_s(item, "id")?,
        title: get_s(item, "title")?,
        created_by: get_s(item, "created_by")?,
        created_at: get_s(item, "created_at")?,
        updated_at: get_s(item, "updated_at")?,
        message_count: get_n(item, "message_count")?.max(0) as u64,
    })
}

fn message_from(item: &Item) -> Result<Message, StoreError> {
    Ok(Message {
        id: get_s(item, "id")?,
        thread_id: get_s(item, "thread_id")?,
        author: get_s(item, "author")?,
        body: get_s(item, "body")?,
        created_at: get_s(item, "created_at")?,
    })
}

fn thread_missing() -> StoreError {
    StoreError::NotFound("thread".into())
}

impl DynamoStore {
    pub fn new(table: Table) -> Self {
        DynamoStore { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    fn with_record(
        &self,
        tenant: &str,
        mut writes: Vec<Write>,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<Vec<Write>, StoreError> {
        if let Some(w) = idempotency {
            writes.push(self.table.idempotency_write(tenant, w)?);
        }
        Ok(writes)
    }
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(e.to_string()))
}

impl Store for DynamoStore {
    async fn list_threads(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Thread>, StoreError> {
        // Newest first: UUID v7 ids sort by creation time.
        let page = self
            .table
            .query_after(tenant, "THREAD#", limit, cursor, false)
            .await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(thread_from)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn get_thread(
        &self,
        tenant: &str,
        thread_id: &str,
    ) -> Result<Option<Thread>, StoreError> {
        self.table
            .get("get thread", tenant, &thread_sk(thread_id))
            .await?
            .as_ref()
            .map(thread_from)
            .transpose()
    }

    async fn create_thread(
        &self,
        tenant: &str,
        t: &Thread,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let put = built(
            self.table
                .put(tenant, &thread_sk(&t.id))
                .item("id", s(&t.id))
                .item("title", s(&t.title))
                .item("created_by", s(&t.created_by))
                .item("created_at", s(&t.created_at))
                .item("updated_at", s(&t.updated_at))
                .item("message_count", n(t.message_count))
                .condition_expression("attribute_not_exists(sk)")
                .build(),
        )?;
        // The thread's id is a fresh UUID: if it exists, it is this write.
        let writes = self.with_record(tenant, vec![Write::put(put, None)], idempotency)?;
        self.table.transact("create thread", &t.id, writes).await
    }

    async fn list_messages(
        &self,
        tenant: &str,
        thread_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Message>, StoreError> {
        let prefix = message_prefix(thread_id);
        let page = self
            .table
            .query_after(tenant, &prefix, limit, cursor, true)
            .await?;
        if page.items.is_empty() && self.get_thread(tenant, thread_id).await?.is_none() {
            return Err(thread_missing());
        }
        Ok(Page {
            items: page
                .items
                .iter()
                .map(message_from)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn post_message(
        &self,
        tenant: &str,
        m: &Message,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let update = built(
            Update::builder()
                .table_name(self.table.name())
                .key("pk", pk(tenant))
                .key("sk", s(&thread_sk(&m.thread_id)))
                .update_expression("SET updated_at = :now ADD message_count :one")
                .condition_expression("attribute_exists(sk)")
                .expression_attribute_values(":now", s(&m.created_at))
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        let put = built(
            self.table
                .put(tenant, &format!("{}{}", message_prefix(&m.thread_id), m.id))
                .item("id", s(&m.id))
                .item("thread_id", s(&m.thread_id))
                .item("author", s(&m.author))
                .item("body", s(&m.body))
                .item("created_at", s(&m.created_at))
                // Append-only: a message is never overwritten.
                .condition_expression("attribute_not_exists(sk)")
                .build(),
        )?;
        // The message's id is a fresh UUID: if it exists, it is this write (and the
        // counter moved with it in the same transaction).
        let writes = vec![
            Write {
                item: TransactWriteItem::builder().update(update).build(),
                on_condition_failed: Some(thread_missing()),
            },
            Write::put(put, None),
        ];
        let writes = self.with_record(tenant, writes, idempotency)?;
        self.table.transact("post message", &m.id, writes).await
    }
}

/// Health and idempotency records live in the one table.
impl AsRef<Table> for DynamoStore {
    fn as_ref(&self) -> &Table {
        &self.table
    }
}
