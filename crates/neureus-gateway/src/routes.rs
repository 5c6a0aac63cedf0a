//! The path → handler table, and the service `neureus serve` runs in front of it, which
//! takes the three chat routes before the table ([`service`]).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::http::{Method, Request};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::handlers::{admin, chat, logs, misc, models, providers, v1};
use crate::middleware::{RequestContext, RequestContextLayer};
use crate::state::AppState;

/// The three chat routes: in the route table, and taken before it by [`service`].
const CHAT: &str = "/ai/chat";
const CHAT_COMPLETIONS: &str = "/v1/chat/completions";
const MESSAGES: &str = "/v1/messages";

/// The application. Middleware order is documented in `middleware.rs`.
pub fn app(state: AppState) -> Router {
    router(state).layer(RequestContextLayer)
}

/// Every route, without the request context (added by [`app`] and [`service`]).
fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/health", get(misc::health))
        .route(CHAT, post(chat::chat))
        .route("/ai/models", get(models::list))
        .route("/ai/providers", get(providers::list))
        .route(CHAT_COMPLETIONS, post(v1::chat_completions))
        .route(MESSAGES, post(v1::messages))
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
        .with_state(state)
}

/// What every connection of `neureus serve` runs (`server.rs`): [`app`], with the three
/// chat routes taken before the router.
///
/// Written by hand because they are nearly every request a gateway serves, and axum's
/// router costs each request ~5k instructions on top of the handler (callgrind,
/// BENCHMARKS.md stop 18): the route lookup, a clone of the boxed route service and its
/// `oneshot`, the extensions the router inserts (URL parameters, matched path), and a
/// future that maps the body. Here a `POST` to one of these paths calls the handler's
/// service directly, with the same body limit and request context; any other method or
/// path goes to the router, so 404s, 405s and every other route answer as before (tests).
pub fn service(
    state: AppState,
) -> RequestContext<Dispatch<impl HotRoute + use<>, impl HotRoute + use<>, impl HotRoute + use<>>> {
    let limit = DefaultBodyLimit::max(state.config.max_body_bytes);
    RequestContextLayer.layer(Dispatch {
        chat: limit.layer(chat::chat.with_state(state.clone())),
        completions: limit.layer(v1::chat_completions.with_state(state.clone())),
        messages: limit.layer(v1::messages.with_state(state.clone())),
        router: router(state),
    })
}

/// A route [`service`] calls directly: an axum handler's service, always ready.
pub trait HotRoute:
    Service<Request<axum::body::Body>, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<T> HotRoute for T where
    T: Service<Request<axum::body::Body>, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// See [`service`].
#[derive(Clone)]
pub struct Dispatch<C, V, M> {
    chat: C,
    completions: V,
    messages: M,
    router: Router,
}

impl<C: HotRoute, V: HotRoute, M: HotRoute, B> Service<Request<B>> for Dispatch<C, V, M>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Either<C::Future, V::Future>,
        Either<M::Future, <Router as Service<Request<axum::body::Body>>>::Future>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Every part is always ready: axum's handler services and router say so.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let req = req.map(axum::body::Body::new);
        let path = req.uri().path();
        match path {
            _ if req.method() != Method::POST => {
                Either::Right(Either::Right(self.router.call(req)))
            }
            CHAT => Either::Left(Either::Left(self.chat.call(req))),
            CHAT_COMPLETIONS => Either::Left(Either::Right(self.completions.call(req))),
            MESSAGES => Either::Right(Either::Left(self.messages.call(req))),
            _ => Either::Right(Either::Right(self.router.call(req))),
        }
    }
}
