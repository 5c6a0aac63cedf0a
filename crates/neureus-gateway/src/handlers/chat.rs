//! `POST /ai/chat` (contract §3), JSON and SSE.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use neureus_providers::{Credentials, EventStream};
use neureus_types::json_out::JsonOut;
use neureus_types::{ChatRequest, ChatResponse, FinishReason, ToolCall};
use serde::Serialize;
use tracing::field::display;

use crate::auth::Tenant;
use crate::catalog::{CatalogModel, AUTO};
use crate::error::ApiError;
use crate::extract;
use crate::logging::Pending;
use crate::middleware::record_in_current_span;
use crate::state::AppState;
use crate::{credentials, preprocess, routing, stream_out, tenant_settings, validate};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    routing: Option<routing::RoutingInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preprocessing: Option<preprocess::Report>,
}

impl ChatResponseBody {
    /// The body as JSON: exactly what its `Serialize` gives (a test compares them), written
    /// by [`JsonOut`] because every `/ai/chat` answer is one (~4k of the ~130k instructions
    /// a request took through `serde_json`, callgrind).
    pub fn to_json(&self) -> serde_json::Result<String> {
        let mut o = JsonOut::with_capacity(256 + self.content.len());
        o.raw("{\"logId\":");
        o.str(&self.log_id);
        o.raw(",\"model\":");
        o.str(&self.model);
        o.raw(",\"provider\":");
        o.str(self.provider);
        o.raw(",\"content\":");
        o.str(&self.content);
        o.raw(",\"toolCalls\":");
        if self.tool_calls.is_empty() {
            o.raw("[]");
        } else {
            o.serde(&self.tool_calls)?;
        }
        o.raw(",\"reasoning\":");
        o.opt_str(self.reasoning.as_deref());
        o.raw(",\"finishReason\":");
        o.str(self.finish_reason.as_str());
        o.raw(",\"inputTokens\":");
        o.u64(self.input_tokens);
        o.raw(",\"outputTokens\":");
        o.u64(self.output_tokens);
        o.raw(",\"cachedInputTokens\":");
        o.u64(self.cached_input_tokens);
        o.raw(",\"costUsd\":");
        o.f64(self.cost_usd);
        o.raw(",\"latencyMs\":");
        o.u64(self.latency_ms);
        if let Some(r) = &self.routing {
            o.raw(",\"routing\":");
            o.serde(r)?;
        }
        if let Some(p) = &self.preprocessing {
            o.raw(",\"preprocessing\":");
            o.serde(p)?;
        }
        o.raw("}");
        Ok(o.into_string())
    }
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
    /// Cost of pre-processing (the compressor), added to the request's cost.
    pub extra_cost_usd: f64,
    /// Pre-processing stats, returned with `x-neureus-debug: true`.
    pub preprocessing: Option<preprocess::Report>,
    /// How `auto` chose the model.
    pub routing: Option<routing::RoutingInfo>,
}

impl Prepared {
    /// The request's total cost for the main call's usage.
    pub fn cost_usd(&self, usage: &neureus_types::Usage) -> f64 {
        let total = self.model.cost_usd(usage) + self.extra_cost_usd;
        (total * 1e10).round() / 1e10
    }
}

/// Resolves the model and credentials.
pub async fn prepare(
    state: &AppState,
    tenant: &Tenant,
    req: &ChatRequest,
    started: Instant,
    log_id: String,
) -> Result<Prepared, ApiError> {
    validate::chat_request(req)?;
    let prepared = if req.model == AUTO {
        let routed = routing::route(state, &tenant.tenant_id, req).await?;
        Prepared {
            model: routed.model,
            creds: routed.creds,
            log_id,
            started,
            extra_cost_usd: 0.0,
            preprocessing: None,
            routing: Some(routed.info),
        }
    } else {
        let Some(model) = state.catalog.get(&req.model) else {
            return Err(ApiError::invalid(format!(
                "unknown model {:?}; known models: {}",
                req.model,
                state.catalog.ids().join(", ")
            )));
        };
        let provider = model.entry.provider;
        let (creds, _source) = credentials::resolve(state, &tenant.tenant_id, provider).await?;
        Prepared {
            model: model.clone(),
            creds,
            log_id,
            started,
            extra_cost_usd: 0.0,
            preprocessing: None,
            routing: None,
        }
    };
    let entry = &prepared.model.entry;
    record_in_current_span([
        ("provider", &display(entry.provider.as_str())),
        ("model", &display(&entry.id)),
    ]);
    Ok(prepared)
}

/// Whether (and how much of) bodies are stored in this tenant's logs.
pub fn body_cap(state: &AppState, settings: &tenant_settings::TenantSettings) -> Option<usize> {
    let on = settings
        .log_bodies
        .unwrap_or(state.config.logs.store_bodies);
    on.then_some(state.config.logs.body_cap_bytes)
}

/// What the pipeline produced.
pub enum Answer {
    /// A whole answer.
    Full(ChatResponse),
    /// A stream that has already yielded its first event.
    Stream(EventStream),
}

/// Runs a tenant's parsed request through the pipeline every surface shares: model choice
/// (`auto` included), credentials, pre-processing, the provider call. Fills the log record.
pub async fn execute(
    state: &AppState,
    tenant: &Tenant,
    mut req: ChatRequest,
    opts: preprocess::Options,
    l: &mut Pending,
) -> Result<(Answer, Prepared), ApiError> {
    l.rec.model_requested = Some(req.model.clone());
    l.rec.streamed = req.stream;
    l.rec.metadata = req
        .metadata
        .as_ref()
        .map(|m| serde_json::Value::Object(m.clone()).to_string());
    let mut prep = prepare(state, tenant, &req, l.started(), l.rec.id.clone()).await?;
    l.rec.model = Some(prep.model.entry.id.clone());
    l.rec.provider = Some(prep.model.entry.provider.as_str().to_owned());
    if let Some(r) = &prep.routing {
        l.rec.category = Some(r.category.to_owned());
        l.rec.routing = serde_json::to_string(r).ok();
    }
    let settings = tenant_settings::get(state, &tenant.tenant_id).await?;
    let report = preprocess::run(
        state,
        &tenant.tenant_id,
        &prep.model,
        &mut req,
        opts,
        settings.trim_threshold_tokens,
    )
    .await;
    prep.extra_cost_usd = report.totals.cost_usd;
    l.rec.cost_usd = prep.extra_cost_usd;
    l.rec.preprocessing = Some(preprocess::stored::encode(&report));
    prep.preprocessing = opts.debug.then_some(report);
    let provider = state.provider(prep.model.entry.provider).clone();
    // The canonical request goes to the adapter as is; the adapter uses the upstream id.
    let answer = if req.stream {
        Answer::Stream(
            provider
                .chat_stream(&req, &prep.model.upstream, &prep.creds)
                .await?,
        )
    } else {
        Answer::Full(
            provider
                .chat(&req, &prep.model.upstream, &prep.creds)
                .await?,
        )
    };
    Ok((answer, prep))
}

/// Records a whole answer's usage, cost and (when on) body.
pub fn record_full(l: &mut Pending, prep: &Prepared, usage: &neureus_types::Usage, body: &str) {
    l.rec.input_tokens = usage.input_tokens;
    l.rec.output_tokens = usage.output_tokens;
    l.rec.cached_tokens = usage.cache_read_tokens;
    l.rec.cost_usd = prep.cost_usd(usage);
    if l.bodies.is_some() {
        l.rec.response_body = l.body(body);
    }
}

/// Reads and records the request body; returns it.
pub async fn read_logged_body(
    request: Request,
    state: &AppState,
    l: &mut Pending,
) -> Result<bytes::Bytes, ApiError> {
    let bytes = extract::read_body(request, state).await?;
    if l.bodies.is_some() {
        l.rec.request_body = l.body(&String::from_utf8_lossy(&bytes));
    }
    Ok(bytes)
}

/// Runs a surface's handler with a log record that every exit path submits, and puts its id
/// in `x-neureus-log-id`.
pub async fn logged(
    state: &AppState,
    tenant: &Tenant,
    endpoint: &str,
    f: impl AsyncFnOnce(&mut Option<Pending>) -> Result<Response, ApiError>,
) -> Response {
    let bodies = match tenant_settings::get(state, &tenant.tenant_id).await {
        Ok(s) => body_cap(state, &s),
        Err(_) => None,
    };
    let mut log = Some(Pending::new(state.logs.clone(), tenant, endpoint, bodies));
    let log_id = log.as_ref().map(|l| l.rec.id.clone()).unwrap_or_default();
    let mut resp = match f(&mut log).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(l) = log.as_mut() {
                l.fail(&e);
            }
            e.into_response()
        }
    };
    if let Some(l) = log.take() {
        l.finish().await;
    }
    if let Ok(v) = HeaderValue::from_str(&log_id) {
        resp.headers_mut()
            .insert(crate::headers::X_NEUREUS_LOG_ID, v);
    }
    resp
}

/// `POST /ai/chat`.
pub async fn chat(State(state): State<AppState>, tenant: Tenant, request: Request) -> Response {
    let st = state.clone();
    let t = tenant.clone();
    logged(
        &state,
        &tenant,
        "/ai/chat",
        async move |log: &mut Option<Pending>| {
            let opts = preprocess::options::parse(request.headers())?;
            let Some(l) = log.as_mut() else {
                return Err(ApiError::internal("log record missing"));
            };
            let bytes = read_logged_body(request, &st, l).await?;
            let req: ChatRequest = extract::parse_json(&bytes)?;
            let (answer, mut prep) = execute(&st, &t, req, opts, l).await?;
            match answer {
                Answer::Stream(up) => Ok(stream_out::respond(
                    up,
                    prep,
                    log.take(),
                    stream_out::ContractFormat,
                )),
                Answer::Full(resp) => {
                    let usage = resp.usage;
                    let out = body(resp, &mut prep);
                    let json = out.to_json().map_err(ApiError::internal)?;
                    record_full(l, &prep, &usage, &json);
                    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
                }
            }
        },
    )
    .await
}

fn body(resp: ChatResponse, prep: &mut Prepared) -> ChatResponseBody {
    let m = &prep.model;
    ChatResponseBody {
        log_id: prep.log_id.clone(),
        model: m.entry.id.clone(),
        provider: m.entry.provider.as_str(),
        cost_usd: prep.cost_usd(&resp.usage),
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
        routing: prep.routing.take(),
        preprocessing: prep.preprocessing.take(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{totals, CompressorStats, PassStats, Report};
    use crate::routing::select::Skipped;
    use crate::routing::RoutingInfo;
    use proptest::prelude::*;

    fn answer(content: String, model: String, cost_usd: f64, n: u64) -> ChatResponseBody {
        ChatResponseBody {
            log_id: "log_0192abc".into(),
            model,
            provider: "openai",
            content,
            tool_calls: Vec::new(),
            reasoning: None,
            finish_reason: FinishReason::Stop,
            input_tokens: n,
            output_tokens: n / 3,
            cached_input_tokens: 0,
            cost_usd,
            latency_ms: n % 100_000,
            routing: None,
            preprocessing: None,
        }
    }

    fn same_as_serde(body: &ChatResponseBody) {
        assert_eq!(
            body.to_json().unwrap(),
            serde_json::to_string(body).unwrap()
        );
    }

    #[test]
    fn the_answer_with_every_optional_part_is_what_serde_writes() {
        let mut body = answer(
            "Hi \"there\"\n\t\u{1}é😀".into(),
            "gpt-4o".into(),
            0.000_123_4,
            14,
        );
        same_as_serde(&body);
        body.tool_calls = vec![ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: serde_json::json!({"city": "Paris", "days": [1, 2]}),
        }];
        body.reasoning = Some("because\\".into());
        body.finish_reason = FinishReason::ToolCalls;
        body.cost_usd = f64::NAN;
        body.routing = Some(RoutingInfo {
            category: "code",
            model: "claude-sonnet-4".into(),
            reason: "keyword \"fn\"".into(),
            skipped: vec![Skipped {
                model: "gpt-4o".into(),
                reason: "no key".into(),
            }],
            pinned: true,
        });
        let passes = vec![
            PassStats {
                name: "normalize",
                changed: true,
                tokens_before: Some(10),
                tokens_after: Some(9),
                messages_before: 2,
                messages_after: 2,
                duration_us: 3,
                note: Some("trimmed\u{7}".into()),
                compressor: None,
            },
            PassStats {
                name: "compress",
                changed: false,
                tokens_before: None,
                tokens_after: None,
                messages_before: 2,
                messages_after: 2,
                duration_us: 0,
                note: None,
                compressor: Some(CompressorStats {
                    model: "gpt-4o-mini",
                    input_tokens: 5,
                    output_tokens: 1,
                    cost_usd: 1e-7,
                }),
            },
        ];
        body.preprocessing = Some(Report {
            totals: totals(&passes),
            passes,
        });
        same_as_serde(&body);
        for finish in [FinishReason::Length, FinishReason::ContentFilter] {
            body.finish_reason = finish;
            same_as_serde(&body);
        }
    }

    proptest! {
        #[test]
        fn any_plain_answer_is_what_serde_writes(
            content in any::<String>(),
            model in "[ -~]{0,20}",
            cost in any::<f64>(),
            n in any::<u64>(),
        ) {
            let body = answer(content, model, cost, n);
            prop_assert_eq!(body.to_json().unwrap(), serde_json::to_string(&body).unwrap());
        }
    }
}
