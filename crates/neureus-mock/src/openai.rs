//! OpenAI Chat Completions, as documented: `chat.completion` objects, `chat.completion.chunk`
//! streams ending in `data: [DONE]`, usage only with `stream_options.include_usage`, and
//! `{"error": {message, type, param, code}}` bodies.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use crate::render::{self, before_answer, complete, data, fragments, json_usage_openai, pieces};
use crate::script::Reply;
use crate::{json_response, Call};

const CREATED: u64 = 1_764_000_000;

pub(crate) async fn answer(call: Call, headers: &HeaderMap) -> Response {
    before_answer(&call).await;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !auth.starts_with("Bearer ") || auth.len() <= "Bearer ".len() {
        complete(&call);
        return error(401, "You didn't provide an API key.", None);
    }
    if let Reply::Error {
        status,
        message,
        retry_after,
    } = &call.script.reply
    {
        complete(&call);
        return error(*status, message, *retry_after);
    }
    if call.body.get("stream").and_then(Value::as_bool) == Some(true) {
        stream(&call)
    } else {
        complete(&call);
        json_response(200, &[("x-request-id", "req_mock".into())], &whole(&call))
    }
}

fn type_for(status: u16) -> (&'static str, Value) {
    match status {
        400 => ("invalid_request_error", json!("invalid_value")),
        401 => ("invalid_request_error", json!("invalid_api_key")),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("tokens", json!("rate_limit_exceeded")),
        503 => ("service_unavailable_error", json!("server_is_overloaded")),
        _ => ("server_error", Value::Null),
    }
}

fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let (kind, code) = type_for(status);
    let mut headers = vec![("x-request-id", "req_mock_err".to_owned())];
    if let Some(s) = retry_after {
        headers.push(("retry-after", s.to_string()));
        headers.push(("x-ratelimit-limit-tokens", "30000".into()));
        headers.push(("x-ratelimit-remaining-tokens", "0".into()));
        headers.push(("x-ratelimit-reset-tokens", format!("{s}s")));
    }
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    json_response(status, &headers, &body)
}

fn model_of(call: &Call) -> String {
    call.model.clone()
}

fn whole(call: &Call) -> Value {
    let u = render::usage(&call.script, &call.body);
    let (content, tool_calls, finish) = match &call.script.reply {
        Reply::Text(t) => (json!(t), None, "stop"),
        Reply::Thinking { text, .. } => (json!(text), None, "stop"),
        Reply::ToolCalls { text, calls } => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": format!("call_mock{i}"), "type": "function",
                           "function": {"name": name, "arguments": args.to_string()}})
                })
                .collect();
            let content = if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            };
            (content, Some(calls), "tool_calls")
        }
        Reply::Error { .. } => (Value::Null, None, "stop"),
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
    if let Some(calls) = tool_calls {
        message["tool_calls"] = json!(calls);
    }
    json!({
        "id": "chatcmpl-mock1",
        "object": "chat.completion",
        "created": CREATED,
        "model": model_of(call),
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": json_usage_openai(&u),
        "service_tier": "default",
        "system_fingerprint": "fp_mock"
    })
}

fn chunk(call: &Call, delta: Value, finish: Option<&str>) -> String {
    data(&json!({
        "id": "chatcmpl-mock1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model_of(call),
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null
    }))
}

fn stream(call: &Call) -> Response {
    let u = render::usage(&call.script, &call.body);
    let mut events = vec![chunk(
        call,
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    let finish = match &call.script.reply {
        Reply::Text(t) | Reply::Thinking { text: t, .. } => {
            for p in pieces(t) {
                events.push(chunk(call, json!({"content": p}), None));
            }
            "stop"
        }
        Reply::ToolCalls { text, calls } => {
            for p in pieces(text) {
                events.push(chunk(call, json!({"content": p}), None));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                events.push(chunk(
                    call,
                    json!({"tool_calls": [{"index": i, "id": format!("call_mock{i}"), "type": "function",
                                            "function": {"name": name, "arguments": ""}}]}),
                    None,
                ));
                for frag in fragments(&args.to_string()) {
                    events.push(chunk(
                        call,
                        json!({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}),
                        None,
                    ));
                }
            }
            "tool_calls"
        }
        Reply::Error { .. } => "stop",
    };
    events.push(chunk(call, json!({}), Some(finish)));
    let include_usage = call
        .body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);
    if include_usage {
        events.push(data(&json!({
            "id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": CREATED,
            "model": model_of(call), "choices": [], "usage": json_usage_openai(&u)
        })));
    }
    events.push("data: [DONE]\n\n".to_owned());
    let err = data(
        &json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}}),
    );
    render::sse_response(call, events, err)
}
