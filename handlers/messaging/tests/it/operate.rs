//! The flags `stackpro flags` writes are the flags the handler reads: the same SSM
//! names, tenant overrides first, seen once the handler's cache expires. The writes go
//! through stackpro's own flag code (name and value checks, then `flags::write`), as
//! `stackpro flags set` and `unset` run it.

use std::time::Duration;

use stackpro::aws::AwsContext;

use crate::common::{writer, Event, Harness};

/// What `stackpro flags set NAME=VALUE --env local [--tenant T]` (or `unset` with
/// `None`) does after parsing its arguments.
async fn stackpro_flags(h: &Harness, tenant: Option<&str>, name: &str, value: Option<&str>) {
    let root = stackpro_tests::project_root();
    let project = stackpro::project::Project::discover(Some(&root), &root).unwrap();
    let catalogue = stackpro::config::Catalogue::load(&project).unwrap();
    let spec = stackpro::flags::resolve(&catalogue, name).unwrap();
    if let Some(v) = value {
        stackpro::flags::parse_value(&spec, v).unwrap();
    }
    let ctx = AwsContext::from_config(
        h.emulator.sdk_config(),
        "us-east-1",
        Some(h.emulator.url.clone()),
    );
    stackpro::flags::write(
        &ctx,
        "local",
        tenant,
        name,
        value,
        "arn:aws:iam::123456789012:user/oncall",
    )
    .await
    .unwrap();
}

async fn list_as(h: &Harness, tenant: &str) -> (u16, String) {
    let a = h
        .send(Event::fixture("list_threads").token(&writer(tenant)))
        .await;
    (a.status, a.code().to_string())
}

#[tokio::test]
async fn the_handler_sees_stackpro_flags_after_its_cache_ttl() {
    // The harness runs the handler with STACKPRO_FLAGS_TTL_SECONDS=1.
    let h = Harness::start().await;
    assert_eq!(list_as(&h, "acme").await, (200, String::new()));

    // A tenant override: only that tenant is switched off, once the cache expires.
    stackpro_flags(&h, Some("acme"), "CAP_MESSAGING_ENABLED", Some("false")).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        list_as(&h, "acme").await,
        (503, "CAPABILITY_DISABLED".into())
    );
    assert_eq!(list_as(&h, "globex").await, (200, String::new()));

    // The environment-wide flag, then both removed: the env file's default (true) again.
    stackpro_flags(&h, None, "CAP_MESSAGING_ENABLED", Some("false")).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        list_as(&h, "globex").await,
        (503, "CAPABILITY_DISABLED".into())
    );
    stackpro_flags(&h, None, "CAP_MESSAGING_ENABLED", None).await;
    stackpro_flags(&h, Some("acme"), "CAP_MESSAGING_ENABLED", None).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(list_as(&h, "globex").await, (200, String::new()));
    assert_eq!(list_as(&h, "acme").await, (200, String::new()));
}
