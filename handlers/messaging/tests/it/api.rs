use serde_json::json;

use crate::common::{writer, Event, Harness};

#[tokio::test]
async fn health_answers_without_a_token() {
    let h = Harness::start().await;
    let a = h.send(Event::fixture("health").without_auth()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "ok");
    assert_eq!(a.body["checks"]["store"], "ok");
    assert!(!a.degraded());
}

#[tokio::test]
async fn create_get_post_and_list_in_order() {
    let h = Harness::start().await;
    let t = writer("acme");
    let created = h
        .send(
            Event::fixture("create_thread")
                .token(&t)
                .body(json!({"title": "Launch plan"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["title"], "Launch plan");
    assert_eq!(created.body["message_count"], 0);
    assert_eq!(created.body["created_by"], "user@acme");
    let id = created.body["id"].as_str().unwrap().to_string();
    // The request id of API Gateway follows the response.
    assert!(!created.headers["x-request-id"].is_empty());

    let mut posted = Vec::new();
    for i in 0..5 {
        let a = h
            .send(
                Event::fixture("post_message")
                    .token(&t)
                    .thread(&id)
                    .body(json!({"body": format!("message {i}")})),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["thread_id"], id.as_str());
        posted.push(a.body["id"].as_str().unwrap().to_string());
    }

    let got = h
        .send(Event::fixture("get_thread").token(&t).thread(&id))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["message_count"], 5);
    assert!(
        got.body["updated_at"].as_str().unwrap() >= created.body["updated_at"].as_str().unwrap()
    );

    // Pages of two, oldest first, through the cursors.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut e = Event::fixture("list_messages")
            .token(&t)
            .thread(&id)
            .query("limit", "2");
        if let Some(c) = &cursor {
            e = e.query("cursor", c);
        }
        let page = h.send(e).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for m in page.body["items"].as_array().unwrap() {
            seen.push(m["id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, posted, "every message once, in the order posted");
}

#[tokio::test]
async fn threads_are_listed_newest_first_across_pages() {
    let h = Harness::start().await;
    let t = writer("acme");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(h.thread(&t, &format!("thread {i}")).await);
    }
    ids.reverse();
    let first = h
        .send(Event::fixture("list_threads").token(&t).query("limit", "3"))
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = h
        .send(
            Event::fixture("list_threads")
                .token(&t)
                .query("limit", "3")
                .query("cursor", &cursor),
        )
        .await;
    let listed: Vec<String> = [first, second]
        .iter()
        .flat_map(|p| p.body["items"].as_array().unwrap().clone())
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let h = Harness::start().await;
    let t = writer("acme");
    let id = h.thread(&t, "idempotent").await;
    let post = |body: &str| {
        Event::fixture("post_message")
            .token(&t)
            .thread(&id)
            .header("idempotency-key", "key-1")
            .body(json!({"body": body}))
    };
    let first = h.send(post("hello")).await;
    let again = h.send(post("hello")).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body, again.body, "the first response, replayed");
    assert_eq!(
        again.headers.get("idempotent-replayed").map(String::as_str),
        Some("true")
    );
    let other = h.send(post("another body")).await;
    assert_eq!((other.status, other.code()), (409, "CONFLICT"));
    assert_eq!(h.count_items("acme", &format!("MSG#{id}#")).await, 1);

    // Thread creation honours keys too.
    let create = || {
        Event::fixture("create_thread")
            .token(&t)
            .header("idempotency-key", "thread-key")
            .body(json!({"title": "once"}))
    };
    let a = h.send(create()).await;
    let b = h.send(create()).await;
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(h.count_items("acme", "THREAD#").await, 2);
}

#[tokio::test]
async fn bad_input_is_invalid_input_naming_the_field() {
    let h = Harness::start_with(&[("STACKPRO_MAX_BODY_BYTES", "1024")]).await;
    let t = writer("acme");
    let id = h.thread(&t, "inputs").await;
    let cases: Vec<(Event, &str)> = vec![
        (
            Event::fixture("create_thread")
                .token(&t)
                .raw_body("{\"title\": "),
            "body",
        ),
        (
            Event::fixture("create_thread").token(&t).raw_body(""),
            "body",
        ),
        (
            Event::fixture("create_thread")
                .token(&t)
                .body(json!({"title": 7})),
            "title",
        ),
        (
            Event::fixture("create_thread").token(&t).body(json!({})),
            "title",
        ),
        (
            Event::fixture("create_thread")
                .token(&t)
                .body(json!({"title": "   "})),
            "title",
        ),
        (
            Event::fixture("create_thread")
                .token(&t)
                .body(json!({"title": "x".repeat(201)})),
            "title",
        ),
        (
            Event::fixture("create_thread")
                .token(&t)
                .body(json!({"title": "a", "tenant_id": "globex"})),
            "tenant_id",
        ),
        (
            Event::fixture("post_message")
                .token(&t)
                .thread(&id)
                .body(json!({"body": "x".repeat(2000)})),
            "body",
        ),
        (
            Event::fixture("post_message")
                .token(&t)
                .thread(&id)
                .body(json!({"body": "x".repeat(900)}))
                .header("idempotency-key", "has space"),
            "Idempotency-Key",
        ),
        (
            Event::fixture("list_threads").token(&t).query("limit", "0"),
            "limit",
        ),
        (
            Event::fixture("list_threads")
                .token(&t)
                .query("limit", "ten"),
            "limit",
        ),
        (
            Event::fixture("list_threads")
                .token(&t)
                .query("cursor", "bm90LWEtY3Vyc29y"),
            "cursor",
        ),
        (
            Event::fixture("list_messages")
                .token(&t)
                .thread(&id)
                .query("cursor", "VEhSRUFEI3g"),
            "cursor",
        ),
    ];
    for (event, field) in cases {
        let a = h.send(event.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "INVALID_INPUT"),
            "{}",
            event.json
        );
        assert_eq!(a.body["error"]["details"]["field"], field, "{}", a.body);
        assert!(!a.degraded());
    }
}

#[tokio::test]
async fn unknown_threads_and_routes_are_not_found() {
    let h = Harness::start().await;
    let t = writer("acme");
    let missing = uuid::Uuid::now_v7().to_string();
    for event in [
        Event::fixture("get_thread").token(&t).thread(&missing),
        Event::fixture("get_thread").token(&t).thread("not-a-uuid"),
        Event::fixture("list_messages").token(&t).thread(&missing),
        Event::fixture("post_message").token(&t).thread(&missing),
    ] {
        let a = h.send(event).await;
        assert_eq!((a.status, a.code()), (404, "NOT_FOUND"), "{}", a.body);
    }
    // A path no route serves (not in the contract, so not validated against it).
    let mut e = Event::fixture("health");
    e.json["rawPath"] = "/v2/nothing".into();
    e.json["requestContext"]["http"]["path"] = "/v2/nothing".into();
    let a = crate::common::send(&h.service, &e).await;
    assert_eq!((a.status, a.code()), (404, "NOT_FOUND"));
    assert!(a.body["error"]["request_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[test]
fn routes_match_the_capability_declaration_and_the_contract() {
    use stackpro_runtime::Handler;
    let root = stackpro_tests::project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let cap = catalogue.get("messaging").unwrap();
    let contract = stackpro_runtime::Contract::parse(stackpro_messaging::CONTRACT).unwrap();
    let mut declared: Vec<String> = cap.routes.iter().map(|r| r.key()).collect();
    let mut documented: Vec<String> = contract
        .operations()
        .iter()
        .map(|o| o.key.clone())
        .collect();
    declared.sort();
    documented.sort();
    assert_eq!(declared, documented, "capability.yaml and openapi.yaml");
    let mut served: Vec<&str> =
        stackpro_messaging::Messaging::<stackpro_messaging::DynamoStore>::OPERATIONS.to_vec();
    served.push(stackpro_runtime::HEALTH_OPERATION);
    served.sort();
    let mut ids: Vec<&str> = contract
        .operations()
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    ids.sort();
    assert_eq!(served, ids, "the handler's operations and openapi.yaml");
    assert_eq!(cap.handler.binary, "messaging");
    assert_eq!(cap.tables[0].name, "threads");
}

#[tokio::test]
async fn headers_outside_ascii_and_undecodable_events_are_400_with_the_envelope() {
    let h = Harness::start().await;
    // Found by schemathesis: an Idempotency-Key outside visible ASCII is refused, not ignored.
    let a = h
        .send(
            Event::fixture("create_thread")
                .token(&writer("acme"))
                .header("idempotency-key", "\u{d7}\u{f8}\u{9b}"),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{}", a.body);
    assert_eq!(a.body["error"]["details"]["field"], "Idempotency-Key");
    // An event lambda_http cannot decode is a 400 envelope, never an invocation error
    // (which API Gateway would turn into a bare 500).
    let mut broken = Event::fixture("create_thread").token(&writer("acme"));
    broken.json["headers"]["x-broken"] = serde_json::json!(5);
    let a = crate::common::send(&h.service, &broken).await;
    assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{}", a.body);
    assert_eq!(a.body["error"]["details"]["field"], "headers");
    assert_eq!(h.count_items("acme", "THREAD#").await, 0);
}
