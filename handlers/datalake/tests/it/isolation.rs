use stackpro_testkit::Event;

use crate::common::{batch, dataset, export_bucket, ingest, records_path, start};

#[tokio::test]
async fn tenant_b_never_reads_writes_or_exports_tenant_as_datasets() {
    let h = start().await;
    export_bucket(&h);
    let (a, b) = (h.writer("acme"), h.writer("globex"));
    let id = dataset(&h, &a, "private").await;
    assert_eq!(ingest(&h, &a, &id, batch(0, 5)).await.status, 201);
    dataset(&h, &a, "second").await;

    for e in [
        Event::get(&format!("/v1/datasets/{id}")),
        Event::get(&records_path(&id)),
        Event::post(&records_path(&id)).json(batch(0, 1)),
        Event::post(&format!("/v1/datasets/{id}/exports")),
    ] {
        let r = h.send(e.token(&b)).await;
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{}", r.body);
    }
    let listed = h.send(Event::get("/v1/datasets").token(&b)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    // A's cursor gives B nothing of A's.
    let page = h
        .send(Event::get("/v1/datasets").token(&a).query("limit", "1"))
        .await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let r = h
        .send(Event::get("/v1/datasets").token(&b).query("cursor", cursor))
        .await;
    assert_eq!(
        (r.status, r.body["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{}",
        r.body
    );
    // A record cursor is a position (the id of the last record seen): on B's dataset,
    // A's cursor lists B's own records after it and nothing of A's.
    let records = h
        .send(Event::get(&records_path(&id)).token(&a).query("limit", "2"))
        .await;
    let cursor = records.body["next_cursor"].as_str().unwrap();
    let b_id = dataset(&h, &b, "theirs").await;
    assert_eq!(ingest(&h, &b, &b_id, batch(100, 3)).await.status, 201);
    let r = h
        .send(
            Event::get(&records_path(&b_id))
                .token(&b)
                .query("cursor", cursor),
        )
        .await;
    let values: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"]["value"].as_i64().unwrap())
        .collect();
    assert_eq!((r.status, values), (200, vec![100, 101, 102]), "{}", r.body);
}
