//! The transactional outbox: a message for another capability is written in the same
//! DynamoDB transaction as the change it reports ([`Table::outbox_write`]), delivered
//! after the change commits, and removed only once the other side has taken it
//! ([`Table::outbox_remove`]). A delivery that fails leaves the entry where the next
//! sweep ([`Table::outbox_pending`]) finds it, oldest first; so a message is never lost,
//! and the receiver makes a repeat harmless by deduplicating on the entry's id.
//!
//! Entries share the capability's home table in one partition, `pk = OUTBOX`, sorted
//! by `sk = <13-digit ms>#<id>`; tenants' items are `TENANT#...`, so no tenant reads them.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::store::{fail, get_n, get_s, n, s, StoreError, Table, Write};

/// The partition every outbox entry lives in.
pub const PARTITION: &str = "OUTBOX";

/// One message waiting for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its place in the outbox (`<ms>#<id>`), what [`Table::outbox_remove`] takes.
    pub sk: String,
    /// The receiver deduplicates on it (the request id of the usage it reports).
    pub id: String,
    pub tenant: String,
    /// The capability it is for.
    pub target: String,
    pub body: Value,
    /// When it was written, epoch milliseconds.
    pub created_ms: i64,
}

impl Entry {
    /// A message for `target` about `tenant`, written now; `id` is unique per message.
    pub fn new(tenant: &str, id: &str, target: &str, body: Value) -> Self {
        let created_ms = crate::time::now_millis();
        Entry {
            sk: format!("{created_ms:013}#{id}"),
            id: id.to_string(),
            tenant: tenant.to_string(),
            target: target.to_string(),
            body,
            created_ms,
        }
    }
}

impl Table {
    /// The outbox entry as a write of the transaction that makes the change it reports.
    pub fn outbox_write(&self, e: &Entry) -> Result<Write, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.name())
            .item("pk", s(PARTITION))
            .item("sk", s(&e.sk))
            .item("id", s(&e.id))
            .item("tenant", s(&e.tenant))
            .item("target", s(&e.target))
            .item("body", s(&e.body.to_string()))
            .item("created_ms", n(e.created_ms))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(Write::put(put, None))
    }

    /// Up to `limit` entries waiting, oldest first.
    pub async fn outbox_pending(&self, limit: i32) -> Result<Vec<Entry>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.name())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(PARTITION))
            .limit(limit.max(1))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fail("read the outbox", e))?;
        out.items()
            .iter()
            .map(|item| {
                let body = get_s(item, "body")?;
                Ok(Entry {
                    sk: get_s(item, "sk")?,
                    id: get_s(item, "id")?,
                    tenant: get_s(item, "tenant")?,
                    target: get_s(item, "target")?,
                    body: serde_json::from_str(&body)
                        .map_err(|e| StoreError::Other(format!("outbox entry body: {e}")))?,
                    created_ms: get_n(item, "created_ms")?,
                })
            })
            .collect()
    }

    /// Removes a delivered entry (removing one already gone is not an error).
    pub async fn outbox_remove(&self, sk: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.name())
            .key("pk", s(PARTITION))
            .key("sk", AttributeValue::S(sk.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail("remove a delivered outbox entry", e))
    }
}
