use serde_json::json;

use crate::common::{
    count_items, create_thread, get_thread, list_messages, list_threads, post_message, start,
    thread, writer,
};

#[tokio::test]
async fn a_tenant_never_reads_or_writes_another_tenants_threads() {
    let h = start().await;
    let a = writer("tenant-a");
    let b = writer("tenant-b");
    let id = thread(&h, &a, "A's plans").await;
    thread(&h, &a, "A's second").await;
    let msg = h
        .send(post_message(&id).token(&a).json(json!({"body": "secret"})))
        .await;
    assert_eq!(msg.status, 201);

    // B sees nothing of A's, by id or by listing.
    for event in [
        get_thread(&id).token(&b),
        list_messages(&id).token(&b),
        post_message(&id)
            .token(&b)
            .json(json!({"body": "intrusion"})),
    ] {
        let r = h.send(event).await;
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{}", r.body);
    }
    let listing = h.send(list_threads().token(&b)).await;
    assert_eq!(listing.body["items"], json!([]));

    // A cursor taken from A's listing reads B's own partition, never A's.
    let page = h.send(list_threads().token(&a).query("limit", "1")).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let replayed = h
        .send(
            list_threads()
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
            create_thread()
                .token(&b)
                .json(json!({"title": "x", "tenant_id": "tenant-a"})),
        )
        .await;
    assert_eq!(r.status, 400);

    // Nothing of B's landed in A's partition; A's thread still has one message.
    assert_eq!(count_items(&h, "tenant-a", "THREAD#").await, 2);
    assert_eq!(count_items(&h, "tenant-a", &format!("MSG#{id}#")).await, 1);
    assert_eq!(count_items(&h, "tenant-b", "").await, 0);
}
