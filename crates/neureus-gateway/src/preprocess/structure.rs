//! Pass 2, structure: every system message, in order, merged into one at index 0; all other
//! messages keep their order.

use neureus_types::{Content, Message, Role};

/// Restructures; returns whether anything changed.
pub fn run(msgs: &mut Vec<Message>) -> bool {
    let systems = msgs.iter().filter(|m| m.role == Role::System).count();
    let first_is_system = msgs.first().is_some_and(|m| m.role == Role::System);
    if systems == 0 || (systems == 1 && first_is_system) {
        return false;
    }
    let mut texts = Vec::with_capacity(systems);
    let mut rest = Vec::with_capacity(msgs.len() - systems + 1);
    for m in msgs.drain(..) {
        if m.role == Role::System {
            let t = m.text_content();
            if !t.is_empty() {
                texts.push(t);
            }
        } else {
            rest.push(m);
        }
    }
    let mut system = Message::text(Role::System, texts.join("\n\n"));
    system.content = Some(Content::Text(texts.join("\n\n")));
    msgs.push(system);
    msgs.extend(rest);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn conv(roles: &[u8]) -> Vec<Message> {
        roles
            .iter()
            .enumerate()
            .map(|(i, r)| match r % 3 {
                0 => Message::text(Role::System, format!("s{i}")),
                1 => Message::text(Role::User, format!("u{i}")),
                _ => Message::text(Role::Assistant, format!("a{i}")),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn one_system_first_and_order_kept(roles in proptest::collection::vec(0u8..3, 0..30)) {
            let mut msgs = conv(&roles);
            let original = msgs.clone();
            run(&mut msgs);
            let systems: Vec<String> = original.iter().filter(|m| m.role == Role::System).map(Message::text_content).collect();
            let others: Vec<&Message> = original.iter().filter(|m| m.role != Role::System).collect();
            if systems.is_empty() {
                prop_assert_eq!(&msgs, &original);
            } else {
                prop_assert_eq!(msgs[0].role, Role::System);
                prop_assert_eq!(msgs[0].text_content(), systems.join("\n\n"));
                prop_assert_eq!(msgs.iter().filter(|m| m.role == Role::System).count(), 1);
                let after: Vec<&Message> = msgs[1..].iter().collect();
                prop_assert_eq!(after, others);
            }
            // Running it again changes nothing.
            let again = msgs.clone();
            prop_assert!(!run(&mut msgs));
            prop_assert_eq!(msgs, again);
        }
    }
}
