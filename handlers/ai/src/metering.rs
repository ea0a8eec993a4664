//! Metering into billing: every completed request's usage is an outbox entry written in
//! the request's own settlement ([`crate::store::Settlement`]), delivered to billing's
//! `POST /v1/usage` right after (capability to capability: the URL from discovery, a
//! service token), and removed once billing has taken it. Billing deduplicates on the
//! request id (sent as the `Idempotency-Key` too), so a delivery repeated after a lost
//! answer is never counted twice.
//!
//! When billing is disabled, degraded or unreachable the entry stays in the outbox, and
//! deliveries pause for the discovery TTL rather than hold every request for the
//! timeout; the next request after the pause delivers its own usage and sweeps the
//! entries that waited, oldest first.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stackpro_runtime::outbox::Entry;
use stackpro_runtime::peer::{CallError, Peer};
use stackpro_runtime::Runtime;
use tokio::sync::Mutex;

use crate::model::RequestRecord;
use crate::store::Store;

/// The capability usage is metered into, and its route.
pub const BILLING: &str = "billing";
pub const USAGE_PATH: &str = "/v1/usage";
/// Entries one sweep delivers at most.
pub const SWEEP_BATCH: i32 = 25;

/// Billing's usage record for a completed request (its contract, `POST /v1/usage`).
pub fn usage_body(record: &RequestRecord) -> Value {
    json!({
        "request_id": record.id,
        "capability": "ai",
        "metric": "tokens",
        "quantity": record.usage.total_tokens,
        "dimensions": {
            "model": record.model,
            "model_id": record.model_id,
            "input_tokens": record.usage.input_tokens,
            "output_tokens": record.usage.output_tokens,
        },
        "occurred_at": record.completed_at.clone().unwrap_or_else(|| record.created_at.clone()),
    })
}

/// What a sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub delivered: usize,
    pub waiting: usize,
}

/// Delivery state of one instance.
pub struct Metering {
    peer: Peer,
    /// How long deliveries pause after a failure, and how often the outbox is swept.
    interval: Duration,
    paused_until: Mutex<Option<Instant>>,
    last_sweep: Mutex<Option<Instant>>,
}

impl Metering {
    pub fn new(timeout: Duration, interval: Duration) -> Self {
        Metering {
            peer: Peer::new(timeout),
            interval,
            paused_until: Mutex::new(None),
            last_sweep: Mutex::new(None),
        }
    }

    /// Sends one entry to billing; Ok when billing has it (now or before).
    pub async fn deliver(&self, rt: &Runtime, entry: &Entry) -> Result<(), CallError> {
        let base = rt.discovery.resolve_capability_url(&entry.target).await;
        let token = rt
            .auth
            .service_token(&entry.tenant, &entry.target)
            .await
            .map_err(|e| CallError::Unreachable(format!("no service token: {}", e.message)))?;
        let sent = self
            .peer
            .post(
                &entry.target,
                &base,
                USAGE_PATH,
                &token,
                Some(&entry.id),
                &entry.body,
            )
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Billing already holds a record under this request id.
            Err(CallError::Status(409, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// After a request settled: deliver its entry unless deliveries are paused, then,
    /// once per interval, sweep what waited. Never fails the request.
    pub async fn after_request<S: Store>(&self, rt: &Runtime, store: &S, entry: Option<&Entry>) {
        if self.paused().await {
            return;
        }
        if let Some(entry) = entry {
            if !self.deliver_and_remove(rt, store, entry).await {
                return;
            }
        }
        let due = {
            let mut last = self.last_sweep.lock().await;
            let due = last.is_none_or(|at| at.elapsed() >= self.interval);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            self.sweep(rt, store).await;
        }
    }

    /// Delivers waiting entries oldest first until one fails (billing is down: the rest
    /// would fail too) or none is left of this batch.
    pub async fn sweep<S: Store>(&self, rt: &Runtime, store: &S) -> Swept {
        let pending = match store.outbox_pending(SWEEP_BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("metering: cannot read the outbox: {e}");
                return Swept::default();
            }
        };
        let mut swept = Swept {
            delivered: 0,
            waiting: pending.len(),
        };
        for entry in &pending {
            if !self.deliver_and_remove(rt, store, entry).await {
                break;
            }
            swept.delivered += 1;
            swept.waiting -= 1;
        }
        swept
    }

    async fn deliver_and_remove<S: Store>(&self, rt: &Runtime, store: &S, entry: &Entry) -> bool {
        match self.deliver(rt, entry).await {
            Ok(()) => {
                if let Err(e) = store.outbox_remove(&entry.sk).await {
                    // Delivered: a later sweep sends it again and billing deduplicates.
                    tracing::warn!(request_id = %entry.id, "metering: delivered, but not removed from the outbox: {e}");
                }
                tracing::info!(request_id = %entry.id, target = %entry.target, "usage metered");
                true
            }
            Err(e) => {
                if matches!(e, CallError::Status(400..=499, _)) {
                    // Refused, not down: waiting will not fix it; someone must look.
                    tracing::error!(request_id = %entry.id, target = %entry.target, "usage refused by {}; it waits in the outbox: {e}", entry.target);
                } else {
                    tracing::warn!(request_id = %entry.id, target = %entry.target, "usage waits in the outbox: {e}");
                }
                *self.paused_until.lock().await = Some(Instant::now() + self.interval);
                false
            }
        }
    }

    async fn paused(&self) -> bool {
        self.paused_until
            .lock()
            .await
            .is_some_and(|until| Instant::now() < until)
    }
}
