use serde_json::json;

use crate::common::{
    count_items, create_thread, get_thread, health, ids, list_messages, list_threads, post_message,
    serve, setup, start, thread, writer, Event,
};

#[tokio::test]
async fn health_answers_without_a_token() {
    let h = start().await;
    let a = h.send(health()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "ok");
    assert_eq!(a.body["checks"]["store"], "ok");
    assert!(!a.degraded());
}

#[tokio::test]
async fn create_get_post_and_list_in_order() {
    let h = start().await;
    let t = writer("acme");
    let created = h
        .send(
            create_thread()
                .token(&t)
                .json(json!({"title": "Launch plan"})),
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
                post_message(&id)
                    .token(&t)
                    .json(json!({"body": format!("message {i}")})),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["thread_id"], id.as_str());
        posted.push(a.body["id"].as_str().unwrap().to_string());
    }

    let got = h.send(get_thread(&id).token(&t)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["message_count"], 5);
    assert!(
        got.body["updated_at"].as_str().unwrap() >= created.body["updated_at"].as_str().unwrap()
    );

    // Pages of two, oldest first, through the cursors.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut e = list_messages(&id).token(&t).query("limit", "2");
        if let Some(c) = &cursor {
            e = e.query("cursor", c);
        }
        let page = h.send(e).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, posted, "every message once, in the order posted");
}

#[tokio::test]
async fn threads_are_listed_newest_first_across_pages() {
    let h = start().await;
    let t = writer("acme");
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(thread(&h, &t, &format!("thread {i}")).await);
    }
    created.reverse();
    let first = h.send(list_threads().token(&t).query("limit", "3")).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = h
        .send(
            list_threads()
                .token(&t)
                .query("limit", "3")
                .query("cursor", &cursor),
        )
        .await;
    let listed: Vec<String> = [ids(&first), ids(&second)].concat();
    assert_eq!(listed, created);
    // A cursor is a position: any thread id, listed or not, starts the page after it.
    let after = |cursor: &str| {
        list_threads()
            .token(&t)
            .query("limit", "3")
            .query("cursor", cursor)
    };
    let all = h.send(after("ffffffff-ffff-7fff-bfff-ffffffffffff")).await;
    assert_eq!(ids(&all), created[..3]);
    let none = h.send(after("00000000-0000-7000-8000-000000000000")).await;
    assert_eq!(none.body["items"], json!([]));
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let h = start().await;
    let t = writer("acme");
    let id = thread(&h, &t, "idempotent").await;
    let post = |body: &str| {
        post_message(&id)
            .token(&t)
            .header("Idempotency-Key", "key-1")
            .json(json!({"body": body}))
    };
    let first = h.send(post("hello")).await;
    let again = h.send(post("hello")).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body, again.body, "the first response, replayed");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = h.send(post("another body")).await;
    assert_eq!((other.status, other.code()), (409, "CONFLICT"));
    assert_eq!(count_items(&h, "acme", &format!("MSG#{id}#")).await, 1);

    // Thread creation honours keys too.
    let create = || {
        create_thread()
            .token(&t)
            .header("Idempotency-Key", "thread-key")
            .json(json!({"title": "once"}))
    };
    let a = h.send(create()).await;
    let b = h.send(create()).await;
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(count_items(&h, "acme", "THREAD#").await, 2);
}

#[tokio::test]
async fn bad_input_is_invalid_input_naming_the_field() {
    let h = serve(setup().var("STACKPRO_MAX_BODY_BYTES", "1024")).await;
    let t = writer("acme");
    let id = thread(&h, &t, "inputs").await;
    let create = || create_thread().token(&t);
    let post = || post_message(&id).token(&t);
    let list = || list_threads().token(&t);
    let cases: Vec<(Event, &str)> = vec![
        (create().text("{\"title\": "), "body"),
        (create().text(""), "body"),
        (create().json(json!({"title": 7})), "title"),
        (create().json(json!({})), "title"),
        (create().json(json!({"title": "   "})), "title"),
        (create().json(json!({"title": "x".repeat(201)})), "title"),
        (
            create().json(json!({"title": "a", "tenant_id": "globex"})),
            "tenant_id",
        ),
        (post().json(json!({"body": "x".repeat(2000)})), "body"),
        (
            post()
                .json(json!({"body": "x".repeat(900)}))
                .header("Idempotency-Key", "has space"),
            "Idempotency-Key",
        ),
        (list().query("limit", "0"), "limit"),
        (list().query("limit", "ten"), "limit"),
        (list().query("cursor", "bm90LWEtY3Vyc29y"), "cursor"),
        (
            list_messages(&id).token(&t).query("cursor", "VEhSRUFEI3g"),
            "cursor",
        ),
    ];
    for (event, field) in cases {
        let a = h.send(event.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "INVALID_INPUT"),
            "{}",
            event.as_json()
        );
        assert_eq!(a.field(), field, "{}", a.body);
        assert!(!a.degraded());
    }
}

#[tokio::test]
async fn unknown_threads_and_routes_are_not_found() {
    let h = start().await;
    let t = writer("acme");
    let missing = uuid::Uuid::now_v7().to_string();
    for event in [
        get_thread(&missing).token(&t),
        get_thread("not-a-uuid").token(&t),
        list_messages(&missing).token(&t),
        post_message(&missing).token(&t),
    ] {
        let a = h.send(event).await;
        assert_eq!((a.status, a.code()), (404, "NOT_FOUND"), "{}", a.body);
    }
    // A path no route serves: still the envelope, with the request id.
    let a = h.send(Event::get("/v2/nothing").token(&t)).await;
    assert_eq!((a.status, a.code()), (404, "NOT_FOUND"));
    assert!(a.body["error"]["request_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn routes_match_the_capability_declaration_and_the_contract() {
    let h = start().await;
    // capability.yaml == openapi.yaml's operations == what the handler serves.
    h.assert_routes_agree().await;
    assert_eq!(h.capability().handler.binary, "messaging");
    assert_eq!(h.capability().tables[0].name, "threads");
}

#[tokio::test]
async fn headers_outside_ascii_and_undecodable_events_are_400_with_the_envelope() {
    let h = start().await;
    // Found by schemathesis: an Idempotency-Key outside visible ASCII is refused, not ignored.
    let a = h
        .send(
            create_thread()
                .token(&writer("acme"))
                .header("Idempotency-Key", "\u{d7}\u{f8}\u{9b}"),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{}", a.body);
    assert_eq!(a.field(), "Idempotency-Key");
    // An event lambda_http cannot decode is a 400 envelope, never an invocation error
    // (which API Gateway would turn into a bare 500).
    let mut broken = create_thread().token(&writer("acme"));
    broken.json_mut()["headers"]["x-broken"] = json!(5);
    let a = h.send(broken).await;
    assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{}", a.body);
    assert_eq!(a.field(), "headers");
    assert_eq!(count_items(&h, "acme", "THREAD#").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_with_the_envelope() {
    // API Gateway passes such a body base64-encoded (`isBase64Encoded: true`); found by
    // schemathesis, where cargo lambda watch answered 500 itself before the handler ran.
    let h = start().await;
    let t = writer("acme");
    for body in [&b"\xd7\xf8\x9b"[..], b"{\"title\": \"\xff\"}"] {
        let a = h.send(create_thread().token(&t).bytes(body)).await;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (400, "INVALID_INPUT", "body"),
            "{}",
            a.text
        );
        assert!(!a.degraded());
    }
    // A base64 body that is JSON is read as JSON.
    let a = h
        .send(
            create_thread()
                .token(&t)
                .bytes(br#"{"title": "from base64"}"#),
        )
        .await;
    assert_eq!(
        (a.status, a.body["title"].as_str()),
        (201, Some("from base64"))
    );
    assert_eq!(count_items(&h, "acme", "THREAD#").await, 1);
}
