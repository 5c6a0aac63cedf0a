//! Workers AI native `/ai/run/{model}`, as documented: the `{result, success, errors,
//! messages}` envelope with a legacy `response` result (tool-call `arguments` as objects, no
//! ids) or, for Kimi models, an OpenAI-shaped result; legacy streams with `p` padding and a
//! trailing usage chunk; DeepSeek R1 reasoning inline without the opening `<think>`.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use crate::render::{self, before_answer, complete, data, json_usage_openai, pieces};
use crate::script::Reply;
use crate::{json_response, Call};

pub(crate) async fn answer(call: Call, headers: &HeaderMap) -> Response {
    before_answer(&call).await;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !auth.starts_with("Bearer ") || auth.len() <= "Bearer ".len() {
        complete(&call);
        return error(401, 10000, "Authentication error", None);
    }
    if let Reply::Error {
        status,
        message,
        retry_after,
    } = &call.script.reply
    {
        complete(&call);
        let code = match status {
            429 => 3040,
            400 => 5007,
            401 | 403 => 10000,
            413 => 3006,
            _ => 3043,
        };
        return error(*status, code, message, *retry_after);
    }
    let openai_shape = call
        .script
        .openai_shape
        .unwrap_or(call.model.contains("moonshotai"));
    if call.body.get("stream").and_then(Value::as_bool) == Some(true) {
        stream(&call, openai_shape)
    } else {
        complete(&call);
        let result = if openai_shape {
            openai_result(&call)
        } else {
            legacy_result(&call)
        };
        json_response(
            200,
            &[],
            &json!({"result": result, "success": true, "errors": [], "messages": []}),
        )
    }
}

fn error(status: u16, code: u32, message: &str, retry_after: Option<u64>) -> Response {
    let headers: Vec<(&str, String)> = retry_after
        .map(|s| vec![("retry-after", s.to_string())])
        .unwrap_or_default();
    let body = json!({"result": null, "success": false,
                      "errors": [{"code": code, "message": message}], "messages": []});
    json_response(status, &headers, &body)
}

/// R1 puts its reasoning inline, without the opening tag.
fn text_of(reply: &Reply) -> String {
    match reply {
        Reply::Text(t) => t.clone(),
        Reply::Thinking { thinking, text } => format!("{thinking}\n</think>\n\n{text}"),
        Reply::ToolCalls { text, .. } => text.clone(),
        Reply::Error { .. } => String::new(),
    }
}

fn legacy_result(call: &Call) -> Value {
    let u = render::usage(&call.script, &call.body);
    let mut result = json!({
        "response": text_of(&call.script.reply),
        "usage": {"prompt_tokens": u.input, "completion_tokens": u.output, "total_tokens": u.input + u.output}
    });
    if let Reply::ToolCalls { calls, .. } = &call.script.reply {
        result["tool_calls"] = json!(calls
            .iter()
            .map(|(n, a)| json!({"name": n, "arguments": a}))
            .collect::<Vec<_>>());
    }
    result
}

fn openai_result(call: &Call) -> Value {
    let u = render::usage(&call.script, &call.body);
    let text = text_of(&call.script.reply);
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    let mut finish = "stop";
    if let Reply::ToolCalls { calls, .. } = &call.script.reply {
        message["tool_calls"] = json!(calls
            .iter()
            .enumerate()
            .map(|(i, (n, a))| json!({
            "id": format!("chatcmpl-tool-mock{i}"), "type": "function",
            "function": {"name": n, "arguments": a.to_string()}}))
            .collect::<Vec<_>>());
        finish = "tool_calls";
    }
    json!({"id": "chatcmpl-mockcf", "object": "chat.completion", "created": 1_764_000_000u64,
           "model": call.model, "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
           "usage": json_usage_openai(&u)})
}

fn stream(call: &Call, openai_shape: bool) -> Response {
    let u = render::usage(&call.script, &call.body);
    let text = text_of(&call.script.reply);
    let mut events = Vec::new();
    if openai_shape {
        let chunk = |delta: Value, finish: Option<&str>| {
            data(
                &json!({"id": "chatcmpl-mockcf", "object": "chat.completion.chunk", "created": 1_764_000_000u64,
                         "model": call.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
        };
        for p in pieces(&text) {
            events.push(chunk(json!({"content": p}), None));
        }
        let mut finish = "stop";
        if let Reply::ToolCalls { calls, .. } = &call.script.reply {
            for (i, (n, a)) in calls.iter().enumerate() {
                events.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("chatcmpl-tool-mock{i}"), "type": "function", "function": {"name": n, "arguments": a.to_string()}}]}), None));
            }
            finish = "tool_calls";
        }
        events.push(chunk(json!({}), Some(finish)));
    } else {
        for (i, p) in pieces(&text).into_iter().enumerate() {
            events.push(data(
                &json!({"response": p, "p": "abcdefghij"[..(i % 10) + 1].to_owned()}),
            ));
        }
        if let Reply::ToolCalls { calls, .. } = &call.script.reply {
            let calls: Vec<Value> = calls
                .iter()
                .map(|(n, a)| json!({"name": n, "arguments": a}))
                .collect();
            events.push(data(&json!({"response": "", "tool_calls": calls})));
        }
    }
    events.push(data(&json!({"response": "", "usage": {"prompt_tokens": u.input, "completion_tokens": u.output, "total_tokens": u.input + u.output}})));
    events.push("data: [DONE]\n\n".to_owned());
    let err = data(
        &json!({"errors": [{"code": 3040, "message": "Capacity temporarily exceeded, please try again."}]}),
    );
    render::sse_response(call, events, err)
}
