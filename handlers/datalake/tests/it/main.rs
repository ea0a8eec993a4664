//! The datalake handler through its Lambda entry point, over a private emulator; every
//! answer checked against `openapi.yaml` by the testkit.

mod api;
mod common;
mod concurrency;
mod export;
mod faults;
mod isolation;
