use std::io::Read;

use serde_json::{json, Value};
use stackpro_testkit::Event;

use crate::common::{batch, dataset, export_bucket, ingest, start};

#[tokio::test]
async fn an_export_writes_gzipped_json_lines_per_day_that_read_back() {
    let h = start().await;
    let (s3, bucket) = export_bucket(&h);
    let t = h.writer("acme");
    let id = dataset(&h, &t, "exported").await;
    for b in 0..3 {
        assert_eq!(ingest(&h, &t, &id, batch(b * 100, 100)).await.status, 201);
    }
    let a = h
        .send(Event::post(&format!("/v1/datasets/{id}/exports")).token(&t))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["records"].as_i64(), a.body["bucket"].as_str()),
        (Some(300), Some(bucket.as_str()))
    );
    let objects = a.body["objects"].as_array().unwrap();
    let mut lines = Vec::new();
    for o in objects {
        let key = o["key"].as_str().unwrap();
        let day = &stackpro_runtime::time::now_rfc3339()[..10];
        assert!(
            key.starts_with(&format!("tenant=acme/dataset={id}/dt=")),
            "{key}"
        );
        assert!(
            key.contains(&format!("dt={day}")) || objects.len() > 1,
            "{key}"
        );
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let gz = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(gz.len() as i64, o["bytes"].as_i64().unwrap());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        lines.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    let mut values: Vec<i64> = lines
        .iter()
        .map(|l| l["data"]["value"].as_i64().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..300).collect::<Vec<i64>>());
    assert!(lines
        .iter()
        .all(|l| l["dataset_id"] == json!(id) && l["ingested_at"].is_string()));

    // An export of a range with nothing in it writes nothing.
    let a = h
        .send(
            Event::post(&format!("/v1/datasets/{id}/exports"))
                .token(&t)
                .json(json!({"to": "2000-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        (
            a.status,
            a.body["records"].as_i64(),
            a.body["objects"].clone()
        ),
        (201, Some(0), json!([]))
    );
}
