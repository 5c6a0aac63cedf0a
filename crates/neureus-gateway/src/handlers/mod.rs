//! Request handlers: extract, call a service, return.

pub mod chat;
pub mod misc;
pub mod models;
