//! Request-scoped middleware. The stack, outermost first (built in `routes.rs`; the chat
//! routes `routes::service` calls directly get the same two layers):
//! 1. [`RequestContextLayer`] — gives every request an `x-request-id`, opens the request span, and
//!    renders any [`ApiError`] left in the response extensions with that id.
//! 2. `DefaultBodyLimit` — caps request bodies (413 through our extractor).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::HeaderValue;
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::ApiError;

/// The request id, readable by handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The `request_context` layer (see the module docs).
///
/// Written as a tower layer rather than with `axum::middleware::from_fn`: `from_fn` clones
/// the inner route into a fresh boxed service for `Next` and boxes its own future on every
/// request; this calls the route it wraps directly and boxes one future. Measured with
/// callgrind (stop 12, BENCHMARKS.md): about 2% of a request's instructions.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContextLayer;

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> RequestContext<S> {
        RequestContext { inner }
    }
}

/// See [`RequestContextLayer`].
#[derive(Debug, Clone)]
pub struct RequestContext<S> {
    inner: S,
}

impl<S, B> Service<axum::http::Request<B>> for RequestContext<S>
where
    S: Service<axum::http::Request<B>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        let id = neureus_store::new_id("req");
        req.extensions_mut().insert(RequestId(id.clone()));
        // The span holds what STYLE.md asks of it (request id, tenant, provider, model);
        // the method and path go only into the "request failed" line. At the default
        // level the fmt subscriber formats every span field when it is set, on every
        // request: the span costs ~7.6k instructions a request at `info` with the binary's
        // field formatter (`neureus/src/logfmt.rs`), mostly the registry's (callgrind,
        // BENCHMARKS.md stop 19).
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            tenant_id = tracing::field::Empty,
            provider = tracing::field::Empty,
            model = tracing::field::Empty,
        );
        let method = req.method().clone();
        let uri = req.uri().clone();
        let fut = self.inner.call(req).instrument(span.clone());
        Box::pin(async move {
            let resp = match fut.await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            Ok(finish(resp, &id, &span, &method, uri.path()))
        })
    }
}

/// Renders an [`ApiError`] the handler left in the response with the request id, and sets
/// `x-request-id`.
fn finish(
    mut resp: Response,
    id: &str,
    span: &tracing::Span,
    method: &axum::http::Method,
    path: &str,
) -> Response {
    if let Some(err) = resp.extensions().get::<ApiError>().cloned() {
        let _enter = span.enter();
        tracing::info!(%method, path, status = err.kind.parts().0.as_u16(), kind = err.kind.as_str(), detail = %err.message, "request failed");
        let mut rendered = err.to_response(Some(id));
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
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(crate::headers::X_REQUEST_ID, v);
    }
    resp
}
