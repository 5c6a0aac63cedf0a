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

/// Sets `values` (field name, value) on the current span, the request span on a request's
/// path, as `Span::current().record(..)` for each would, names the span lacks skipped.
///
/// Written instead of `Span::current()` because that clones a handle to the span (a
/// reference count in the registry, and a close check in the registry when the handle drops)
/// and each `record` call looks the span up and takes its extensions' lock again; here the
/// span is looked up once and the values given together are formatted in one call.
/// Callgrind, at `info`: 106.4k -> 105.6k instructions a request (BENCHMARKS.md, stop 22).
pub fn record_in_current_span<const N: usize>(values: [(&str, &dyn tracing::Value); N]) {
    tracing::dispatcher::get_default(|dispatch| {
        let current = dispatch.current_span();
        let (Some(id), Some(meta)) = (current.id(), current.metadata()) else {
            return;
        };
        let fields = meta.fields();
        let found = values.map(|(name, value)| (fields.field(name), value));
        // A ValueSet needs a field of the span for every entry; a name the span lacks gets
        // any field it has with no value, which is not recorded.
        let Some(any) = found.iter().find_map(|(field, _)| field.clone()) else {
            return;
        };
        let entries = found.map(|(field, value)| match field {
            Some(field) => (field, Some(value)),
            None => (any.clone(), None),
        });
        let pairs = std::array::from_fn::<_, N, _>(|i| (&entries[i].0, entries[i].1));
        dispatch.record(id, &tracing::span::Record::new(&fields.value_set(&pairs)));
    });
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::display;

    use super::record_in_current_span;

    /// What a fmt subscriber writes while `f` runs.
    fn lines_of(f: impl FnOnce()) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&out);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(move || Writer(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_are_recorded_on_the_current_span_and_unknown_names_skipped() {
        let out = lines_of(|| {
            // Outside any span: nothing to record into, no panic.
            record_in_current_span([("tenant_id", &display("ten_outside"))]);
            let span = tracing::info_span!(
                "request",
                request_id = "req_1",
                tenant_id = tracing::field::Empty,
                provider = tracing::field::Empty,
                model = tracing::field::Empty,
            );
            let _entered = span.enter();
            record_in_current_span([
                ("provider", &display("openai")),
                ("not_a_field", &7),
                ("model", &display("gpt-4o")),
            ]);
            record_in_current_span([("no_such_field", &1)]);
            record_in_current_span([("tenant_id", &display("ten_1"))]);
            tracing::info!("answered");
        });
        assert!(
            out.contains(
                r#"request{request_id="req_1" provider=openai model=gpt-4o tenant_id=ten_1}: "#
            ),
            "{out}"
        );
        assert!(out.contains("answered"), "{out}");
        assert!(!out.contains("ten_outside"), "{out}");
        assert!(!out.contains("not_a_field"), "{out}");
        assert!(!out.contains("no_such_field"), "{out}");
    }
}
