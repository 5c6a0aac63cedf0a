//! `GET /ai/models` (contract §4).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::auth::Tenant;
use crate::catalog::AUTO;
use crate::credentials;
use crate::state::AppState;
use neureus_types::ProviderId;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelView<'a> {
    id: &'a str,
    provider: Option<&'static str>,
    upstream_id: Option<&'a str>,
    context_window: Option<u64>,
    max_output_tokens: Option<u32>,
    pricing: Option<Pricing>,
    capabilities: Vec<&'a str>,
    available: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pricing {
    input_per_m_tok: f64,
    output_per_m_tok: f64,
    cache_read_per_m_tok: f64,
    cache_write_per_m_tok: f64,
}

/// Lists every model with its data and whether this tenant can use it now.
pub async fn list(State(state): State<AppState>, tenant: Tenant) -> Json<serde_json::Value> {
    let mut usable = [false; 3];
    for (i, p) in ProviderId::ALL.into_iter().enumerate() {
        usable[i] = credentials::usable(&state, &tenant.tenant_id, p).await;
    }
    let mut views = Vec::new();
    for m in state.catalog.models() {
        let e = &m.entry;
        let available = ProviderId::ALL
            .iter()
            .position(|p| *p == e.provider)
            .and_then(|i| usable.get(i).copied())
            .unwrap_or(false);
        views.push(ModelView {
            id: &e.id,
            provider: Some(e.provider.as_str()),
            upstream_id: Some(&e.upstream),
            context_window: Some(e.context_window),
            max_output_tokens: Some(e.max_output_tokens),
            pricing: Some(Pricing {
                input_per_m_tok: e.input_per_mtok,
                output_per_m_tok: e.output_per_mtok,
                cache_read_per_m_tok: e.cache_read_per_mtok.unwrap_or(e.input_per_mtok),
                cache_write_per_m_tok: e.cache_write_per_mtok.unwrap_or(e.input_per_mtok),
            }),
            capabilities: e.capabilities.iter().map(String::as_str).collect(),
            available,
        });
    }
    let auto = ModelView {
        id: AUTO,
        provider: None,
        upstream_id: None,
        context_window: None,
        max_output_tokens: None,
        pricing: None,
        capabilities: vec!["routing"],
        available: usable.iter().any(|u| *u),
    };
    views.insert(0, auto);
    Json(serde_json::json!({ "models": views }))
}
