//! The gateway's SSE stream → [`StreamEvent`]s. The gateway sends well-formed `data:` lines
//! only (one JSON per event), so this needs none of a general decoder's cases.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::{Error, StreamEvent, StreamFinal, ToolCallDelta};

fn event(data: &str, request_id: &Option<String>) -> Option<Result<StreamEvent, Error>> {
    let v: Value = match serde_json::from_str(data) {
        Ok(v) => v,
        Err(e) => return Some(Err(Error::Decode(format!("stream chunk: {e}")))),
    };
    if v["done"] == Value::Bool(true) {
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Some(Err(Error::Api {
                status: 200,
                kind: err["type"].as_str().unwrap_or("provider_error").to_owned(),
                message: err["message"].as_str().unwrap_or_default().to_owned(),
                request_id: request_id.clone(),
                retry_after: None,
            }));
        }
        return Some(
            serde_json::from_value::<StreamFinal>(v)
                .map(StreamEvent::Final)
                .map_err(|e| Error::Decode(e.to_string())),
        );
    }
    let d = &v["delta"];
    if let Some(t) = d["content"].as_str() {
        return Some(Ok(StreamEvent::Content(t.to_owned())));
    }
    if let Some(t) = d["reasoning"].as_str() {
        return Some(Ok(StreamEvent::Reasoning(t.to_owned())));
    }
    if d.get("toolCalls").is_some() {
        return Some(
            serde_json::from_value::<Vec<ToolCallDelta>>(d["toolCalls"].clone())
                .map(StreamEvent::ToolCalls)
                .map_err(|e| Error::Decode(e.to_string())),
        );
    }
    None
}

/// Splits bytes into lines and yields one event per `data:` line.
pub(crate) fn events(
    bytes: impl Stream<Item = Result<Bytes, Error>> + Send + 'static,
    request_id: Option<String>,
) -> impl Stream<Item = Result<StreamEvent, Error>> + Send {
    let state = (
        Box::pin(bytes),
        Vec::<u8>::new(),
        std::collections::VecDeque::new(),
        false,
        request_id,
    );
    futures_util::stream::unfold(
        state,
        |(mut body, mut buf, mut queue, mut ended, rid)| async move {
            loop {
                if let Some(item) = queue.pop_front() {
                    return Some((item, (body, buf, queue, ended, rid)));
                }
                if ended {
                    return None;
                }
                match body.next().await {
                    Some(Ok(chunk)) => {
                        buf.extend_from_slice(&chunk);
                        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=pos).collect();
                            let line = String::from_utf8_lossy(&line);
                            if let Some(data) = line.trim_end().strip_prefix("data:") {
                                if let Some(ev) = event(data.trim_start(), &rid) {
                                    queue.push_back(ev);
                                }
                            }
                        }
                    }
                    Some(Err(e)) => {
                        queue.push_back(Err(e));
                        ended = true;
                    }
                    None => ended = true,
                }
            }
        },
    )
}
