//! Quotas enforced in one DynamoDB transaction per request: no over-admission.

use std::time::Duration;

use serde_json::json;
use stackpro_testkit::Event;

use crate::common::{admin, echo, setup, writer};

/// Waits until at least `need` seconds of the current UTC minute remain, so a test
/// about one minute's counter runs inside one minute.
async fn inside_one_minute(need: u64) {
    let now = stackpro_runtime::idempotency::now_epoch_seconds() as u64;
    let left = 60 - now % 60;
    if left < need {
        tokio::time::sleep(Duration::from_secs(left) + Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_requests_with_a_quota_of_fifty_admit_exactly_fifty() {
    let w = setup()
        .serialized()
        .setting("cache_ttl_seconds", "0")
        .start(echo)
        .await;
    let set =
        w.h.send(
            Event::put("/v1/quotas")
                .token(&admin("acme"))
                .json(json!({"requests_per_minute": 50, "tokens_per_day": 1000000})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let t = writer("acme");
    let events = (0..100)
        .map(|i| {
            Event::post("/v1/requests")
                .token(&t)
                .json(json!({"prompt": format!("question {i}")}))
        })
        .collect();
    inside_one_minute(40).await;
    let answers = w.h.send_concurrently(events, 100).await;
    let accepted = answers.iter().filter(|a| a.status == 201).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        (accepted, limited.len()),
        (50, 50),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for a in &limited {
        assert_eq!(a.code(), "RATE_LIMIT");
        let wait: u32 = a.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
    }
    assert_eq!(w.calls(), 50, "a refused request never reaches the model");
    let q = w.quotas(&t).await;
    assert_eq!(q.body["used"]["requests_this_minute"], 50);
}

#[tokio::test]
async fn tokens_per_day_reserve_max_tokens_then_settle_to_what_was_used() {
    // Each answer uses 10 tokens (5 in, 5 out); each request reserves 60 while running.
    let w = setup().setting("cache_ttl_seconds", "0").start(echo).await;
    let set =
        w.h.send(
            Event::put("/v1/quotas")
                .token(&admin("acme"))
                .json(json!({"requests_per_minute": 1000, "tokens_per_day": 100})),
        )
        .await;
    assert_eq!(set.body["source"], "tenant");
    assert_eq!(set.body["updated_by"], "user@acme");
    let t = writer("acme");
    let ask = |p: &str| {
        w.h.send(
            Event::post("/v1/requests")
                .token(&t)
                .json(json!({"prompt": format!("{p}..."), "max_tokens": 60})),
        )
    };
    // 0 + 60 <= 100, settles at 8 (3+5); 8 + 60 <= 100, settles at 16; ... until
    // the used tokens plus one reservation exceed the day's 100.
    let mut admitted = 0;
    for i in 0..10 {
        let a = ask(&format!("q{i}")).await;
        if a.status == 429 {
            assert_eq!(a.code(), "RATE_LIMIT");
            assert!(a.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tokens per day"));
            let wait: u32 = a.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=86_400).contains(&wait));
            break;
        }
        assert_eq!(a.status, 201, "{}", a.body);
        admitted += 1;
    }
    let q = w.quotas(&t).await;
    let used = q.body["used"]["tokens_today"].as_u64().unwrap();
    assert_eq!(used, admitted * 10, "settled to what the model used");
    assert!(
        used + 60 > 100 && used <= 100,
        "stopped at the first reservation that did not fit: {used}"
    );
}
