//! The names stackpro's CLI and its handler runtime must agree on, spelled once.
//!
//! The CLI writes what the handlers read: the environment variables a stack sets
//! ([`vars`]), the SSM parameters flags, discovery, records and secrets live in
//! ([`ssm`]), the flag names and how their values parse ([`flags`]), the metric names
//! the dashboards and alarms read from the handlers' EMF lines ([`metrics`]), and the
//! kinds of deployment record ([`DeploymentKind`]). A name changed here changes on both
//! sides at once; a name spelled anywhere else is a bug.

pub mod flags;
pub mod metrics;
pub mod ssm;
pub mod vars;

mod deployment;

pub use deployment::DeploymentKind;
