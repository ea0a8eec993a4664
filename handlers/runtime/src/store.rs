//! DynamoDB for capabilities: one tenant-partitioned table per purpose, and the few
//! operations every capability's store is made of.
//!
//! Every item's partition key is `TENANT#<tenant>` (the tenant always comes from the
//! caller's token, so no call can cross tenants); sort keys are `<KIND>#<id>...` and
//! ids are UUID v7, so a prefix query lists a kind in creation order. [`Table`] gives:
//! get, prefix queries with keyset cursors (the last id seen), range queries with
//! opaque cursors bound to their listing,
//! transactions that retry collisions and recognise their own lost answers, the
//! idempotency record written in the same transaction as the resource, and the health
//! read. [`StoreError`] is what a store call can fail with, and [`StoreError::answer`]
//! the one mapping of it to what a client gets.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use base64::Engine;

use crate::error::ApiError;
use crate::idempotency::{IdempotencyWrite, StoredResponse};
use crate::Failure;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store did not answer (or answered garbage): degrade.
    Unavailable(String),
    /// The store throttled us, or transactions kept colliding: retry later.
    Busy(String),
    /// A condition of the write failed that means the named thing does not exist.
    NotFound(String),
    /// A condition of the write failed that means a conflicting write won.
    Conflict(String),
    /// Another request already holds this idempotency key.
    KeyTaken,
    /// A condition of the write that encodes a limit failed (a quota): the limit's name.
    Limit(String),
    /// A cursor that does not belong to this listing.
    BadCursor,
    /// Anything else (a bug, a permission): logged, answered 500.
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl StoreError {
    /// What a client gets for this failure; `store` names the store in messages
    /// ("the message store").
    pub fn answer(self, store: &str) -> ApiError {
        match self {
            StoreError::Unavailable(cause) => {
                tracing::warn!("store unavailable: {cause}");
                ApiError::unavailable(format!("{store} is unavailable; retry later"))
            }
            StoreError::Busy(cause) => {
                tracing::warn!("store busy: {cause}");
                ApiError::rate_limited(format!("{store} is busy; retry shortly"))
            }
            StoreError::NotFound(what) => ApiError::not_found(format!("no such {what}")),
            StoreError::Conflict(why) => ApiError::conflict(why),
            StoreError::KeyTaken => ApiError::conflict("this Idempotency-Key is in use"),
            StoreError::Limit(limit) => ApiError::rate_limited(format!("over the {limit} limit")),
            StoreError::BadCursor => ApiError::invalid(
                "cursor",
                "the cursor does not belong to this listing; start again without it",
            ),
            StoreError::Other(cause) => {
                tracing::error!("store call failed: {cause}");
                ApiError::internal()
            }
        }
    }
}

/// Classifies an SDK error of a DynamoDB call.
pub fn fail<E, R>(op: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = format!("{op}: {}", crate::describe_sdk_error(&e));
    match crate::classify(&e) {
        Failure::Unreachable => StoreError::Unavailable(text),
        Failure::Throttled => StoreError::Busy(text),
        Failure::Service(code) if code == "ResourceNotFoundException" => {
            StoreError::Unavailable(text)
        }
        Failure::Service(_) => StoreError::Other(text),
    }
}

/// A string attribute.
pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The partition key of a tenant's items.
pub fn pk(tenant: &str) -> AttributeValue {
    AttributeValue::S(format!("TENANT#{tenant}"))
}

/// A string attribute of an item read back.
pub fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Other(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

/// A whole-number attribute of an item read back.
pub fn get_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Other(format!("attribute {name} is not a whole number"))),
        _ => Err(StoreError::Other(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

/// A value stored as one item's `doc` attribute (JSON): capabilities keep their resources
/// as documents and add plain attributes only for what DynamoDB must see (counters
/// updated with `ADD`, TTL, keys).
pub fn doc<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&get_s(item, "doc")?)
        .map_err(|e| StoreError::Other(format!("an item's doc does not parse: {e}")))
}

/// Cursors are the last sort key of a page, base64url-encoded. Only the sort key: the
/// partition always comes from the caller's token, so a cursor cannot cross tenants.
pub fn encode_cursor(sk: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk)
}

/// The sort key of a cursor, if it belongs to the listing of `prefix`.
pub fn decode_cursor(cursor: &str, prefix: &str) -> Result<String, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let sk = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    if sk.starts_with(prefix) && sk.len() > prefix.len() && sk.len() <= 400 {
        Ok(sk)
    } else {
        Err(StoreError::BadCursor)
    }
}

/// One write of a transaction, and what it means when its condition fails.
pub struct Write {
    pub item: TransactWriteItem,
    /// `None`: the item is this very write, already applied by an earlier attempt whose
    /// answer was lost (an SDK retry after a timeout): success, applied once.
    pub on_condition_failed: Option<StoreError>,
}

impl Write {
    /// A put whose condition failing is `error`.
    pub fn put(put: Put, on_condition_failed: Option<StoreError>) -> Write {
        Write {
            item: TransactWriteItem::builder().put(put).build(),
            on_condition_failed,
        }
    }
}

/// Attempts of a transaction that collides with concurrent ones.
const TRANSACTION_ATTEMPTS: u32 = 12;

/// A page of items and the cursor of the next one.
pub struct ItemPage {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

/// One of the capability's tables; the client is built once per instance.
#[derive(Clone)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl AsRef<Table> for Table {
    fn as_ref(&self) -> &Table {
        self
    }
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Table {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    /// A put into this table, keyed for `tenant` at sort key `sk`.
    pub fn put(&self, tenant: &str, sk: &str) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder()
            .table_name(&self.name)
            .item("pk", pk(tenant))
            .item("sk", s(sk))
    }

    /// A put of `value` as the item's `doc` attribute, keyed for `tenant` at `sk`;
    /// append-only unless the caller changes the condition.
    pub fn put_doc<T: serde::Serialize>(
        &self,
        tenant: &str,
        sk: &str,
        value: &T,
    ) -> Result<aws_sdk_dynamodb::types::builders::PutBuilder, StoreError> {
        let text = serde_json::to_string(value).map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(self
            .put(tenant, sk)
            .item("doc", s(&text))
            .condition_expression("attribute_not_exists(sk)"))
    }

    /// A consistent read of one item.
    pub async fn get(&self, op: &str, tenant: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", pk(tenant))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail(op, e))?;
        Ok(out.item)
    }

    /// One page of the tenant's items whose sort key starts with `prefix`, in sort order
    /// (`forward`) or reversed, as keyset pages: the cursor is the rest of the last
    /// item's sort key after `prefix` (an id the client has seen), and any well-formed
    /// id is a position: the page starts after it. The contract's pattern checks the
    /// id's form; the partition is the caller's, so no cursor reaches another tenant.
    pub async fn query_after(
        &self,
        tenant: &str,
        prefix: &str,
        limit: i32,
        after: Option<&str>,
        forward: bool,
    ) -> Result<ItemPage, StoreError> {
        let start = after.map(|id| format!("{prefix}{id}"));
        let (items, last) = self
            .query(tenant, prefix, None, limit, start, forward)
            .await?;
        let next_cursor = last.and_then(|sk| sk.strip_prefix(prefix).map(str::to_string));
        Ok(ItemPage { items, next_cursor })
    }

    /// One page of the tenant's items with `prefix` and a sort key between `from` and
    /// `to` (both inclusive, both full sort keys starting with `prefix`).
    pub async fn query_range(
        &self,
        tenant: &str,
        prefix: &str,
        range: (&str, &str),
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<ItemPage, StoreError> {
        let start = cursor.map(|c| decode_cursor(c, prefix)).transpose()?;
        let (items, last) = self
            .query(tenant, prefix, Some(range), limit, start, true)
            .await?;
        let next_cursor = last.map(|sk| encode_cursor(&sk));
        Ok(ItemPage { items, next_cursor })
    }

    /// One page of the query, starting after the sort key `start`; the items and the
    /// sort key the page stopped at, if there may be more.
    async fn query(
        &self,
        tenant: &str,
        prefix: &str,
        range: Option<(&str, &str)>,
        limit: i32,
        start: Option<String>,
        forward: bool,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.name)
            .expression_attribute_values(":pk", pk(tenant))
            .scan_index_forward(forward)
            .limit(limit);
        q = match range {
            None => q
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix)),
            Some((from, to)) => q
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to)),
        };
        if let Some(sk) = start {
            q = q
                .exclusive_start_key("pk", pk(tenant))
                .exclusive_start_key("sk", s(&sk));
        }
        let out = q.send().await.map_err(|e| fail("query", e))?;
        let last = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok((out.items.unwrap_or_default(), last))
    }

    /// The idempotency record `w` as a write of a transaction: it fails with
    /// [`StoreError::KeyTaken`] when another request holds the key.
    pub fn idempotency_write(
        &self,
        tenant: &str,
        w: &IdempotencyWrite,
    ) -> Result<Write, StoreError> {
        let put = self
            .put(tenant, &format!("IDEMPOTENCY#{}", w.key))
            .item("fingerprint", s(&w.response.fingerprint))
            .item("status", n(w.response.status))
            .item("body", s(&w.response.body))
            .item("expires_at", n(w.expires_at))
            // A record past its TTL that DynamoDB has not deleted yet may be reused.
            .condition_expression("attribute_not_exists(sk) OR expires_at < :now")
            .expression_attribute_values(":now", n(crate::idempotency::now_epoch_seconds()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(Write::put(put, Some(StoreError::KeyTaken)))
    }

    /// The live idempotency record of `key`, if any (an expired one is none: DynamoDB's
    /// TTL deletes lazily).
    pub async fn idempotency_record(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let Some(item) = self
            .get(
                "get idempotency record",
                tenant,
                &format!("IDEMPOTENCY#{key}"),
            )
            .await?
        else {
            return Ok(None);
        };
        if get_n(&item, "expires_at")? < crate::idempotency::now_epoch_seconds() {
            return Ok(None);
        }
        Ok(Some(StoredResponse {
            fingerprint: get_s(&item, "fingerprint")?,
            status: get_n(&item, "status")? as u16,
            body: get_s(&item, "body")?,
        }))
    }

    /// A cheap read that proves the table answers (health).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key("pk", s("HEALTH"))
            .key("sk", s("HEALTH"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("health read", e))
    }

    /// Runs a transaction, retrying collisions with concurrent transactions. `token`
    /// (the new item's UUID) makes retries idempotent on DynamoDB itself.
    pub async fn transact(
        &self,
        op: &str,
        token: &str,
        writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        let items: Vec<TransactWriteItem> = writes.iter().map(|w| w.item.clone()).collect();
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
            let canceled = err.as_service_error().and_then(|se| match se {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                    Some(c.cancellation_reasons().to_vec())
                }
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
                    if let Some(i) = list
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        return match writes.get(i).map(|w| &w.on_condition_failed) {
                            Some(None) => Ok(()),
                            Some(Some(e)) => Err(e.clone()),
                            None => Err(StoreError::Other(format!("{op}: condition {i} failed"))),
                        };
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

    #[test]
    fn failures_answer_with_the_envelope_codes() {
        let status = |e: StoreError| e.answer("the store").status;
        assert_eq!(status(StoreError::Unavailable("x".into())), 503);
        assert_eq!(status(StoreError::Busy("x".into())), 429);
        assert_eq!(status(StoreError::NotFound("thread".into())), 404);
        assert_eq!(status(StoreError::Conflict("x".into())), 409);
        assert_eq!(status(StoreError::KeyTaken), 409);
        assert_eq!(status(StoreError::Limit("requests per minute".into())), 429);
        assert_eq!(status(StoreError::BadCursor), 400);
        assert_eq!(status(StoreError::Other("x".into())), 500);
    }
}
