use serde_json::json;
use stackpro_testkit::Event;

use crate::common::{batch, dataset, ingest, read_all, records_path, schema, start};

#[tokio::test]
async fn datasets_are_created_read_and_listed() {
    let h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "clicks").await;
    let got = h
        .send(Event::get(&format!("/v1/datasets/{id}")).token(&t))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        (got.body["name"].as_str(), got.body["schema"].clone()),
        (Some("clicks"), schema())
    );
    assert_eq!(
        (
            got.body["retention_days"].as_i64(),
            got.body["record_count"].as_i64()
        ),
        (Some(30), Some(0))
    );
    let second = dataset(&h, &t, "views").await;
    let list = h.send(Event::get("/v1/datasets").token(&t)).await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "newest first");
    assert!(
        list.body["items"][0].get("schema").is_none(),
        "listings leave the schema out"
    );
    let missing = uuid::Uuid::now_v7().to_string();
    for path in [
        format!("/v1/datasets/{missing}"),
        "/v1/datasets/not-a-uuid".into(),
        records_path(&missing),
    ] {
        let a = h.send(Event::get(&path).token(&t)).await;
        assert_eq!((a.status, a.code()), (404, "NOT_FOUND"), "{path}");
    }
}

#[tokio::test]
async fn a_batch_is_read_back_by_time_with_cursors_across_batches() {
    let h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "metrics").await;
    let before = stackpro_runtime::time::now_rfc3339();
    let mut receipts = Vec::new();
    for b in 0..3 {
        let a = ingest(&h, &t, &id, batch(b * 30, 30)).await;
        assert_eq!(
            (a.status, a.body["accepted"].as_i64()),
            (201, Some(30)),
            "{}",
            a.body
        );
        receipts.push(a.body);
    }
    let records = read_all(&h, &t, &id, 25).await;
    let values: Vec<i64> = records
        .iter()
        .map(|r| r["data"]["value"].as_i64().unwrap())
        .collect();
    assert_eq!(
        values,
        (0..90).collect::<Vec<i64>>(),
        "every record once, in ingestion order"
    );
    assert_eq!(
        records[31]["id"],
        format!("{}.1", receipts[1]["batch_id"].as_str().unwrap())
    );
    // A cursor is the id of the last record seen: any record id is a position.
    let after = |cursor: &str| {
        Event::get(&records_path(&id))
            .token(&t)
            .query("limit", "2")
            .query("cursor", cursor)
    };
    let a = h.send(after(records[31]["id"].as_str().unwrap())).await;
    assert_eq!(a.body["items"][0]["data"]["value"], 32, "{}", a.body);
    let a = h.send(after(records[59]["id"].as_str().unwrap())).await;
    assert_eq!(a.body["items"][0]["data"]["value"], 60, "across batches");
    let a = h
        .send(after("00000000-0000-7000-8000-000000000000.0"))
        .await;
    assert_eq!(a.body["items"][0]["data"]["value"], 0, "before every batch");
    let a = h
        .send(after("fff00000-0000-7000-8000-000000000000.0"))
        .await;
    assert_eq!(a.body["items"], json!([]), "after every batch");
    let got = h
        .send(Event::get(&format!("/v1/datasets/{id}")).token(&t))
        .await;
    assert_eq!(got.body["record_count"], 90);

    // A time range: nothing before the first batch, everything from it on.
    let a = h
        .send(
            Event::get(&records_path(&id))
                .token(&t)
                .query("to", "2000-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(a.body["items"], json!([]));
    let a = h
        .send(
            Event::get(&records_path(&id))
                .token(&t)
                .query("from", &before)
                .query("limit", "1000"),
        )
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 90);
    let from_third = receipts[2]["ingested_at"].as_str().unwrap();
    let a = h
        .send(
            Event::get(&records_path(&id))
                .token(&t)
                .query("from", from_third)
                .query("limit", "1000"),
        )
        .await;
    assert_eq!(a.body["items"][0]["data"]["value"], 60);
}

#[tokio::test]
async fn records_are_checked_against_the_datasets_schema_all_or_nothing() {
    let h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "strict").await;
    let cases = [
        (
            json!({"records": [{"value": 1}, {"value": 2}, {"value": "three"}]}),
            "records[2].value",
        ),
        (
            json!({"records": [{"value": 1}, {"label": "no value"}]}),
            "records[1].value",
        ),
        (
            json!({"records": [{"value": 1, "extra": true}]}),
            "records[0].extra",
        ),
        (json!({"records": []}), "records"),
        (json!({"records": [{"value": 1}], "rows": []}), "rows"),
    ];
    for (body, field) in cases {
        let a = ingest(&h, &t, &id, body.clone()).await;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (400, "INVALID_INPUT", field),
            "{body} -> {}",
            a.body
        );
    }
    assert_eq!(
        read_all(&h, &t, &id, 100).await.len(),
        0,
        "a refused batch stores nothing"
    );

    let a = ingest(&h, &t, &id, crate::common::batch(0, 501)).await;
    assert_eq!((a.status, a.field()), (400, "records"), "{}", a.body);
    let big = json!({"records": (0..4).map(|i| json!({"value": i, "label": "x".repeat(300_000)})).collect::<Vec<_>>()});
    let a = ingest(&h, &t, &id, big).await;
    assert_eq!(
        (a.status, a.code()),
        (413, "PAYLOAD_TOO_LARGE"),
        "{}",
        a.body
    );

    // Near the 1 MiB limit the batch is stored as several items, still all or nothing.
    let wide = json!({"records": (0..3).map(|i| json!({"value": i, "label": "y".repeat(300_000)})).collect::<Vec<_>>()});
    assert_eq!(ingest(&h, &t, &id, wide).await.status, 201);
    let back = read_all(&h, &t, &id, 2).await;
    assert_eq!(back.len(), 3);
    // One record of 300 kB per item: three items, written in one transaction.
    assert_eq!(
        h.count_items("records", "TENANT#acme", &format!("REC#{id}#"))
            .await,
        3
    );

    let bad = h
        .send(
            Event::post("/v1/datasets")
                .token(&t)
                .json(json!({"name": "x", "schema": {"type": "no-such-type"}})),
        )
        .await;
    assert_eq!((bad.status, bad.field()), (400, "schema"), "{}", bad.body);
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_batch_and_stores_it_once() {
    let h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "retried").await;
    let send = |body| {
        Event::post(&records_path(&id))
            .token(&t)
            .header("idempotency-key", "batch-1")
            .json(body)
    };
    let first = h.send(send(batch(0, 10))).await;
    let again = h.send(send(batch(0, 10))).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = h.send(send(batch(5, 10))).await;
    assert_eq!((other.status, other.code()), (409, "CONFLICT"));
    assert_eq!(read_all(&h, &t, &id, 100).await.len(), 10);
}

#[tokio::test]
async fn methods_a_path_does_not_serve_are_405_with_allow_and_bad_cursors_400() {
    let h = start().await;
    let t = h.writer("acme");
    let id = dataset(&h, &t, "m").await;
    let a = h
        .send(Event::new("DELETE", &format!("/v1/datasets/{id}")).token(&t))
        .await;
    assert_eq!(
        (a.status, a.code(), a.header("allow")),
        (405, "METHOD_NOT_ALLOWED", Some("GET"))
    );
    let a = h
        .send(
            Event::get(&records_path(&id))
                .token(&t)
                .query("cursor", "bm90LWEtY3Vyc29y"),
        )
        .await;
    assert_eq!((a.status, a.field()), (400, "cursor"), "{}", a.body);
    let a = h
        .send(
            Event::get(&records_path(&id))
                .token(&t)
                .query("from", "yesterday"),
        )
        .await;
    assert_eq!((a.status, a.field()), (400, "from"), "{}", a.body);
}
