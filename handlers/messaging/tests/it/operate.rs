//! The flags `stackpro flags` writes are the flags the handler reads: the same SSM
//! names, tenant overrides first, seen once the handler's cache expires. The writes go
//! through stackpro's own flag code (name and value checks, then `flags::write`), as
//! `stackpro flags set` and `unset` run it (`Harness::set_flag`).

use std::time::Duration;

use crate::common::{list_threads, start, writer, Harness};

async fn list_as(h: &Harness, tenant: &str) -> (u16, String) {
    let a = h.send(list_threads().token(&writer(tenant))).await;
    (a.status, a.code().to_string())
}

#[tokio::test]
async fn the_handler_sees_stackpro_flags_after_its_cache_ttl() {
    // The harness runs the handler with STACKPRO_FLAGS_TTL_SECONDS=1.
    let h = start().await;
    assert_eq!(list_as(&h, "acme").await, (200, String::new()));

    // A tenant override: only that tenant is switched off, once the cache expires.
    h.set_flag(Some("acme"), "CAP_MESSAGING_ENABLED", Some("false"))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        list_as(&h, "acme").await,
        (503, "CAPABILITY_DISABLED".into())
    );
    assert_eq!(list_as(&h, "globex").await, (200, String::new()));

    // The environment-wide flag, then both removed: the env file's default (true) again.
    h.set_flag(None, "CAP_MESSAGING_ENABLED", Some("false"))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        list_as(&h, "globex").await,
        (503, "CAPABILITY_DISABLED".into())
    );
    h.set_flag(None, "CAP_MESSAGING_ENABLED", None).await;
    h.set_flag(Some("acme"), "CAP_MESSAGING_ENABLED", None)
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(list_as(&h, "globex").await, (200, String::new()));
    assert_eq!(list_as(&h, "acme").await, (200, String::new()));
}
