//! Splits DeepSeek R1's inline `<think>…</think>` text into reasoning and answer, both for a
//! whole text and incrementally across stream chunks (tags may be split between chunks, and
//! the opening tag may be missing because it belongs to the prompt template).

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet: the text may start with `<think>`.
    Start,
    /// Opening tag seen: text is reasoning, emitted as it arrives.
    Thinking,
    /// No opening tag: text is held back until `</think>` (it was reasoning) or the end
    /// (it was the answer).
    Undecided,
    /// Just after `</think>`: leading blank space before the answer is dropped.
    AnswerLead,
    /// After `</think>`, or decided there is no reasoning: text is answer.
    Answer,
}

/// Incremental splitter. Feed text with [`ThinkSplitter::push`], then call
/// [`ThinkSplitter::finish`]; each returns `(reasoning, answer)` pieces to emit now.
#[derive(Debug, Clone)]
pub struct ThinkSplitter {
    phase: Phase,
    pending: String,
}

impl Default for ThinkSplitter {
    fn default() -> Self {
        Self::new()
    }
}

/// Text to emit: reasoning and answer pieces (either may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// Reasoning text.
    pub reasoning: String,
    /// Answer text.
    pub answer: String,
}

impl ThinkSplitter {
    /// A splitter at the start of a text.
    pub fn new() -> Self {
        ThinkSplitter {
            phase: Phase::Start,
            pending: String::new(),
        }
    }

    /// Splits a whole text at once.
    pub fn split_all(text: &str) -> Split {
        let mut s = ThinkSplitter::new();
        let mut out = s.push(text);
        let end = s.finish();
        out.reasoning.push_str(&end.reasoning);
        out.answer.push_str(&end.answer);
        out
    }

    /// Feeds a chunk.
    pub fn push(&mut self, chunk: &str) -> Split {
        self.pending.push_str(chunk);
        let mut out = Split::default();
        loop {
            match self.phase {
                Phase::Start => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.starts_with(OPEN) {
                        let cut = self.pending.len() - trimmed.len() + OPEN.len();
                        self.pending.drain(..cut);
                        self.phase = Phase::Thinking;
                    } else if OPEN.starts_with(trimmed) {
                        // Could still become `<think>`: wait for more.
                        return out;
                    } else {
                        self.phase = Phase::Undecided;
                    }
                }
                Phase::Thinking => {
                    if let Some(pos) = self.pending.find(CLOSE) {
                        out.reasoning.push_str(&self.pending[..pos]);
                        self.pending.drain(..pos + CLOSE.len());
                        self.phase = Phase::AnswerLead;
                    } else {
                        let keep = partial_suffix(&self.pending, CLOSE);
                        let emit = self.pending.len() - keep;
                        out.reasoning.push_str(&self.pending[..emit]);
                        self.pending.drain(..emit);
                        return out;
                    }
                }
                Phase::Undecided => {
                    if let Some(pos) = self.pending.find(CLOSE) {
                        out.reasoning.push_str(&self.pending[..pos]);
                        self.pending.drain(..pos + CLOSE.len());
                        self.phase = Phase::AnswerLead;
                    } else {
                        return out;
                    }
                }
                Phase::AnswerLead => {
                    let t = self.pending.trim_start();
                    if t.is_empty() {
                        self.pending.clear();
                        return out;
                    }
                    let cut = self.pending.len() - t.len();
                    self.pending.drain(..cut);
                    self.phase = Phase::Answer;
                }
                Phase::Answer => {
                    out.answer.push_str(&self.pending);
                    self.pending.clear();
                    return out;
                }
            }
        }
    }

    /// The text ended. Held-back text without a `</think>` was the answer; an unclosed
    /// `<think>` leaves its text as reasoning.
    pub fn finish(&mut self) -> Split {
        let rest = std::mem::take(&mut self.pending);
        let out = match self.phase {
            Phase::Thinking => Split {
                reasoning: rest,
                answer: String::new(),
            },
            Phase::Start | Phase::Undecided | Phase::AnswerLead | Phase::Answer => Split {
                reasoning: String::new(),
                answer: rest,
            },
        };
        self.phase = Phase::Answer;
        out
    }
}

/// Length of the longest suffix of `s` that is a proper prefix of `tag`.
fn partial_suffix(s: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            s.len() >= n && s.is_char_boundary(s.len() - n) && tag.starts_with(&s[s.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whole_texts() {
        let s = ThinkSplitter::split_all("<think>plan it</think>\n\nAnswer.");
        assert_eq!(
            (s.reasoning.as_str(), s.answer.as_str()),
            ("plan it", "Answer.")
        );
        let s = ThinkSplitter::split_all("plan it</think>\n\nAnswer.");
        assert_eq!(
            (s.reasoning.as_str(), s.answer.as_str()),
            ("plan it", "Answer.")
        );
        let s = ThinkSplitter::split_all("Just an answer.");
        assert_eq!(
            (s.reasoning.as_str(), s.answer.as_str()),
            ("", "Just an answer.")
        );
        let s = ThinkSplitter::split_all("<think>never closed");
        assert_eq!(
            (s.reasoning.as_str(), s.answer.as_str()),
            ("never closed", "")
        );
        let s = ThinkSplitter::split_all("<thi");
        assert_eq!((s.reasoning.as_str(), s.answer.as_str()), ("", "<thi"));
    }

    #[test]
    fn explicit_think_streams_reasoning_live() {
        let mut s = ThinkSplitter::new();
        assert_eq!(s.push("<thi").reasoning, "");
        assert_eq!(s.push("nk>step one, ").reasoning, "step one, ");
        let out = s.push("step two</th");
        assert_eq!(out.reasoning, "step two");
        let out = s.push("ink>\n\nDone");
        assert_eq!((out.reasoning.as_str(), out.answer.as_str()), ("", "Done"));
    }

    fn run(chunks: &[String]) -> Split {
        let mut s = ThinkSplitter::new();
        let mut out = Split::default();
        for c in chunks {
            let p = s.push(c);
            out.reasoning.push_str(&p.reasoning);
            out.answer.push_str(&p.answer);
        }
        let p = s.finish();
        out.reasoning.push_str(&p.reasoning);
        out.answer.push_str(&p.answer);
        out
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_split(
            reasoning in "[a-z <>/é]{0,40}",
            answer in "[a-z <>é]{0,40}",
            open in any::<bool>(),
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            prop_assume!(!reasoning.contains("</think>") && !reasoning.contains("<think>"));
            let text = format!("{}{reasoning}</think>{answer}", if open { "<think>" } else { "" });
            let whole = ThinkSplitter::split_all(&text);
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1))
                .filter(|&c| text.is_char_boundary(c)).collect();
            bounds.sort_unstable();
            bounds.dedup();
            let mut chunks = Vec::new();
            let mut last = 0;
            for b in bounds { chunks.push(text[last..b].to_owned()); last = b; }
            chunks.push(text[last..].to_owned());
            prop_assert_eq!(run(&chunks), whole);
        }
    }
}
