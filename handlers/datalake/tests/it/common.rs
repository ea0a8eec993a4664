use serde_json::{json, Value};
use stackpro_testkit::{Event, Harness, Response, Setup};

pub fn setup() -> Setup {
    Harness::setup("datalake")
}

pub async fn serve(setup: Setup) -> Harness {
    setup
        .start(|config, sdk| async move { stackpro_datalake::service(config, &sdk).await })
        .await
}

pub async fn start() -> Harness {
    serve(setup()).await
}

/// A schema with a required integer `value` and an optional string `label`.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "integer"}, "label": {"type": "string"}},
        "additionalProperties": false
    })
}

/// Creates a dataset as `token`, returning its id.
pub async fn dataset(h: &Harness, token: &str, name: &str) -> String {
    let a = h
        .send(
            Event::post("/v1/datasets")
                .token(token)
                .json(json!({"name": name, "schema": schema()})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["id"].as_str().unwrap().to_string()
}

pub fn records_path(id: &str) -> String {
    format!("/v1/datasets/{id}/records")
}

/// `n` records, `value` from `start`.
pub fn batch(start: usize, n: usize) -> Value {
    json!({"records": (start..start + n).map(|i| json!({"value": i, "label": format!("r{i}")})).collect::<Vec<_>>()})
}

pub async fn ingest(h: &Harness, token: &str, id: &str, body: Value) -> Response {
    h.send(Event::post(&records_path(id)).token(token).json(body))
        .await
}

/// Every record of the dataset, following cursors with pages of `limit`.
pub async fn read_all(h: &Harness, token: &str, id: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut e = Event::get(&records_path(id))
            .token(token)
            .query("limit", &limit.to_string());
        if let Some(c) = &cursor {
            e = e.query("cursor", c);
        }
        let a = h.send(e).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let items = a.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        out.extend(items.iter().cloned());
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("the listing never ended");
}

/// The export bucket (the harness created it as `stackpro dev` does) and a client.
pub fn export_bucket(h: &Harness) -> (aws_sdk_s3::Client, String) {
    let bucket = h.vars[&stackpro_conventions::vars::bucket("export")].clone();
    (aws_sdk_s3::Client::new(&h.sdk), bucket)
}
