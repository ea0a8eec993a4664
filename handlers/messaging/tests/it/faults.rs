use std::time::Duration;

use serde_json::json;

use crate::common::{
    count_items, create_thread, get_thread, health, list_messages, list_threads, post_message,
    start, thread, writer,
};

#[tokio::test]
async fn with_the_store_stopped_reads_degrade_and_writes_are_503() {
    let mut h = start().await;
    let t = writer("acme");
    let id = thread(&h, &t, "before the outage").await;
    // Reads while the store answers are remembered by the instance.
    let listed = h.send(list_threads().token(&t)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    h.send(get_thread(&id).token(&t)).await;

    h.emulator.stop();

    let list = h.send(list_threads().token(&t)).await;
    assert_eq!(list.status, 200);
    assert!(list.degraded());
    assert_eq!(
        list.body["items"], listed.body["items"],
        "the last good answer"
    );

    let got = h.send(get_thread(&id).token(&t)).await;
    assert_eq!(got.status, 200);
    assert!(got.degraded());

    // A read never seen before answers what it can: an empty page, degraded.
    let messages = h.send(list_messages(&id).token(&t)).await;
    assert_eq!((messages.status, messages.degraded()), (200, true));
    assert_eq!(messages.body["items"], json!([]));

    // A single resource never seen before cannot be answered: 503, degraded.
    let other = uuid::Uuid::now_v7().to_string();
    let unknown = h.send(get_thread(&other).token(&t)).await;
    assert_eq!((unknown.status, unknown.degraded()), (503, true));

    for event in [create_thread().token(&t), post_message(&id).token(&t)] {
        let a = h.send(event).await;
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(a.degraded());
        assert_eq!(a.code(), "INTERNAL_ERROR");
        assert_eq!(a.header("retry-after"), Some("5"));
    }

    let health = h.send(health()).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        (
            health.body["status"].as_str(),
            health.body["checks"]["store"].as_str()
        ),
        (Some("degraded"), Some("unreachable"))
    );
    assert_eq!(
        health.body["checks"]["flags"], "defaults",
        "flags fell back to the environment"
    );
}

#[tokio::test]
async fn switched_off_in_ssm_answers_503_capability_disabled_once_the_cache_expires() {
    let h = start().await;
    let t = writer("acme");
    assert_eq!(h.send(list_threads().token(&t)).await.status, 200);
    h.set_flag(None, "CAP_MESSAGING_ENABLED", Some("false"))
        .await;
    // Still cached (TTL 1 s in tests).
    assert_eq!(h.send(list_threads().token(&t)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for event in [
        list_threads().token(&t),
        create_thread().token(&t).json(json!({"title": "x"})),
    ] {
        let a = h.send(event).await;
        assert_eq!(
            (a.status, a.code(), a.degraded()),
            (503, "CAPABILITY_DISABLED", true),
            "{}",
            a.body
        );
    }
    let health = h.send(health()).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("disabled"))
    );
}

#[tokio::test]
async fn a_tenant_override_wins_over_the_global_flag() {
    let h = start().await;
    h.set_flag(Some("acme"), "CAP_MESSAGING_ENABLED", Some("false"))
        .await;
    let acme = h.send(list_threads().token(&writer("acme"))).await;
    assert_eq!(acme.code(), "CAPABILITY_DISABLED");
    let globex = h.send(list_threads().token(&writer("globex"))).await;
    assert_eq!(globex.status, 200);
}

#[tokio::test]
async fn forced_degraded_reads_answer_degraded_and_writes_503() {
    let h = start().await;
    let t = writer("acme");
    let id = thread(&h, &t, "seen").await;
    h.send(get_thread(&id).token(&t)).await;
    h.set_flag(None, "CAP_MESSAGING_DEGRADED", Some("true"))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let got = h.send(get_thread(&id).token(&t)).await;
    assert_eq!((got.status, got.degraded()), (200, true));
    let list = h.send(list_threads().token(&t)).await;
    assert_eq!((list.status, list.degraded()), (200, true));
    let post = h
        .send(post_message(&id).token(&t).json(json!({"body": "hi"})))
        .await;
    assert_eq!((post.status, post.degraded()), (503, true));
    assert!(post.header("retry-after").is_some());
    // Nothing was written while degraded.
    assert_eq!(count_items(&h, "acme", &format!("MSG#{id}#")).await, 0);
}
