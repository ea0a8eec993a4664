use serde_json::json;

use crate::common::{send, writer, Contract, Event, Harness};

async fn post_all(h: &Harness, events: Vec<Event>) -> Vec<crate::common::Answer> {
    let tasks: Vec<_> = events
        .into_iter()
        .map(|e| {
            let service = h.service.clone();
            tokio::spawn(async move {
                let a = send(&service, &e).await;
                Contract::get()
                    .check(&e.route_key(), a.status, &a.body)
                    .unwrap_or_else(|err| panic!("{err}"));
                a
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_parallel_posts_store_one_hundred_messages() {
    let h = Harness::start_serialized().await;
    let t = writer("acme");
    let id = h.thread(&t, "busy").await;
    let events = (0..100)
        .map(|i| {
            Event::fixture("post_message")
                .token(&t)
                .thread(&id)
                .body(json!({"body": format!("parallel {i}")}))
        })
        .collect();
    let answers = post_all(&h, events).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(h.count_items("acme", &format!("MSG#{id}#")).await, 100);
    let thread = h
        .send(Event::fixture("get_thread").token(&t).thread(&id))
        .await;
    assert_eq!(
        thread.body["message_count"], 100,
        "the counter moved with every message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_posts_over_ten_keys_store_ten_messages() {
    let h = Harness::start_serialized().await;
    let t = writer("acme");
    let id = h.thread(&t, "retries").await;
    let events = (0..100)
        .map(|i| {
            let key = format!("key-{}", i % 10);
            Event::fixture("post_message")
                .token(&t)
                .thread(&id)
                .header("idempotency-key", &key)
                .body(json!({"body": format!("body of {key}")}))
        })
        .collect();
    let answers = post_all(&h, events).await;
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
    assert_eq!(h.count_items("acme", &format!("MSG#{id}#")).await, 10);
    let thread = h
        .send(Event::fixture("get_thread").token(&t).thread(&id))
        .await;
    assert_eq!(thread.body["message_count"], 10);
}
