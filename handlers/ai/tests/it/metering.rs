//! Usage metered into billing through the outbox: delivered once, kept while billing is
//! away, delivered when it is back, never counted twice.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::{echo, setup, writer};

#[tokio::test]
async fn each_completed_request_is_metered_once_with_a_service_token() {
    let w = setup().setting("cache_ttl_seconds", "0").start(echo).await;
    let a = w.ask(&writer("acme"), "bill me").await;
    assert_eq!(a.status, 201);
    let id = a.body["id"].as_str().unwrap().to_string();
    let records = w.billing.records.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    let usage = &records[&id];
    assert_eq!(usage["tenant_id"], "acme");
    assert_eq!(usage["usage"]["quantity"], 12);
    assert_eq!(usage["usage"]["metric"], "tokens");
    assert_eq!(usage["usage"]["capability"], "ai");
    let store = stackpro_runtime::Table::new(w.h.dynamodb.clone(), w.h.table("requests"));
    assert!(store.outbox_pending(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn usage_waits_in_the_outbox_while_billing_is_off_and_is_delivered_after() {
    let w = setup().setting("cache_ttl_seconds", "0").start(echo).await;
    let t = writer("acme");
    w.billing.up.store(false, Ordering::SeqCst);
    let first = w.ask(&t, "while billing is off").await;
    assert_eq!(first.status, 201, "the request does not wait for billing");
    let second = w.ask(&t, "still off").await;
    assert_eq!(second.status, 201);
    let store = stackpro_runtime::Table::new(w.h.dynamodb.clone(), w.h.table("requests"));
    let waiting = store.outbox_pending(10).await.unwrap();
    assert_eq!(waiting.len(), 2, "both usages wait");
    assert!(w.billing.records.lock().unwrap().is_empty());
    // Deliveries paused after the first failure: the second was not even tried.
    assert_eq!(w.billing.deliveries(), 1);

    w.billing.up.store(true, Ordering::SeqCst);
    // The pause is the discovery TTL, one second in the harness.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = w.ask(&t, "billing is back").await;
    assert_eq!(third.status, 201);
    let records = w.billing.records.lock().unwrap().clone();
    assert_eq!(records.len(), 3, "the two that waited and the new one");
    for a in [&first, &second, &third] {
        assert!(records.contains_key(a.body["id"].as_str().unwrap()));
    }
    assert!(store.outbox_pending(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_repeated_after_a_lost_answer_is_not_counted_twice() {
    let w = setup().setting("cache_ttl_seconds", "0").start(echo).await;
    let a = w.ask(&writer("acme"), "once").await;
    let id = a.body["id"].as_str().unwrap();
    // The entry is back in the outbox as if its removal had been lost.
    let store = stackpro_runtime::Table::new(w.h.dynamodb.clone(), w.h.table("requests"));
    let entry = stackpro_runtime::outbox::Entry::new(
        "acme",
        id,
        "billing",
        w.billing.records.lock().unwrap()[id]["usage"].clone(),
    );
    store
        .transact(
            "test",
            &uuid_like(),
            vec![store.outbox_write(&entry).unwrap()],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _ = w.ask(&writer("acme"), "another").await;
    assert_eq!(w.billing.deliveries(), 3, "the repeat was delivered");
    assert_eq!(
        w.billing.records.lock().unwrap().len(),
        2,
        "and counted once"
    );
    assert!(store.outbox_pending(10).await.unwrap().is_empty());
}

fn uuid_like() -> String {
    format!("{:032x}", stackpro_runtime::time::now_millis())
}
