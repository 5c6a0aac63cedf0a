//! Anthropic Messages, as documented: `message` objects; `event:` + `data:` streams with
//! `ping`s, thinking and signature deltas, `input_json_delta` split mid-token, cumulative
//! `message_delta` usage and `message_stop`; `{"type":"error",...}` bodies, 529 included.
//! It rejects requests without `x-api-key`, `anthropic-version` or `max_tokens`, as the
//! real API does.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use crate::render::{self, before_answer, complete, fragments, pieces};
use crate::script::Reply;
use crate::{json_response, Call};

pub(crate) async fn answer(call: Call, headers: &HeaderMap) -> Response {
    before_answer(&call).await;
    let has = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.is_empty())
    };
    if !has("x-api-key") {
        complete(&call);
        return error(401, "x-api-key header is required", None);
    }
    if !has("anthropic-version") {
        complete(&call);
        return error(400, "anthropic-version: header is required", None);
    }
    if call
        .body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .is_none()
    {
        complete(&call);
        return error(400, "max_tokens: Field required", None);
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
        json_response(200, &[("request-id", "req_mock".into())], &whole(&call))
    }
}

fn type_for(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let mut headers = vec![("request-id", "req_mock_err".to_owned())];
    if let Some(s) = retry_after {
        headers.push(("retry-after", s.to_string()));
        headers.push(("anthropic-ratelimit-requests-remaining", "0".into()));
    }
    if status == 529 {
        headers.push(("x-should-retry", "true".into()));
    }
    let body = json!({"type": "error", "error": {"type": type_for(status), "message": message},
                      "request_id": "req_mock_err"});
    json_response(status, &headers, &body)
}

fn usage_json(u: &crate::MockUsage, output: u64) -> Value {
    json!({
        "input_tokens": u.input.saturating_sub(u.cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output,
        "service_tier": "standard"
    })
}

fn whole(call: &Call) -> Value {
    let u = render::usage(&call.script, &call.body);
    let mut content = Vec::new();
    let stop = match &call.script.reply {
        Reply::Text(t) => {
            content.push(json!({"type": "text", "text": t}));
            "end_turn"
        }
        Reply::Thinking { thinking, text } => {
            content.push(
                json!({"type": "thinking", "thinking": thinking, "signature": "EqQBCkYIAhgCmock"}),
            );
            content.push(json!({"type": "text", "text": text}));
            "end_turn"
        }
        Reply::ToolCalls { text, calls } => {
            if !text.is_empty() {
                content.push(json!({"type": "text", "text": text}));
            }
            for (i, (name, args)) in calls.iter().enumerate() {
                content.push(json!({"type": "tool_use", "id": format!("toolu_mock{i}"), "name": name, "input": args}));
            }
            "tool_use"
        }
        Reply::Error { .. } => "end_turn",
    };
    json!({
        "id": "msg_mock1", "type": "message", "role": "assistant", "model": call.model,
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": usage_json(&u, u.output)
    })
}

fn event(name: &str, v: &Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

fn stream(call: &Call) -> Response {
    let u = render::usage(&call.script, &call.body);
    let mut events = vec![event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": "msg_mock1", "type": "message", "role": "assistant", "model": call.model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage_json(&u, 1)}}),
    )];
    let mut index = 0;
    let text_block = |events: &mut Vec<String>, index: &mut u32, text: &str| {
        if text.is_empty() {
            return;
        }
        events.push(event("content_block_start", &json!({"type": "content_block_start", "index": *index, "content_block": {"type": "text", "text": ""}})));
        for p in pieces(text) {
            events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": *index, "delta": {"type": "text_delta", "text": p}})));
        }
        events.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": *index}),
        ));
        *index += 1;
    };
    let stop = match &call.script.reply {
        Reply::Text(t) => {
            text_block(&mut events, &mut index, t);
            "end_turn"
        }
        Reply::Thinking { thinking, text } => {
            events.push(event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})));
            events.push(event("ping", &json!({"type": "ping"})));
            for p in pieces(thinking) {
                events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": p}})));
            }
            events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "EqQBCkYIAhgCmock"}})));
            events.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
            index += 1;
            text_block(&mut events, &mut index, text);
            "end_turn"
        }
        Reply::ToolCalls { text, calls } => {
            text_block(&mut events, &mut index, text);
            for (i, (name, args)) in calls.iter().enumerate() {
                events.push(event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": format!("toolu_mock{i}"), "name": name, "input": {}}})));
                events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}})));
                for frag in fragments(&args.to_string()) {
                    events.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": frag}})));
                }
                events.push(event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": index}),
                ));
                index += 1;
            }
            "tool_use"
        }
        Reply::Error { .. } => "end_turn",
    };
    events.push(event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": u.output}}),
    ));
    events.push(event("message_stop", &json!({"type": "message_stop"})));
    let err = event(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    render::sse_response(call, events, err)
}
