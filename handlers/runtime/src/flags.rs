//! Feature flags: `is_enabled(key, tenant)` and `variant(key, tenant)`.
//!
//! Sources, first match wins: the tenant's override
//! `/stackpro/<env>/flags/tenants/<tenant>/<KEY>`, the environment-wide
//! `/stackpro/<env>/flags/<KEY>` (both read by one paginated GetParametersByPath of
//! `/stackpro/<env>/flags/`, cached for the TTL), then the defaults the stack passes as
//! environment variables. When the flag store fails the defaults answer and a warning
//! is logged: a flag lookup never fails a request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub use stackpro_conventions::flags::prefix;

/// How long a failed load is remembered before the store is asked again, so an
/// unreachable store costs one attempt per window, not one per request.
const FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// Flag values by key, global and per tenant, as read from the store at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagSet {
    global: BTreeMap<String, String>,
    tenants: BTreeMap<String, BTreeMap<String, String>>,
}

impl FlagSet {
    /// Parses parameter names relative to the flags path: `KEY` or `tenants/<t>/KEY`.
    pub fn from_parameters<'a>(
        flags_path: &str,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        use stackpro_conventions::ssm::{parse_flag, FlagParameter};
        let mut set = FlagSet::default();
        for (name, value) in params {
            match parse_flag(flags_path, name) {
                Some(FlagParameter::Environment { key }) => {
                    set.global.insert(key.to_string(), value.to_string());
                }
                Some(FlagParameter::Tenant { tenant, key }) => {
                    set.tenants
                        .entry(tenant.to_string())
                        .or_default()
                        .insert(key.to_string(), value.to_string());
                }
                None if name.starts_with(flags_path) => tracing::warn!(
                    parameter = name,
                    "ignoring a flag parameter outside the naming convention"
                ),
                None => {}
            }
        }
        set
    }

    fn get(&self, key: &str, tenant: Option<&str>) -> Option<&str> {
        tenant
            .and_then(|t| self.tenants.get(t))
            .and_then(|m| m.get(key))
            .or_else(|| self.global.get(key))
            .map(String::as_str)
    }
}

/// The flags as one request sees them: the store's values over the defaults.
#[derive(Debug, Clone)]
pub struct FlagSnapshot {
    store: Arc<FlagSet>,
    defaults: Arc<BTreeMap<String, String>>,
    /// False when the store could not be read and only defaults answer.
    pub from_store: bool,
}

impl FlagSnapshot {
    pub fn defaults_only(defaults: BTreeMap<String, String>) -> Self {
        FlagSnapshot {
            store: Arc::new(FlagSet::default()),
            defaults: Arc::new(defaults),
            from_store: false,
        }
    }

    /// The raw value of `key` for `tenant`.
    pub fn variant(&self, key: &str, tenant: Option<&str>) -> Option<String> {
        self.store
            .get(key, tenant)
            .or_else(|| self.defaults.get(key).map(String::as_str))
            .map(str::to_string)
    }

    /// `true`/`1`/`on`/`yes` are on; anything else, or an absent flag, is off.
    pub fn is_enabled(&self, key: &str, tenant: Option<&str>) -> bool {
        self.variant(key, tenant)
            .is_some_and(|v| stackpro_conventions::flags::is_on(&v))
    }
}

struct Cached {
    at: Instant,
    valid_for: Duration,
    set: Option<Arc<FlagSet>>,
}

/// The flag reader of one handler instance.
pub struct Flags {
    client: Option<aws_sdk_ssm::Client>,
    path: String,
    ttl: Duration,
    defaults: Arc<BTreeMap<String, String>>,
    cache: Mutex<Option<Cached>>,
}

impl Flags {
    /// `client` None reads the defaults only.
    pub fn new(
        client: Option<aws_sdk_ssm::Client>,
        ssm_prefix: &str,
        ttl: Duration,
        defaults: BTreeMap<String, String>,
    ) -> Self {
        Flags {
            client,
            path: stackpro_conventions::ssm::flags_root(ssm_prefix.trim_end_matches('/')),
            ttl,
            defaults: Arc::new(defaults),
            cache: Mutex::new(None),
        }
    }

    /// The current flags: from the cache while it is fresh, else from the store; the
    /// defaults alone when the store fails.
    pub async fn snapshot(&self) -> FlagSnapshot {
        let mut cache = self.cache.lock().await;
        let fresh = cache.as_ref().is_some_and(|c| c.at.elapsed() < c.valid_for);
        if !fresh {
            let set = match self.load().await {
                Ok(set) => Some(Arc::new(set)),
                Err(message) => {
                    tracing::warn!(path = %self.path, "flag store unavailable, using the defaults from the environment: {message}");
                    None
                }
            };
            let valid_for = if set.is_some() {
                self.ttl
            } else {
                self.ttl.min(FAILURE_BACKOFF)
            };
            *cache = Some(Cached {
                at: Instant::now(),
                valid_for,
                set,
            });
        }
        match cache.as_ref().and_then(|c| c.set.clone()) {
            Some(store) => FlagSnapshot {
                store,
                defaults: self.defaults.clone(),
                from_store: true,
            },
            None => FlagSnapshot {
                store: Arc::new(FlagSet::default()),
                defaults: self.defaults.clone(),
                from_store: false,
            },
        }
    }

    /// `is_enabled(key, tenant)` over a fresh-enough snapshot.
    pub async fn is_enabled(&self, key: &str, tenant: Option<&str>) -> bool {
        self.snapshot().await.is_enabled(key, tenant)
    }

    /// `variant(key, tenant)` over a fresh-enough snapshot.
    pub async fn variant(&self, key: &str, tenant: Option<&str>) -> Option<String> {
        self.snapshot().await.variant(key, tenant)
    }

    async fn load(&self) -> Result<FlagSet, String> {
        let Some(client) = &self.client else {
            return Ok(FlagSet::default());
        };
        let mut names = Vec::new();
        let mut pages = client
            .get_parameters_by_path()
            .path(&self.path)
            .recursive(true)
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::describe_sdk_error(&e))?;
            for p in page.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (p.name, p.value) {
                    names.push((name, value));
                }
            }
        }
        Ok(FlagSet::from_parameters(
            &self.path,
            names.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(params: &[(&str, &str)], defaults: &[(&str, &str)]) -> FlagSnapshot {
        FlagSnapshot {
            store: Arc::new(FlagSet::from_parameters(
                "/stackpro/local/flags",
                params.iter().copied(),
            )),
            defaults: Arc::new(
                defaults
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            from_store: true,
        }
    }

    #[test]
    fn tenant_override_then_global_then_default() {
        let s = snapshot(
            &[
                ("/stackpro/local/flags/CAP_MESSAGING_VERSION", "v2"),
                (
                    "/stackpro/local/flags/tenants/acme/CAP_MESSAGING_VERSION",
                    "v3",
                ),
                (
                    "/stackpro/local/flags/tenants/acme/CAP_MESSAGING_ENABLED",
                    "false",
                ),
            ],
            &[
                ("CAP_MESSAGING_ENABLED", "true"),
                ("CAP_MESSAGING_DEGRADED", "false"),
            ],
        );
        assert_eq!(
            s.variant("CAP_MESSAGING_VERSION", Some("acme")).as_deref(),
            Some("v3")
        );
        assert_eq!(
            s.variant("CAP_MESSAGING_VERSION", Some("globex"))
                .as_deref(),
            Some("v2")
        );
        assert_eq!(
            s.variant("CAP_MESSAGING_VERSION", None).as_deref(),
            Some("v2")
        );
        assert!(!s.is_enabled("CAP_MESSAGING_ENABLED", Some("acme")));
        assert!(s.is_enabled("CAP_MESSAGING_ENABLED", Some("globex")));
        assert!(!s.is_enabled("CAP_MESSAGING_DEGRADED", None));
        assert!(!s.is_enabled("CAP_UNKNOWN_ENABLED", None));
    }

    #[test]
    fn names_outside_the_convention_are_ignored() {
        let set = FlagSet::from_parameters(
            "/stackpro/local/flags",
            [
                ("/stackpro/local/flags/a/b", "x"),
                ("/stackpro/other/flags/CAP_X_ENABLED", "true"),
            ],
        );
        assert_eq!(set, FlagSet::default());
    }

    #[tokio::test]
    async fn without_a_store_the_defaults_answer() {
        let flags = Flags::new(
            None,
            "/stackpro/local",
            Duration::from_secs(60),
            [("CAP_MESSAGING_ENABLED".to_string(), "true".to_string())].into(),
        );
        assert!(
            flags
                .is_enabled("CAP_MESSAGING_ENABLED", Some("acme"))
                .await
        );
        assert_eq!(flags.variant("CAP_MESSAGING_VERSION", None).await, None);
    }
}
