//! Finding another capability's API: `CAP_<X>_BASE_URL`, then the SSM parameter
//! `/stackpro/<env>/capabilities/<x>/base-url` its stack writes (cached for the TTL),
//! then `/api` (same-origin, behind a shared domain).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Where a capability's URL comes from when nothing else answers.
pub const FALLBACK_URL: &str = "/api";

pub struct Discovery {
    client: Option<aws_sdk_ssm::Client>,
    ssm_prefix: String,
    ttl: Duration,
    overrides: BTreeMap<String, String>,
    cache: Mutex<HashMap<String, (Instant, String)>>,
}

impl Discovery {
    /// `overrides` are the `CAP_*` environment variables.
    pub fn new(
        client: Option<aws_sdk_ssm::Client>,
        ssm_prefix: &str,
        ttl: Duration,
        overrides: BTreeMap<String, String>,
    ) -> Self {
        Discovery {
            client,
            ssm_prefix: ssm_prefix.trim_end_matches('/').to_string(),
            ttl,
            overrides,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The base URL of `capability`; never fails (the fallback is `/api`).
    pub async fn resolve_capability_url(&self, capability: &str) -> String {
        let key = stackpro_conventions::flags::flag_name(
            capability,
            stackpro_conventions::flags::BASE_URL,
        );
        if let Some(url) = self.overrides.get(&key).filter(|u| !u.is_empty()) {
            return url.clone();
        }
        if let Some((at, url)) = self.cache.lock().await.get(capability) {
            if at.elapsed() < self.ttl {
                return url.clone();
            }
        }
        let Some(client) = &self.client else {
            return FALLBACK_URL.to_string();
        };
        let name = stackpro_conventions::ssm::base_url(&self.ssm_prefix, capability);
        match client.get_parameter().name(&name).send().await {
            Ok(out) => match out.parameter.and_then(|p| p.value) {
                Some(url) => {
                    self.cache
                        .lock()
                        .await
                        .insert(capability.to_string(), (Instant::now(), url.clone()));
                    url
                }
                None => FALLBACK_URL.to_string(),
            },
            Err(e) => {
                tracing::warn!(parameter = %name, "capability URL not discovered, using {FALLBACK_URL}: {}", crate::describe_sdk_error(&e));
                FALLBACK_URL.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn environment_override_then_fallback() {
        let d = Discovery::new(
            None,
            "/stackpro/local",
            Duration::from_secs(60),
            [(
                "CAP_BILLING_BASE_URL".to_string(),
                "http://127.0.0.1:9001".to_string(),
            )]
            .into(),
        );
        assert_eq!(
            d.resolve_capability_url("billing").await,
            "http://127.0.0.1:9001"
        );
        assert_eq!(d.resolve_capability_url("ai").await, "/api");
    }
}
