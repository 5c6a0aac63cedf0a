//! Provider-neutral stream events: what every provider's SSE state machine produces.

use crate::{FinishReason, Usage};

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of answer text.
    Content(String),
    /// A piece of reasoning text.
    Reasoning(String),
    /// A piece of a tool call.
    ToolCall(ToolCallDelta),
    /// Usage seen so far. Values are cumulative: a later event replaces earlier fields it sets.
    Usage(Usage),
    /// Why generation stopped.
    Finish(FinishReason),
}

/// A fragment of a tool call. `id` and `name` arrive on the first fragment of an `index`;
/// `arguments` fragments concatenate to the call's JSON arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCallDelta {
    /// Position of the call among this answer's tool calls (0-based).
    pub index: u32,
    /// Call id, on the first fragment.
    pub id: Option<String>,
    /// Function name, on the first fragment.
    pub name: Option<String>,
    /// A piece of the JSON arguments text (may be empty).
    pub arguments: String,
}
