//! API Gateway HTTP API events (payload format 2.0), built the way API Gateway builds
//! them from an HTTP request: method, path, query, headers and body. The route key and
//! path parameters are filled in by the harness when it sends the event, from the
//! routes the capability declares, as API Gateway's router would.

use base64::Engine;
use serde_json::{json, Map, Value};

/// One HTTP request as the Lambda function receives it from API Gateway.
#[derive(Debug, Clone)]
pub struct Event {
    json: Value,
}

impl Event {
    /// A request with the headers a browser or SDK client sends through API Gateway,
    /// no query, no body and no `Authorization`.
    pub fn new(method: &str, path: &str) -> Self {
        let method = method.to_ascii_uppercase();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let json = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {
                "accept": "application/json",
                "content-type": "application/json",
                "host": "abc123.execute-api.us-east-1.amazonaws.com",
                "user-agent": "stackpro-testkit",
                "x-amzn-trace-id": "Root=1-5f84c7a9-0e5b1e0a6c2b8a3f1d2e3c4b",
                "x-forwarded-for": "127.0.0.1",
                "x-forwarded-port": "443",
                "x-forwarded-proto": "https"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "stackpro-testkit"
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": "$default",
                "stage": "$default",
                "time": "30/Nov/2026:01:30:00 +0000",
                "timeEpoch": now.as_millis() as u64
            },
            "isBase64Encoded": false
        });
        Event { json }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn put(path: &str) -> Self {
        Self::new("PUT", path)
    }

    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    pub fn method(&self) -> &str {
        self.json["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.json["rawPath"].as_str().unwrap_or("")
    }

    /// Adds a query parameter (repeated names are joined with commas, as API Gateway
    /// does in `queryStringParameters`).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let params = self
            .json
            .as_object_mut()
            .expect("an event is an object")
            .entry("queryStringParameters")
            .or_insert_with(|| Value::Object(Map::new()));
        let joined = match params.get(name).and_then(Value::as_str) {
            Some(old) => format!("{old},{value}"),
            None => value.to_string(),
        };
        params[name] = Value::String(joined);
        let raw = self.json["rawQueryString"].as_str().unwrap_or("");
        let pair = format!("{}={}", encode(name), encode(value));
        self.json["rawQueryString"] = Value::String(if raw.is_empty() {
            pair
        } else {
            format!("{raw}&{pair}")
        });
        self
    }

    /// Sets a header (API Gateway lower-cases names). The value may be any text,
    /// including characters a real client could not send, to test the refusal.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.json["headers"][name.to_ascii_lowercase()] = Value::String(value.to_string());
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(h) = self.json["headers"].as_object_mut() {
            h.remove(&name.to_ascii_lowercase());
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body.
    pub fn json(self, body: Value) -> Self {
        self.text(&body.to_string())
    }

    /// A text body as sent, JSON or not.
    pub fn text(mut self, body: &str) -> Self {
        self.json["body"] = Value::String(body.to_string());
        self.json["isBase64Encoded"] = Value::Bool(false);
        self
    }

    /// A body of any bytes, as API Gateway passes one it does not treat as text:
    /// base64-encoded with `isBase64Encoded: true`.
    pub fn bytes(mut self, body: &[u8]) -> Self {
        self.json["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(body));
        self.json["isBase64Encoded"] = Value::Bool(true);
        self
    }

    /// The event document itself, for what the builders do not cover (a header value
    /// that is not a string, say).
    pub fn json_mut(&mut self) -> &mut Value {
        &mut self.json
    }

    pub fn as_json(&self) -> &Value {
        &self.json
    }

    /// Sets what API Gateway's router fills in: the route key and the path parameters.
    pub(crate) fn routed(mut self, route_key: Option<&str>, params: &[(String, String)]) -> Self {
        let key = route_key.unwrap_or("$default");
        self.json["routeKey"] = Value::String(key.to_string());
        self.json["requestContext"]["routeKey"] = Value::String(key.to_string());
        let obj = self.json.as_object_mut().expect("an event is an object");
        if params.is_empty() {
            obj.remove("pathParameters");
        } else {
            obj.insert(
                "pathParameters".into(),
                Value::Object(
                    params
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                ),
            );
        }
        self
    }

    pub(crate) fn into_json(self) -> Value {
        self.json
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_raw_and_decoded_in_the_map() {
        let e = Event::get("/v1/x")
            .query("cursor", "a b+c/=")
            .query("tag", "1")
            .query("tag", "2");
        assert_eq!(
            e.as_json()["rawQueryString"],
            "cursor=a%20b%2Bc%2F%3D&tag=1&tag=2"
        );
        assert_eq!(e.as_json()["queryStringParameters"]["cursor"], "a b+c/=");
        assert_eq!(e.as_json()["queryStringParameters"]["tag"], "1,2");
    }

    #[test]
    fn bytes_are_base64_and_flagged() {
        let e = Event::post("/v1/x").bytes(&[0xff, 0xfe]);
        assert_eq!(e.as_json()["body"], "//4=");
        assert_eq!(e.as_json()["isBase64Encoded"], true);
        let e = e.text("{}");
        assert_eq!(e.as_json()["isBase64Encoded"], false);
    }

    #[test]
    fn the_event_is_one_lambda_http_decodes() {
        let e = Event::post("/v1/threads/x%20y")
            .token("t")
            .json(json!({"a": 1}))
            .routed(
                Some("POST /v1/threads/{id}"),
                &[(
                    "id".into(),
                    stackpro_runtime::contract::percent_decode("x%20y"),
                )],
            );
        assert_eq!(e.as_json()["pathParameters"]["id"], "x y");
        let req: lambda_http::request::LambdaRequest =
            serde_json::from_value(e.into_json()).expect("lambda_http reads it");
        let req: lambda_http::Request = req.into();
        assert_eq!(req.method(), "POST");
        assert_eq!(req.headers()["authorization"], "Bearer t");
    }
}
