//! The messaging capability: threads and the messages posted to them, per tenant.
//!
//! The contract is `handlers/messaging/openapi.yaml`. The runtime (`stackpro-runtime`)
//! routes by it, authenticates, checks every request against it, answers health,
//! degrades reads, refuses writes in degraded mode and keeps Idempotency-Keys; this
//! crate is the model ([`model`]) and the queries ([`store`]).

use std::sync::Arc;

use serde_json::Value;
use stackpro_runtime::{ApiError, ApiRequest, Handler, Reply, RequestContext, StoreError};

pub mod model;
pub mod store;

use model::{CreateThread, Message, PostMessage, Thread};
pub use store::{DynamoStore, Store};

/// The contract this handler serves.
pub const CONTRACT: &str = include_str!("../openapi.yaml");

/// What clients are told when the store fails.
const STORE: &str = "the message store";

/// The messaging handler over a store.
pub struct Messaging<S> {
    store: S,
}

impl<S: Store> Messaging<S> {
    pub fn new(store: S) -> Self {
        Messaging { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    async fn list_threads(&self, tenant: &str, req: &ApiRequest) -> Result<Reply, ApiError> {
        let limit = model::page_limit(req.query("limit"))?;
        let page = self
            .store
            .list_threads(tenant, limit, req.query("cursor"))
            .await
            .map_err(answer)?;
        Ok(Reply::ok(to_value(&page)))
    }

    async fn create_thread(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let input: CreateThread = ctx.input()?;
        model::check_text("title", &input.title, model::TITLE_MAX_CHARS)?;
        let now = model::now_rfc3339();
        let thread = Thread {
            id: uuid::Uuid::now_v7().to_string(),
            title: input.title,
            created_by: ctx.subject(),
            created_at: now.clone(),
            updated_at: now,
            message_count: 0,
        };
        let body = to_value(&thread);
        let record = ctx.idempotency_record(201, &body);
        self.store
            .create_thread(tenant, &thread, record.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }

    async fn get_thread(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let id = thread_id(ctx)?;
        match self.store.get_thread(tenant, id).await.map_err(answer)? {
            Some(t) => Ok(Reply::ok(to_value(&t))),
            None => Err(ApiError::not_found(format!("no thread {id}"))),
        }
    }

    async fn list_messages(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        req: &ApiRequest,
    ) -> Result<Reply, ApiError> {
        let id = thread_id(ctx)?;
        let limit = model::page_limit(req.query("limit"))?;
        let page = self
            .store
            .list_messages(tenant, id, limit, req.query("cursor"))
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ApiError::not_found(format!("no thread {id}")),
                e => answer(e),
            })?;
        Ok(Reply::ok(to_value(&page)))
    }

    async fn post_message(&self, ctx: &RequestContext, tenant: &str) -> Result<Reply, ApiError> {
        let id = thread_id(ctx)?;
        let input: PostMessage = ctx.input()?;
        model::check_text("body", &input.body, model::BODY_MAX_CHARS)?;
        let message = Message {
            id: uuid::Uuid::now_v7().to_string(),
            thread_id: id.to_string(),
            author: ctx.subject(),
            body: input.body,
            created_at: model::now_rfc3339(),
        };
        let body = to_value(&message);
        let record = ctx.idempotency_record(201, &body);
        self.store
            .post_message(tenant, &message, record.as_ref())
            .await
            .map_err(answer)?;
        Ok(Reply::created(body))
    }
}

impl<S: Store> Handler for Messaging<S> {
    const OPERATIONS: &'static [&'static str] = &[
        "listThreads",
        "createThread",
        "getThread",
        "listMessages",
        "postMessage",
    ];
    type State = S;

    async fn handle(&self, ctx: RequestContext, req: ApiRequest) -> Result<Reply, ApiError> {
        let tenant = ctx.tenant()?;
        match ctx.route.operation {
            "listThreads" => self.list_threads(tenant, &req).await,
            "createThread" => self.create_thread(&ctx, tenant).await,
            "getThread" => self.get_thread(&ctx, tenant).await,
            "listMessages" => self.list_messages(&ctx, tenant, &req).await,
            "postMessage" => self.post_message(&ctx, tenant).await,
            other => Err(ApiError::not_found(format!("no operation {other}"))),
        }
    }

    fn state(&self) -> &S {
        &self.store
    }
}

/// The `{thread_id}` of the route; a malformed id cannot name a thread: 404.
fn thread_id(ctx: &RequestContext) -> Result<&str, ApiError> {
    let id = ctx.param(0);
    if model::is_thread_id(id) {
        Ok(id)
    } else {
        Err(ApiError::not_found("no such thread (thread ids are UUIDs)"))
    }
}

/// Builds the handler the way `main` does: DynamoDB client once, over the runtime.
pub async fn service(
    config: stackpro_runtime::Config,
    sdk: &aws_config::SdkConfig,
) -> Result<stackpro_runtime::Service<Messaging<DynamoStore>>, stackpro_runtime::ConfigError> {
    let contract = stackpro_runtime::load_contract(CONTRACT)?;
    let table =
        stackpro_runtime::Table::new(aws_sdk_dynamodb::Client::new(sdk), config.table("threads")?);
    let handler = Messaging::new(DynamoStore::new(table));
    let runtime = stackpro_runtime::Runtime::init(config, sdk).await;
    stackpro_runtime::Service::new(Arc::new(runtime), Arc::new(handler), contract)
}

fn answer(e: StoreError) -> ApiError {
    e.answer(STORE)
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
