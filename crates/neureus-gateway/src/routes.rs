//! The path → handler table, and nothing else.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::handlers::{chat, misc, models};
use crate::middleware::request_context;
use crate::state::AppState;

/// The application. Middleware order is documented in `middleware.rs`.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/health", get(misc::health))
        .route("/ai/chat", post(chat::chat))
        .route("/ai/models", get(models::list))
        .fallback(misc::not_found)
        .method_not_allowed_fallback(misc::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(request_context))
        .with_state(state)
}
