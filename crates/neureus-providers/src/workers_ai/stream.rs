//! Workers AI stream → canonical events. Lines are told apart by shape: `choices` is an
//! OpenAI chunk, `response`/`usage` a legacy chunk, `errors` an error.

use neureus_types::{StreamEvent, ToolCallDelta, Usage};

use super::translate::{envelope_error, infer_finish, response_text, tool_call, usage};
use super::wire::{as_openai_chunk, WorkersChunk};
use crate::sse::SseEvent;
use crate::{ProviderError, StreamMachine, ThinkSplitter};

/// State of one Workers AI stream.
#[derive(Debug)]
pub struct WorkersStream {
    think: Option<ThinkSplitter>,
    max_tokens: u32,
    usage: Usage,
    tools_seen: u32,
    finished: bool,
    done: bool,
}

impl WorkersStream {
    /// `inline_think`: split `<think>` text into reasoning (DeepSeek R1).
    pub fn new(inline_think: bool, max_tokens: u32) -> Self {
        WorkersStream {
            think: inline_think.then(ThinkSplitter::new),
            max_tokens,
            usage: Usage::default(),
            tools_seen: 0,
            finished: false,
            done: false,
        }
    }

    fn text(&mut self, text: String, out: &mut Vec<StreamEvent>) {
        match &mut self.think {
            None => {
                if !text.is_empty() {
                    out.push(StreamEvent::Content(text));
                }
            }
            Some(splitter) => {
                let split = splitter.push(&text);
                push_split(split, out);
            }
        }
    }

    fn end(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if let Some(splitter) = &mut self.think {
            push_split(splitter.finish(), &mut out);
        }
        if !self.finished {
            self.finished = true;
            out.push(StreamEvent::Finish(infer_finish(
                self.tools_seen > 0,
                &self.usage,
                self.max_tokens,
            )));
        }
        out
    }
}

fn push_split(split: crate::think::Split, out: &mut Vec<StreamEvent>) {
    if !split.reasoning.is_empty() {
        out.push(StreamEvent::Reasoning(split.reasoning));
    }
    if !split.answer.is_empty() {
        out.push(StreamEvent::Content(split.answer));
    }
}

impl StreamMachine for WorkersStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(self.end());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let chunk: WorkersChunk = crate::http::parse_json_str("Workers AI stream chunk", data)?;
        if let Some(errors) = chunk.errors.filter(|e| !e.is_empty()) {
            return Err(envelope_error(200, &errors));
        }
        let mut out = Vec::new();
        if chunk.choices.is_some() {
            let openai = as_openai_chunk(data)
                .map_err(|e| ProviderError::Protocol(format!("Workers AI stream chunk: {e}")))?;
            for ev in crate::openai::chunk_events(openai)? {
                match ev {
                    StreamEvent::Content(t) => self.text(t, &mut out),
                    StreamEvent::Finish(f) => {
                        if let Some(splitter) = &mut self.think {
                            push_split(splitter.finish(), &mut out);
                        }
                        self.finished = true;
                        out.push(StreamEvent::Finish(f));
                    }
                    StreamEvent::Usage(u) => {
                        self.usage = u;
                        out.push(StreamEvent::Usage(u));
                    }
                    StreamEvent::ToolCall(d) => {
                        self.tools_seen = self.tools_seen.max(d.index + 1);
                        out.push(StreamEvent::ToolCall(d));
                    }
                    other => out.push(other),
                }
            }
            return Ok(out);
        }
        if let Some(r) = chunk.response {
            self.text(response_text(Some(r)), &mut out);
        }
        for c in chunk.tool_calls.unwrap_or_default() {
            let index = self.tools_seen;
            self.tools_seen += 1;
            let call = tool_call(index as usize, c);
            out.push(StreamEvent::ToolCall(ToolCallDelta {
                index,
                id: Some(call.id),
                name: Some(call.name),
                arguments: crate::openai::arguments_text(&call.arguments),
            }));
        }
        if let Some(u) = chunk.usage {
            self.usage = usage(&u);
            out.push(StreamEvent::Usage(self.usage));
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
