//! The handler's configuration, read once at init from the environment variables the
//! deployed stack sets (`cli/src/render.rs`, `environment_variables`) and the few
//! knobs tests and `stackpro dev` turn.

use std::collections::BTreeMap;
use std::time::Duration;

use stackpro_conventions::{ssm, vars};

/// Everything a handler reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `STACKPRO_ENV`: sandbox, production, local.
    pub env: String,
    /// `STACKPRO_CAPABILITY`: messaging, ...
    pub capability: String,
    /// `STACKPRO_SSM_PREFIX`: `/stackpro/<env>`.
    pub ssm_prefix: String,
    /// `STACKPRO_METRICS_NAMESPACE`: where the dashboards and alarms read.
    pub metrics_namespace: String,
    /// `STACKPRO_JWT_SECRET`: the HS256 secret itself (local development and tests).
    pub jwt_secret: Option<String>,
    /// `STACKPRO_JWT_SECRET_PARAMETER`: the SSM SecureString holding it (AWS).
    pub jwt_secret_parameter: Option<String>,
    /// `STACKPRO_JWT_AUDIENCE`: the `aud` tokens must carry (default `stackpro`).
    pub jwt_audience: String,
    /// `STACKPRO_FLAGS_TTL_SECONDS`: how long flags and discovered URLs are cached (60).
    pub cache_ttl: Duration,
    /// `STACKPRO_MAX_BODY_BYTES`: larger bodies are INVALID_INPUT (65536).
    pub max_body_bytes: usize,
    /// `STACKPRO_IDEMPOTENCY_TTL_SECONDS`: how long an Idempotency-Key is remembered (86400).
    pub idempotency_ttl: Duration,
    /// `STACKPRO_TABLE_<NAME>`: physical table names by logical name.
    pub tables: BTreeMap<String, String>,
    /// `STACKPRO_BUCKET_<NAME>`: physical bucket names by logical name.
    pub buckets: BTreeMap<String, String>,
    /// `CAP_*`: flag defaults (and `CAP_<X>_BASE_URL` discovery overrides).
    pub flag_defaults: BTreeMap<String, String>,
    /// `STACKPRO_SETTING_<NAME>`: the capability's settings by lower-case name.
    pub settings: BTreeMap<String, String>,
}

/// A required variable is missing or a number is malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; the stack template sets it (see `stackpro render`), and `stackpro dev` sets it locally")]
    Missing(&'static str),
    #[error("environment variable {0} is not set; the capability declares this resource in capability.yaml and its stack template sets the variable (see `stackpro render`)")]
    MissingResource(String),
    #[error("{0}")]
    Contract(String),
    #[error("environment variable {name} is `{value}`: {why}; set `settings.<capability>.{setting}` in the environment file (envs/<env>.yaml) or the default in capability.yaml")]
    Setting {
        name: String,
        setting: String,
        value: String,
        why: String,
    },
    #[error("environment variable {name} is `{value}`, expected {expected}")]
    Malformed {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the given variables (tests pass their own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let all: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |name: &'static str| all.get(name).filter(|v| !v.is_empty()).cloned();
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| ConfigError::Malformed {
                    name,
                    value: v,
                    expected: "a whole number",
                }),
            }
        };

        let env = required(vars::ENV)?;
        let capability = required(vars::CAPABILITY)?;
        let ssm_prefix = get(vars::SSM_PREFIX).unwrap_or_else(|| ssm::prefix(&env));
        let tables = all
            .iter()
            .filter_map(|(k, v)| vars::table_of(k).map(|name| (name, v.clone())))
            .collect();
        let buckets = all
            .iter()
            .filter_map(|(k, v)| vars::bucket_of(k).map(|name| (name, v.clone())))
            .collect();
        let flag_defaults = all
            .iter()
            .filter(|(k, _)| k.starts_with("CAP_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let settings = all
            .iter()
            .filter_map(|(k, v)| vars::setting_of(k).map(|name| (name, v.clone())))
            .collect();
        Ok(Config {
            settings,
            metrics_namespace: get(vars::METRICS_NAMESPACE)
                .unwrap_or_else(|| stackpro_conventions::metrics::NAMESPACE.to_string()),
            jwt_secret: get(vars::JWT_SECRET),
            jwt_secret_parameter: get(vars::JWT_SECRET_PARAMETER),
            jwt_audience: get(vars::JWT_AUDIENCE).unwrap_or_else(|| "stackpro".to_string()),
            cache_ttl: Duration::from_secs(number(vars::FLAGS_TTL_SECONDS, 60)?),
            max_body_bytes: number(vars::MAX_BODY_BYTES, 64 * 1024)? as usize,
            idempotency_ttl: Duration::from_secs(number(vars::IDEMPOTENCY_TTL_SECONDS, 86_400)?),
            env,
            capability,
            ssm_prefix,
            tables,
            buckets,
            flag_defaults,
        })
    }

    /// The physical name of the capability's table `name` (`STACKPRO_TABLE_<NAME>`).
    pub fn table(&self, name: &str) -> Result<&str, ConfigError> {
        self.tables
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ConfigError::MissingResource(vars::table(name)))
    }

    /// The physical name of the capability's bucket `name` (`STACKPRO_BUCKET_<NAME>`).
    pub fn bucket(&self, name: &str) -> Result<&str, ConfigError> {
        self.buckets
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ConfigError::MissingResource(vars::bucket(name)))
    }

    /// The setting `name` as text: the environment file's value, or the capability's
    /// default (`capability.yaml`); the stack sets every declared setting.
    pub fn setting(&self, name: &str) -> Result<&str, ConfigError> {
        self.settings
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ConfigError::MissingResource(vars::setting(name)))
    }

    /// The setting `name` parsed as `T` (a number, a boolean); the error names the
    /// variable, its value and what was expected.
    pub fn setting_as<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let text = self.setting(name)?;
        text.trim().parse().map_err(|_| ConfigError::Setting {
            name: vars::setting(name),
            setting: name.to_string(),
            value: text.to_string(),
            why: format!("expected {expected}"),
        })
    }

    /// `CAP_<CAPABILITY>_` for this capability.
    pub fn flag_prefix(&self) -> String {
        crate::flags::prefix(&self.capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_stack_variables() {
        let c = Config::from_vars(vars(&[
            ("STACKPRO_ENV", "sandbox"),
            ("STACKPRO_CAPABILITY", "messaging"),
            ("STACKPRO_SSM_PREFIX", "/stackpro/sandbox"),
            (
                "STACKPRO_TABLE_THREADS",
                "stackpro-messaging-sandbox-threads",
            ),
            ("CAP_MESSAGING_ENABLED", "true"),
            ("STACKPRO_FLAGS_TTL_SECONDS", "1"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(
            c.table("threads").unwrap(),
            "stackpro-messaging-sandbox-threads"
        );
        assert_eq!(c.flag_defaults.len(), 1);
        assert_eq!(c.cache_ttl, Duration::from_secs(1));
        assert_eq!(c.jwt_audience, "stackpro");
        assert_eq!(c.flag_prefix(), "CAP_MESSAGING_");
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        let e = Config::from_vars(vars(&[("STACKPRO_ENV", "local")])).unwrap_err();
        assert!(e.to_string().contains("STACKPRO_CAPABILITY"), "{e}");
        let e = Config::from_vars(vars(&[
            ("STACKPRO_ENV", "local"),
            ("STACKPRO_CAPABILITY", "messaging"),
            ("STACKPRO_MAX_BODY_BYTES", "lots"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string().contains("STACKPRO_MAX_BODY_BYTES is `lots`"),
            "{e}"
        );
    }
}
