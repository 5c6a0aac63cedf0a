//! `POST /ai/chat` (contract §3), JSON and SSE.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use neureus_providers::Credentials;
use neureus_types::{ChatRequest, ChatResponse, FinishReason, ToolCall};
use serde::Serialize;

use crate::auth::Tenant;
use crate::catalog::{CatalogModel, AUTO};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::{credentials, stream_out, validate};

/// The non-streamed answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponseBody {
    log_id: String,
    model: String,
    provider: &'static str,
    content: String,
    tool_calls: Vec<ToolCall>,
    reasoning: Option<String>,
    finish_reason: FinishReason,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    cost_usd: f64,
    latency_ms: u64,
}

/// Everything decided before the upstream call.
pub struct Prepared {
    /// The catalog model.
    pub model: Arc<CatalogModel>,
    /// Credentials to use.
    pub creds: Credentials,
    /// `log_…`
    pub log_id: String,
    /// When the request arrived.
    pub started: Instant,
}

/// Resolves the model and credentials.
pub async fn prepare(
    state: &AppState,
    tenant: &Tenant,
    req: &ChatRequest,
    started: Instant,
) -> Result<Prepared, ApiError> {
    validate::chat_request(req)?;
    if req.model == AUTO {
        return Err(ApiError::invalid(
            "model \"auto\" is not yet available; name a model from GET /ai/models",
        ));
    }
    let Some(model) = state.catalog.get(&req.model) else {
        return Err(ApiError::invalid(format!(
            "unknown model {:?}; known models: {}",
            req.model,
            state.catalog.ids().join(", ")
        )));
    };
    let provider = model.entry.provider;
    let (creds, _source) = credentials::resolve(state, &tenant.tenant_id, provider).await?;
    let span = tracing::Span::current();
    span.record("provider", provider.as_str());
    span.record("model", model.entry.id.as_str());
    Ok(Prepared {
        model: model.clone(),
        creds,
        log_id: neureus_store::new_id("log"),
        started,
    })
}

/// The handler.
pub async fn chat(
    State(state): State<AppState>,
    tenant: Tenant,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let prep = prepare(&state, &tenant, &req, started).await?;
    let provider = state.provider(prep.model.entry.provider).clone();
    // The canonical request goes to the adapter as is; the adapter uses the upstream id.
    if req.stream {
        let upstream = provider
            .chat_stream(&req, &prep.model.upstream, &prep.creds)
            .await?;
        Ok(stream_out::respond(upstream, prep))
    } else {
        let resp = provider
            .chat(&req, &prep.model.upstream, &prep.creds)
            .await?;
        Ok(Json(body(resp, &prep)).into_response())
    }
}

fn body(resp: ChatResponse, prep: &Prepared) -> ChatResponseBody {
    let m = &prep.model;
    ChatResponseBody {
        log_id: prep.log_id.clone(),
        model: m.entry.id.clone(),
        provider: m.entry.provider.as_str(),
        cost_usd: m.cost_usd(&resp.usage),
        input_tokens: resp.usage.input_tokens,
        output_tokens: resp.usage.output_tokens,
        cached_input_tokens: resp.usage.cache_read_tokens,
        finish_reason: resp.finish_reason.unwrap_or(if resp.tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        }),
        content: resp.content,
        tool_calls: resp.tool_calls,
        reasoning: resp.reasoning,
        latency_ms: u64::try_from(prep.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}
