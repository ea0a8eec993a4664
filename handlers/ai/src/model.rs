//! What the ai capability stores and answers: requests, their usage, quotas, settings.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stackpro_runtime::{Config, ConfigError};

/// `POST /v1/requests`, already checked against the contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub prompt: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
}

/// What a model is asked: the prompt and its parameters, as one provider call sends them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: Option<String>,
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

impl Prompt {
    /// The SHA-256 of the prompt with its parameters (hex): the cache key and what the
    /// request record keeps instead of the prompt itself.
    pub fn sha256(&self) -> String {
        let canonical = serde_json::json!({
            "system": self.system,
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Tokens one request used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            output_tokens,
            total_tokens: input_tokens + output_tokens,
        }
    }
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Admitted, the model is answering (or the function stopped while it was).
    Pending,
    Completed,
    /// The provider failed and no answer was served; nothing was counted but the request.
    Failed,
}

/// A request as stored and as `GET /v1/requests/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    /// `small` or `large`: the CAP_AI_MODEL the request was served under.
    pub model: String,
    pub model_id: String,
    pub provider: String,
    pub status: Status,
    pub prompt_sha256: String,
    /// The prompt, when the environment stores prompts (`store_prompts`).
    pub prompt: Option<String>,
    /// The answer, when the environment stores prompts; `POST` always returns it.
    pub answer: Option<String>,
    pub usage: Usage,
    pub latency_ms: Option<u64>,
    /// Served from the answer cache: no model call, no tokens.
    pub cached: bool,
    pub created_by: String,
    pub created_at: String,
    pub completed_at: Option<String>,
}

/// A cached answer for (tenant, model, prompt hash).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAnswer {
    pub answer: String,
    pub usage: Usage,
    /// Until when (epoch seconds) it is served instead of calling the model; after, it
    /// is only the fallback when the model cannot answer.
    pub fresh_until: i64,
}

/// A tenant's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub requests_per_minute: u64,
    pub tokens_per_day: u64,
}

/// `PUT /v1/quotas`, already checked against the contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutLimits {
    pub requests_per_minute: u64,
    pub tokens_per_day: u64,
}

/// A tenant's own limits as stored, with who set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    pub limits: Limits,
    pub updated_by: String,
    pub updated_at: String,
}

/// What a tenant has used in the current minute and UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    pub requests_this_minute: u64,
    /// Tokens used, plus the reservations of requests still running.
    pub tokens_today: u64,
}

/// The provider that answers, from the `provider` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Bedrock,
    OpenAi,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::OpenAi => "openai",
        }
    }
}

/// The capability's settings (`capability.yaml`'s `settings:`, per environment).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub provider: ProviderKind,
    pub model_small: String,
    pub model_large: String,
    pub openai_base_url: String,
    pub provider_timeout: std::time::Duration,
    pub max_tokens: u32,
    pub cache_ttl_seconds: i64,
    pub default_limits: Limits,
    pub store_prompts: bool,
    pub request_retention_days: i64,
    pub billing_timeout: std::time::Duration,
}

impl Settings {
    /// Reads and checks every setting; the error names the variable and what it expects.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let bad = |name: &str, value: &str, why: &str| ConfigError::Setting {
            name: stackpro_conventions::vars::setting(name),
            setting: name.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        };
        let provider = match config.setting("provider")? {
            "bedrock" => ProviderKind::Bedrock,
            "openai" => ProviderKind::OpenAi,
            other => return Err(bad("provider", other, "expected `bedrock` or `openai`")),
        };
        let openai_base_url = config.setting("openai_base_url")?.trim().to_string();
        if provider == ProviderKind::OpenAi
            && !(openai_base_url.starts_with("http://") || openai_base_url.starts_with("https://"))
        {
            return Err(bad(
                "openai_base_url",
                &openai_base_url,
                "the openai provider needs the server's http:// or https:// base URL (with its /v1)",
            ));
        }
        let positive = |name: &str| -> Result<u64, ConfigError> {
            let v: u64 = config.setting_as(name, "a whole number")?;
            if v == 0 {
                return Err(bad(name, "0", "expected a whole number above 0"));
            }
            Ok(v)
        };
        let max_tokens = positive("max_tokens")?;
        Ok(Settings {
            provider,
            model_small: config.setting("model_small")?.to_string(),
            model_large: config.setting("model_large")?.to_string(),
            openai_base_url,
            provider_timeout: std::time::Duration::from_millis(positive("provider_timeout_ms")?),
            max_tokens: u32::try_from(max_tokens)
                .map_err(|_| bad("max_tokens", &max_tokens.to_string(), "too large"))?,
            cache_ttl_seconds: config
                .setting_as("cache_ttl_seconds", "a whole number of seconds")?,
            default_limits: Limits {
                requests_per_minute: positive("quota_requests_per_minute")?,
                tokens_per_day: positive("quota_tokens_per_day")?,
            },
            store_prompts: config.setting_as("store_prompts", "true or false")?,
            request_retention_days: positive("request_retention_days")? as i64,
            billing_timeout: std::time::Duration::from_millis(positive("billing_timeout_ms")?),
        })
    }

    /// The model id a CAP_AI_MODEL value names; None for a value that is neither.
    pub fn model_id(&self, alias: &str) -> Option<&str> {
        match alias {
            "small" => Some(&self.model_small),
            "large" => Some(&self.model_large),
            _ => None,
        }
    }
}

/// The UTC minute of an epoch second (`MINUTE#<n>`), and seconds until the next one.
pub fn minute_of(epoch_seconds: i64) -> (i64, u32) {
    (epoch_seconds / 60, (60 - epoch_seconds % 60) as u32)
}

/// The UTC day of an epoch second (`2026-11-30`), and seconds until the next one.
pub fn day_of(epoch_seconds: i64) -> (String, u32) {
    let date = stackpro_runtime::time::rfc3339(epoch_seconds * 1000)[..10].to_string();
    (date, (86_400 - epoch_seconds % 86_400) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_their_retry_after() {
        // 2026-11-30T23:59:30Z
        let t = 1_796_083_170;
        assert_eq!(minute_of(t), (t / 60, 30));
        assert_eq!(day_of(t), ("2026-11-30".to_string(), 30));
        assert_eq!(day_of(t + 30).0, "2026-12-01");
    }

    #[test]
    fn the_prompt_hash_covers_its_parameters() {
        let p = Prompt {
            system: None,
            prompt: "hello".into(),
            max_tokens: 10,
            temperature: None,
        };
        let mut q = p.clone();
        q.max_tokens = 11;
        assert_eq!(p.sha256().len(), 64);
        assert_eq!(p.sha256(), p.clone().sha256());
        assert_ne!(p.sha256(), q.sha256());
    }
}
