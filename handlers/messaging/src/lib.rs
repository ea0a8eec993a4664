//! The messaging capability: threads and the messages posted to them, per tenant.
//!
//! The contract is `handlers/messaging/openapi.yaml`. [`Messaging`] is the handler: a
//! router and plain async functions over a [`Store`]; the runtime (`stackpro-runtime`)
//! does auth, flags, logs, metrics and the error envelope around it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stackpro_runtime::idempotency::{self, StoredResponse};
use stackpro_runtime::{Access, ApiError, ApiRequest, Handler, Reply, RequestContext, Route};

pub mod model;
pub mod store;

use model::{CreateThread, Message, PostMessage, Thread};
pub use store::{DynamoStore, IdempotencyWrite, Store, StoreError};

/// The contract version this handler serves.
pub const CONTRACT_VERSION: &str = "v1";

const HEALTH: &str = "GET /v1/health";
const LIST_THREADS: &str = "GET /v1/threads";
const CREATE_THREAD: &str = "POST /v1/threads";
const GET_THREAD: &str = "GET /v1/threads/{thread_id}";
const LIST_MESSAGES: &str = "GET /v1/threads/{thread_id}/messages";
const POST_MESSAGE: &str = "POST /v1/threads/{thread_id}/messages";

/// Every route key, as `capability.yaml` declares them.
pub const ROUTES: [&str; 6] = [
    HEALTH,
    LIST_THREADS,
    CREATE_THREAD,
    GET_THREAD,
    LIST_MESSAGES,
    POST_MESSAGE,
];

/// Read responses remembered per instance, so reads can still answer (marked degraded)
/// while the store is unreachable or the capability is forced into degraded mode.
const LAST_GOOD_ENTRIES: usize = 512;

#[derive(Default)]
struct LastGood {
    map: HashMap<String, Value>,
    order: VecDeque<String>,
}

impl LastGood {
    fn put(&mut self, key: String, value: Value) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > LAST_GOOD_ENTRIES {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// The messaging handler over a store.
pub struct Messaging<S> {
    store: S,
    max_body_bytes: usize,
    idempotency_ttl_seconds: i64,
    last_good: Mutex<LastGood>,
}

impl<S: Store> Messaging<S> {
    pub fn new(store: S, config: &stackpro_runtime::Config) -> Self {
        Messaging {
            store,
            max_body_bytes: config.max_body_bytes,
            idempotency_ttl_seconds: config.idempotency_ttl.as_secs() as i64,
            last_good: Mutex::new(LastGood::default()),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    fn remember(&self, key: String, value: &Value) {
        if let Ok(mut lg) = self.last_good.lock() {
            lg.put(key, value.clone());
        }
    }

    fn recall(&self, key: &str) -> Option<Value> {
        self.last_good.lock().ok()?.map.get(key).cloned()
    }

    /// A read: from the store, remembered; or, when the store cannot be used, the last
    /// good answer, or `empty` (when a list can answer with nothing), marked degraded.
    async fn read<F>(
        &self,
        ctx: &RequestContext,
        cache_key: String,
        empty: Option<Value>,
        fetch: F,
    ) -> Result<Reply, ApiError>
    where
        F: std::future::Future<Output = Result<Value, ApiError>> + Send,
    {
        let failure = if ctx.forced_degraded {
            "the capability is in degraded mode".to_string()
        } else {
            match fetch.await {
                Ok(v) => {
                    self.remember(cache_key, &v);
                    return Ok(Reply::ok(v));
                }
                Err(e) if e.status == 503 && e.degraded => e.message,
                Err(e) => return Err(e),
            }
        };
        match self.recall(&cache_key).or(empty) {
            Some(v) => Ok(Reply::ok(v).degraded(true)),
            None => Err(ApiError::unavailable(format!(
                "{failure}; this resource is not available until the store is back"
            ))),
        }
    }

    fn write_guard(&self, ctx: &RequestContext) -> Result<(), ApiError> {
        if ctx.forced_degraded {
            return Err(ApiError::unavailable(
                "the capability is in degraded mode and does not accept writes; retry later",
            ));
        }
        Ok(())
    }

    async fn commit(
        &self,
        tenant: &str,
        write: Write<'_>,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), StoreError> {
        match write {
            Write::Thread(t) => self.store.create_thread(tenant, t, idempotency).await,
            Write::Message(m) => self.store.post_message(tenant, m, idempotency).await,
        }
    }

    /// A POST under an optional Idempotency-Key. The record is written in the same
    /// transaction as the resource, so concurrent repeats write once; a repeat of the
    /// first request replays its response; the key with another request is 409.
    async fn create(
        &self,
        tenant: &str,
        req: &ApiRequest,
        write: Write<'_>,
        body: Value,
    ) -> Result<Reply, ApiError> {
        let header = req
            .header_checked("idempotency-key")
            .map_err(|e| e.with_details(json!({"field": "Idempotency-Key"})))?;
        let Some(key) = idempotency::parse_key(header)? else {
            self.commit(tenant, write, None)
                .await
                .map_err(store_error)?;
            return Ok(Reply::created(body));
        };
        let fingerprint = idempotency::fingerprint(&req.method, &req.path, &req.body);
        if let Some(record) = self
            .store
            .get_idempotency(tenant, &key)
            .await
            .map_err(store_error)?
        {
            return replay(&record, &fingerprint);
        }
        let record = IdempotencyWrite {
            key: key.clone(),
            response: StoredResponse {
                fingerprint: fingerprint.clone(),
                status: 201,
                body: body.to_string(),
            },
            expires_at: model::now_epoch_seconds() + self.idempotency_ttl_seconds,
        };
        match self.commit(tenant, write, Some(&record)).await {
            Ok(()) => Ok(Reply::created(body)),
            // A concurrent request with the same key won: answer as it did.
            Err(StoreError::KeyTaken) => match self
                .store
                .get_idempotency(tenant, &key)
                .await
                .map_err(store_error)?
            {
                Some(record) => replay(&record, &fingerprint),
                None => Err(ApiError::conflict(
                    "this Idempotency-Key is being used by another request; retry",
                )),
            },
            Err(e) => Err(store_error(e)),
        }
    }

    async fn health(&self, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let store = if ctx.forced_degraded {
            "skipped"
        } else {
            match self.store.ping().await {
                Ok(()) => "ok",
                Err(e) => {
                    tracing::warn!("health: store check failed: {e:?}");
                    "unreachable"
                }
            }
        };
        let enabled = ctx.flags.is_enabled(ENABLED_FLAG, None);
        let status = if !enabled {
            "disabled"
        } else if ctx.forced_degraded || store != "ok" {
            "degraded"
        } else {
            "ok"
        };
        Ok(Reply::ok(json!({
            "status": status,
            "capability": "messaging",
            "version": CONTRACT_VERSION,
            "checks": {
                "store": store,
                "flags": if ctx.flags.from_store { "store" } else { "defaults" },
            },
        }))
        .degraded(status != "ok"))
    }

    async fn list_threads(
        &self,
        ctx: &RequestContext,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        let limit = model::page_limit(req.query("limit"))?;
        let cursor = req.query("cursor");
        let key = format!("{tenant}|threads|{limit}|{}", cursor.unwrap_or(""));
        let fetch = async {
            let page = self
                .store
                .list_threads(tenant, limit, cursor)
                .await
                .map_err(store_error)?;
            Ok(to_value(&page))
        };
        self.read(ctx, key, Some(empty_page()), fetch).await
    }

    async fn create_thread(
        &self,
        ctx: &RequestContext,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        let input: CreateThread = req.json(self.max_body_bytes)?;
        model::check_text("title", &input.title, model::TITLE_MAX_CHARS)?;
        self.write_guard(ctx)?;
        let now = model::now_rfc3339();
        let thread = Thread {
            id: uuid::Uuid::now_v7().to_string(),
            title: input.title,
            created_by: subject(ctx),
            created_at: now.clone(),
            updated_at: now,
            message_count: 0,
        };
        let body = to_value(&thread);
        self.create(tenant, req, Write::Thread(&thread), body).await
    }

    async fn get_thread(&self, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        let id = thread_id(ctx)?;
        let key = format!("{tenant}|thread|{id}");
        let fetch = async {
            match self
                .store
                .get_thread(tenant, id)
                .await
                .map_err(store_error)?
            {
                Some(t) => Ok(to_value(&t)),
                None => Err(ApiError::not_found(format!("no thread {id}"))),
            }
        };
        self.read(ctx, key, None, fetch).await
    }

    async fn list_messages(
        &self,
        ctx: &RequestContext,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        let id = thread_id(ctx)?;
        let limit = model::page_limit(req.query("limit"))?;
        let cursor = req.query("cursor");
        let key = format!("{tenant}|messages|{id}|{limit}|{}", cursor.unwrap_or(""));
        let fetch = async {
            let page = self
                .store
                .list_messages(tenant, id, limit, cursor)
                .await
                .map_err(|e| match e {
                    StoreError::ThreadNotFound => ApiError::not_found(format!("no thread {id}")),
                    e => store_error(e),
                })?;
            Ok(to_value(&page))
        };
        self.read(ctx, key, Some(empty_page()), fetch).await
    }

    async fn post_message(
        &self,
        ctx: &RequestContext,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        let id = thread_id(ctx)?;
        let input: PostMessage = req.json(self.max_body_bytes)?;
        model::check_text("body", &input.body, model::BODY_MAX_CHARS)?;
        self.write_guard(ctx)?;
        let message = Message {
            id: uuid::Uuid::now_v7().to_string(),
            thread_id: id.to_string(),
            author: subject(ctx),
            body: input.body,
            created_at: model::now_rfc3339(),
        };
        let body = to_value(&message);
        self.create(tenant, req, Write::Message(&message), body)
            .await
    }
}

const ENABLED_FLAG: &str = "CAP_MESSAGING_ENABLED";

/// What a POST writes.
#[derive(Clone, Copy)]
enum Write<'a> {
    Thread(&'a Thread),
    Message(&'a Message),
}

fn empty_page() -> Value {
    json!({"items": [], "next_cursor": null})
}

fn subject(ctx: &RequestContext) -> String {
    ctx.principal
        .as_ref()
        .map(|p| p.subject.clone())
        .unwrap_or_default()
}

/// The `{thread_id}` of the route; a malformed id cannot name a thread: 404.
fn thread_id(ctx: &RequestContext) -> Result<&str, ApiError> {
    let id = ctx.route.params.first().map(String::as_str).unwrap_or("");
    if model::is_thread_id(id) {
        Ok(id)
    } else {
        Err(ApiError::not_found("no such thread (thread ids are UUIDs)"))
    }
}

/// The stored first response, replayed (or 409 for another request under the key).
fn replay(record: &StoredResponse, fingerprint: &str) -> Result<Reply, ApiError> {
    let first = idempotency::replay(record, fingerprint)?;
    let body: Value = serde_json::from_str(&first.body).map_err(|e| {
        tracing::error!("stored idempotent response does not parse: {e}");
        ApiError::internal()
    })?;
    Ok(Reply {
        status: first.status,
        ..Reply::ok(body)
    }
    .header("idempotent-replayed", "true"))
}

impl<S: Store> Handler for Messaging<S> {
    fn route(&self, method: &str, path: &str) -> Option<Route> {
        route(method, path)
    }

    async fn handle(&self, ctx: RequestContext, req: ApiRequest) -> Result<Reply, ApiError> {
        match ctx.route.key {
            HEALTH => self.health(&ctx).await,
            LIST_THREADS => self.list_threads(&ctx, &req).await,
            CREATE_THREAD => self.create_thread(&ctx, &req).await,
            GET_THREAD => self.get_thread(&ctx).await,
            LIST_MESSAGES => self.list_messages(&ctx, &req).await,
            POST_MESSAGE => self.post_message(&ctx, &req).await,
            other => Err(ApiError::not_found(format!("no route {other}"))),
        }
    }
}

/// The route of `method path`, with its access and path parameters.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let (key, access, params) = match (method, segments.as_slice()) {
        ("GET", ["v1", "health"]) => (HEALTH, Access::Public, vec![]),
        ("GET", ["v1", "threads"]) => (LIST_THREADS, Access::Read, vec![]),
        ("POST", ["v1", "threads"]) => (CREATE_THREAD, Access::Write, vec![]),
        ("GET", ["v1", "threads", id]) if !id.is_empty() => {
            (GET_THREAD, Access::Read, vec![id.to_string()])
        }
        ("GET", ["v1", "threads", id, "messages"]) if !id.is_empty() => {
            (LIST_MESSAGES, Access::Read, vec![id.to_string()])
        }
        ("POST", ["v1", "threads", id, "messages"]) if !id.is_empty() => {
            (POST_MESSAGE, Access::Write, vec![id.to_string()])
        }
        _ => return None,
    };
    Some(Route {
        key,
        access,
        params,
    })
}

/// Builds the handler the way `main` does: DynamoDB client once, over the runtime.
pub async fn service(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<stackpro_runtime::Service<Messaging<DynamoStore>>, stackpro_runtime::ConfigError> {
    let table = config.table("threads")?.to_string();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table);
    let handler = Messaging::new(store, &config);
    let runtime = stackpro_runtime::Runtime::init(config, sdk).await;
    Ok(stackpro_runtime::Service::new(
        Arc::new(runtime),
        Arc::new(handler),
    ))
}

/// Maps a store failure to the answer a client gets.
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(cause) => {
            tracing::warn!("store unavailable: {cause}");
            ApiError::unavailable("the message store is unavailable; retry later")
        }
        StoreError::Busy(cause) => {
            tracing::warn!("store busy: {cause}");
            ApiError::rate_limited("the message store is busy; retry shortly")
        }
        StoreError::ThreadNotFound => ApiError::not_found("no such thread"),
        StoreError::KeyTaken => ApiError::conflict("this Idempotency-Key is in use"),
        StoreError::BadCursor => ApiError::invalid(
            "cursor",
            "the cursor does not belong to this listing; start again without it",
        ),
        StoreError::Other(cause) => {
            tracing::error!("store call failed: {cause}");
            ApiError::internal()
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
