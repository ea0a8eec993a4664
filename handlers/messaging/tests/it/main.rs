//! Integration tests of the messaging handler: API Gateway v2 events (JSON fixtures
//! under `tests/fixtures/`) through the real entry point (`Service::call`), over the
//! real DynamoDB and SSM APIs of a private moto server per test. Every response is
//! validated against `openapi.yaml` on the way out of `Harness::send`.

/// The harness: emulator, table, service, fixtures, contract validation.
mod common;

/// The routes end to end: create, get, list with cursors, post, idempotent replays, bad input.
mod api;
/// Tokens: missing, expired, wrong audience, wrong scope or role; the tenant from the token.
mod auth;
/// 100 parallel posts; 100 posts over 10 idempotency keys.
mod concurrency;
/// The store stopped, the capability switched off or forced degraded in SSM.
mod faults;
/// Tenant A can never read or write tenant B's threads.
mod isolation;
/// Flags written by stackpro's own flag code reach the handler after its cache TTL.
mod operate;
