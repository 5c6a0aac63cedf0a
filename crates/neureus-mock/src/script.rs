//! What the mock answers: a [`Script`] per request, built with a small builder.

use std::time::Duration;

use serde_json::Value;

/// The answer's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Plain text (for Workers AI R1 models this may hold `<think>` text verbatim).
    Text(String),
    /// Tool calls (name, arguments object), with optional text before them.
    ToolCalls {
        /// Text before the calls.
        text: String,
        /// (name, arguments).
        calls: Vec<(String, Value)>,
    },
    /// Reasoning then text: Anthropic thinking blocks; Workers AI inline `…</think>` text
    /// (without the opening tag, as DeepSeek R1 does); OpenAI shows only the text.
    Thinking {
        /// Reasoning.
        thinking: String,
        /// Answer.
        text: String,
    },
    /// An HTTP error in the provider's format.
    Error {
        /// Status (429, 500, 529, …).
        status: u16,
        /// Message.
        message: String,
        /// `retry-after` seconds.
        retry_after: Option<u64>,
    },
}

/// Usage numbers the mock reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockUsage {
    /// Total input tokens (cached included).
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Cached input tokens.
    pub cached: u64,
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Content.
    pub reply: Reply,
    /// Reported usage; derived from the request and reply when `None`.
    pub usage: Option<MockUsage>,
    /// Wait before sending the response headers.
    pub first_byte_delay: Duration,
    /// Wait between stream events.
    pub chunk_delay: Duration,
    /// Close the stream after this many events, without the end marker.
    pub cut_after: Option<usize>,
    /// Send an in-stream error event after this many events.
    pub error_after: Option<usize>,
    /// Send each event in pieces of this many bytes (splitting lines and UTF-8 sequences).
    pub split_bytes: Option<usize>,
    /// Workers AI: answer in the OpenAI shape (as Kimi does) even for a legacy model.
    pub openai_shape: Option<bool>,
}

impl Script {
    fn with(reply: Reply) -> Self {
        Script {
            reply,
            usage: None,
            first_byte_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            cut_after: None,
            error_after: None,
            split_bytes: None,
            openai_shape: None,
        }
    }

    /// Answer with text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with(Reply::Text(text.into()))
    }

    /// Answer with tool calls.
    pub fn tool_calls(calls: Vec<(&str, Value)>) -> Self {
        Self::with(Reply::ToolCalls {
            text: String::new(),
            calls: calls.into_iter().map(|(n, a)| (n.to_owned(), a)).collect(),
        })
    }

    /// Answer with reasoning, then text.
    pub fn thinking(thinking: impl Into<String>, text: impl Into<String>) -> Self {
        Self::with(Reply::Thinking {
            thinking: thinking.into(),
            text: text.into(),
        })
    }

    /// Answer with an HTTP error.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::with(Reply::Error {
            status,
            message: message.into(),
            retry_after: None,
        })
    }

    /// Sets `retry-after` on an error.
    pub fn retry_after(mut self, secs: u64) -> Self {
        if let Reply::Error { retry_after, .. } = &mut self.reply {
            *retry_after = Some(secs);
        }
        self
    }

    /// Sets the reported usage.
    pub fn usage(mut self, input: u64, output: u64, cached: u64) -> Self {
        self.usage = Some(MockUsage {
            input,
            output,
            cached,
        });
        self
    }

    /// Waits before the response headers.
    pub fn first_byte_delay(mut self, d: Duration) -> Self {
        self.first_byte_delay = d;
        self
    }

    /// Waits between stream events.
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        self.chunk_delay = d;
        self
    }

    /// Cuts the stream after `n` events.
    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// Sends an in-stream error after `n` events.
    pub fn error_after(mut self, n: usize) -> Self {
        self.error_after = Some(n);
        self
    }

    /// Splits every event into `n`-byte writes.
    pub fn split_bytes(mut self, n: usize) -> Self {
        self.split_bytes = Some(n.max(1));
        self
    }

    /// Workers AI: use the OpenAI-shaped result and chunks.
    pub fn openai_shape(mut self, yes: bool) -> Self {
        self.openai_shape = Some(yes);
        self
    }

    /// The default answer: echo the last user text; call the first tool when tools are
    /// offered and the conversation does not end with a tool result; reason first when the
    /// request asks for thinking or the model is a DeepSeek R1.
    pub fn echo(body: &Value, model: &str) -> Self {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let last = messages.last();
        let last_role = last
            .and_then(|m| m.get("role"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let last_is_tool_result = last_role == "tool"
            || last
                .and_then(|m| m.get("content"))
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                });
        let said = last_user_text(&messages);
        if let Some(tool) = body
            .get("tools")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .filter(|_| !last_is_tool_result)
        {
            let name = tool
                .get("name")
                .or_else(|| tool.get("function").and_then(|f| f.get("name")))
                .and_then(Value::as_str)
                .unwrap_or("tool");
            return Self::tool_calls(vec![(name, serde_json::json!({ "query": said }))]);
        }
        let text = if last_is_tool_result {
            "Thanks, the tool answered. Here is the result in words.".to_owned()
        } else {
            format!("Hello from the mock! You said: {said}")
        };
        let wants_thinking = body.get("thinking").is_some() || model.contains("deepseek-r1");
        if wants_thinking {
            Self::thinking(
                "The user wrote to me. I will answer briefly and echo them.",
                text,
            )
        } else {
            Self::text(text)
        }
    }
}

fn last_user_text(messages: &[Value]) -> String {
    let Some(m) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return String::new();
    };
    let text = match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    text.chars().take(200).collect()
}
