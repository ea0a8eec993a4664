//! The ai capability: model requests on behalf of a tenant, within the tenant's quotas,
//! cached, recorded and metered into billing.
//!
//! The contract is `handlers/ai/openapi.yaml`. The runtime routes by it, authenticates,
//! checks requests, answers health, keeps Idempotency-Keys and degrades reads; this
//! crate is the model call and what surrounds it. `POST /v1/requests`:
//! 1. the model: `CAP_AI_MODEL` (`small` / `large`, per tenant) names one of the
//!    environment's model ids (`model_small`, `model_large`);
//! 2. a fresh cached answer for (tenant, model, prompt hash) is served at once;
//! 3. otherwise the request is admitted against the tenant's quotas in one transaction
//!    ([`store`]), the provider answers ([`provider`]), and the settlement records the
//!    usage, caches the answer and writes the metering outbox entry ([`metering`]);
//! 4. a provider that is throttled (after one retry), failing or unreachable gets the
//!    stale cached answer, marked degraded, or 503 CAPABILITY_DEGRADED with
//!    `Retry-After`; never a hang past the function's timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use stackpro_runtime::outbox::Entry;
use stackpro_runtime::time::now_rfc3339;
use stackpro_runtime::{ApiError, ApiRequest, Handler, Reply, RequestContext, Runtime, StoreError};
use tokio::sync::Mutex;

pub mod metering;
pub mod model;
pub mod provider;
pub mod store;

use metering::Metering;
use model::{
    day_of, minute_of, CachedAnswer, CreateRequest, Limits, Prompt, PutLimits, RequestRecord,
    Settings, Status, TenantLimits, Usage,
};
use provider::{AnyProvider, Provider, ProviderError};
use store::{Admission, Settlement};
pub use store::{DynamoStore, Store};

/// The contract this handler serves.
pub const CONTRACT: &str = include_str!("../openapi.yaml");

/// What clients are told when the store fails.
const STORE: &str = "the ai store";
/// The flag that picks the model, per tenant.
const MODEL_FLAG: &str = "CAP_AI_MODEL";
/// How long a stale answer is kept as the fallback after it stops being fresh.
const STALE_SECONDS: i64 = 86_400;
/// Seconds a client waits before retrying when the provider is throttled or down.
const THROTTLED_RETRY_AFTER: u32 = 5;
const UNAVAILABLE_RETRY_AFTER: u32 = 15;

/// The ai handler over a store and a provider.
pub struct Ai<S, P> {
    store: S,
    provider: P,
    settings: Settings,
    runtime: Arc<Runtime>,
    metering: Metering,
    /// Tenants' own limits, read at most once per discovery TTL per instance.
    limits: Mutex<HashMap<String, (Instant, Option<TenantLimits>)>>,
}

fn epoch_seconds() -> i64 {
    stackpro_runtime::idempotency::now_epoch_seconds()
}

impl<S: Store, P: Provider> Ai<S, P> {
    pub fn new(store: S, provider: P, settings: Settings, runtime: Arc<Runtime>) -> Self {
        let interval = runtime.config.cache_ttl;
        Ai {
            metering: Metering::new(settings.billing_timeout, interval),
            store,
            provider,
            settings,
            runtime,
            limits: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's own limits, cached for the discovery TTL (a `PUT` on this instance
    /// is seen at once, on others within the TTL).
    async fn tenant_limits(&self, tenant: &str) -> Result<Option<TenantLimits>, ApiError> {
        let ttl = self.runtime.config.cache_ttl;
        if let Some((at, l)) = self.limits.lock().await.get(tenant) {
            if at.elapsed() < ttl {
                return Ok(l.clone());
            }
        }
        let l = self.store.limits(tenant).await.map_err(answer)?;
        self.limits
            .lock()
            .await
            .insert(tenant.to_string(), (Instant::now(), l.clone()));
        Ok(l)
    }

    async fn effective_limits(&self, tenant: &str) -> Result<Limits, ApiError> {
        Ok(self
            .tenant_limits(tenant)
            .await?
            .map_or(self.settings.default_limits, |t| t.limits))
    }

    /// The model alias (`small`, `large`) for this tenant and its id here.
    fn model(&self, ctx: &RequestContext, tenant: &str) -> (String, String) {
        let alias = ctx
            .flags
            .variant(MODEL_FLAG, Some(tenant))
            .unwrap_or_else(|| "small".to_string());
        match self.settings.model_id(&alias) {
            Some(id) => (alias, id.to_string()),
            None => {
                tracing::error!(flag = MODEL_FLAG, value = %alias, "not small or large; answering with small");
                ("small".to_string(), self.settings.model_small.clone())
            }
        }
    }

    async fn create_request(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let input: CreateRequest = ctx.input()?;
        let limits = self.effective_limits(tenant).await?;
        // The environment's ceiling, and never more than a whole day's quota: the model
        // is asked for no more than can be reserved.
        let max_tokens = input
            .max_tokens
            .unwrap_or(self.settings.max_tokens)
            .min(self.settings.max_tokens)
            .min(u32::try_from(limits.tokens_per_day).unwrap_or(u32::MAX));
        let prompt = Prompt {
            system: input.system,
            prompt: input.prompt,
            max_tokens,
            temperature: input.temperature,
        };
        let (alias, model_id) = self.model(ctx, tenant);
        let now = epoch_seconds();
        let (minute, minute_left) = minute_of(now);
        let (day, day_left) = day_of(now);
        let hash = prompt.sha256();
        let store_prompts = self.settings.store_prompts;
        let mut record = RequestRecord {
            id: uuid::Uuid::now_v7().to_string(),
            model: alias,
            model_id: model_id.clone(),
            provider: self.provider.name().to_string(),
            status: Status::Pending,
            prompt_sha256: hash.clone(),
            prompt: store_prompts.then(|| prompt.prompt.clone()),
            answer: None,
            usage: Usage::default(),
            latency_ms: None,
            cached: false,
            created_by: ctx.subject(),
            created_at: now_rfc3339(),
            completed_at: None,
        };
        let expires_at = now + self.settings.request_retention_days * 86_400;
        let cached = if self.settings.cache_ttl_seconds > 0 {
            self.store
                .cached(tenant, &model_id, &hash)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!("answer cache not read: {e}");
                    None
                })
        } else {
            None
        };
        let over = |e: StoreError| match e {
            StoreError::Limit(l) if l == store::PER_MINUTE => ApiError::rate_limited(format!(
                "over the tenant's {} requests per minute; retry in {minute_left} s",
                limits.requests_per_minute
            ))
            .retry_after(minute_left),
            StoreError::Limit(_) => ApiError::rate_limited(format!(
                "over the tenant's {} tokens per day (UTC); retry in {day_left} s",
                limits.tokens_per_day
            ))
            .retry_after(day_left),
            StoreError::KeyTaken => ApiError::conflict(
                "a request with this Idempotency-Key is still running; retry when it has answered",
            ),
            other => answer(other),
        };

        // A fresh answer from the cache: no model call, no tokens; still one request.
        if let Some(hit) = cached.as_ref().filter(|c| c.fresh_until > now) {
            let (body, record) = self.served_from_cache(record, hit);
            let idempotency = ctx.idempotency_record(201, &body);
            let admission = Admission {
                tenant,
                record: &record,
                limits,
                minute,
                day: &day,
                reserve: 0,
                in_flight: None,
                in_flight_until: 0,
                expires_at,
                idempotency: idempotency.as_ref(),
            };
            self.store.admit(&admission).await.map_err(over)?;
            return Ok(Reply::created(body));
        }

        let key = ctx.idempotency.as_ref().map(|p| p.key.clone());
        let admission = Admission {
            tenant,
            record: &record,
            limits,
            minute,
            day: &day,
            reserve: u64::from(max_tokens),
            in_flight: key.as_deref(),
            in_flight_until: now + 2 * self.settings.provider_timeout.as_secs() as i64 + 30,
            expires_at,
            idempotency: None,
        };
        self.store.admit(&admission).await.map_err(over)?;

        let started = Instant::now();
        let outcome = provider::complete(&self.provider, &model_id, &prompt).await;
        record.latency_ms = Some(started.elapsed().as_millis() as u64);
        let reserved = u64::from(max_tokens);
        match outcome {
            Ok(completion) => {
                record.status = Status::Completed;
                record.usage = completion.usage;
                record.completed_at = Some(now_rfc3339());
                record.answer = store_prompts.then(|| completion.text.clone());
                let body = response(&record, &completion.text);
                let idempotency = ctx.idempotency_record(201, &body);
                let meter = (record.usage.total_tokens > 0).then(|| {
                    Entry::new(
                        tenant,
                        &record.id,
                        metering::BILLING,
                        metering::usage_body(&record),
                    )
                });
                let ttl = self.settings.cache_ttl_seconds;
                let fresh = CachedAnswer {
                    answer: completion.text.clone(),
                    usage: completion.usage,
                    fresh_until: now + ttl,
                };
                let settlement = Settlement {
                    tenant,
                    record: &record,
                    day: &day,
                    reserved,
                    expires_at,
                    cache: (ttl > 0).then_some((&fresh, now + ttl + STALE_SECONDS)),
                    idempotency: idempotency.as_ref(),
                    in_flight: key.as_deref(),
                    meter: meter.as_ref(),
                };
                if let Err(e) = self.store.settle(&settlement).await {
                    // The model answered: give the answer, and meter it straight to
                    // billing since the outbox could not take it.
                    tracing::error!(request_id = %record.id, tokens = record.usage.total_tokens, "request not settled: {e}; metering directly");
                    if let Some(entry) = &meter {
                        if let Err(e) = self.metering.deliver(&self.runtime, entry).await {
                            tracing::error!(request_id = %record.id, tokens = record.usage.total_tokens, tenant, "USAGE NOT RECORDED: neither the outbox nor billing took it: {e}");
                        }
                    }
                    return Ok(Reply::created(body).degraded(true));
                }
                self.metering
                    .after_request(&self.runtime, &self.store, meter.as_ref())
                    .await;
                Ok(Reply::created(body))
            }
            Err(failure) => {
                self.failed(
                    ctx,
                    tenant,
                    record,
                    &day,
                    reserved,
                    expires_at,
                    key.as_deref(),
                    cached,
                    failure,
                )
                .await
            }
        }
    }

    /// A request answered from the cache: completed, no tokens.
    fn served_from_cache(
        &self,
        mut record: RequestRecord,
        hit: &CachedAnswer,
    ) -> (Value, RequestRecord) {
        record.status = Status::Completed;
        record.cached = true;
        record.latency_ms = Some(0);
        record.completed_at = Some(now_rfc3339());
        record.answer = self.settings.store_prompts.then(|| hit.answer.clone());
        (response(&record, &hit.answer), record)
    }

    /// The provider gave no answer: release the reservation, then the stale cached
    /// answer (degraded) or the error.
    #[allow(clippy::too_many_arguments)]
    async fn failed(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        mut record: RequestRecord,
        day: &str,
        reserved: u64,
        expires_at: i64,
        key: Option<&str>,
        stale: Option<CachedAnswer>,
        failure: ProviderError,
    ) -> Result<Reply, ApiError> {
        let fallback = match &failure {
            ProviderError::Rejected(_) => None,
            _ => stale,
        };
        let (body, idempotency) = match &fallback {
            Some(hit) => {
                let (body, served) = self.served_from_cache(record, hit);
                record = served;
                let idempotency = ctx.idempotency_record(201, &body);
                (Some(body), idempotency)
            }
            None => {
                record.status = Status::Failed;
                record.completed_at = Some(now_rfc3339());
                (None, None)
            }
        };
        let settlement = Settlement {
            tenant,
            record: &record,
            day,
            reserved,
            expires_at,
            cache: None,
            idempotency: idempotency.as_ref(),
            in_flight: key,
            meter: None,
        };
        if let Err(e) = self.store.settle(&settlement).await {
            tracing::warn!(request_id = %record.id, "failed request not settled (its reservation stays counted today): {e}");
        }
        match failure {
            ProviderError::Rejected(why) => Err(ApiError::invalid(
                "prompt",
                format!("the model refused the request: {why}"),
            )),
            failure => {
                let (level_error, retry_after) = match &failure {
                    ProviderError::Throttled(_) => (false, THROTTLED_RETRY_AFTER),
                    ProviderError::Misconfigured(_) => (true, UNAVAILABLE_RETRY_AFTER),
                    _ => (false, UNAVAILABLE_RETRY_AFTER),
                };
                if level_error {
                    tracing::error!(request_id = %record.id, model_id = %record.model_id, "the provider refuses this deployment: {}", failure.cause());
                } else {
                    tracing::warn!(request_id = %record.id, model_id = %record.model_id, "the provider did not answer: {}", failure.cause());
                }
                match body {
                    Some(body) => Ok(Reply::created(body).degraded(true)),
                    None => Err(ApiError::upstream_degraded(
                        "the model provider is not answering and there is no earlier answer to this prompt; retry later",
                        retry_after,
                    )),
                }
            }
        }
    }

    async fn get_request(&self, tenant: &str, id: &str) -> Result<Reply, ApiError> {
        let missing = || ApiError::not_found(format!("no request {id}"));
        if uuid::Uuid::parse_str(id).map_or(true, |u| u.hyphenated().to_string() != id) {
            return Err(missing());
        }
        let record = self
            .store
            .get_request(tenant, id)
            .await
            .map_err(answer)?
            .ok_or_else(missing)?;
        Ok(Reply::ok(to_value(&record)))
    }

    async fn quotas(&self, tenant: &str) -> Result<Reply, ApiError> {
        let own = self.tenant_limits(tenant).await?;
        self.quotas_body(tenant, own).await.map(Reply::ok)
    }

    async fn put_quotas(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let input: PutLimits = ctx.input()?;
        let own = TenantLimits {
            limits: Limits {
                requests_per_minute: input.requests_per_minute,
                tokens_per_day: input.tokens_per_day,
            },
            updated_by: ctx.subject(),
            updated_at: now_rfc3339(),
        };
        self.store.put_limits(tenant, &own).await.map_err(answer)?;
        self.limits
            .lock()
            .await
            .insert(tenant.to_string(), (Instant::now(), Some(own.clone())));
        self.quotas_body(tenant, Some(own)).await.map(Reply::ok)
    }

    async fn quotas_body(
        &self,
        tenant: &str,
        own: Option<TenantLimits>,
    ) -> Result<Value, ApiError> {
        let now = epoch_seconds();
        let used = self
            .store
            .used(tenant, minute_of(now).0, &day_of(now).0)
            .await
            .map_err(answer)?;
        let (limits, source, updated_by, updated_at) = match own {
            Some(t) => (t.limits, "tenant", Some(t.updated_by), Some(t.updated_at)),
            None => (self.settings.default_limits, "default", None, None),
        };
        Ok(json!({
            "requests_per_minute": limits.requests_per_minute,
            "tokens_per_day": limits.tokens_per_day,
            "source": source,
            "used": {
                "requests_this_minute": used.requests_this_minute,
                "tokens_today": used.tokens_today,
            },
            "updated_by": updated_by,
            "updated_at": updated_at,
        }))
    }
}

/// `POST /v1/requests`'s answer: the record with the answer itself.
fn response(record: &RequestRecord, answer: &str) -> Value {
    let mut body = to_value(record);
    body["answer"] = json!(answer);
    body
}

impl<S: Store, P: Provider> Handler for Ai<S, P> {
    const OPERATIONS: &'static [&'static str] =
        &["createRequest", "getRequest", "getQuotas", "putQuotas"];
    type State = S;

    async fn handle(&self, ctx: RequestContext, _req: ApiRequest) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        match ctx.route.operation {
            "createRequest" => self.create_request(&ctx, tenant).await,
            "getRequest" => self.get_request(tenant, ctx.param(0)).await,
            "getQuotas" => self.quotas(tenant).await,
            "putQuotas" => self.put_quotas(&ctx, tenant).await,
            other => Err(ApiError::not_found(format!("no operation {other}"))),
        }
    }

    fn state(&self) -> &S {
        &self.store
    }
}

/// The provider the settings name.
pub fn provider(settings: &Settings, sdk: &aws_config::SdkConfig) -> AnyProvider {
    match settings.provider {
        model::ProviderKind::Bedrock => {
            AnyProvider::Bedrock(provider::Bedrock::new(sdk, settings.provider_timeout))
        }
        model::ProviderKind::OpenAi => AnyProvider::OpenAi(provider::OpenAi::new(
            &settings.openai_base_url,
            settings.provider_timeout,
        )),
    }
}

/// Builds the handler the way `main` does: clients once, over the runtime.
pub async fn service(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<stackpro_runtime::Service<Ai<DynamoStore, AnyProvider>>, stackpro_runtime::ConfigError>
{
    let settings = Settings::from_config(&config)?;
    let provider = provider(&settings, sdk);
    service_with(config, sdk, settings, provider).await
}

/// The handler over any provider (tests and benchmarks pass their own).
pub async fn service_with<P: Provider>(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
    settings: Settings,
    provider: P,
) -> Result<stackpro_runtime::Service<Ai<DynamoStore, P>>, stackpro_runtime::ConfigError> {
    service_over(
        config,
        sdk,
        aws_sdk_dynamodb::Client::new(sdk),
        settings,
        provider,
    )
    .await
}

/// The handler over a given DynamoDB client (the benchmark counts its calls).
pub async fn service_over<P: Provider>(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    settings: Settings,
    provider: P,
) -> Result<stackpro_runtime::Service<Ai<DynamoStore, P>>, stackpro_runtime::ConfigError> {
    let contract = stackpro_runtime::load_contract(CONTRACT)?;
    let store = DynamoStore {
        requests: stackpro_runtime::Table::new(dynamodb.clone(), config.table("requests")?),
        quotas: stackpro_runtime::Table::new(dynamodb, config.table("quotas")?),
    };
    let runtime = Arc::new(stackpro_runtime::Runtime::init(config, sdk).await);
    let handler = Ai::new(store, provider, settings, runtime.clone());
    stackpro_runtime::Service::new(runtime, Arc::new(handler), contract)
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn answer(e: StoreError) -> ApiError {
    e.answer(STORE)
}
