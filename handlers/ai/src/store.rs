//! Where requests, answers, quotas and the metering outbox live: the [`Store`] trait the
//! handler is written against and [`DynamoStore`], over the two tenant-partitioned
//! tables of `capability.yaml` (its comments list every item).
//!
//! A request costs two transactions besides the cache read:
//! - **admit**: the minute's request counter (`ADD n`, on condition it is under the
//!   tenant's limit), the day's token counter (`ADD tokens :reserve`, on condition the
//!   reservation fits), the request record (`pending`) and, under an Idempotency-Key,
//!   the in-flight marker: all or nothing, so concurrent requests can never be admitted
//!   past a limit, and a retry racing its original cannot reach the model twice;
//! - **settle**: the record (`completed` or `failed`), the day's counter corrected from
//!   the reservation to what the model used, the cached answer, the idempotency record,
//!   the metering outbox entry, and the in-flight marker removed.

use std::future::Future;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use stackpro_runtime::outbox::Entry;
use stackpro_runtime::store::{doc, get_n, get_s, n, pk, s, Table, Write};
use stackpro_runtime::{IdempotencyWrite, StateStore, StoreError};

use crate::model::{CachedAnswer, Limits, RequestRecord, TenantLimits, Usage, Used};

/// The limit names a failed admission reports ([`StoreError::Limit`]).
pub const PER_MINUTE: &str = "requests per minute";
pub const PER_DAY: &str = "tokens per day";

/// One request's admission: the counters, the record, the in-flight marker.
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub tenant: &'a str,
    pub record: &'a RequestRecord,
    pub limits: Limits,
    pub minute: i64,
    pub day: &'a str,
    /// Tokens held for the request until it settles (its `max_tokens`; 0 for an answer
    /// from the cache).
    pub reserve: u64,
    /// The request's Idempotency-Key, held while the model answers.
    pub in_flight: Option<&'a str>,
    /// Until when the in-flight marker holds the key (epoch seconds).
    pub in_flight_until: i64,
    /// The record's expiry (epoch seconds).
    pub expires_at: i64,
    /// For an answer served at admission (from the cache): its idempotency record.
    pub idempotency: Option<&'a IdempotencyWrite>,
}

/// One request's settlement.
#[derive(Debug, Clone)]
pub struct Settlement<'a> {
    pub tenant: &'a str,
    pub record: &'a RequestRecord,
    pub day: &'a str,
    pub reserved: u64,
    pub expires_at: i64,
    /// The answer to cache under (model id, prompt hash), fresh until, kept until.
    pub cache: Option<(&'a CachedAnswer, i64)>,
    pub idempotency: Option<&'a IdempotencyWrite>,
    pub in_flight: Option<&'a str>,
    /// The usage to meter into billing, written to the outbox.
    pub meter: Option<&'a Entry>,
}

/// The operations the ai handler needs.
pub trait Store: StateStore {
    fn limits(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Option<TenantLimits>, StoreError>> + Send;
    fn put_limits(
        &self,
        tenant: &str,
        limits: &TenantLimits,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn used(
        &self,
        tenant: &str,
        minute: i64,
        day: &str,
    ) -> impl Future<Output = Result<Used, StoreError>> + Send;
    fn cached(
        &self,
        tenant: &str,
        model_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<CachedAnswer>, StoreError>> + Send;
    /// [`StoreError::Limit`] naming [`PER_MINUTE`] or [`PER_DAY`] when over a quota,
    /// [`StoreError::KeyTaken`] when the Idempotency-Key is in flight.
    fn admit(&self, a: &Admission<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn settle(&self, s: &Settlement<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get_request(
        &self,
        tenant: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, StoreError>> + Send;
    fn outbox_pending(
        &self,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;
    fn outbox_remove(&self, sk: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The DynamoDB store.
#[derive(Clone)]
pub struct DynamoStore {
    pub requests: Table,
    pub quotas: Table,
}

const LIMITS: &str = "LIMITS";

fn request_sk(id: &str) -> String {
    format!("REQ#{id}")
}

fn cache_sk(model_id: &str, hash: &str) -> String {
    format!("CACHE#{model_id}#{hash}")
}

fn minute_sk(minute: i64) -> String {
    format!("MINUTE#{minute}")
}

fn day_sk(day: &str) -> String {
    format!("DAY#{day}")
}

fn in_flight_sk(key: &str) -> String {
    format!("INFLIGHT#{key}")
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(e.to_string()))
}

fn update(item: Update, on_condition_failed: Option<StoreError>) -> Write {
    Write {
        item: TransactWriteItem::builder().update(item).build(),
        on_condition_failed,
    }
}

fn now() -> i64 {
    stackpro_runtime::idempotency::now_epoch_seconds()
}

impl DynamoStore {
    fn counter(&self, tenant: &str, sk: &str) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(self.quotas.name())
            .key("pk", pk(tenant))
            .key("sk", s(sk))
    }

    /// The record as a put; `fresh` ones are new (a retry of the same transaction finds
    /// its own), others overwrite the pending record.
    fn record_put(
        &self,
        tenant: &str,
        r: &RequestRecord,
        expires_at: i64,
        fresh: bool,
    ) -> Result<Put, StoreError> {
        let mut put = self
            .requests
            .put_doc(tenant, &request_sk(&r.id), r)?
            .item("expires_at", n(expires_at));
        if !fresh {
            put = put.set_condition_expression(None);
        }
        built(put.build())
    }
}

impl Store for DynamoStore {
    async fn limits(&self, tenant: &str) -> Result<Option<TenantLimits>, StoreError> {
        let Some(item) = self.quotas.get("get quota limits", tenant, LIMITS).await? else {
            return Ok(None);
        };
        Ok(Some(TenantLimits {
            limits: Limits {
                requests_per_minute: get_n(&item, "requests_per_minute")?.max(0) as u64,
                tokens_per_day: get_n(&item, "tokens_per_day")?.max(0) as u64,
            },
            updated_by: get_s(&item, "updated_by")?,
            updated_at: get_s(&item, "updated_at")?,
        }))
    }

    async fn put_limits(&self, tenant: &str, l: &TenantLimits) -> Result<(), StoreError> {
        self.quotas
            .client()
            .put_item()
            .table_name(self.quotas.name())
            .item("pk", pk(tenant))
            .item("sk", s(LIMITS))
            .item("requests_per_minute", n(l.limits.requests_per_minute))
            .item("tokens_per_day", n(l.limits.tokens_per_day))
            .item("updated_by", s(&l.updated_by))
            .item("updated_at", s(&l.updated_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| stackpro_runtime::store::fail("put quota limits", e))
    }

    async fn used(&self, tenant: &str, minute: i64, day: &str) -> Result<Used, StoreError> {
        let (minute, day) = (minute_sk(minute), day_sk(day));
        let minute = self.quotas.get("read the minute's count", tenant, &minute);
        let day = self.quotas.get("read the day's tokens", tenant, &day);
        let (minute, day) = tokio::join!(minute, day);
        let count = |item: Option<stackpro_runtime::store::Item>, name: &str| {
            item.and_then(|i| get_n(&i, name).ok()).unwrap_or(0).max(0) as u64
        };
        Ok(Used {
            requests_this_minute: count(minute?, "n"),
            tokens_today: count(day?, "tokens"),
        })
    }

    async fn cached(
        &self,
        tenant: &str,
        model_id: &str,
        hash: &str,
    ) -> Result<Option<CachedAnswer>, StoreError> {
        let Some(item) = self
            .requests
            .get("read the answer cache", tenant, &cache_sk(model_id, hash))
            .await?
        else {
            return Ok(None);
        };
        // DynamoDB's TTL deletes lazily: an expired entry is already gone for readers.
        if get_n(&item, "expires_at")? < now() {
            return Ok(None);
        }
        Ok(Some(CachedAnswer {
            answer: get_s(&item, "answer")?,
            usage: doc::<Usage>(&item)?,
            fresh_until: get_n(&item, "fresh_until")?,
        }))
    }

    async fn admit(&self, a: &Admission<'_>) -> Result<(), StoreError> {
        let minute = self
            .counter(a.tenant, &minute_sk(a.minute))
            .update_expression("ADD n :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(n) OR n < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(a.limits.requests_per_minute))
            .expression_attribute_values(":exp", n((a.minute + 2) * 60));
        let mut writes = vec![update(
            built(minute.build())?,
            Some(StoreError::Limit(PER_MINUTE.into())),
        )];
        if a.reserve > 0 {
            // The caller refuses a reservation above the whole day's limit first.
            let room = a.limits.tokens_per_day.saturating_sub(a.reserve);
            let day = self
                .counter(a.tenant, &day_sk(a.day))
                .update_expression("ADD tokens :reserve SET expires_at = :exp")
                .condition_expression("attribute_not_exists(tokens) OR tokens <= :room")
                .expression_attribute_values(":reserve", n(a.reserve))
                .expression_attribute_values(":room", n(room))
                .expression_attribute_values(":exp", n(now() + 2 * 86_400));
            writes.push(update(
                built(day.build())?,
                Some(StoreError::Limit(PER_DAY.into())),
            ));
        }
        // A fresh id: if the record exists, this is a retry of the same transaction.
        let record = self.record_put(a.tenant, a.record, a.expires_at, true)?;
        writes.push(Write::put(record, None));
        if let Some(key) = a.in_flight {
            let put = self
                .requests
                .put(a.tenant, &in_flight_sk(key))
                .item("request_id", s(&a.record.id))
                .item("expires_at", n(a.in_flight_until))
                .condition_expression("attribute_not_exists(sk) OR expires_at < :now")
                .expression_attribute_values(":now", n(now()));
            writes.push(Write::put(built(put.build())?, Some(StoreError::KeyTaken)));
        }
        if let Some(w) = a.idempotency {
            writes.push(self.requests.idempotency_write(a.tenant, w)?);
        }
        self.requests
            .transact("admit a request", &a.record.id, writes)
            .await
    }

    async fn settle(&self, st: &Settlement<'_>) -> Result<(), StoreError> {
        let record = self.record_put(st.tenant, st.record, st.expires_at, false)?;
        let mut writes = vec![Write::put(record, None)];
        let delta = st.record.usage.total_tokens as i64 - st.reserved as i64;
        if delta != 0 {
            let day = self
                .counter(st.tenant, &day_sk(st.day))
                .update_expression("ADD tokens :delta")
                .expression_attribute_values(":delta", n(delta));
            writes.push(update(built(day.build())?, None));
        }
        if let Some((answer, keep_until)) = st.cache {
            let put = self
                .requests
                .put_doc(
                    st.tenant,
                    &cache_sk(&st.record.model_id, &st.record.prompt_sha256),
                    &answer.usage,
                )?
                // A newer answer replaces a stale one.
                .set_condition_expression(None)
                .item("answer", s(&answer.answer))
                .item("fresh_until", n(answer.fresh_until))
                .item("expires_at", n(keep_until));
            writes.push(Write::put(built(put.build())?, None));
        }
        if let Some(w) = st.idempotency {
            writes.push(self.requests.idempotency_write(st.tenant, w)?);
        }
        if let Some(key) = st.in_flight {
            let delete = Delete::builder()
                .table_name(self.requests.name())
                .key("pk", pk(st.tenant))
                .key("sk", s(&in_flight_sk(key)));
            writes.push(Write {
                item: TransactWriteItem::builder()
                    .delete(built(delete.build())?)
                    .build(),
                on_condition_failed: None,
            });
        }
        if let Some(entry) = st.meter {
            writes.push(self.requests.outbox_write(entry)?);
        }
        // Not the admission's token: the same token with other items is refused.
        let token = uuid::Uuid::new_v4().to_string();
        self.requests
            .transact("settle a request", &token, writes)
            .await
    }

    async fn get_request(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        let item = self
            .requests
            .get("get request", tenant, &request_sk(id))
            .await?;
        item.as_ref().map(doc).transpose()
    }

    async fn outbox_pending(&self, limit: i32) -> Result<Vec<Entry>, StoreError> {
        self.requests.outbox_pending(limit).await
    }

    async fn outbox_remove(&self, sk: &str) -> Result<(), StoreError> {
        self.requests.outbox_remove(sk).await
    }
}

/// Health and idempotency records live in the requests table.
impl AsRef<Table> for DynamoStore {
    fn as_ref(&self) -> &Table {
        &self.requests
    }
}
