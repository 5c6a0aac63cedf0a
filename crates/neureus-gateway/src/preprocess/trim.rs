//! Pass 3, trim: above the threshold, keep the system message and the last 4 turns. A turn
//! is one user or assistant message; tool results travel with the assistant message that
//! called them. The kept window never begins with an assistant tool call whose prompt was
//! dropped, nor with a tool result, and begins with a user message where the provider
//! requires it; if that leaves nothing, it reaches back to the latest user message.

use neureus_types::{Message, Role};

/// Turns kept.
pub const KEEP_TURNS: usize = 4;

/// Start index (in `msgs`) of each turn after the leading system message, and whether the
/// turn is a user turn / an assistant turn with tool calls.
struct Turn {
    start: usize,
    user: bool,
    calls_tools: bool,
}

fn turns(msgs: &[Message], from: usize) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for (i, m) in msgs.iter().enumerate().skip(from) {
        match m.role {
            // A tool result belongs to the turn before it.
            Role::Tool if !out.is_empty() => {}
            _ => out.push(Turn {
                start: i,
                user: m.role == Role::User,
                calls_tools: m.role == Role::Assistant && !m.tool_calls.is_empty(),
            }),
        }
    }
    out
}

/// Keeps the window; returns whether anything was dropped. The caller decides whether the
/// threshold is exceeded.
pub fn run(msgs: &mut Vec<Message>, user_first: bool) -> bool {
    let from = usize::from(msgs.first().is_some_and(|m| m.role == Role::System));
    let t = turns(msgs, from);
    if t.len() <= KEEP_TURNS
        && t.first()
            .is_none_or(|f| !(f.calls_tools || (user_first && !f.user)))
    {
        return false;
    }
    let mut k = t.len().saturating_sub(KEEP_TURNS);
    while k < t.len() && (t[k].calls_tools || (user_first && !t[k].user)) {
        k += 1;
    }
    if k == t.len() {
        // Nothing valid left in the last turns: reach back to the latest user turn.
        match t.iter().rposition(|x| x.user) {
            Some(u) => k = u,
            None => k = t.len().saturating_sub(KEEP_TURNS),
        }
    }
    let cut = t.get(k).map_or(msgs.len(), |x| x.start);
    if cut == from {
        return false;
    }
    msgs.drain(from..cut);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use neureus_types::ToolCall;
    use proptest::prelude::*;

    /// 0 user, 1 assistant, 2 assistant with one tool call + its result.
    fn conv(system: bool, kinds: &[u8]) -> Vec<Message> {
        let mut v = Vec::new();
        if system {
            v.push(Message::text(Role::System, "rules"));
        }
        for (i, k) in kinds.iter().enumerate() {
            match k % 3 {
                0 => v.push(Message::text(Role::User, format!("u{i}"))),
                1 => v.push(Message::text(Role::Assistant, format!("a{i}"))),
                _ => {
                    let mut a = Message::text(Role::Assistant, "");
                    a.content = None;
                    a.tool_calls = vec![ToolCall {
                        id: format!("c{i}"),
                        name: "f".into(),
                        arguments: serde_json::json!({}),
                    }];
                    v.push(a);
                    let mut r = Message::text(Role::Tool, format!("r{i}"));
                    r.tool_call_id = Some(format!("c{i}"));
                    v.push(r);
                }
            }
        }
        v
    }

    /// The rule, written directly over the list of turn kinds.
    fn reference(kinds: &[u8], user_first: bool) -> Vec<u8> {
        let n = kinds.len();
        let bad = |k: u8| k % 3 == 2 || (user_first && k % 3 != 0);
        let mut start = n.saturating_sub(KEEP_TURNS);
        while start < n && bad(kinds[start]) {
            start += 1;
        }
        if start == n {
            start = kinds
                .iter()
                .rposition(|k| k % 3 == 0)
                .unwrap_or(n.saturating_sub(KEEP_TURNS));
        }
        kinds[start..].to_vec()
    }

    #[test]
    fn examples() {
        let mut m = conv(true, &[0, 1, 0, 2, 1, 0, 1]);
        assert!(run(&mut m, false));
        let roles: Vec<Role> = m.iter().map(|x| x.role).collect();
        // system, then [assistant+tool call] is skipped as orphaned: a, u, a
        assert_eq!(
            roles,
            vec![Role::System, Role::Assistant, Role::User, Role::Assistant]
        );
        let mut m = conv(true, &[0, 1, 0, 2, 1, 0, 1]);
        assert!(run(&mut m, true));
        assert_eq!(
            m.iter().map(|x| x.role).collect::<Vec<_>>(),
            vec![Role::System, Role::User, Role::Assistant]
        );
        let mut short = conv(false, &[0, 1, 0]);
        assert!(!run(&mut short, true));
    }

    proptest! {
        #[test]
        fn keeps_exactly_the_defined_window(system in any::<bool>(), kinds in proptest::collection::vec(0u8..3, 0..16), user_first in any::<bool>()) {
            let mut msgs = conv(system, &kinds);
            run(&mut msgs, user_first);
            let expected = conv(system, &[]).into_iter().chain(
                // Rebuild the expected kept turns with their original indices.
                {
                    let keep = reference(&kinds, user_first);
                    let offset = kinds.len() - keep.len();
                    conv(false, &kinds).into_iter().skip(conv(false, &kinds[..offset]).len())
                }
            ).collect::<Vec<_>>();
            prop_assert_eq!(&msgs, &expected);
            // The system message is never dropped.
            prop_assert_eq!(msgs.first().map(|m| m.role == Role::System).unwrap_or(false), system);
            // Every tool result still follows the call it answers.
            for (i, m) in msgs.iter().enumerate() {
                if m.role == Role::Tool {
                    let id = m.tool_call_id.as_deref().unwrap();
                    prop_assert!(msgs[..i].iter().any(|p| p.tool_calls.iter().any(|c| c.id == id)));
                }
            }
            // Never begins (after the system message) with a tool call or a tool result.
            let first = msgs.iter().find(|m| m.role != Role::System);
            if let Some(f) = first {
                prop_assert!(f.role != Role::Tool);
            }
        }
    }
}
