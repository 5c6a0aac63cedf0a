//! The task classifier behind `model: "auto"`: deterministic, in-process, no network.
//!
//! Order of decision (first match wins): an image part → `vision`; a `tools` list →
//! `tools`; 20 KB or more of text → `long_document` (decided from byte lengths, without
//! scanning); then scores. The latest user message counts fully; the system prompt, earlier
//! turns and anything after it count less, so "add error handling" after a code block is
//! code and "thanks!" after anything is a greeting. Each message is lowercased and scanned
//! once with an Aho-Corasick automaton over the lexicon (several languages), plus one pass
//! of structural statistics (indentation, identifiers, symbols, numbers).
//!
//! Hand-written rules rather than a trained model: they are as accurate on the evaluation
//! set (see `eval/routing`), explain themselves (the deciding signal is the `reason`), and
//! cost microseconds.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, StartKind};
use neureus_types::{ChatRequest, Content, ContentPart, Message, Role};
use serde::Serialize;

use super::lexicon::{Kind, ENTRIES};

/// The seven categories of contract §4.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Programming.
    Code,
    /// Math, proofs, puzzles.
    Reasoning,
    /// A long prompt.
    LongDocument,
    /// Images.
    Vision,
    /// Tool use.
    Tools,
    /// Greetings and one-line asks.
    Simple,
    /// Everything else.
    General,
}

impl Category {
    /// All, in contract order.
    pub const ALL: [Category; 7] = [
        Category::Code,
        Category::Reasoning,
        Category::LongDocument,
        Category::Vision,
        Category::Tools,
        Category::Simple,
        Category::General,
    ];

    /// Contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Code => "code",
            Category::Reasoning => "reasoning",
            Category::LongDocument => "long_document",
            Category::Vision => "vision",
            Category::Tools => "tools",
            Category::Simple => "simple",
            Category::General => "general",
        }
    }

    /// Parses a contract name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A classification and the signal that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The category.
    pub category: Category,
    /// Short, human-readable: the deciding signal.
    pub reason: String,
}

/// Text bytes from which a prompt is a long document (~5K tokens).
pub const LONG_DOCUMENT_BYTES: usize = 20_000;
/// A score from which code or reasoning wins.
const DECIDE: f32 = 2.5;
/// Messages before the latest user message that are read for context.
const CONTEXT_MESSAGES: usize = 6;
/// Bytes of the latest user message that are scanned (the rest adds nothing a classifier
/// needs), and of each context message.
const SCAN_BYTES: usize = 16 * 1024;
const CONTEXT_SCAN_BYTES: usize = 2 * 1024;

/// The automaton over every lexicon pattern plus a title-case variant of non-ASCII ones
/// (ASCII case is folded by the automaton itself, so the text is never copied to lowercase).
/// `PATTERN_ENTRY[i]` is the lexicon index of pattern `i`.
static AUTOMATON: LazyLock<Option<(AhoCorasick, Vec<usize>)>> = LazyLock::new(|| {
    let mut patterns: Vec<String> = Vec::with_capacity(ENTRIES.len() * 2);
    let mut entry = Vec::with_capacity(ENTRIES.len() * 2);
    for (i, e) in ENTRIES.iter().enumerate() {
        patterns.push(e.0.to_owned());
        entry.push(i);
        let mut chars = e.0.chars();
        if let Some(first) = chars.next().filter(|c| !c.is_ascii()) {
            let title: String = first.to_uppercase().chain(chars).collect();
            if title != e.0 {
                patterns.push(title);
                entry.push(i);
            }
        }
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::DFA))
        .start_kind(StartKind::Unanchored)
        .build(&patterns)
        .ok()
        .map(|ac| (ac, entry))
});

/// Scores of one text.
#[derive(Debug, Default, Clone, Copy)]
struct Scores {
    code: f32,
    reasoning: f32,
    greeting: f32,
    creative: f32,
    literary: f32,
    /// Strongest single code / reasoning signal (lexicon index, or a structural one).
    top_code: Option<(f32, Signal)>,
    top_reasoning: Option<(f32, Signal)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Signal {
    Word(usize),
    Indentation,
    Identifiers,
    Numbers,
}

impl Signal {
    fn describe(self) -> String {
        match self {
            Signal::Word(i) => format!("{:?}", ENTRIES.get(i).map_or("", |e| e.0.trim())),
            Signal::Indentation => "indented code lines".into(),
            Signal::Identifiers => "code identifiers".into(),
            Signal::Numbers => "several numbers to work with".into(),
        }
    }
}

fn bump(top: &mut Option<(f32, Signal)>, w: f32, s: Signal) {
    if top.is_none_or(|(t, _)| w > t) {
        *top = Some((w, s));
    }
}

/// Word characters for whole-word matches: ASCII only, so `SQLで` still matches `sql`.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn text_of(m: &Message) -> std::borrow::Cow<'_, str> {
    match &m.content {
        Some(Content::Text(t)) => std::borrow::Cow::Borrowed(t.as_str()),
        _ => std::borrow::Cow::Owned(m.text_content()),
    }
}

fn scan(text: &str, limit: usize) -> Scores {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let original = &text[..end];
    let bytes = original.as_bytes();
    let mut s = Scores::default();
    let mut hits = [0u8; 512];
    if let Some((ac, entry)) = AUTOMATON.as_ref() {
        for m in ac.find_iter(original) {
            let Some(&i) = entry.get(m.pattern().as_usize()) else {
                continue;
            };
            let Some(&(_, kind, weight, whole)) = ENTRIES.get(i) else {
                continue;
            };
            if whole {
                let before = m.start().checked_sub(1).and_then(|p| bytes.get(p)).copied();
                let after = bytes.get(m.end()).copied();
                if before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte) {
                    continue;
                }
            }
            // Repetition adds little: each pattern counts at most twice.
            let slot = hits.get_mut(i.min(511));
            if let Some(h) = slot {
                if *h >= 2 {
                    continue;
                }
                *h += 1;
            }
            match kind {
                Kind::Code => {
                    s.code += weight;
                    bump(&mut s.top_code, weight, Signal::Word(i));
                }
                Kind::Reasoning => {
                    s.reasoning += weight;
                    bump(&mut s.top_reasoning, weight, Signal::Word(i));
                }
                Kind::Greeting => s.greeting += weight,
                Kind::Creative => s.creative += weight,
                Kind::Literary => {
                    s.literary += weight;
                    s.creative += weight;
                }
            }
        }
    }
    structure(original, &mut s);
    s
}

/// Structural statistics in one pass: indented lines, identifiers (`snake_case`,
/// `camelCase`, `call(`), and numbers.
fn structure(text: &str, s: &mut Scores) {
    let mut indented = 0u32;
    let mut idents = 0u32;
    let mut numbers = 0u32;
    let mut backticks = 0u32;
    let mut at_line_start = true;
    let mut spaces = 0u32;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if at_line_start {
            if c == b' ' || c == b'\t' {
                spaces += if c == b'\t' { 4 } else { 1 };
            } else {
                if spaces >= 2 && c != b'\n' && c != b'-' && c != b'*' {
                    indented += 1;
                }
                at_line_start = false;
            }
        }
        if c == b'\n' {
            at_line_start = true;
            spaces = 0;
        }
        if c == b'`' {
            backticks += 1;
        }
        if c.is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            numbers += 1;
            while i + 1 < b.len()
                && (b[i + 1].is_ascii_digit() || b[i + 1] == b'.' || b[i + 1] == b',')
            {
                i += 1;
            }
        } else if is_identifier_mark(b, i) {
            idents += 1;
        }
        i += 1;
    }
    if indented >= 2 {
        let w = 1.5 + (indented.min(6) as f32) * 0.5;
        s.code += w;
        bump(&mut s.top_code, w, Signal::Indentation);
    }
    // Inline `code` spans (fences are counted by the lexicon).
    let inline = backticks.saturating_sub(text.matches("```").count() as u32 * 3) / 2;
    if inline > 0 {
        idents += inline.min(2) * 2;
    }
    if idents > 0 {
        let w = idents.min(4) as f32;
        s.code += w;
        bump(&mut s.top_code, w, Signal::Identifiers);
    }
    if numbers >= 3 {
        let w = if numbers >= 5 { 2.0 } else { 1.5 };
        s.reasoning += w;
        bump(&mut s.top_reasoning, w, Signal::Numbers);
    }
}

/// `snake_case`, `camelCase` or `call(` at byte `i`.
fn is_identifier_mark(b: &[u8], i: usize) -> bool {
    let prev = |k: usize| i.checked_sub(k).and_then(|j| b.get(j)).copied();
    let next = b.get(i + 1).copied();
    let lower = |x: Option<u8>| x.is_some_and(|c| c.is_ascii_lowercase());
    match b.get(i).copied() {
        Some(b'_') => lower(prev(1)) && lower(next),
        Some(c) if c.is_ascii_uppercase() => lower(prev(1)) && lower(next),
        Some(b'(') => {
            prev(1).is_some_and(|c| c.is_ascii_alphabetic())
                && prev(2).is_some_and(|c| c.is_ascii_alphanumeric())
                && next.is_some_and(|n| {
                    n == b')' || n.is_ascii_alphabetic() || n == b'"' || n == b'\''
                })
        }
        _ => false,
    }
}

fn has_image(m: &Message) -> bool {
    matches!(&m.content, Some(Content::Parts(p)) if p.iter().any(|x| matches!(x, ContentPart::Image { .. })))
}

fn text_len(m: &Message) -> usize {
    match &m.content {
        None => 0,
        Some(Content::Text(t)) => t.len(),
        Some(Content::Parts(p)) => p
            .iter()
            .map(|x| match x {
                ContentPart::Text { text } => text.len(),
                ContentPart::Image { .. } => 0,
            })
            .sum(),
    }
}

/// Whether a message is short enough to be a one-liner (CJK scripts pack more per char).
fn is_short(text: &str, limit: usize) -> bool {
    let t = text.trim();
    if t.contains('\n') {
        return false;
    }
    let chars = t.chars().count();
    let wide = t.chars().filter(|c| (*c as u32) >= 0x2E80).count();
    let effective = chars + wide * 2;
    effective <= limit
}

/// Classifies a request as the tenant sent it.
pub fn classify(req: &ChatRequest) -> Decision {
    let msgs = &req.messages;
    if let Some(i) = msgs.iter().position(has_image) {
        return Decision {
            category: Category::Vision,
            reason: format!("message {i} contains an image"),
        };
    }
    if !req.tools.is_empty() {
        return Decision {
            category: Category::Tools,
            reason: format!("the request offers {} tool(s)", req.tools.len()),
        };
    }
    let total: usize = msgs.iter().map(text_len).sum();
    if total >= LONG_DOCUMENT_BYTES {
        return Decision {
            category: Category::LongDocument,
            reason: format!(
                "long prompt: {} KB of text (about {} tokens)",
                total / 1024,
                total / 4
            ),
        };
    }
    let latest = msgs.iter().rposition(|m| m.role == Role::User);
    let latest_text = latest
        .and_then(|i| msgs.get(i))
        .map(text_of)
        .unwrap_or_default();
    let own = scan(&latest_text, SCAN_BYTES);
    // Context: the system prompt, the turns before the latest user message, and after it.
    let mut code = own.code;
    let mut reasoning = own.reasoning;
    let mut top_code = own.top_code.map(|(w, s)| (w, s, "the latest message"));
    let mut top_reasoning = own.top_reasoning.map(|(w, s)| (w, s, "the latest message"));
    let start = latest.map_or(0, |i| i.saturating_sub(CONTEXT_MESSAGES));
    for (i, m) in msgs.iter().enumerate() {
        if Some(i) == latest {
            continue;
        }
        let (weight, place) = match m.role {
            Role::System => (0.6, "the system prompt"),
            _ if i < start => continue,
            Role::User => (0.5, "an earlier message"),
            Role::Assistant | Role::Tool => (0.3, "an earlier answer"),
        };
        let s = scan(&text_of(m), CONTEXT_SCAN_BYTES);
        code += s.code * weight;
        reasoning += s.reasoning * weight;
        if let Some((w, sig)) = s.top_code {
            if top_code.is_none_or(|(t, _, _)| w * weight > t) {
                top_code = Some((w * weight, sig, place));
            }
        }
        if let Some((w, sig)) = s.top_reasoning {
            if top_reasoning.is_none_or(|(t, _, _)| w * weight > t) {
                top_reasoning = Some((w * weight, sig, place));
            }
        }
    }
    // A short greeting or thanks is simple whatever came before.
    if own.greeting > 0.0 && own.code < 1.0 && own.reasoning < 1.0 && is_short(&latest_text, 40) {
        return Decision {
            category: Category::Simple,
            reason: "a short greeting or thanks".into(),
        };
    }
    // Writing a poem or story about code is writing, unless actual code is shown.
    let shows_code = own
        .top_code
        .is_some_and(|(_, sig)| !matches!(sig, Signal::Word(_)))
        || latest_text.contains("```");
    if own.literary > 0.0 && !shows_code {
        return Decision {
            category: Category::General,
            reason: "asks for a poem or story".into(),
        };
    }
    if code >= DECIDE || reasoning >= DECIDE {
        let (category, top) = if code >= reasoning {
            (Category::Code, top_code)
        } else {
            (Category::Reasoning, top_reasoning)
        };
        let reason = match top {
            Some((_, sig, place)) => format!("{} in {place}", sig.describe()),
            None => "code and reasoning signals".into(),
        };
        return Decision { category, reason };
    }
    if own.creative == 0.0 && is_short(&latest_text, 70) {
        return Decision {
            category: Category::Simple,
            reason: "a one-line ask with no code or math".into(),
        };
    }
    Decision {
        category: Category::General,
        reason: "no code, math or size signal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "auto".into(),
            messages,
            stream: false,
            max_tokens: None,
            temperature: None,
            top_p: None,
            stop: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            reasoning: None,
            metadata: None,
        }
    }

    #[test]
    fn explains_its_choice() {
        let d = classify(&req(vec![Message::text(
            Role::User,
            "Fix:\n```py\nprint(x)\n```",
        )]));
        assert_eq!(d.category, Category::Code);
        assert!(d.reason.contains("```"), "{}", d.reason);
        let d = classify(&req(vec![Message::text(
            Role::User,
            "Prove that there are infinitely many primes.",
        )]));
        assert_eq!(d.category, Category::Reasoning);
        assert!(d.reason.contains("prove"), "{}", d.reason);
        let d = classify(&req(vec![Message::text(Role::User, "hi!")]));
        assert_eq!(d.category, Category::Simple);
        let d = classify(&req(vec![Message::text(Role::User, "x ".repeat(11_000))]));
        assert_eq!(d.category, Category::LongDocument);
        assert!(Category::ALL
            .iter()
            .all(|c| Category::parse(c.as_str()) == Some(*c)));
    }
}
