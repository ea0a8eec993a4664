//! Who answers a prompt: Amazon Bedrock's Converse API ([`Bedrock`]) in AWS, or an
//! OpenAI-compatible chat-completions server ([`OpenAi`]: llama.cpp's server, Ollama,
//! vLLM) for a developer working offline. Both have a time limit per call
//! (`provider_timeout_ms`); [`complete`] retries a throttled call once after a jittered
//! pause, then gives up, so a request never outlives the function's timeout.

use std::future::Future;
use std::time::Duration;

use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SystemContentBlock,
};
use serde_json::{json, Value};

use crate::model::{Prompt, Usage};

/// A model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
}

/// Why the model gave no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderError {
    /// The provider asked us to slow down (Bedrock's ThrottlingException, HTTP 429).
    Throttled(String),
    /// No answer in time, or the provider failed (ModelTimeoutException,
    /// ServiceUnavailableException, InternalServerException, 5xx, refused, timeout).
    Unavailable(String),
    /// The provider refused this request (ValidationException, HTTP 400): the prompt
    /// is too long for the model, a parameter out of its range.
    Rejected(String),
    /// The deployment is wrong: no access to the model, an unknown model id (Bedrock's
    /// AccessDeniedException, ResourceNotFoundException; HTTP 401, 403, 404).
    Misconfigured(String),
}

impl ProviderError {
    pub fn cause(&self) -> &str {
        match self {
            ProviderError::Throttled(c)
            | ProviderError::Unavailable(c)
            | ProviderError::Rejected(c)
            | ProviderError::Misconfigured(c) => c,
        }
    }
}

/// A model provider.
pub trait Provider: Send + Sync + 'static {
    /// `bedrock`, `openai`: recorded with each request.
    fn name(&self) -> &'static str;

    /// One call, within the provider's time limit.
    fn call(
        &self,
        model_id: &str,
        prompt: &Prompt,
    ) -> impl Future<Output = Result<Completion, ProviderError>> + Send;
}

/// The longest pause before the one retry of a throttled call.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_millis(400);

/// One call, and one more after 100 to 400 ms if the first was throttled.
pub async fn complete<P: Provider>(
    provider: &P,
    model_id: &str,
    prompt: &Prompt,
) -> Result<Completion, ProviderError> {
    match provider.call(model_id, prompt).await {
        Err(ProviderError::Throttled(why)) => {
            let jitter = uuid::Uuid::new_v4().as_u128() as u64 % 301;
            tracing::info!(model_id, "model call throttled ({why}); one retry");
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
            provider.call(model_id, prompt).await
        }
        other => other,
    }
}

/// Amazon Bedrock's Converse API.
pub struct Bedrock {
    client: aws_sdk_bedrockruntime::Client,
}

impl Bedrock {
    /// A client with the call's time limit and no SDK retries ([`complete`] retries).
    pub fn new(sdk: &aws_config::SdkConfig, timeout: Duration) -> Self {
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_timeout(timeout)
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Bedrock {
            client: aws_sdk_bedrockruntime::Client::from_conf(config),
        }
    }
}

impl Provider for Bedrock {
    fn name(&self) -> &'static str {
        "bedrock"
    }

    async fn call(&self, model_id: &str, prompt: &Prompt) -> Result<Completion, ProviderError> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(prompt.prompt.clone()))
            .build()
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        let mut inference = InferenceConfiguration::builder().max_tokens(prompt.max_tokens as i32);
        if let Some(t) = prompt.temperature {
            inference = inference.temperature(t);
        }
        let mut call = self
            .client
            .converse()
            .model_id(model_id)
            .messages(message)
            .inference_config(inference.build());
        if let Some(system) = &prompt.system {
            call = call.system(SystemContentBlock::Text(system.clone()));
        }
        let out = call.send().await.map_err(|e| {
            use aws_sdk_bedrockruntime::error::SdkError;
            let text = aws_sdk_bedrockruntime::error::DisplayErrorContext(&e).to_string();
            match &e {
                SdkError::ServiceError(s) => match s.err().code() {
                    Some("ThrottlingException") => ProviderError::Throttled(text),
                    Some("ValidationException") => ProviderError::Rejected(
                        s.err()
                            .message()
                            .unwrap_or("the request was refused")
                            .to_string(),
                    ),
                    Some("AccessDeniedException" | "ResourceNotFoundException") => {
                        ProviderError::Misconfigured(text)
                    }
                    _ => ProviderError::Unavailable(text),
                },
                _ => ProviderError::Unavailable(text),
            }
        })?;
        let text = match out.output() {
            Some(ConverseOutput::Message(m)) => m
                .content()
                .iter()
                .filter_map(|c| c.as_text().ok().cloned())
                .collect::<Vec<_>>()
                .join(""),
            _ => {
                return Err(ProviderError::Unavailable(
                    "Converse answered without a message".into(),
                ))
            }
        };
        let usage = out.usage().map_or(Usage::default(), |u| {
            Usage::new(
                u.input_tokens().max(0) as u64,
                u.output_tokens().max(0) as u64,
            )
        });
        Ok(Completion { text, usage })
    }
}

/// An OpenAI-compatible `POST <base>/chat/completions` server.
pub struct OpenAi {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl OpenAi {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        OpenAi {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
        }
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn call(&self, model_id: &str, prompt: &Prompt) -> Result<Completion, ProviderError> {
        let mut messages = Vec::new();
        if let Some(system) = &prompt.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": prompt.prompt}));
        let mut body = json!({
            "model": model_id,
            "messages": messages,
            "max_tokens": prompt.max_tokens,
            "stream": false,
        });
        if let Some(t) = prompt.temperature {
            body["temperature"] = json!(t);
        }
        let url = format!("{}/chat/completions", self.base_url);
        let unavailable =
            |e: reqwest::Error| ProviderError::Unavailable(format!("POST {url}: {e}"));
        let response = self
            .http
            .post(&url)
            .json(&body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(unavailable)?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = || {
            answer["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
                })
        };
        match status {
            200..=299 => {}
            429 => {
                return Err(ProviderError::Throttled(format!(
                    "{url} answered 429: {}",
                    message()
                )))
            }
            400 | 413 | 422 => return Err(ProviderError::Rejected(message())),
            401 | 403 | 404 => {
                return Err(ProviderError::Misconfigured(format!(
                    "{url} answered {status}: {}",
                    message()
                )))
            }
            _ => {
                return Err(ProviderError::Unavailable(format!(
                    "{url} answered {status}: {}",
                    message()
                )))
            }
        }
        let Some(text) = answer["choices"][0]["message"]["content"].as_str() else {
            return Err(ProviderError::Unavailable(format!(
                "{url} answered without choices[0].message.content"
            )));
        };
        let tokens = |name: &str| answer["usage"][name].as_u64().unwrap_or(0);
        Ok(Completion {
            text: text.to_string(),
            usage: Usage::new(tokens("prompt_tokens"), tokens("completion_tokens")),
        })
    }
}

/// The provider the settings name, as one type for the handler.
pub enum AnyProvider {
    Bedrock(Bedrock),
    OpenAi(OpenAi),
}

impl Provider for AnyProvider {
    fn name(&self) -> &'static str {
        match self {
            AnyProvider::Bedrock(p) => p.name(),
            AnyProvider::OpenAi(p) => p.name(),
        }
    }

    async fn call(&self, model_id: &str, prompt: &Prompt) -> Result<Completion, ProviderError> {
        match self {
            AnyProvider::Bedrock(p) => p.call(model_id, prompt).await,
            AnyProvider::OpenAi(p) => p.call(model_id, prompt).await,
        }
    }
}
