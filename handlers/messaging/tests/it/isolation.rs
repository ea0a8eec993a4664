use serde_json::json;

use crate::common::{writer, Event, Harness};

#[tokio::test]
async fn a_tenant_never_reads_or_writes_another_tenants_threads() {
    let h = Harness::start().await;
    let a = writer("tenant-a");
    let b = writer("tenant-b");
    let id = h.thread(&a, "A's plans").await;
    h.thread(&a, "A's second").await;
    let msg = h
        .send(
            Event::fixture("post_message")
                .token(&a)
                .thread(&id)
                .body(json!({"body": "secret"})),
        )
        .await;
    assert_eq!(msg.status, 201);

    // B sees nothing of A's, by id or by listing.
    for event in [
        Event::fixture("get_thread").token(&b).thread(&id),
        Event::fixture("list_messages").token(&b).thread(&id),
        Event::fixture("post_message")
            .token(&b)
            .thread(&id)
            .body(json!({"body": "intrusion"})),
    ] {
        let r = h.send(event).await;
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{}", r.body);
    }
    let listing = h.send(Event::fixture("list_threads").token(&b)).await;
    assert_eq!(listing.body["items"], json!([]));

    // A cursor taken from A's listing reads B's own partition, never A's.
    let page = h
        .send(Event::fixture("list_threads").token(&a).query("limit", "1"))
        .await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let replayed = h
        .send(
            Event::fixture("list_threads")
                .token(&b)
                .query("limit", "1")
                .query("cursor", cursor),
        )
        .await;
    assert_eq!(replayed.status, 200);
    assert_eq!(replayed.body["items"], json!([]));

    // A tenant named in the body is refused, not used.
    let r = h
        .send(
            Event::fixture("create_thread")
                .token(&b)
                .body(json!({"title": "x", "tenant_id": "tenant-a"})),
        )
        .await;
    assert_eq!(r.status, 400);

    // Nothing of B's landed in A's partition; A's thread still has one message.
    assert_eq!(h.count_items("tenant-a", "THREAD#").await, 2);
    assert_eq!(h.count_items("tenant-a", &format!("MSG#{id}#")).await, 1);
    assert_eq!(h.count_items("tenant-b", "").await, 0);
}
