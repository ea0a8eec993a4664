//! messaging on the shared test kit: its requests by name, and the few facts of its
//! data layout the tests count with.

use serde_json::json;
pub use stackpro_testkit::{Event, Harness, Response, Setup, Token};

pub fn setup() -> Setup {
    Harness::setup("messaging")
}

pub async fn start() -> Harness {
    serve(setup()).await
}

pub async fn serve(setup: Setup) -> Harness {
    setup
        .start(|config, sdk| async move { stackpro_messaging::service(config, &sdk).await })
        .await
}

/// A member of `tenant` who may read and write.
pub fn writer(tenant: &str) -> String {
    Token::writer("messaging", tenant).sign()
}

pub fn health() -> Event {
    Event::get("/v1/health")
}

pub fn list_threads() -> Event {
    Event::get("/v1/threads")
}

/// With a valid body; `.json(...)` replaces it.
pub fn create_thread() -> Event {
    Event::post("/v1/threads").json(json!({"title": "Launch plan"}))
}

pub fn get_thread(id: &str) -> Event {
    Event::get(&format!("/v1/threads/{id}"))
}

pub fn list_messages(thread: &str) -> Event {
    Event::get(&format!("/v1/threads/{thread}/messages"))
}

/// With a valid body; `.json(...)` replaces it.
pub fn post_message(thread: &str) -> Event {
    Event::post(&format!("/v1/threads/{thread}/messages")).json(json!({"body": "Hello, team"}))
}

/// Creates a thread as `token`, returning its id.
pub async fn thread(h: &Harness, token: &str, title: &str) -> String {
    let a = h
        .send(create_thread().token(token).json(json!({"title": title})))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["id"].as_str().unwrap().to_string()
}

/// The tenant's items whose sort key starts with `prefix` (`THREAD#`, `MSG#<thread>#`).
pub async fn count_items(h: &Harness, tenant: &str, prefix: &str) -> usize {
    h.count_items("threads", &format!("TENANT#{tenant}"), prefix)
        .await
}

pub fn ids(page: &Response) -> Vec<String> {
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}
