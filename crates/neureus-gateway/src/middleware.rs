//! Request-scoped middleware. The stack, outermost first (built in `routes.rs`):
//! 1. `request_context` — gives every request an `x-request-id`, opens the request span, and
//!    renders any [`ApiError`] left in the response extensions with that id.
//! 2. `DefaultBodyLimit` — caps request bodies (413 through our extractor).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::ApiError;

/// The request id, readable by handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// See the module docs.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::now_v7().simple());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        tenant_id = tracing::field::Empty,
        provider = tracing::field::Empty,
        model = tracing::field::Empty,
    );
    let mut resp = next.run(req).instrument(span.clone()).await;
    if let Some(err) = resp.extensions().get::<ApiError>().cloned() {
        let _enter = span.enter();
        tracing::info!(status = err.kind.parts().0.as_u16(), kind = err.kind.as_str(), message = %err.message, "request failed");
        let mut rendered = err.to_response(Some(&id));
        // Keep headers the handler set (e.g. x-neureus-log-id); the body is re-rendered.
        for (name, value) in resp.headers() {
            if name != axum::http::header::CONTENT_TYPE
                && name != axum::http::header::CONTENT_LENGTH
            {
                rendered
                    .headers_mut()
                    .entry(name)
                    .or_insert_with(|| value.clone());
            }
        }
        resp = rendered;
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
