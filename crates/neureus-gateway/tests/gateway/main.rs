//! Integration tests: the real gateway on an ephemeral port, in front of the mock providers.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration-test helpers outside #[test] functions may fail loudly"
)]

mod bad_input;
mod byok;
mod compat;
mod conformance;
mod harness;
mod logs;
mod preprocess;
mod resilience;
mod routing;
