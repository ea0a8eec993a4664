//! Degraded reads: the last good answer of each read, remembered per instance, so a
//! read can still answer (marked `degraded: true`) while the store is unreachable or
//! the capability is forced into degraded mode.
//!
//! Entries are keyed by tenant, path and query, so one tenant's answers are never
//! another's. The memory is bounded ([`ENTRIES`], oldest out first) and per instance:
//! a cold instance during an outage answers the contract's empty shape, or 503.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

/// Read answers remembered per instance.
pub const ENTRIES: usize = 512;

#[derive(Default)]
struct Entries {
    map: HashMap<String, Value>,
    order: VecDeque<String>,
}

/// The last good answers of an instance's reads.
#[derive(Default)]
pub struct LastGood {
    entries: Mutex<Entries>,
}

impl LastGood {
    /// The key of a read: tenant, path and the query in a stable order.
    pub fn key(
        tenant: Option<&str>,
        path: &str,
        query: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let mut key = format!("{}|{path}", tenant.unwrap_or(""));
        for (k, v) in query {
            key.push_str(&format!("|{k}={v}"));
        }
        key
    }

    pub fn remember(&self, key: String, value: &Value) {
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        if e.map.insert(key.clone(), value.clone()).is_none() {
            e.order.push_back(key);
            while e.order.len() > ENTRIES {
                if let Some(old) = e.order.pop_front() {
                    e.map.remove(&old);
                }
            }
        }
    }

    pub fn recall(&self, key: &str) -> Option<Value> {
        self.entries.lock().ok()?.map.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounded_and_per_tenant() {
        let lg = LastGood::default();
        let q = Default::default();
        lg.remember(LastGood::key(Some("a"), "/v1/x", &q), &json!(1));
        assert_eq!(
            lg.recall(&LastGood::key(Some("a"), "/v1/x", &q)),
            Some(json!(1))
        );
        assert_eq!(lg.recall(&LastGood::key(Some("b"), "/v1/x", &q)), None);
        for i in 0..ENTRIES {
            lg.remember(format!("k{i}"), &json!(i));
        }
        assert_eq!(lg.recall(&LastGood::key(Some("a"), "/v1/x", &q)), None);
        assert_eq!(lg.recall("k0"), Some(json!(0)));
    }
}
