//! Pass 4, compress (only with `x-neureus-options: compress=true`): the older context —
//! everything but the system message and the latest user turn — is condensed by
//! `meta/llama-3.1-8b` through our own Workers AI adapter, and the summary joins the system
//! message. Below the minimum size it is skipped; on compressor error or timeout the request
//! goes on uncompressed, and the stats say why. The call's usage and cost are returned so the
//! request's `costUsd` includes them.

use std::time::Duration;

use neureus_types::{ChatRequest, Content, Message, Role, Usage};

use crate::credentials;
use crate::state::AppState;

/// The compressor model (contract §3).
pub const COMPRESSOR_MODEL: &str = "meta/llama-3.1-8b";

const INSTRUCTIONS: &str = "You condense conversation history for another AI assistant. \
Rewrite the conversation below as a compact summary that loses nothing needed to continue it. \
Keep every fact, name, number, date, decision, open question and constraint. \
Copy code, identifiers, file paths, URLs, commands, error messages and quoted text verbatim. \
Drop greetings, filler and repetition. Write in the language of the conversation. \
Output only the summary.";

/// What compression did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Whether the messages changed.
    pub changed: bool,
    /// Why it was skipped or failed, if it was.
    pub note: Option<String>,
    /// The compressor call's usage, if it was made.
    pub usage: Option<Usage>,
    /// Its cost in USD.
    pub cost_usd: f64,
}

/// Index of the latest user message (start of the latest user turn).
fn latest_user(msgs: &[Message]) -> Option<usize> {
    msgs.iter().rposition(|m| m.role == Role::User)
}

fn transcript(msgs: &[Message]) -> String {
    let mut out = String::new();
    for m in msgs {
        let who = match m.role {
            Role::System => "SYSTEM",
            Role::User => "USER",
            Role::Assistant => "ASSISTANT",
            Role::Tool => "TOOL RESULT",
        };
        out.push_str(who);
        if let Some(id) = &m.tool_call_id {
            out.push_str(&format!(" ({id})"));
        }
        out.push_str(": ");
        out.push_str(&m.text_content());
        for c in &m.tool_calls {
            out.push_str(&format!(
                "\n[calls {}({}) as {}]",
                c.name, c.arguments, c.id
            ));
        }
        out.push_str("\n\n");
    }
    out
}

/// Runs the pass on `req` for `tenant_id`.
pub async fn run(
    state: &AppState,
    tenant_id: &str,
    req: &mut ChatRequest,
    counter: &super::tokens::Counter,
    min_tokens: u64,
    timeout: Duration,
) -> Outcome {
    let from = usize::from(req.messages.first().is_some_and(|m| m.role == Role::System));
    let Some(last_user) = latest_user(&req.messages) else {
        return Outcome {
            note: Some("skipped: no user turn".into()),
            ..Outcome::default()
        };
    };
    if last_user <= from {
        return Outcome {
            note: Some("skipped: nothing older than the latest user turn".into()),
            ..Outcome::default()
        };
    }
    let older = &req.messages[from..last_user];
    let size = counter.messages(older);
    if size < min_tokens {
        return Outcome {
            note: Some(format!(
                "skipped: older context is {size} tokens, below the minimum of {min_tokens}"
            )),
            ..Outcome::default()
        };
    }
    let Some(model) = state.catalog.get(COMPRESSOR_MODEL).cloned() else {
        return Outcome {
            note: Some(format!("skipped: {COMPRESSOR_MODEL} is not in the catalog")),
            ..Outcome::default()
        };
    };
    let creds = match credentials::resolve(state, tenant_id, model.entry.provider).await {
        Ok((c, _)) => c,
        Err(e) => {
            return Outcome {
                note: Some(format!("failed, sent uncompressed: {}", e.message)),
                ..Outcome::default()
            }
        }
    };
    let call = ChatRequest {
        model: model.entry.id.clone(),
        messages: vec![
            Message::text(Role::System, INSTRUCTIONS),
            Message::text(Role::User, transcript(older)),
        ],
        stream: false,
        max_tokens: Some(1024),
        temperature: Some(0.0),
        top_p: None,
        stop: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        reasoning: None,
        metadata: None,
    };
    let provider = state.provider(model.entry.provider).clone();
    let result = tokio::time::timeout(timeout, provider.chat(&call, &model.upstream, &creds)).await;
    let resp = match result {
        Err(_) => {
            return Outcome {
                note: Some(format!(
                    "failed, sent uncompressed: the compressor did not answer within {} ms",
                    timeout.as_millis()
                )),
                ..Outcome::default()
            }
        }
        Ok(Err(e)) => {
            let e = crate::error::ApiError::from(e);
            return Outcome {
                note: Some(format!("failed, sent uncompressed: {}", e.message)),
                ..Outcome::default()
            };
        }
        Ok(Ok(r)) => r,
    };
    let usage = resp.usage;
    let cost_usd = model.cost_usd(&usage);
    let summary = resp.content.trim();
    if summary.is_empty() {
        return Outcome {
            note: Some("failed, sent uncompressed: the compressor returned no text".into()),
            usage: Some(usage),
            cost_usd,
            ..Outcome::default()
        };
    }
    let block = format!("Summary of the earlier conversation:\n{summary}");
    req.messages.drain(from..last_user);
    match req.messages.first_mut() {
        Some(first) if first.role == Role::System => {
            let text = first.text_content();
            first.content = Some(Content::Text(if text.is_empty() {
                block
            } else {
                format!("{text}\n\n{block}")
            }));
        }
        _ => req.messages.insert(0, Message::text(Role::System, block)),
    }
    Outcome {
        changed: true,
        note: None,
        usage: Some(usage),
        cost_usd,
    }
}
