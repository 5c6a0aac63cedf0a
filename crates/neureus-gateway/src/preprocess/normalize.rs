//! Pass 1, normalize: trim each text part; collapse runs of blank lines to one blank line,
//! except inside fenced code blocks (``` or ~~~). Image parts and tool calls are untouched.
//! Allocates only for texts that change.

use neureus_types::{Content, ContentPart, Message};

/// Normalizes every message; returns whether anything changed.
pub fn run(msgs: &mut [Message]) -> bool {
    let mut changed = false;
    for m in msgs {
        match &mut m.content {
            None => {}
            Some(Content::Text(t)) => changed |= apply(t),
            Some(Content::Parts(parts)) => {
                for p in parts {
                    if let ContentPart::Text { text } = p {
                        changed |= apply(text);
                    }
                }
            }
        }
    }
    changed
}

fn apply(t: &mut String) -> bool {
    match normalize_text(t) {
        Some(n) => {
            *t = n;
            true
        }
        None => false,
    }
}

/// An opening fence: its character and run length.
fn fence_of(line: &str) -> Option<(u8, usize)> {
    let l = line.trim_start();
    let c = *l.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = l.bytes().take_while(|&b| b == c).count();
    (n >= 3).then_some((c, n))
}

/// Whether `line` closes a fence opened with `open`: same character, at least as long,
/// nothing after it but spaces.
fn closes(line: &str, open: (u8, usize)) -> bool {
    let l = line.trim();
    !l.is_empty() && l.bytes().all(|b| b == open.0) && l.len() >= open.1
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Does the text need work? Cheap scan, no allocation.
fn needs_work(s: &str) -> bool {
    if s.trim().len() != s.len() {
        return true;
    }
    let mut fence: Option<(u8, usize)> = None;
    let mut prev_blank = false;
    for line in s.split('\n') {
        match fence {
            Some(open) => {
                if closes(line, open) {
                    fence = None;
                }
                prev_blank = false;
            }
            None => {
                if is_blank(line) {
                    // A whitespace-only blank line is rewritten as empty; two in a row collapse.
                    if prev_blank || !line.is_empty() {
                        return true;
                    }
                    prev_blank = true;
                } else {
                    prev_blank = false;
                    fence = fence_of(line);
                }
            }
        }
    }
    false
}

/// The normalized text, or `None` if it is already normal.
pub fn normalize_text(s: &str) -> Option<String> {
    if !needs_work(s) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut fence: Option<(u8, usize)> = None;
    let mut prev_blank = false;
    let mut first = true;
    for line in s.split('\n') {
        let keep: Option<&str> = match fence {
            Some(open) => {
                if closes(line, open) {
                    fence = None;
                }
                prev_blank = false;
                Some(line)
            }
            None if is_blank(line) => {
                if prev_blank {
                    None
                } else {
                    prev_blank = true;
                    Some("")
                }
            }
            None => {
                prev_blank = false;
                fence = fence_of(line);
                Some(line)
            }
        };
        if let Some(l) = keep {
            if !first {
                out.push('\n');
            }
            out.push_str(l);
            first = false;
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        return (out != s).then_some(out);
    }
    let t = trimmed.to_owned();
    (t != s).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        normalize_text(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn collapses_outside_fences_only() {
        assert_eq!(norm("  Hello\n\n\n\nworld \n"), "Hello\n\nworld");
        assert_eq!(norm("a\n \n\t\nb"), "a\n\nb");
        let code = "Look:\n\n\n```py\nx = 1\n\n\n\ny = 2\n```\n\n\nDone";
        assert_eq!(
            norm(code),
            "Look:\n\n```py\nx = 1\n\n\n\ny = 2\n```\n\nDone"
        );
        assert_eq!(
            norm("~~~~\na\n\n\n~~~\nstill code\n\n\n~~~~\n\n\nout"),
            "~~~~\na\n\n\n~~~\nstill code\n\n\n~~~~\n\nout"
        );
        assert!(normalize_text("already\n\nnormal").is_none());
        assert!(normalize_text("").is_none());
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("```".to_owned()),
                Just("~~~".to_owned()),
                Just(String::new()),
                Just("  ".to_owned()),
                Just("\t".to_owned()),
                "[a-z ]{0,8}",
                Just("\r".to_owned())
            ],
            0..20,
        )
        .prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn idempotent(s in text()) {
            let once = norm(&s);
            prop_assert_eq!(norm(&once), once.clone());
            prop_assert!(normalize_text(&once).is_none());
        }

        #[test]
        fn only_blank_runs_and_edges_change(s in text()) {
            // Removing all whitespace gives the same non-blank content.
            let strip = |x: &str| x.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            prop_assert_eq!(strip(&norm(&s)), strip(&s));
        }
    }
}
