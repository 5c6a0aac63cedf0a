//! Picking the model for `auto`: the first candidate of the category that this tenant can
//! use (credentials present, context window large enough, needed capability), falling back
//! to the `general` list; a session keeps its first model while that model can serve.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neureus_providers::Credentials;
use neureus_types::{ChatRequest, Content, ContentPart};
use serde::Serialize;

use super::{classify, Category, Decision};
use crate::catalog::CatalogModel;
use crate::credentials;
use crate::error::{ApiError, ErrorKind};
use crate::preprocess::tokens::Counter;
use crate::state::AppState;

/// A candidate passed over, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    /// Model id.
    pub model: String,
    /// Why it could not serve.
    pub reason: String,
}

/// `routing` in responses, stream events and logs.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutingInfo {
    /// Category.
    pub category: &'static str,
    /// Chosen model.
    pub model: String,
    /// The deciding signal, and how the model was chosen.
    pub reason: String,
    /// Candidates passed over.
    pub skipped: Vec<Skipped>,
    /// Whether the session's earlier choice was kept.
    pub pinned: bool,
}

/// The outcome of routing.
pub struct Routed {
    /// The model.
    pub model: Arc<CatalogModel>,
    /// Its credentials for this tenant.
    pub creds: Credentials,
    /// What to report.
    pub info: RoutingInfo,
}

/// Sessions pinned to a model: (tenant, session) → model id, bounded and expiring.
#[derive(Debug)]
pub struct SessionPins {
    inner: Mutex<Pins>,
    ttl: Duration,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Pins {
    map: HashMap<(String, String), (String, Instant)>,
    order: VecDeque<(String, String)>,
}

impl SessionPins {
    /// A pin store.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        SessionPins {
            inner: Mutex::new(Pins::default()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    fn get(&self, tenant: &str, session: &str) -> Option<String> {
        let pins = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (model, at) = pins.map.get(&(tenant.to_owned(), session.to_owned()))?;
        (at.elapsed() < self.ttl).then(|| model.clone())
    }

    fn set(&self, tenant: &str, session: &str, model: &str) {
        let mut pins = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (tenant.to_owned(), session.to_owned());
        if pins
            .map
            .insert(key.clone(), (model.to_owned(), Instant::now()))
            .is_none()
        {
            pins.order.push_back(key);
        }
        while pins.map.len() > self.capacity {
            match pins.order.pop_front() {
                Some(old) => {
                    pins.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

fn has_images(req: &ChatRequest) -> bool {
    req.messages.iter().any(|m| {
        matches!(&m.content, Some(Content::Parts(p)) if p.iter().any(|x| matches!(x, ContentPart::Image { .. })))
    })
}

/// Why `model` cannot serve `req` for this tenant, or its credentials.
async fn check(
    state: &AppState,
    tenant_id: &str,
    model: &CatalogModel,
    req: &ChatRequest,
) -> Result<Credentials, String> {
    let e = &model.entry;
    let caps = |c: &str| e.capabilities.iter().any(|x| x == c);
    if has_images(req) && !caps("vision") {
        return Err("does not accept images".into());
    }
    if !req.tools.is_empty() && !caps("tools") {
        return Err("does not support tools".into());
    }
    let out = u64::from(req.max_tokens.unwrap_or(model.upstream.default_max_tokens));
    let room = e.context_window.saturating_sub(out);
    if Counter::new(model.tokenizer_factor()).exceeds(&req.messages, room) {
        return Err(format!(
            "the prompt does not fit its {}-token context window",
            e.context_window
        ));
    }
    credentials::resolve(state, tenant_id, e.provider)
        .await
        .map(|(c, _)| c)
        .map_err(|err| match err.kind {
            ErrorKind::ProviderUnavailable => format!("no usable {} credentials", e.provider),
            _ => err.message,
        })
}

/// Routes an `auto` request (classified as the tenant sent it).
pub async fn route(
    state: &AppState,
    tenant_id: &str,
    req: &ChatRequest,
) -> Result<Routed, ApiError> {
    let Decision { category, reason } = classify(req);
    let session = req
        .metadata
        .as_ref()
        .and_then(|m| m.get("sessionId"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());
    let mut skipped = Vec::new();
    if let Some(session) = session {
        if let Some(pinned) = state.session_pins.get(tenant_id, session) {
            if let Some(model) = state.catalog.get(&pinned) {
                match check(state, tenant_id, model, req).await {
                    Ok(creds) => {
                        return Ok(Routed {
                            model: model.clone(),
                            creds,
                            info: RoutingInfo {
                                category: category.as_str(),
                                model: model.entry.id.clone(),
                                reason: format!("{reason}; kept the session's model"),
                                skipped,
                                pinned: true,
                            },
                        })
                    }
                    Err(why) => skipped.push(Skipped {
                        model: pinned.clone(),
                        reason: format!("session model {why}"),
                    }),
                }
            }
        }
    }
    let mut lists = vec![state.routing.candidates(category)];
    if category != Category::General {
        lists.push(state.routing.candidates(Category::General));
    }
    for (n, list) in lists.into_iter().enumerate() {
        for id in list {
            if skipped.iter().any(|s: &Skipped| &s.model == id) {
                continue;
            }
            let Some(model) = state.catalog.get(id) else {
                continue;
            };
            match check(state, tenant_id, model, req).await {
                Ok(creds) => {
                    if let Some(session) = session {
                        state.session_pins.set(tenant_id, session, id);
                    }
                    let how = if n == 0 {
                        String::new()
                    } else {
                        "; fell back to the general list".into()
                    };
                    return Ok(Routed {
                        model: model.clone(),
                        creds,
                        info: RoutingInfo {
                            category: category.as_str(),
                            model: id.clone(),
                            reason: format!("{reason}{how}"),
                            skipped,
                            pinned: false,
                        },
                    });
                }
                Err(why) => skipped.push(Skipped {
                    model: id.clone(),
                    reason: why,
                }),
            }
        }
    }
    let detail: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.model, s.reason))
        .collect();
    Err(ApiError::new(
        ErrorKind::ProviderUnavailable,
        format!(
            "no model can serve this {} request ({})",
            category.as_str(),
            detail.join("; ")
        ),
    ))
}
