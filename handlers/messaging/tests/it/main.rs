//! Integration tests of the messaging handler on the shared test kit
//! (`stackpro-testkit`): API Gateway v2 events through the real entry point
//! (`Service::call_event`), over the real DynamoDB and SSM APIs of a private moto
//! server per test. Every response is checked against `openapi.yaml` by the kit.

/// messaging's requests by name, over the kit.
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
