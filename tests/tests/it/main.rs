//! Integration tests of stackpro, one binary with one module per area.

/// `status`'s HTTP API check through the real API Gateway client, on the emulator.
mod api;
/// `stackpro bootstrap` against the local emulator.
mod bootstrap;
/// `stackpro build` with the real cargo-lambda on a tiny handler crate.
mod build;
/// The GitHub Actions pipeline users copy: actionlint, its shape, its command lines.
mod ci;
/// Spawning the real binary with a cleared environment.
mod cli;
/// `stackpro deploy --code`, the code-only path, on the local emulator.
mod code_path;
mod completions;
/// `stackpro cost` and the budget warning of `stackpro validate`.
mod cost;
/// `stackpro deploy`, `status` and `destroy` end to end on the local emulator.
mod deploy;
/// `stackpro dev`: the plan it prints and what it refuses.
mod dev;
/// `stackpro doctor` against the local emulator: credentials, endpoint, account.
mod doctor;
/// Rendered stacks deployed to the local emulator with the real SDK.
mod emulator;
/// `stackpro flags` against the local emulator's SSM.
mod flags;
/// `stackpro gc`: the artifact bucket's unneeded objects, on the local emulator.
mod gc;
/// The server-side data-loss guard: the stack policy on the local emulator.
mod guard;
/// The binary's hardening (PIE, RELRO, NX), per checksec.
mod hardening;
/// Hostile input, generated: mutated configuration files and arbitrary command-line text.
mod hostile;
/// Malformed configuration: exact messages, exit code 2, no panics.
mod malformed;
/// `stackpro metrics`: recorded GetMetricData answers, and the emulator's sums.
mod metrics;
/// `stackpro new capability`: the scaffold validates and passes its tests at once.
mod new;
/// What the main commands print, text and JSON, as insta snapshots.
mod output;
/// Stack states and events the emulator cannot produce, on recorded CloudFormation answers.
mod recorded;
/// Fast and full rollbacks, canaries and promote against the local emulator.
mod release;
/// The JSON Schemas of every command's output, and `stackpro schema`.
mod schemas;
/// The client SDKs: `sdk check`/`generate`, the TypeScript (tsc --strict, node) and Rust
/// clients against the served handlers, and with the handler stopped or hung.
mod sdk;
/// Every rendered document of every capability and environment, as insta snapshots.
mod snapshots;
/// `stackpro tail` over the local emulator's log groups.
mod tail;
/// `stackpro validate`, with cfn-lint.
mod validate;
