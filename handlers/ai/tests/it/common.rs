use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stackpro_ai::model::Settings;
use stackpro_ai::provider::{AnyProvider, Bedrock, OpenAi};
use stackpro_testkit::{Answer, Event, Harness, Loopback, Response, Seen, Token};

pub fn writer(tenant: &str) -> String {
    Token::writer("ai", tenant).sign()
}

pub fn admin(tenant: &str) -> String {
    Token::writer("ai", tenant).role("admin").sign()
}

/// Bedrock's Converse answer (`POST /model/{modelId}/converse`), as documented.
pub fn converse(text: &str, input: u64, output: u64) -> Answer {
    Answer::json(
        200,
        json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
            "metrics": {"latencyMs": 42}
        }),
    )
}

/// A Bedrock error: its HTTP status, `x-amzn-ErrorType` and `{"message"}` body.
pub fn bedrock_error(status: u16, kind: &str, message: &str) -> Answer {
    Answer::json(status, json!({"message": message})).header("x-amzn-errortype", kind)
}

/// An echoing model: the answer names the prompt, tokens are its length and 5.
pub fn echo(seen: &Seen) -> Answer {
    let body = seen.json();
    let prompt = body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    converse(&format!("echo: {prompt}"), prompt.len() as u64, 5)
}

/// Billing's `POST /v1/usage` as its capability.yaml declares it, served on loopback:
/// checks the service token, records each request id once (a repeat answers as the
/// first did), and answers 503 CAPABILITY_DISABLED while switched off.
pub struct Billing {
    pub server: Loopback,
    pub up: Arc<AtomicBool>,
    pub records: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl Billing {
    pub fn start() -> Self {
        let up = Arc::new(AtomicBool::new(true));
        let records: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
        let (is_up, kept) = (up.clone(), records.clone());
        let server = Loopback::start(move |seen| {
            if !is_up.load(Ordering::SeqCst) {
                return Answer::json(
                    503,
                    json!({"error": {"code": "CAPABILITY_DISABLED", "message": "billing is off", "details": {}, "request_id": "x"}, "degraded": true}),
                )
                .header("retry-after", "60");
            }
            assert_eq!(
                (seen.method.as_str(), seen.path.as_str()),
                ("POST", "/v1/usage")
            );
            let token = seen
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or_default();
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            validation.set_audience(&[stackpro_testkit::AUDIENCE]);
            let claims = match jsonwebtoken::decode::<Value>(
                token,
                &jsonwebtoken::DecodingKey::from_secret(stackpro_testkit::SECRET.as_bytes()),
                &validation,
            ) {
                Ok(t) => t.claims,
                Err(e) => {
                    return Answer::json(
                        401,
                        json!({"error": {"code": "AUTH_FAILED", "message": e.to_string()}}),
                    )
                }
            };
            assert_eq!(claims["sub"], "capability:ai");
            assert!(claims["scope"].as_str().unwrap().contains("billing:write"));
            let body = seen.json();
            let id = body["request_id"].as_str().unwrap().to_string();
            assert_eq!(seen.header("idempotency-key"), Some(id.as_str()));
            let mut records = kept.lock().unwrap();
            let record = records
                .entry(id)
                .or_insert_with(|| json!({"usage": body, "tenant_id": claims["tenant_id"]}))
                .clone();
            Answer::json(201, record)
        });
        Billing {
            server,
            up,
            records,
        }
    }

    /// Deliveries received (repeats included).
    pub fn deliveries(&self) -> usize {
        self.server.seen().len()
    }
}

/// The ai handler with `provider` answering on loopback.
pub struct World {
    pub h: Harness,
    pub model: Loopback,
    pub billing: Billing,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bedrock,
    OpenAi,
}

pub struct Setup {
    pub kind: Kind,
    pub vars: Vec<(String, String)>,
    pub serialized: bool,
}

pub fn setup() -> Setup {
    Setup {
        kind: Kind::Bedrock,
        vars: Vec::new(),
        serialized: false,
    }
}

impl Setup {
    pub fn openai(mut self) -> Self {
        self.kind = Kind::OpenAi;
        self
    }

    /// A setting (`cache_ttl_seconds`, ...).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.vars
            .push((stackpro_conventions::vars::setting(name), value.to_string()));
        self
    }

    pub fn serialized(mut self) -> Self {
        self.serialized = true;
        self
    }

    pub async fn start(self, model: impl FnMut(&Seen) -> Answer + Send + 'static) -> World {
        let model = Loopback::start(model);
        let billing = Billing::start();
        let mut s = Harness::setup("ai")
            .var("CAP_BILLING_BASE_URL", &billing.server.url)
            .var(
                &stackpro_conventions::vars::setting("provider_timeout_ms"),
                "2000",
            );
        if self.serialized {
            s = s.serialized();
        }
        let provider = match self.kind {
            Kind::Bedrock => "bedrock",
            Kind::OpenAi => "openai",
        };
        s = s.var(&stackpro_conventions::vars::setting("provider"), provider);
        s = s.var(
            &stackpro_conventions::vars::setting("openai_base_url"),
            &format!("{}/v1", model.url),
        );
        for (k, v) in &self.vars {
            s = s.var(k, v);
        }
        let (kind, url) = (self.kind, model.url.clone());
        let h = s
            .start(move |config, sdk| async move {
                let settings = Settings::from_config(&config)?;
                let provider = match kind {
                    Kind::Bedrock => {
                        // The real Converse client, pointed at the recorded-answer server.
                        let bedrock_sdk = sdk.to_builder().endpoint_url(&url).build();
                        AnyProvider::Bedrock(Bedrock::new(&bedrock_sdk, settings.provider_timeout))
                    }
                    Kind::OpenAi => AnyProvider::OpenAi(OpenAi::new(
                        &settings.openai_base_url,
                        settings.provider_timeout,
                    )),
                };
                stackpro_ai::service_with(config, &sdk, settings, provider).await
            })
            .await;
        World { h, model, billing }
    }
}

impl World {
    pub async fn ask(&self, token: &str, prompt: &str) -> Response {
        self.h
            .send(
                Event::post("/v1/requests")
                    .token(token)
                    .json(json!({"prompt": prompt})),
            )
            .await
    }

    /// Model calls so far.
    pub fn calls(&self) -> usize {
        self.model.seen().len()
    }

    pub async fn quotas(&self, token: &str) -> Response {
        self.h.send(Event::get("/v1/quotas").token(token)).await
    }
}
