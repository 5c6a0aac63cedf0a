//! Anthropic event stream → canonical events.

use std::collections::HashMap;

use neureus_types::{StreamEvent, ToolCallDelta};

use super::translate::{finish_reason, merge_usage, status_of_error_type};
use super::wire::*;
use crate::sse::SseEvent;
use crate::{ProviderError, StreamMachine};

/// State of one Anthropic stream.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    /// Content-block index → tool-call ordinal, for `tool_use` blocks.
    tool_of_block: HashMap<u32, u32>,
    next_tool: u32,
    usage: AnthropicUsage,
    done: bool,
}

impl AnthropicStream {
    /// A new stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamMachine for AnthropicStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        if ev.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        // The `type` inside `data` names the event too; it is what we dispatch on.
        let parsed: AnthropicEvent =
            crate::http::parse_json_str("Anthropic stream event", &ev.data)?;
        let mut out = Vec::new();
        match parsed {
            AnthropicEvent::MessageStart { message } => {
                if let Some(u) = message.usage {
                    out.push(StreamEvent::Usage(merge_usage(&mut self.usage, &u)));
                }
            }
            AnthropicEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                AnthropicStartBlock::Text { text } if !text.is_empty() => {
                    out.push(StreamEvent::Content(text))
                }
                AnthropicStartBlock::Thinking { thinking } if !thinking.is_empty() => {
                    out.push(StreamEvent::Reasoning(thinking))
                }
                AnthropicStartBlock::ToolUse { id, name } => {
                    let tool = self.next_tool;
                    self.next_tool += 1;
                    self.tool_of_block.insert(index, tool);
                    out.push(StreamEvent::ToolCall(ToolCallDelta {
                        index: tool,
                        id: Some(id),
                        name: Some(name),
                        arguments: String::new(),
                    }));
                }
                _ => {}
            },
            AnthropicEvent::ContentBlockDelta { index, delta } => match delta {
                AnthropicDelta::TextDelta { text } if !text.is_empty() => {
                    out.push(StreamEvent::Content(text))
                }
                AnthropicDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                    out.push(StreamEvent::Reasoning(thinking))
                }
                AnthropicDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    let Some(&tool) = self.tool_of_block.get(&index) else {
                        return Err(ProviderError::Protocol(format!(
                            "input_json_delta for block {index}, which is not a tool_use block"
                        )));
                    };
                    out.push(StreamEvent::ToolCall(ToolCallDelta {
                        index: tool,
                        id: None,
                        name: None,
                        arguments: partial_json,
                    }));
                }
                _ => {}
            },
            AnthropicEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    out.push(StreamEvent::Usage(merge_usage(&mut self.usage, &u)));
                }
                if let Some(reason) = delta.and_then(|d| d.stop_reason) {
                    out.push(StreamEvent::Finish(finish_reason(&reason)));
                }
            }
            AnthropicEvent::MessageStop => self.done = true,
            AnthropicEvent::Error { error } => {
                let kind = error.kind.unwrap_or_else(|| "api_error".into());
                return Err(ProviderError::Upstream {
                    status: status_of_error_type(&kind),
                    message: format!("{} ({kind})", error.message.unwrap_or_default()),
                    retry_after: None,
                });
            }
            AnthropicEvent::ContentBlockStop | AnthropicEvent::Ping | AnthropicEvent::Unknown => {}
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_eof(&mut self) -> Result<Vec<StreamEvent>, ProviderError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(ProviderError::StreamCut)
        }
    }
}
