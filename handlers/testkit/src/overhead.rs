//! A handler's own overhead, in process, with the store excluded: what each capability's
//! overhead example measures (`cargo run --release -p stackpro-<cap> --example ...`).
//! The capability gives an in-memory store that answers at once and the requests;
//! this builds the service as Lambda does (the offline runtime: flags from the
//! environment, the JWT secret from [`SECRET`]), sends each request `n` times after a
//! warm-up of a tenth, and prints p50/p90/p99/max in microseconds on stderr.
//!
//! What is timed is everything between the event's JSON and the response: decoding,
//! routing by the contract, JWT verification, flags, the contract's checks, the
//! handler, serialisation, the log line and the EMF line (send stdout to /dev/null).

use std::sync::Arc;
use std::time::Instant;

use stackpro_runtime::{Config, Handler, Runtime, Service};

use crate::{Event, Token, SECRET};

/// The service over `handler` for `capability`, enabled and not degraded, with no AWS
/// access at all.
pub fn offline_service<H: Handler>(
    capability: &str,
    handler: H,
    contract: &'static str,
) -> Service<H> {
    let upper = capability.to_ascii_uppercase();
    let config = Config::from_vars([
        ("STACKPRO_ENV".to_string(), "local".to_string()),
        ("STACKPRO_CAPABILITY".into(), capability.into()),
        ("STACKPRO_JWT_SECRET".into(), SECRET.into()),
        (format!("CAP_{upper}_ENABLED"), "true".into()),
        (format!("CAP_{upper}_DEGRADED"), "false".into()),
    ])
    .expect("the offline configuration is complete");
    let contract = stackpro_runtime::load_contract(contract).expect("the contract loads");
    Service::new(
        Arc::new(Runtime::offline(config)),
        Arc::new(handler),
        contract,
    )
    .expect("the handler serves its contract's operations")
}

/// A token of the benchmark's tenant that may read and write `capability`.
pub fn token(capability: &str) -> String {
    Token::writer(capability, "bench").expires_in(3600).sign()
}

/// The event's JSON as Lambda hands it to the function (route key `$default`, as the
/// deployed API's catch-all route sends it).
pub fn event_json(event: Event) -> String {
    event.routed(None, &[]).into_json().to_string()
}

/// Sends each `(name, event JSON)` `n` times (plus a tenth to warm up) and prints one
/// line of percentiles per case. Panics if an answer is not a success: a benchmark of
/// an error path would measure the wrong thing.
pub async fn report<H: Handler>(service: &Service<H>, cases: &[(&str, String)], n: usize) {
    eprintln!("request                  requests   p50 us   p90 us   p99 us   max us");
    for (name, event) in cases {
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let started = Instant::now();
            let request = lambda_http::request::from_str(event).expect("a valid event");
            let response = service.call(request).await;
            let elapsed = started.elapsed().as_secs_f64() * 1e6;
            assert!(
                response.status().is_success(),
                "{name}: {} {:?}",
                response.status(),
                response.body()
            );
            if i >= n / 10 {
                samples.push(elapsed);
            }
        }
        samples.sort_by(f64::total_cmp);
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        eprintln!(
            "{name:<24} {n:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            at(0.50),
            at(0.90),
            at(0.99),
            samples[samples.len() - 1]
        );
    }
}
