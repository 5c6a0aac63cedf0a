//! The OpenAI- and Anthropic-compatible endpoints: `POST /v1/chat/completions`,
//! `GET /v1/models`, `POST /v1/messages`. Same pipeline as `/ai/chat` (pre-processing,
//! routing, logging, cost); only the wire shapes differ.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Tenant;
use crate::compat::{anthropic, openai};
use crate::error::ApiError;
use crate::extract;
use crate::handlers::chat::{execute, logged, read_logged_body, record_full, Answer};
use crate::logging::Pending;
use crate::state::AppState;
use crate::{preprocess, stream_out};

/// `POST /v1/chat/completions`
pub async fn chat_completions(
    State(state): State<AppState>,
    tenant: Tenant,
    request: Request,
) -> Response {
    let st = state.clone();
    let t = tenant.clone();
    logged(
        &state,
        &tenant,
        "/v1/chat/completions",
        async move |log: &mut Option<Pending>| {
            let opts = preprocess::options::parse(request.headers())?;
            let Some(l) = log.as_mut() else {
                return Err(ApiError::internal("log record missing"));
            };
            let bytes = read_logged_body(request, &st, l).await?;
            let body: openai::OpenaiRequest = extract::parse_json(&bytes)?;
            let include_usage = body.include_usage();
            let (answer, prep) = execute(&st, &t, body.into_canonical()?, opts, l).await?;
            match answer {
                Answer::Stream(up) => {
                    let format = stream_out::openai::OpenaiFormat::new(&prep, include_usage);
                    Ok(stream_out::respond(up, prep, log.take(), format))
                }
                Answer::Full(resp) => {
                    let json =
                        openai::completion(&resp, &prep.log_id, &prep.model.entry.id).to_string();
                    record_full(l, &prep, &resp.usage, &json);
                    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
                }
            }
        },
    )
    .await
}

/// `POST /v1/messages`
pub async fn messages(State(state): State<AppState>, tenant: Tenant, request: Request) -> Response {
    let st = state.clone();
    let t = tenant.clone();
    logged(
        &state,
        &tenant,
        "/v1/messages",
        async move |log: &mut Option<Pending>| {
            let opts = preprocess::options::parse(request.headers())?;
            let Some(l) = log.as_mut() else {
                return Err(ApiError::internal("log record missing"));
            };
            let bytes = read_logged_body(request, &st, l).await?;
            let body: anthropic::AnthropicRequest = extract::parse_json(&bytes)?;
            let (answer, prep) = execute(&st, &t, body.into_canonical()?, opts, l).await?;
            match answer {
                Answer::Stream(up) => {
                    let format = stream_out::anthropic::AnthropicFormat::new(&prep);
                    Ok(stream_out::respond(up, prep, log.take(), format))
                }
                Answer::Full(resp) => {
                    let json =
                        anthropic::message(&resp, &prep.log_id, &prep.model.entry.id).to_string();
                    record_full(l, &prep, &resp.usage, &json);
                    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
                }
            }
        },
    )
    .await
}

/// `GET /v1/models`
pub async fn models(State(state): State<AppState>, _tenant: Tenant) -> Json<Value> {
    let data: Vec<Value> = std::iter::once(json!({"id": "auto", "object": "model", "created": 0, "owned_by": "neureus"}))
        .chain(state.catalog.models().iter().map(|m| {
            json!({"id": m.entry.id, "object": "model", "created": 0, "owned_by": m.entry.provider.as_str()})
        }))
        .collect();
    Json(json!({"object": "list", "data": data}))
}
