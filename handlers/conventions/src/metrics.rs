//! The metrics every handler emits (one EMF line per request) and the dashboards and
//! alarms read.

/// The CloudWatch namespace of the handlers' metrics.
pub const NAMESPACE: &str = "Stackpro";

/// Requests served.
pub const REQUESTS: &str = "Requests";
/// Answers below 400.
pub const SUCCESS: &str = "Success";
/// Answers 500 and above.
pub const ERRORS: &str = "Errors";
/// Answers 400 to 499.
pub const CLIENT_ERRORS: &str = "ClientErrors";
/// Time in the handler, milliseconds.
pub const LATENCY: &str = "Latency";
/// Answers with `degraded: true`.
pub const DEGRADED: &str = "Degraded";

/// Every metric with its EMF unit, in the order a request's line lists them.
pub const ALL: [(&str, &str); 6] = [
    (REQUESTS, "Count"),
    (SUCCESS, "Count"),
    (ERRORS, "Count"),
    (CLIENT_ERRORS, "Count"),
    (LATENCY, "Milliseconds"),
    (DEGRADED, "Count"),
];

/// The metrics also published per route (Environment, Capability, Route): what tells
/// which route fails or is slow. The others stay per capability: each metric per route
/// is one more custom metric a route (6 x 27 routes was about $50 a month of the bill).
pub const BY_ROUTE: [&str; 3] = [REQUESTS, ERRORS, LATENCY];

/// Dimension: the environment's name.
pub const ENVIRONMENT: &str = "Environment";
/// Dimension: the capability's name.
pub const CAPABILITY: &str = "Capability";
/// Dimension: the route key (`GET /v1/threads`).
pub const ROUTE: &str = "Route";
