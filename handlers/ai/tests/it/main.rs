//! The ai handler through its Lambda entry point, over a private emulator, with the
//! model provider and billing served on loopback in their documented shapes (no
//! Bedrock, no model server, no billing capability is reachable here); every answer is
//! checked against `openapi.yaml` by the test kit.

mod common;
mod metering;
mod providers;
mod quotas;
mod requests;
