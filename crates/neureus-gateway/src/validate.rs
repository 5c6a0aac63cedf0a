//! Checks of a chat request beyond its JSON shape, each with a message that says what to fix.

use std::collections::HashSet;

use neureus_types::{ChatRequest, Content, ContentPart, Role, ToolChoice};

use crate::error::ApiError;

/// Validates a chat request.
pub fn chat_request(req: &ChatRequest) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::invalid(m));
    if req.model.trim().is_empty() {
        return bad("model must not be empty; see GET /ai/models".into());
    }
    if req.messages.is_empty() {
        return bad("messages must not be empty".into());
    }
    let mut call_ids: HashSet<&str> = HashSet::new();
    let mut has_turn = false;
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::System | Role::User => {
                if m.content.is_none() {
                    return bad(format!(
                        "messages[{i}].content must not be null for a {} message",
                        role_name(m.role)
                    ));
                }
                if !m.tool_calls.is_empty() {
                    return bad(format!(
                        "messages[{i}].toolCalls is only allowed on assistant messages"
                    ));
                }
                has_turn |= m.role == Role::User;
            }
            Role::Assistant => {
                if m.content.is_none() && m.tool_calls.is_empty() {
                    return bad(format!(
                        "messages[{i}]: an assistant message needs content or toolCalls"
                    ));
                }
                for (j, c) in m.tool_calls.iter().enumerate() {
                    if c.id.is_empty() {
                        return bad(format!("messages[{i}].toolCalls[{j}].id must not be empty"));
                    }
                    check_tool_name(&c.name, &format!("messages[{i}].toolCalls[{j}].name"))?;
                    call_ids.insert(c.id.as_str());
                }
                has_turn = true;
            }
            Role::Tool => {
                let Some(id) = m.tool_call_id.as_deref() else {
                    return bad(format!("messages[{i}]: a tool message needs toolCallId"));
                };
                if !call_ids.contains(id) {
                    return bad(format!(
                        "messages[{i}].toolCallId {id:?} does not match a tool call of an earlier assistant message"
                    ));
                }
            }
        }
        if m.role != Role::Tool && m.tool_call_id.is_some() {
            return bad(format!(
                "messages[{i}].toolCallId is only allowed on tool messages"
            ));
        }
        if let Some(Content::Parts(parts)) = &m.content {
            for (j, p) in parts.iter().enumerate() {
                if let ContentPart::Image { url } = p {
                    if !(url.starts_with("https://")
                        || url.starts_with("http://")
                        || url.starts_with("data:image/"))
                    {
                        return bad(format!(
                            "messages[{i}].content[{j}].url must be an http(s) URL or a data:image/… URI"
                        ));
                    }
                }
            }
        }
    }
    if !has_turn {
        return bad("messages must contain at least one user or assistant message".into());
    }
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return bad(format!("temperature must be between 0 and 2, got {t}"));
        }
    }
    if let Some(p) = req.top_p {
        if !(0.0..=1.0).contains(&p) {
            return bad(format!("topP must be between 0 and 1, got {p}"));
        }
    }
    if req.max_tokens == Some(0) {
        return bad("maxTokens must be at least 1".into());
    }
    let mut names = HashSet::new();
    for (i, t) in req.tools.iter().enumerate() {
        check_tool_name(&t.name, &format!("tools[{i}].name"))?;
        if !names.insert(t.name.as_str()) {
            return bad(format!("tools[{i}].name {:?} is defined twice", t.name));
        }
        if let Some(p) = &t.parameters {
            if !p.is_object() {
                return bad(format!(
                    "tools[{i}].parameters must be a JSON Schema object"
                ));
            }
        }
    }
    if let Some(ToolChoice::Named { name }) = &req.tool_choice {
        if !names.contains(name.as_str()) {
            return bad(format!("toolChoice names {name:?}, which is not in tools"));
        }
    }
    Ok(())
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// Function names: `a-z A-Z 0-9 _ -`, 1 to 64 characters (what every provider accepts).
fn check_tool_name(name: &str, field: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be 1-64 characters of a-z, A-Z, 0-9, _ or -, got {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        serde_json::from_str(json).unwrap()
    }

    fn msg(json: &str) -> String {
        chat_request(&req(json)).unwrap_err().message
    }

    #[test]
    fn rejections_say_what_to_fix() {
        assert_eq!(
            msg(r#"{"model":"gpt-4o","messages":[]}"#),
            "messages must not be empty"
        );
        assert!(msg(
            r#"{"model":"gpt-4o","messages":[{"role":"tool","toolCallId":"x","content":"1"}]}"#
        )
        .contains("does not match a tool call"));
        assert!(msg(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":3}"#
        )
        .contains("temperature"));
        assert!(msg(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a b"}]}"#)
            .contains("tools[0].name"));
        assert!(msg(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a"}],"toolChoice":{"name":"b"}}"#)
            .contains("toolChoice"));
        assert!(
            msg(r#"{"model":"gpt-4o","messages":[{"role":"system","content":"only rules"}]}"#)
                .contains("at least one user")
        );
    }

    #[test]
    fn a_tool_round_trip_is_valid() {
        chat_request(&req(r#"{"model":"gpt-4o","messages":[
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":null,"toolCalls":[{"id":"c1","name":"get_weather","arguments":{}}]},
            {"role":"tool","toolCallId":"c1","content":"3C"}]}"#))
        .unwrap();
    }
}
