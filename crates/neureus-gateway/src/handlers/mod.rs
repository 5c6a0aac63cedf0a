//! Request handlers: extract, call a service, return.

pub mod admin;
pub mod chat;
pub mod misc;
pub mod models;
pub mod providers;
