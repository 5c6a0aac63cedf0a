//! The contract's own header names (`shared/spec/api.md`), as values. Looking a header up
//! or inserting it by `&str` parses the name on every call (~100-250 instructions each,
//! callgrind, several per request); these are built once, when compiling.

use axum::http::HeaderName;

/// Turns on the debug answer (pre-processing report).
pub const X_NEUREUS_DEBUG: HeaderName = HeaderName::from_static("x-neureus-debug");
/// Pre-processing switches, `key=value, …`.
pub const X_NEUREUS_OPTIONS: HeaderName = HeaderName::from_static("x-neureus-options");
/// The log record's id, on every answer that has one.
pub const X_NEUREUS_LOG_ID: HeaderName = HeaderName::from_static("x-neureus-log-id");
/// The request's id, on every answer.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Anthropic SDKs' way of sending the key.
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
