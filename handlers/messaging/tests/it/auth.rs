use serde_json::json;

use crate::common::{token_for, token_with, writer, Event, Harness, SECRET};

#[tokio::test]
async fn missing_malformed_expired_or_foreign_tokens_are_401() {
    let h = Harness::start().await;
    let scope = "messaging:read messaging:write";
    let cases = [
        Event::fixture("list_threads").without_auth(),
        Event::fixture("list_threads").header("authorization", "Basic dXNlcjpwYXNz"),
        Event::fixture("list_threads").token("not.a.jwt"),
        Event::fixture("list_threads").token(&token_with(
            "acme", "member", scope, -3600, "stackpro", SECRET,
        )),
        Event::fixture("list_threads").token(&token_with(
            "acme",
            "member",
            scope,
            600,
            "another-api",
            SECRET,
        )),
        Event::fixture("list_threads").token(&token_with(
            "acme",
            "member",
            scope,
            600,
            "stackpro",
            "another-secret",
        )),
        Event::fixture("create_thread").without_auth(),
    ];
    for event in cases {
        let a = h.send(event.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (401, "AUTH_FAILED"),
            "{}",
            event.json["headers"]
        );
    }
}

#[tokio::test]
async fn wrong_scope_or_role_is_403() {
    let h = Harness::start().await;
    let id = h.thread(&writer("acme"), "roles").await;
    let viewer = token_for("acme", "viewer", "messaging:read messaging:write");
    let read_only = token_for("acme", "member", "messaging:read");
    let other_capability = token_for("acme", "admin", "billing:read billing:write");
    let post = |t: &str| {
        Event::fixture("post_message")
            .token(t)
            .thread(&id)
            .body(json!({"body": "hi"}))
    };
    for event in [
        post(&viewer),
        post(&read_only),
        Event::fixture("create_thread").token(&read_only),
        Event::fixture("list_threads").token(&other_capability),
    ] {
        let a = h.send(event).await;
        assert_eq!((a.status, a.code()), (403, "UNAUTHORIZED"), "{}", a.body);
    }
    // A viewer may read.
    let a = h
        .send(Event::fixture("get_thread").token(&viewer).thread(&id))
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn the_secret_comes_from_an_ssm_secure_string_when_not_in_the_environment() {
    // Like AWS: no STACKPRO_JWT_SECRET, the parameter the stack names instead.
    let h = Harness::start_with(&[("STACKPRO_JWT_SECRET", "")]).await;
    let a = h
        .send(Event::fixture("list_threads").token(&writer("acme")))
        .await;
    // The parameter does not exist yet: authentication cannot work, and says so.
    assert_eq!(a.status, 503, "{}", a.body);
    h.ssm
        .put_parameter()
        .name("/stackpro/local/auth/jwt-secret")
        .value(SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let a = h
        .send(Event::fixture("list_threads").token(&writer("acme")))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
