//! Offline token counting (providers.md §5): `o200k_base` for every family, scaled by the
//! model's factor (1.0 for OpenAI, about 1.15 for Claude, more for the newer Claude
//! tokenizer). Decisions never tokenize more than needed: a byte bound settles small
//! requests without tokenizing, and larger ones are counted from the newest message back
//! only until the threshold is passed.

use neureus_types::{Content, ContentPart, Message};

/// Framing tokens per message (role markers), per the OpenAI cookbook rule.
const PER_MESSAGE: u64 = 4;
/// A fixed charge for an image part (the low-detail cost of OpenAI vision).
const PER_IMAGE: u64 = 85;

/// Counts tokens for one model family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counter {
    factor: f64,
}

impl Counter {
    /// A counter scaling `o200k_base` counts by `factor` (≥ 1 is expected).
    pub fn new(factor: f64) -> Self {
        Counter {
            factor: if factor.is_finite() && factor > 0.0 {
                factor
            } else {
                1.0
            },
        }
    }

    fn scale(&self, raw: u64) -> u64 {
        if self.factor == 1.0 {
            raw
        } else {
            (raw as f64 * self.factor).ceil() as u64
        }
    }

    /// Tokens of a text.
    pub fn text(&self, s: &str) -> u64 {
        if s.is_empty() {
            return 0;
        }
        self.scale(bpe_openai::o200k_base().count(s) as u64)
    }

    /// Tokens of one message: text, tool calls, framing.
    pub fn message(&self, m: &Message) -> u64 {
        let mut raw = 0u64;
        let mut images = 0u64;
        let bpe = bpe_openai::o200k_base();
        match &m.content {
            None => {}
            Some(Content::Text(t)) => raw += bpe.count(t) as u64,
            Some(Content::Parts(parts)) => {
                for p in parts {
                    match p {
                        ContentPart::Text { text } => raw += bpe.count(text) as u64,
                        ContentPart::Image { .. } => images += 1,
                    }
                }
            }
        }
        for c in &m.tool_calls {
            raw += bpe.count(&c.name) as u64 + bpe.count(&c.arguments.to_string()) as u64 + 1;
        }
        self.scale(raw) + images * PER_IMAGE + PER_MESSAGE
    }

    /// Tokens of a conversation.
    pub fn messages(&self, msgs: &[Message]) -> u64 {
        msgs.iter().map(|m| self.message(m)).sum()
    }

    /// An upper bound without tokenizing: a token covers at least one byte.
    fn upper_bound(&self, msgs: &[Message]) -> u64 {
        msgs.iter()
            .map(|m| {
                let mut bytes = 0usize;
                let mut images = 0u64;
                match &m.content {
                    None => {}
                    Some(Content::Text(t)) => bytes += t.len(),
                    Some(Content::Parts(parts)) => {
                        for p in parts {
                            match p {
                                ContentPart::Text { text } => bytes += text.len(),
                                ContentPart::Image { .. } => images += 1,
                            }
                        }
                    }
                }
                // Arguments are bounded by their JSON text; the name and separator add a few.
                for c in &m.tool_calls {
                    bytes += c.name.len() + json_len(&c.arguments) + 1;
                }
                self.scale(bytes as u64) + images * PER_IMAGE + PER_MESSAGE
            })
            .sum()
    }

    /// Whether the conversation has more than `threshold` tokens, tokenizing as little as
    /// possible: nothing when the byte bound settles it, otherwise newest messages first,
    /// stopping as soon as the threshold is passed.
    pub fn exceeds(&self, msgs: &[Message], threshold: u64) -> bool {
        if self.upper_bound(msgs) <= threshold {
            return false;
        }
        let mut total = 0u64;
        for m in msgs.iter().rev() {
            total += self.message(m);
            if total > threshold {
                return true;
            }
        }
        false
    }
}

/// Length of a JSON value's text (what `to_string` would produce), without building it for
/// strings and numbers.
fn json_len(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => {
            s.len()
                + 2
                + s.bytes()
                    .filter(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                    .count()
                    * 5
        }
        other => other.to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neureus_types::Role;

    #[test]
    fn counts_and_bounds() {
        let c = Counter::new(1.0);
        assert_eq!(c.text("Hello, world!"), 4);
        let m = Message::text(Role::User, "Hello, world!");
        assert_eq!(c.message(&m), 8);
        let claude = Counter::new(1.15);
        assert_eq!(claude.text("Hello, world!"), 5);
        let small = vec![Message::text(Role::User, "short text")];
        assert!(!c.exceeds(&small, 100));
        let big: Vec<Message> = (0..50)
            .map(|i| Message::text(Role::User, format!("message number {i} ").repeat(50)))
            .collect();
        let total = c.messages(&big);
        assert!(c.exceeds(&big, total - 1));
        assert!(!c.exceeds(&big, total));
    }
}
