//! The OpenAI- and Anthropic-compatible surfaces (contract §7): their request bodies
//! translated into our canonical request, and our answers rendered back in their shapes, so
//! the official SDKs work unchanged. Pure functions; the handlers are in
//! `handlers/v1.rs`.

pub mod anthropic;
pub mod openai;

use crate::error::ApiError;

/// A 400 naming the field.
pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid(msg)
}
