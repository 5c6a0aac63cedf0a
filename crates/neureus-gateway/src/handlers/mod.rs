//! Request handlers: extract, call a service, return.

pub mod admin;
pub mod chat;
pub mod logs;
pub mod misc;
pub mod models;
pub mod providers;
pub mod v1;
