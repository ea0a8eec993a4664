use serde_json::json;

use crate::common::{
    create_thread, get_thread, list_threads, post_message, serve, setup, start, thread, writer,
    Token,
};

#[tokio::test]
async fn missing_malformed_expired_or_foreign_tokens_are_401() {
    let h = start().await;
    let member = || Token::writer("messaging", "acme");
    let cases = [
        list_threads(),
        list_threads().header("Authorization", "Basic dXNlcjpwYXNz"),
        list_threads().token("not.a.jwt"),
        list_threads().token(&member().expires_in(-3600).sign()),
        list_threads().token(&member().audience("another-api").sign()),
        list_threads().token(&member().bad_signature().sign()),
        create_thread(),
    ];
    for event in cases {
        let a = h.send(event.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (401, "AUTH_FAILED"),
            "{}",
            event.as_json()["headers"]
        );
    }
}

#[tokio::test]
async fn wrong_scope_or_role_is_403() {
    let h = start().await;
    let id = thread(&h, &writer("acme"), "roles").await;
    let viewer = Token::writer("messaging", "acme").role("viewer").sign();
    let read_only = Token::new("acme").scope("messaging:read").sign();
    let other_capability = Token::writer("billing", "acme").role("admin").sign();
    let post = |t: &str| post_message(&id).token(t).json(json!({"body": "hi"}));
    for event in [
        post(&viewer),
        post(&read_only),
        create_thread().token(&read_only),
        list_threads().token(&other_capability),
    ] {
        let a = h.send(event).await;
        assert_eq!((a.status, a.code()), (403, "UNAUTHORIZED"), "{}", a.body);
    }
    // A viewer may read.
    let a = h.send(get_thread(&id).token(&viewer)).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn the_secret_comes_from_an_ssm_secure_string_when_not_in_the_environment() {
    // Like AWS: no STACKPRO_JWT_SECRET, the parameter the stack names instead.
    let h = serve(setup().unset("STACKPRO_JWT_SECRET")).await;
    let a = h.send(list_threads().token(&writer("acme"))).await;
    // The parameter does not exist yet: authentication cannot work, and says so.
    assert_eq!(a.status, 503, "{}", a.body);
    h.put_jwt_secret(stackpro_testkit::SECRET).await;
    let a = h.send(list_threads().token(&writer("acme"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
}
