//! Provider faults, on the real Converse client and the OpenAI-compatible one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stackpro_testkit::{Answer, Seen};

use crate::common::{bedrock_error, converse, echo, setup, writer};

fn throttled() -> Answer {
    bedrock_error(
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )
}

/// Answers with `first` for the first `n` calls, then `then`.
fn first_n(
    n: usize,
    first: impl Fn() -> Answer + Send + 'static,
    then: impl Fn(&Seen) -> Answer + Send + 'static,
) -> impl FnMut(&Seen) -> Answer + Send + 'static {
    let count = Arc::new(AtomicUsize::new(0));
    move |seen| {
        if count.fetch_add(1, Ordering::SeqCst) < n {
            first()
        } else {
            then(seen)
        }
    }
}

#[tokio::test]
async fn a_throttled_call_is_retried_once_then_answered() {
    let w = setup().start(first_n(1, throttled, echo)).await;
    let a = w.ask(&writer("acme"), "busy").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(w.calls(), 2);
    assert!(!a.degraded());
}

#[tokio::test]
async fn throttled_twice_is_503_capability_degraded_with_retry_after() {
    let w = setup().start(|_: &Seen| throttled()).await;
    let t = writer("acme");
    let a = w.ask(&t, "busy").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.code(), "CAPABILITY_DEGRADED");
    assert!(a.degraded());
    assert_eq!(a.header("retry-after"), Some("5"));
    assert_eq!(w.calls(), 2, "one retry, no more");
    // The reservation was released: nothing but the request counts today.
    let q = w.quotas(&t).await;
    assert_eq!(q.body["used"]["tokens_today"], 0, "{}", q.body);
    assert_eq!(q.body["used"]["requests_this_minute"], 1);
}

#[tokio::test]
async fn a_provider_down_serves_the_last_answer_degraded() {
    // Answers stay fresh one second; then the provider fails.
    let w = setup().setting("cache_ttl_seconds", "1").start(echo).await;
    let t = writer("acme");
    let first = w.ask(&t, "remember").await;
    assert_eq!(first.status, 201);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    w.model.answer_with(|_| {
        bedrock_error(503, "ServiceUnavailableException", "Bedrock is unavailable")
    });
    let again = w.ask(&t, "remember").await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(again.degraded());
    assert_eq!(again.body["answer"], first.body["answer"]);
    assert_eq!(again.body["cached"], true);
    // A prompt never answered before has nothing to fall back on.
    let new = w.ask(&t, "never seen").await;
    assert_eq!((new.status, new.code()), (503, "CAPABILITY_DEGRADED"));
    assert_eq!(new.header("retry-after"), Some("15"));
}

#[tokio::test]
async fn model_timeout_and_validation_exceptions() {
    let w = setup()
        .start(|_: &Seen| bedrock_error(408, "ModelTimeoutException", "Model has timed out"))
        .await;
    let t = writer("acme");
    let a = w.ask(&t, "slow model").await;
    assert_eq!(
        (a.status, a.code()),
        (503, "CAPABILITY_DEGRADED"),
        "{}",
        a.body
    );
    assert_eq!(w.calls(), 1, "only throttling is retried");
    w.model.answer_with(|_| {
        bedrock_error(
            400,
            "ValidationException",
            "Input is too long for requested model.",
        )
    });
    let b = w.ask(&t, "too long").await;
    assert_eq!((b.status, b.field()), (400, "prompt"), "{}", b.body);
    assert!(b.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("too long for requested model"));
    // A failed request is recorded as failed.
    let q = w.quotas(&t).await;
    assert_eq!(q.body["used"]["tokens_today"], 0);
}

#[tokio::test]
async fn a_hung_provider_is_cut_at_its_time_limit() {
    // The model server accepts and never answers; when it got the call is kept, so the
    // time measured is the provider's alone (plus one settlement), not the emulator's.
    let called: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let at = called.clone();
    let w = setup()
        .setting("provider_timeout_ms", "400")
        .start(move |_: &Seen| {
            *at.lock().unwrap() = Some(Instant::now());
            Answer::hang()
        })
        .await;
    let a = w.ask(&writer("acme"), "anyone there").await;
    let took = called
        .lock()
        .unwrap()
        .expect("the model was called")
        .elapsed();
    assert_eq!(
        (a.status, a.code()),
        (503, "CAPABILITY_DEGRADED"),
        "{}",
        a.body
    );
    assert_eq!(w.calls(), 1, "a timeout is not retried");
    // Cut at 400 ms; the settlement after it runs on a loaded emulator. The server would
    // have held the call for 600 s, past the function's 30 s.
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(10),
        "answered {took:?} after the model was called"
    );
}

#[tokio::test]
async fn the_openai_compatible_provider_answers_and_fails_the_same_way() {
    let reply = |seen: &Seen| {
        let body = seen.json();
        assert_eq!(seen.path, "/v1/chat/completions");
        let prompt = body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string();
        Answer::json(
            200,
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": format!("local: {prompt}")}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
            }),
        )
    };
    let w = setup()
        .openai()
        .start(first_n(
            1,
            || Answer::json(429, json!({"error": {"message": "slow down"}})),
            reply,
        ))
        .await;
    let t = writer("acme");
    let a = w.ask(&t, "offline").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["answer"], "local: offline");
    assert_eq!(a.body["provider"], "openai");
    assert_eq!(a.body["usage"]["total_tokens"], 7);
    assert_eq!(w.calls(), 2, "429 was retried once");
    let sent = w.model.seen()[1].json();
    assert_eq!(
        sent["model"],
        w.h.vars[&stackpro_conventions::vars::setting("model_small")]
    );
    assert_eq!(sent["max_tokens"], 1024);
    w.model
        .answer_with(|_| Answer::json(500, json!({"error": {"message": "model crashed"}})));
    let b = w.ask(&t, "again").await;
    assert_eq!((b.status, b.code()), (503, "CAPABILITY_DEGRADED"));
    let _ = converse;
}
