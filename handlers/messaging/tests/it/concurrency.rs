use serde_json::json;

use crate::common::{count_items, get_thread, post_message, serve, setup, thread, writer};

/// Concurrent writers (see `Harness::send_concurrently`).
const IN_FLIGHT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_parallel_posts_store_one_hundred_messages() {
    let h = serve(setup().serialized()).await;
    let t = writer("acme");
    let id = thread(&h, &t, "busy").await;
    let events = (0..100)
        .map(|i| {
            post_message(&id)
                .token(&t)
                .json(json!({"body": format!("parallel {i}")}))
        })
        .collect();
    let answers = h.send_concurrently(events, IN_FLIGHT).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(count_items(&h, "acme", &format!("MSG#{id}#")).await, 100);
    let thread = h.send(get_thread(&id).token(&t)).await;
    assert_eq!(
        thread.body["message_count"], 100,
        "the counter moved with every message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_posts_over_ten_keys_store_ten_messages() {
    let h = serve(setup().serialized()).await;
    let t = writer("acme");
    let id = thread(&h, &t, "retries").await;
    let events = (0..100)
        .map(|i| {
            let key = format!("key-{}", i % 10);
            post_message(&id)
                .token(&t)
                .header("Idempotency-Key", &key)
                .json(json!({"body": format!("body of {key}")}))
        })
        .collect();
    let answers = h.send_concurrently(events, IN_FLIGHT).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    // Every answer for one key is the same message.
    for k in 0..10 {
        let ids: std::collections::BTreeSet<&str> = answers
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == k)
            .map(|(_, a)| a.body["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "key-{k} answered {ids:?}");
    }
    assert_eq!(count_items(&h, "acme", &format!("MSG#{id}#")).await, 10);
    let thread = h.send(get_thread(&id).token(&t)).await;
    assert_eq!(thread.body["message_count"], 10);
}
