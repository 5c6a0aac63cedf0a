//! The physical limit of one forwarding hop: every request is forwarded as is (method,
//! path, headers, streamed body) to `--upstream`, and the response streamed back. No
//! parsing, auth, translation or logging.

use http_body_util::{combinators::BoxBody, BodyExt};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use neureus_bench::{arg, listen};

type Body = BoxBody<bytes::Bytes, hyper::Error>;

async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: &'static str,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if let Ok(uri) = format!("{upstream}{pq}").parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    req.headers_mut().remove("host");
    match client.request(req).await {
        Ok(resp) => Ok(resp.map(BodyExt::boxed)),
        Err(e) => Ok(Response::builder()
            .status(502)
            .body(
                http_body_util::Full::new(bytes::Bytes::from(e.to_string()))
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .unwrap_or_default()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let upstream: &'static str = Box::leak(
        arg("--upstream")
            .unwrap_or_else(|| "http://127.0.0.1:9000".into())
            .into_boxed_str(),
    );
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(2048)
        .build(connector);
    let (listener, _) = listen().await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| forward(client.clone(), upstream, req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
