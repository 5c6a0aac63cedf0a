//! Health and fallbacks.

use axum::http::{Method, Uri};
use axum::Json;

use crate::error::{ApiError, ErrorKind};

/// `GET /health`: liveness, no auth.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Unknown path.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no route for {method} {}", uri.path()),
    )
}

/// Known path, wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
