//! Where threads and messages live: the [`Store`] trait the handler is written against,
//! and [`DynamoStore`], the implementation that ships.
//!
//! One tenant-partitioned table (`capability.yaml`, table `threads`):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | thread | `TENANT#<tenant>` | `THREAD#<thread id>` | title, created_by, created_at, updated_at, message_count |
//! | message | `TENANT#<tenant>` | `MSG#<thread id>#<message id>` | author, body, created_at |
//! | idempotency record | `TENANT#<tenant>` | `IDEMPOTENCY#<key>` | fingerprint, status, body, expires_at (TTL) |
//!
//! Ids are UUID v7, so sort keys order threads and messages by creation time. A message
//! is written in one transaction with its thread's counter and `updated_at` (and the
//! idempotency record when there is a key): the message put is conditional on its key
//! being new (append-only, no overwrite), the thread update on the thread existing.
//! Concurrent posts that collide on the thread item are retried, so none is lost.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use base64::Engine;
use stackpro_runtime::idempotency::StoredResponse;
use stackpro_runtime::Failure;

use crate::model::{Message, Page, Thread};

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store did not answer (or answered garbage): degrade.
    Unavailable(String),
    /// The store throttled us, or transactions kept colliding: retry later.
    Busy(String),
    /// The thread a message was posted to does not exist (for this tenant).
    ThreadNotFound,
    /// Another request already used this idempotency key.
    KeyTaken,
    /// A cursor that does not belong to this listing.
    BadCursor,
    /// Anything else (a bug, a permission): logged, answered 500.
    Other(String),
}

/// An idempotency record to write with a POST.
#[derive(Debug, Clone)]
pub struct IdempotencyWrite {
    pub key: String,
    pub response: StoredResponse,
    /// Epoch seconds after which DynamoDB's TTL may delete it.
    pub expires_at: i64,
}

/// The operations the messaging handler needs, per tenant.
pub trait Store: Send + Sync + 'static {
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

    fn list_messages(
        &self,
        tenant: &str,
        thread_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Message>, StoreError>> + Send;

    fn post_message(
        &self,
        tenant: &str,
        message: &Message,
        idempotency: Option<&IdempotencyWrite>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredResponse>, StoreError>> + Send;

    /// A cheap read that proves the store answers (health).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The DynamoDB store; the client is built once at init.
#[derive(Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Attempts of a transaction that collides with concurrent ones on the thread item.
const TRANSACTION_ATTEMPTS: u32 = 12;

fn pk(tenant: &str) -> AttributeValue {
    AttributeValue::S(format!("TENANT#{tenant}"))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn thread_sk(id: &str) -> String {
    format!("THREAD#{id}")
}

fn message_prefix(thread_id: &str) -> String {
    format!("MSG#{thread_id}#")
}

/// Cursors are the last sort key of a page, base64url-encoded. Only the sort key: the
/// partition always comes from the caller's token, so a cursor cannot cross tenants.
fn encode_cursor(sk: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk)
}

fn decode_cursor(cursor: &str, prefix: &str) -> Result<String, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let sk = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    if sk.starts_with(prefix) && sk.len() > prefix.len() && sk.len() <= 200 {
        Ok(sk)
    } else {
        Err(StoreError::BadCursor)
    }
}

fn fail<E, R>(op: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = format!("{op}: {}", stackpro_runtime::describe_sdk_error(&e));
    match stackpro_runtime::classify(&e) {
        Failure::Unreachable => StoreError::Unavailable(text),
        Failure::Throttled => StoreError::Busy(text),
        Failure::Service(code) if code == "ResourceNotFoundException" => {
            StoreError::Unavailable(text)
        }
        Failure::Service(_) => StoreError::Other(text),
    }
}

type Item = HashMap<String, AttributeValue>;

fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Other(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Other(format!("attribute {name} is not a count"))),
        _ => Err(StoreError::Other(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

fn thread_from(item: &Item) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: get_s(item, "id")?,
        title: get_s(item, "title")?,
        created_by: get_s(item, "created_by")?,
        created_at: get_s(item, "created_at")?,
        updated_at: get_s(item, "updated_at")?,
        message_count: get_n(item, "message_count")?,
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

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn idempotency_put(
        &self,
        tenant: &str,
        w: &IdempotencyWrite,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", pk(tenant))
            .item("sk", s(&format!("IDEMPOTENCY#{}", w.key)))
            .item("fingerprint", s(&w.response.fingerprint))
            .item("status", n(w.response.status))
            .item("body", s(&w.response.body))
            .item("expires_at", n(w.expires_at))
            // A record past its TTL that DynamoDB has not deleted yet may be reused.
            .condition_expression("attribute_not_exists(sk) OR expires_at < :now")
            .expression_attribute_values(":now", n(crate::model::now_epoch_seconds()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction, retrying collisions with concurrent transactions.
    /// `reasons` maps the index of a failed condition to the error it means; None
    /// means the item is this very write, already applied by an earlier attempt whose
    /// answer was lost (an SDK retry after a timeout): success, applied once.
    /// `token` (the new item's UUID) makes retries idempotent on DynamoDB itself.
    async fn transact(
        &self,
        op: &str,
        token: &str,
        items: Vec<TransactWriteItem>,
        reasons: &[Option<StoreError>],
    ) -> Result<(), StoreError> {
        let mut delay = Duration::from_millis(10);
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(token)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let canceled = err
                .as_service_error()
                .and_then(|se| match se {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c.cancellation_reasons().to_vec()),
                    _ => None,
                });
            let conflict_code = err
                .as_service_error()
                .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
                .is_some_and(|c| {
                    c == "TransactionConflictException" || c == "TransactionInProgressException"
                });
            match canceled {
                Some(list) => {
                    for (i, r) in list.iter().enumerate() {
                        if r.code() == Some("ConditionalCheckFailed") {
                            return match reasons.get(i) {
                                Some(None) => Ok(()),
                                Some(Some(e)) => Err(e.clone()),
                                None => {
                                    Err(StoreError::Other(format!("{op}: condition {i} failed")))
                                }
                            };
                        }
                    }
                    let retryable = list.iter().any(|r| {
                        matches!(
                            r.code(),
                            Some(
                                "TransactionConflict"
                                    | "ThrottlingError"
                                    | "ProvisionedThroughputExceeded"
                            )
                        )
                    });
                    if !retryable {
                        return Err(StoreError::Other(format!(
                            "{op}: transaction cancelled: {:?}",
                            list.iter()
                                .map(|r| r.code().unwrap_or("None"))
                                .collect::<Vec<_>>()
                        )));
                    }
                }
                None if conflict_code => {}
                None => return Err(fail(op, err)),
            }
            if attempt < TRANSACTION_ATTEMPTS {
                // Jittered exponential backoff, capped.
                let jitter = uuid::Uuid::new_v4().as_u128() as u64 % (delay.as_millis() as u64 + 1);
                tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                delay = (delay * 2).min(Duration::from_millis(400));
            }
        }
        Err(StoreError::Busy(format!(
            "{op}: still colliding with concurrent writes after {TRANSACTION_ATTEMPTS} attempts"
        )))
    }

    async fn query_page(
        &self,
        tenant: &str,
        prefix: &str,
        limit: i32,
        cursor: Option<&str>,
        forward: bool,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", pk(tenant))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(forward)
            .limit(limit);
        if let Some(c) = cursor {
            let sk = decode_cursor(c, prefix)?;
            q = q
                .exclusive_start_key("pk", pk(tenant))
                .exclusive_start_key("sk", s(&sk));
        }
        let out = q.send().await.map_err(|e| fail("query", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .map(|sk| encode_cursor(sk));
        Ok((out.items.unwrap_or_default(), next))
    }
}

impl Store for DynamoStore {
    async fn list_threads(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Thread>, StoreError> {
        // Newest first: UUID v7 ids sort by creation time.
        let (items, next_cursor) = self
            .query_page(tenant, "THREAD#", limit, cursor, false)
            .await?;
        Ok(Page {
            items: items.iter().map(thread_from).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn get_thread(
        &self,
        tenant: &str,
        thread_id: &str,
    ) -> Result<Option<Thread>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(tenant))
            .key("sk", s(&thread_sk(thread_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("get thread", e))?;
        out.item.as_ref().map(thread_from).transpose()
    }

    async fn create_thread(
        &self,
        tenant: &str,
        t: &Thread,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", pk(tenant))
            .item("sk", s(&thread_sk(&t.id)))
            .item("id", s(&t.id))
            .item("title", s(&t.title))
            .item("created_by", s(&t.created_by))
            .item("created_at", s(&t.created_at))
            .item("updated_at", s(&t.updated_at))
            .item("message_count", n(t.message_count))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        // The thread's id is a fresh UUID: if it exists, it is this write.
        let mut reasons = vec![None];
        if let Some(w) = idempotency {
            items.push(self.idempotency_put(tenant, w)?);
            reasons.push(Some(StoreError::KeyTaken));
        }
        self.transact("create thread", &t.id, items, &reasons).await
    }

    async fn list_messages(
        &self,
        tenant: &str,
        thread_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Message>, StoreError> {
        let prefix = message_prefix(thread_id);
        let (items, next_cursor) = self
            .query_page(tenant, &prefix, limit, cursor, true)
            .await?;
        if items.is_empty()
            && cursor.is_none()
            && self.get_thread(tenant, thread_id).await?.is_none()
        {
            return Err(StoreError::ThreadNotFound);
        }
        Ok(Page {
            items: items.iter().map(message_from).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn post_message(
        &self,
        tenant: &str,
        m: &Message,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", pk(tenant))
            .key("sk", s(&thread_sk(&m.thread_id)))
            .update_expression("SET updated_at = :now ADD message_count :one")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":now", s(&m.created_at))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", pk(tenant))
            .item(
                "sk",
                s(&format!("{}{}", message_prefix(&m.thread_id), m.id)),
            )
            .item("id", s(&m.id))
            .item("thread_id", s(&m.thread_id))
            .item("author", s(&m.author))
            .item("body", s(&m.body))
            .item("created_at", s(&m.created_at))
            // Append-only: a message is never overwritten.
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        // The message's id is a fresh UUID: if it exists, it is this write (and the
        // counter moved with it in the same transaction).
        let mut reasons = vec![Some(StoreError::ThreadNotFound), None];
        if let Some(w) = idempotency {
            items.push(self.idempotency_put(tenant, w)?);
            reasons.push(Some(StoreError::KeyTaken));
        }
        self.transact("post message", &m.id, items, &reasons).await
    }

    async fn get_idempotency(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(tenant))
            .key("sk", s(&format!("IDEMPOTENCY#{key}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("get idempotency record", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let expires_at = get_n(&item, "expires_at")? as i64;
        if expires_at < crate::model::now_epoch_seconds() {
            return Ok(None);
        }
        Ok(Some(StoredResponse {
            fingerprint: get_s(&item, "fingerprint")?,
            status: get_n(&item, "status")? as u16,
            body: get_s(&item, "body")?,
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("HEALTH"))
            .key("sk", s("HEALTH"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("health read", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_stay_in_their_listing() {
        let c = encode_cursor("MSG#abc#def");
        assert_eq!(decode_cursor(&c, "MSG#abc#").unwrap(), "MSG#abc#def");
        assert_eq!(decode_cursor(&c, "MSG#xyz#"), Err(StoreError::BadCursor));
        assert_eq!(decode_cursor(&c, "THREAD#"), Err(StoreError::BadCursor));
        assert_eq!(decode_cursor("%%%", "THREAD#"), Err(StoreError::BadCursor));
        assert_eq!(
            decode_cursor(&encode_cursor("THREAD#"), "THREAD#"),
            Err(StoreError::BadCursor)
        );
    }
}
