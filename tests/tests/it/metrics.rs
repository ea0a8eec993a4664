//! `stackpro metrics`: the whole command against a loopback server that answers
//! GetMetricData in CloudWatch's own wire format (query protocol XML), because the
//! emulator cannot compute the p95 statistic (its GetMetricData fails with a 500 on any
//! percentile: README, "Testing"); and the same door against the emulator for the sums
//! it does serve.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stackpro_tests::{project_root, Emulator};

use crate::cli::{stackpro_with, DUMMY_CREDS};

/// The form fields of a query-protocol request body.
fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| stackpro_runtime::contract::percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

/// Datapoints the server answers for a query id (by its metric: `requests0`...), as
/// (index of the period from StartTime, value).
fn points(id: &str) -> Vec<(i64, f64)> {
    match id.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "requests" => vec![(0, 200.0), (1, 100.0), (5, 50.0)],
        "errors" => vec![(1, 4.0)],
        "degraded" => vec![(5, 5.0)],
        "latency" => vec![(0, 120.0), (1, 640.0), (5, 90.0)],
        "throttles" => vec![(5, 2.0)],
        other => panic!("a query for an unknown metric {other}"),
    }
}

fn iso(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// A loopback CloudWatch that answers every GetMetricData with [`points`], and keeps
/// each request's form fields for the test to read.
/// The form fields of each request the server answered.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

fn recorded_cloudwatch() -> (String, Seen) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let fields = form(&String::from_utf8(body).unwrap());
            let get = |k: &str| fields.iter().find(|f| f.0 == k).map(|f| f.1.clone());
            assert_eq!(get("Action").as_deref(), Some("GetMetricData"));
            let start = aws_smithy_types::DateTime::from_str(
                &get("StartTime").unwrap(),
                aws_smithy_types::date_time::Format::DateTime,
            )
            .unwrap()
            .secs();
            let period: i64 = get("MetricDataQueries.member.1.MetricStat.Period")
                .unwrap()
                .parse()
                .unwrap();
            let mut results = String::new();
            for (_, id) in fields.iter().filter(|f| f.0.ends_with(".Id")) {
                let (times, values): (String, String) = points(id)
                    .iter()
                    .map(|(i, v)| {
                        (
                            format!("<member>{}</member>", iso(start + i * period)),
                            format!("<member>{v}</member>"),
                        )
                    })
                    .unzip();
                results.push_str(&format!(
                    "<member><Id>{id}</Id><Label>{id}</Label><StatusCode>Complete</StatusCode>\
                     <Timestamps>{times}</Timestamps><Values>{values}</Values></member>"
                ));
            }
            let xml = format!(
                "<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
                 <GetMetricDataResult><MetricDataResults>{results}</MetricDataResults><Messages/>\
                 </GetMetricDataResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>\
                 </GetMetricDataResponse>"
            );
            kept.lock().unwrap().push(fields);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn metrics_reads_every_series_in_one_request_and_marks_the_alarm_thresholds() {
    let (url, seen) = recorded_cloudwatch();
    let args = [
        "metrics",
        "messaging",
        "datalake",
        "--env",
        "sandbox",
        "--since",
        "3h",
        "--endpoint-url",
        &url,
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["--output", "json"]);
    let run = stackpro_with(&project_root(), &json_args, &DUMMY_CREDS);
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["period_seconds"], 180);
    let m = &report["capabilities"][0];
    assert_eq!(m["capability"], "messaging");
    assert_eq!(m["times"].as_array().unwrap().len(), 60);
    assert_eq!(m["requests"][0], 200.0);
    assert_eq!(m["requests"][2], 0.0);
    assert_eq!(m["error_rate_percent"][1], 4.0);
    assert_eq!(
        m["error_rate_percent"][2],
        Value::Null,
        "no requests, no rate"
    );
    assert_eq!(m["degraded_percent"][5], 10.0);
    assert_eq!(m["p95_latency_ms"][1], 640.0);
    let t = &m["totals"];
    assert_eq!(t["requests"], 350.0);
    assert_eq!(t["periods_above_error_rate"], 1);
    assert_eq!(t["periods_above_p95_latency"], 1);
    assert_eq!(t["periods_with_throttles"], 1);
    // The thresholds are the sandbox's alarms.
    assert_eq!(m["thresholds"]["error_rate_percent"], 1.0);
    assert_eq!(m["thresholds"]["p95_latency_ms"], 500.0);
    assert_eq!(report["capabilities"][1]["capability"], "datalake");

    // One request for both capabilities: the handlers' metrics by environment and
    // capability, p95 of the latency, and Lambda's throttles by function name.
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let fields = &requests[0];
    let value_of = |k: &str| fields.iter().find(|f| f.0 == k).map(|f| f.1.as_str());
    let queries = fields.iter().filter(|f| f.0.ends_with(".Id")).count();
    assert_eq!(queries, 10);
    let latency = (1..=10)
        .find(|i| value_of(&format!("MetricDataQueries.member.{i}.Id")) == Some("latency0"))
        .unwrap();
    let q = |rest: &str| value_of(&format!("MetricDataQueries.member.{latency}.{rest}"));
    assert_eq!(q("MetricStat.Stat"), Some("p95"));
    assert_eq!(q("MetricStat.Metric.Namespace"), Some("Stackpro"));
    assert_eq!(q("MetricStat.Metric.MetricName"), Some("Latency"));
    assert_eq!(
        q("MetricStat.Metric.Dimensions.member.1.Value"),
        Some("sandbox")
    );
    assert_eq!(
        q("MetricStat.Metric.Dimensions.member.2.Value"),
        Some("messaging")
    );
    assert!(
        fields
            .iter()
            .any(|f| f.1 == "stackpro-messaging-sandbox"
                && f.0.ends_with("Dimensions.member.1.Value"))
    );

    // As text: a sparkline per series, and a mark under the periods above an alarm.
    let text = stackpro_with(&project_root(), &args, &DUMMY_CREDS);
    assert_eq!(text.code, 0, "{text:?}");
    let lines: Vec<&str> = text.stderr.lines().collect();
    let p95 = lines
        .iter()
        .position(|l| l.trim_start().starts_with("p95 latency"))
        .unwrap();
    assert!(
        lines[p95].contains("max 640 ms; alarm above 500 ms (1 periods above)"),
        "{text:?}"
    );
    assert!(lines[p95].contains('█'), "{text:?}");
    assert_eq!(lines[p95 + 1].trim(), "^", "{text:?}");
    let requests_line = lines
        .iter()
        .find(|l| l.trim_start().starts_with("requests"))
        .unwrap();
    assert!(requests_line.contains("350 in all"), "{text:?}");
    crate::output::both("metrics", &text, &run);
}

#[tokio::test]
async fn the_emulator_serves_the_sums_through_the_same_door() {
    let emulator = Emulator::start();
    let config = stackpro_tests::sdk_config_for(&emulator.url, "eu-west-1");
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let ctx =
        stackpro::aws::AwsContext::from_config(config, "eu-west-1", Some(emulator.url.clone()));
    let now = stackpro::tail::now_ms() / 1000 / 60 * 60;
    for (minutes_ago, requests) in [(5, 30.0), (3, 12.0)] {
        let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name("Requests")
            .dimensions(
                aws_sdk_cloudwatch::types::Dimension::builder()
                    .name("Environment")
                    .value("sandbox")
                    .build(),
            )
            .dimensions(
                aws_sdk_cloudwatch::types::Dimension::builder()
                    .name("Capability")
                    .value("messaging")
                    .build(),
            )
            .value(requests)
            .timestamp(aws_smithy_types::DateTime::from_secs(
                now - minutes_ago * 60,
            ))
            .build();
        cw.put_metric_data()
            .namespace("Stackpro")
            .metric_data(datum)
            .send()
            .await
            .unwrap();
    }
    let query = stackpro::aws::cloudwatch::MetricQuery {
        id: "requests0".into(),
        namespace: "Stackpro".into(),
        name: "Requests".into(),
        dimensions: vec![
            ("Environment".into(), "sandbox".into()),
            ("Capability".into(), "messaging".into()),
        ],
        stat: "Sum".into(),
        period_seconds: 60,
    };
    let series =
        stackpro::aws::cloudwatch::metric_data(&ctx, &[query], now - 600, now + 60, "test")
            .await
            .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].values.iter().sum::<f64>(), 42.0, "{series:?}");
    assert!(
        series[0].timestamps.windows(2).all(|w| w[0] < w[1]),
        "oldest first"
    );
}
