use serde_json::json;
use stackpro_testkit::Event;

use crate::common::{batch, dataset, read_all, records_path, serve, setup};

/// Concurrent writers (see `Harness::send_concurrently`).
const IN_FLIGHT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_parallel_batches_store_exactly_the_records_sent() {
    let h = serve(setup().serialized()).await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "busy").await;
    let events = (0..100)
        .map(|b| {
            Event::post(&records_path(&id))
                .token(&t)
                .json(batch(b * 5, 5))
        })
        .collect();
    let statuses: Vec<u16> = h
        .send_concurrently(events, IN_FLIGHT)
        .await
        .iter()
        .map(|a| a.status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let mut values: Vec<i64> = read_all(&h, &t, &id, 1000)
        .await
        .iter()
        .map(|r| r["data"]["value"].as_i64().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..500).collect::<Vec<i64>>());
    let got = h
        .send(Event::get(&format!("/v1/datasets/{id}")).token(&t))
        .await;
    assert_eq!(got.body["record_count"], 500, "counted once per record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_idempotency_keys_store_each_batch_once() {
    let h = serve(setup().serialized()).await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "retries").await;
    let events = (0..100)
        .map(|i| {
            let key = i % 10;
            Event::post(&records_path(&id))
                .token(&t)
                .header("idempotency-key", &format!("batch-{key}"))
                .json(batch(key * 5, 5))
        })
        .collect();
    let answers = h.send_concurrently(events, IN_FLIGHT).await;
    assert!(
        answers.iter().all(|a| a.status == 201),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let mut batch_ids: Vec<&str> = answers
        .iter()
        .map(|a| a.body["batch_id"].as_str().unwrap())
        .collect();
    batch_ids.sort_unstable();
    batch_ids.dedup();
    assert_eq!(batch_ids.len(), 10, "one batch per key");
    assert_eq!(read_all(&h, &t, &id, 1000).await.len(), 50);
    let got = h
        .send(Event::get(&format!("/v1/datasets/{id}")).token(&t))
        .await;
    assert_eq!(got.body["record_count"], json!(50));
}
