//! The path → handler table, and nothing else.

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use crate::handlers::{admin, chat, logs, misc, models, providers, v1};
use crate::middleware::RequestContextLayer;
use crate::state::AppState;

/// The application. Middleware order is documented in `middleware.rs`.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/health", get(misc::health))
        .route("/ai/chat", post(chat::chat))
        .route("/ai/models", get(models::list))
        .route("/ai/providers", get(providers::list))
        .route("/v1/chat/completions", post(v1::chat_completions))
        .route("/v1/messages", post(v1::messages))
        .route("/v1/models", get(v1::models))
        .route("/ai/logs", get(logs::list))
        .route("/ai/logs/{log_id}", get(logs::get))
        .route("/ai/usage", get(logs::usage))
        .route("/admin/stats", get(admin::stats))
        .route(
            "/ai/providers/{provider}/key",
            put(providers::put_key).delete(providers::delete_key),
        )
        .route(
            "/ai/providers/{provider}/key/rotate",
            post(providers::rotate_key),
        )
        .route(
            "/admin/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route("/admin/tenants/{tenant_id}", patch(admin::patch_tenant))
        .route(
            "/admin/tenants/{tenant_id}/keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route("/admin/keys/{key_id}", delete(admin::revoke_key))
        .route("/admin/keys/{key_id}/revoke", post(admin::revoke_key))
        .fallback(misc::not_found)
        .method_not_allowed_fallback(misc::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestContextLayer)
        .with_state(state)
}
