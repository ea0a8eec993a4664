//! Structured logs and metrics.
//!
//! Logs: `tracing` with a JSON formatter, one object per line with the request's
//! fields at the top level (timestamp, level, message, capability, route, tenant_id,
//! latency_ms, degraded, request_id, trace_id). Metrics: one CloudWatch Embedded Metric
//! Format line per request on stdout, which CloudWatch Logs turns into metrics with no
//! PutMetricData call on the request path.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Installs the JSON log formatter (`RUST_LOG` filters, default `info`). Safe to call twice.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}

/// What one request did, for its log line and metrics.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub degraded: bool,
    pub tenant_id: Option<&'a str>,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
}

/// Writes the request's log line and its metrics line.
pub struct Telemetry {
    pub namespace: String,
    pub env: String,
    pub capability: String,
    /// Off in benchmarks of the handler's own overhead, where stdout is not drained.
    pub emit: bool,
}

impl Telemetry {
    /// The request's log line (one JSON object through `tracing`).
    pub fn log(&self, o: &Outcome<'_>) {
        let tenant = o.tenant_id.unwrap_or("");
        let trace = o.trace_id.unwrap_or("");
        if o.status >= 500 {
            tracing::error!(capability = %self.capability, route = o.route, tenant_id = tenant, latency_ms = o.latency_ms, degraded = o.degraded, request_id = o.request_id, trace_id = trace, status = o.status, "request failed");
        } else {
            tracing::info!(capability = %self.capability, route = o.route, tenant_id = tenant, latency_ms = o.latency_ms, degraded = o.degraded, request_id = o.request_id, trace_id = trace, status = o.status, "request served");
        }
    }

    /// The EMF document for one request: `Requests`, `Success`, `Errors` (5xx),
    /// `ClientErrors` (4xx), `Latency` (ms) and `Degraded`, by (Environment, Capability)
    /// as the dashboard and alarms read them; `Requests`, `Errors` and `Latency` also by
    /// (Environment, Capability, Route) (`metrics::BY_ROUTE`), in a second directive.
    pub fn emf(&self, o: &Outcome<'_>) -> Value {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        use stackpro_conventions::metrics as m;
        let flag = |b: bool| if b { 1 } else { 0 };
        let metrics: Vec<Value> = m::ALL
            .iter()
            .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        let by_route: Vec<Value> = m::ALL
            .iter()
            .filter(|(name, _)| m::BY_ROUTE.contains(name))
            .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut doc = json!({
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [[m::ENVIRONMENT, m::CAPABILITY]],
                    "Metrics": metrics,
                }, {
                    "Namespace": self.namespace,
                    "Dimensions": [[m::ENVIRONMENT, m::CAPABILITY, m::ROUTE]],
                    "Metrics": by_route,
                }]
            },
            "request_id": o.request_id,
        });
        let values = [
            (m::ENVIRONMENT, json!(self.env)),
            (m::CAPABILITY, json!(self.capability)),
            (m::ROUTE, json!(o.route)),
            (m::REQUESTS, json!(1)),
            (m::SUCCESS, json!(flag(o.status < 400))),
            (m::ERRORS, json!(flag(o.status >= 500))),
            (
                m::CLIENT_ERRORS,
                json!(flag((400..500).contains(&o.status))),
            ),
            (m::LATENCY, json!(o.latency_ms)),
            (m::DEGRADED, json!(flag(o.degraded))),
        ];
        if let Value::Object(map) = &mut doc {
            for (k, v) in values {
                map.insert(k.to_string(), v);
            }
        }
        doc
    }

    /// Log line, then metrics line.
    pub fn record(&self, o: &Outcome<'_>) {
        if !self.emit {
            return;
        }
        self.log(o);
        let line = self.emf(o).to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_counts_and_dimensions() {
        let t = Telemetry {
            namespace: "Stackpro".into(),
            env: "sandbox".into(),
            capability: "messaging".into(),
            emit: false,
        };
        let v = t.emf(&Outcome {
            route: "POST /v1/threads",
            status: 503,
            latency_ms: 12.5,
            degraded: true,
            tenant_id: Some("acme"),
            request_id: "r1",
            trace_id: None,
        });
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Stackpro");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["Environment", "Capability"])
        );
        assert_eq!(
            (
                v["Requests"].as_i64(),
                v["Errors"].as_i64(),
                v["Success"].as_i64()
            ),
            (Some(1), Some(1), Some(0))
        );
        assert_eq!(
            (v["Degraded"].as_i64(), v["Latency"].as_f64()),
            (Some(1), Some(12.5))
        );
        assert_eq!(v["Route"], "POST /v1/threads");
        // Per route: requests, errors and latency only, in a directive of their own.
        let by_route = &v["_aws"]["CloudWatchMetrics"][1];
        assert_eq!(
            by_route["Dimensions"],
            json!([["Environment", "Capability", "Route"]])
        );
        let names: Vec<&str> = by_route["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Requests", "Errors", "Latency"]);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Environment", "Capability"]])
        );
        // every declared metric has a value
        for m in v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(v.get(m["Name"].as_str().unwrap()).is_some(), "{m}");
        }
    }

    /// What a subscriber formatted as the Lambda's log lines are, into a buffer.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_log_line_carries_the_xray_trace_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_target(false)
            .with_writer(move || writer.clone())
            .finish();
        let t = Telemetry {
            namespace: "Stackpro".into(),
            env: "sandbox".into(),
            capability: "messaging".into(),
            emit: false,
        };
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        tracing::subscriber::with_default(subscriber, || {
            t.log(&Outcome {
                route: "GET /v1/threads",
                status: 200,
                latency_ms: 1.5,
                degraded: false,
                tenant_id: Some("acme"),
                request_id: "r1",
                trace_id: Some(trace),
            })
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["trace_id"], trace, "{line}");
        assert_eq!(line["request_id"], "r1", "{line}");
    }
}
