//! Integration tests of stackpro, one binary with one module per area.

/// `stackpro bootstrap` against the local emulator.
mod bootstrap;
/// Spawning the real binary with a cleared environment.
mod cli;
/// `stackpro dev`: the plan it prints and what it refuses.
mod dev;
/// `stackpro doctor` against the local emulator: credentials, endpoint, account.
mod doctor;
/// Rendered stacks deployed to the local emulator with the real SDK.
mod emulator;
/// Malformed configuration: exact messages, exit code 2, no panics.
mod malformed;
/// Every rendered document of every capability and environment, as insta snapshots.
mod snapshots;
/// `stackpro validate`, with cfn-lint.
mod validate;
