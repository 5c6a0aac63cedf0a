//! A fast OpenAI-format upstream for load tests: pre-rendered `chat.completion` JSON, or a
//! stream of `--chunks` chunks `--gap-ms` apart followed by usage and `[DONE]`.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use neureus_bench::{listen, num};

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! I am doing well, thank you for asking. How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":18,"total_tokens":32,"prompt_tokens_details":{"cached_tokens":0}}}"#;

fn chunk(content: &str) -> String {
    format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n")
}

async fn handle(
    req: Request<Incoming>,
    chunks: u64,
    gap: Duration,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let streaming = body.windows(13).any(|w| w == b"\"stream\":true");
    if !streaming {
        let resp = Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(COMPLETION.as_bytes())).boxed())
            .unwrap_or_default();
        return Ok(resp);
    }
    let s = futures_util::stream::unfold(0u64, move |i| async move {
        if i > chunks + 2 {
            return None;
        }
        // The role chunk and the first token go out at once (time to first byte measures
        // time to the first token, through any hop); later tokens are `gap` apart.
        if i > 1 && i <= chunks {
            tokio::time::sleep(gap).await;
        }
        let text = if i == 0 {
            "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n".to_owned()
                + &chunk(" word0")
        } else if i <= chunks {
            chunk(&format!(" word{i}"))
        } else if i == chunks + 1 {
            "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":20,\"total_tokens\":34}}\n\n".to_owned()
        } else {
            "data: [DONE]\n\n".to_owned()
        };
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(text))), i + 1))
    });
    let resp = Response::builder()
        .header("content-type", "text/event-stream")
        .body(BodyExt::boxed(StreamBody::new(s)))
        .unwrap_or_default();
    Ok(resp)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let chunks = num("--chunks", 20);
    let gap = Duration::from_millis(num("--gap-ms", 50));
    let (listener, _) = listen().await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, chunks, gap));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
