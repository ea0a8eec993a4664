use serde_json::json;
use stackpro_testkit::Event;

use crate::common::{echo, setup, writer};

#[tokio::test]
async fn health_answers_without_a_token() {
    let w = setup().start(echo).await;
    let a = w.h.send(Event::get("/v1/health")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "ok");
    assert_eq!(a.body["capability"], "ai");
}

#[tokio::test]
async fn a_request_is_answered_recorded_and_read_back_without_its_prompt() {
    let w = setup().start(echo).await;
    let t = writer("acme");
    let a =
        w.h.send(Event::post("/v1/requests").token(&t).json(
            json!({"prompt": "hello", "system": "be brief", "max_tokens": 64, "temperature": 0.5}),
        ))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["answer"], "echo: hello");
    assert_eq!(a.body["status"], "completed");
    assert_eq!(a.body["model"], "small");
    assert_eq!(a.body["provider"], "bedrock");
    assert_eq!(
        a.body["usage"],
        json!({"input_tokens": 5, "output_tokens": 5, "total_tokens": 10})
    );
    assert_eq!(a.body["cached"], false);
    assert!(!a.degraded());

    // What went over the wire is Converse as Bedrock documents it.
    let calls = w.model.seen();
    assert_eq!(calls.len(), 1);
    let model_id = w.h.vars[&stackpro_conventions::vars::setting("model_small")].clone();
    assert_eq!(calls[0].method, "POST");
    assert_eq!(
        calls[0].path,
        format!("/model/{}/converse", model_id.replace(':', "%3A"))
    );
    let sent = calls[0].json();
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(sent["system"][0]["text"], "be brief");
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 64);
    assert!(calls[0]
        .header("authorization")
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256")));

    let id = a.body["id"].as_str().unwrap();
    let r =
        w.h.send(Event::get(&format!("/v1/requests/{id}")).token(&t))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(
        r.body["prompt"],
        json!(null),
        "prompts are stored only as a hash"
    );
    assert_eq!(r.body["answer"], json!(null));
    assert_eq!(r.body["prompt_sha256"], a.body["prompt_sha256"]);
    assert_eq!(r.body["usage"]["total_tokens"], 10);
}

#[tokio::test]
async fn prompts_are_stored_when_the_environment_says_so() {
    let w = setup().setting("store_prompts", "true").start(echo).await;
    let t = writer("acme");
    let a = w.ask(&t, "keep me").await;
    let id = a.body["id"].as_str().unwrap();
    let r =
        w.h.send(Event::get(&format!("/v1/requests/{id}")).token(&t))
            .await;
    assert_eq!(r.body["prompt"], "keep me");
    assert_eq!(r.body["answer"], "echo: keep me");
}

#[tokio::test]
async fn the_same_prompt_is_answered_from_the_cache_without_tokens() {
    let w = setup().start(echo).await;
    let t = writer("acme");
    let first = w.ask(&t, "cache me").await;
    let second = w.ask(&t, "cache me").await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.body["cached"], true);
    assert_eq!(second.body["answer"], first.body["answer"]);
    assert_eq!(second.body["usage"]["total_tokens"], 0);
    assert_ne!(second.body["id"], first.body["id"]);
    assert_eq!(w.calls(), 1, "the cache answered the second");
    // Another tenant's identical prompt is not served from acme's cache.
    let other = w.ask(&writer("globex"), "cache me").await;
    assert_eq!(other.body["cached"], false);
    assert_eq!(w.calls(), 2);
}

#[tokio::test]
async fn a_tenant_override_of_the_model_flag_picks_the_large_model() {
    let w = setup().start(echo).await;
    w.h.set_flag(Some("globex"), "CAP_AI_MODEL", Some("large"))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let a = w.ask(&writer("globex"), "big question").await;
    assert_eq!(a.body["model"], "large");
    let b = w.ask(&writer("acme"), "small question").await;
    assert_eq!(b.body["model"], "small");
    let large = w.h.vars[&stackpro_conventions::vars::setting("model_large")].replace(':', "%3A");
    assert!(w.model.seen()[0].path.contains(&large));
}

#[tokio::test]
async fn an_idempotent_retry_never_calls_the_model_or_counts_twice() {
    let w = setup().setting("cache_ttl_seconds", "0").start(echo).await;
    let t = writer("acme");
    let send = || {
        w.h.send(
            Event::post("/v1/requests")
                .token(&t)
                .header("idempotency-key", "retry-1")
                .json(json!({"prompt": "once"})),
        )
    };
    let first = send().await;
    let again = send().await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(again.body, first.body);
    assert_eq!(w.calls(), 1);
    let q = w.quotas(&t).await;
    assert_eq!(q.body["used"]["requests_this_minute"], 1, "{}", q.body);
    assert_eq!(
        q.body["used"]["tokens_today"],
        first.body["usage"]["total_tokens"]
    );
    assert_eq!(w.billing.records.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retry_racing_its_original_is_409_and_the_model_is_called_once() {
    // The model takes 800 ms; the retry arrives while the first is running.
    let w = setup()
        .setting("cache_ttl_seconds", "0")
        .start(|s| crate::common::echo(s).after(std::time::Duration::from_millis(800)))
        .await;
    let t = writer("acme");
    let send = || {
        w.h.send(
            Event::post("/v1/requests")
                .token(&t)
                .header("idempotency-key", "race-1")
                .json(json!({"prompt": "slow"})),
        )
    };
    let (a, b) = tokio::join!(send(), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        send().await
    });
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", a.body, b.body);
    assert_eq!(w.calls(), 1);
    // Once the first has answered, the key replays it.
    let c = send().await;
    assert_eq!(c.status, 201);
    assert_eq!(
        c.body["id"],
        if a.status == 201 {
            &a.body["id"]
        } else {
            &b.body["id"]
        }
        .clone()
    );
}

#[tokio::test]
async fn tenants_never_read_each_others_requests_or_quotas() {
    let w = setup().start(echo).await;
    let (a, b) = (writer("acme"), writer("globex"));
    let mine = w.ask(&a, "private").await;
    let id = mine.body["id"].as_str().unwrap();
    let theirs =
        w.h.send(Event::get(&format!("/v1/requests/{id}")).token(&b))
            .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let set =
        w.h.send(
            Event::put("/v1/quotas")
                .token(&crate::common::admin("acme"))
                .json(json!({"requests_per_minute": 7, "tokens_per_day": 700})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let qa = w.quotas(&a).await;
    let qb = w.quotas(&b).await;
    assert_eq!(qa.body["requests_per_minute"], 7);
    assert_eq!(qa.body["source"], "tenant");
    assert_eq!(qb.body["source"], "default");
    assert_eq!(qb.body["used"]["requests_this_minute"], 0);
    assert_eq!(qa.body["used"]["requests_this_minute"], 1);
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_model() {
    let w = setup().start(echo).await;
    let t = writer("acme");
    let missing =
        w.h.send(Event::get("/v1/requests/not-a-uuid").token(&t))
            .await;
    assert_eq!(missing.status, 404);
    let member_put =
        w.h.send(
            Event::put("/v1/quotas")
                .token(&t)
                .json(json!({"requests_per_minute": 1, "tokens_per_day": 1})),
        )
        .await;
    assert_eq!(
        member_put.status, 403,
        "PUT /v1/quotas needs the admin role"
    );
    assert_eq!(w.calls(), 0);
}

#[tokio::test]
async fn max_tokens_is_lowered_to_the_environments_ceiling() {
    let w = setup().start(echo).await;
    let a =
        w.h.send(
            Event::post("/v1/requests")
                .token(&writer("acme"))
                .json(json!({"prompt": "long answer please", "max_tokens": 5000})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        w.model.seen()[0].json()["inferenceConfig"]["maxTokens"],
        1024
    );
}
