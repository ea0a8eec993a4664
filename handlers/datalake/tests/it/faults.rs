use serde_json::json;
use stackpro_testkit::Event;

use crate::common::{batch, dataset, ingest, records_path, start};

#[tokio::test]
async fn with_the_store_stopped_reads_degrade_and_writes_are_503() {
    let mut h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "before the outage").await;
    assert_eq!(ingest(&h, &t, &id, batch(0, 3)).await.status, 201);
    let listed = h.send(Event::get("/v1/datasets").token(&t)).await;
    let records = h.send(Event::get(&records_path(&id)).token(&t)).await;

    h.emulator.stop();

    let a = h.send(Event::get("/v1/datasets").token(&t)).await;
    assert_eq!((a.status, a.degraded()), (200, true));
    assert_eq!(
        a.body["items"], listed.body["items"],
        "the last good answer"
    );
    let a = h.send(Event::get(&records_path(&id)).token(&t)).await;
    assert_eq!(
        (a.status, a.degraded(), &a.body["items"]),
        (200, true, &records.body["items"])
    );
    // A listing never read before: the contract's empty page, degraded.
    let a = h
        .send(Event::get("/v1/datasets").token(&t).query("limit", "3"))
        .await;
    assert_eq!(
        (a.status, a.degraded(), a.body["items"].clone()),
        (200, true, json!([]))
    );

    let a = ingest(&h, &t, &id, batch(3, 3)).await;
    assert_eq!(
        (a.status, a.code(), a.degraded()),
        (503, "INTERNAL_ERROR", true),
        "{}",
        a.body
    );
    assert!(a.header("retry-after").is_some());
    let a = h.send(Event::get("/v1/health")).await;
    assert_eq!(
        (
            a.status,
            a.body["status"].as_str(),
            a.body["checks"]["store"].as_str()
        ),
        (200, Some("degraded"), Some("unreachable"))
    );
}
