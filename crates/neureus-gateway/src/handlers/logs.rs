//! `GET /ai/logs`, `GET /ai/logs/{logId}`, `GET /ai/usage` (contract §6), scoped to the
//! calling tenant: another tenant's log id is a 404.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use neureus_store::logs::{GroupBy, LogFilter, LogRecord, UsageRow};
use serde_json::{json, Value};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

type Params = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn params(q: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(map) = q.map_err(|e| ApiError::invalid(format!("bad query string: {e}")))?;
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "unknown query parameter {k:?} (known: {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

/// RFC 3339, a `YYYY-MM-DD` date (UTC midnight), or unix milliseconds.
fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(v, &fmt) {
        return Ok(d.midnight().assume_utc().unix_timestamp() * 1000);
    }
    Err(ApiError::invalid(format!(
        "{name} must be an RFC 3339 time, a YYYY-MM-DD date or unix milliseconds, got {v:?}"
    )))
}

fn parse_json_field(s: &Option<String>) -> Value {
    s.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// A record as the API shows it.
fn view(r: &LogRecord, full: bool) -> Value {
    let mut v = json!({
        "logId": r.id,
        "createdAt": neureus_store::rfc3339(r.created_at_ms),
        "apiKeyId": r.api_key_id,
        "endpoint": r.endpoint,
        "modelRequested": r.model_requested,
        "model": r.model,
        "provider": r.provider,
        "category": r.category,
        "status": r.status,
        "error": r.error_type.as_ref().map(|t| json!({"type": t, "message": r.error_message})),
        "inputTokens": r.input_tokens,
        "outputTokens": r.output_tokens,
        "cachedInputTokens": r.cached_tokens,
        "costUsd": r.cost_usd,
        "latencyMs": r.latency_ms,
        "ttftMs": r.ttft_ms,
        "streamed": r.streamed,
    });
    if full {
        v["routing"] = parse_json_field(&r.routing);
        v["preprocessing"] = crate::preprocess::stored::expand(parse_json_field(&r.preprocessing));
        v["metadata"] = parse_json_field(&r.metadata);
        v["requestBody"] = json!(r.request_body);
        v["responseBody"] = json!(r.response_body);
    }
    v
}

/// `GET /ai/logs?limit=&before=&model=&provider=&status=&from=&to=`
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let p = params(
        q,
        &[
            "limit", "before", "model", "provider", "status", "from", "to",
        ],
    )?;
    let limit = match p.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be 1-200, got {v:?}")))?,
    };
    let status = p
        .get("status")
        .map(|v| {
            v.parse::<u16>()
                .map_err(|_| ApiError::invalid(format!("status must be an HTTP status, got {v:?}")))
        })
        .transpose()?;
    let filter = LogFilter {
        model: p.get("model").cloned(),
        provider: p.get("provider").cloned(),
        status,
        from_ms: p.get("from").map(|v| parse_time("from", v)).transpose()?,
        to_ms: p.get("to").map(|v| parse_time("to", v)).transpose()?,
        before: p.get("before").cloned(),
    };
    let rows = state
        .store
        .list_logs(&tenant.tenant_id, &filter, limit)
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(json!({
        "logs": rows.iter().map(|r| view(r, false)).collect::<Vec<_>>(),
        "nextCursor": next,
    })))
}

/// `GET /ai/logs/{logId}`
pub async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(log_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.store.get_log(&tenant.tenant_id, &log_id).await? {
        Some(r) => Ok(Json(view(&r, true))),
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no log {log_id:?}"),
        )),
    }
}

fn usage_view(u: &UsageRow, with_key: Option<&str>) -> Value {
    let mut v = json!({
        "requests": u.requests,
        "errors": u.errors,
        "inputTokens": u.input_tokens,
        "outputTokens": u.output_tokens,
        "cachedInputTokens": u.cached_tokens,
        "costUsd": u.cost_usd,
    });
    if let Some(k) = with_key {
        v[k] = json!(u.key);
    }
    v
}

/// `GET /ai/usage?from=&to=&groupBy=model|provider|day|apiKey`
pub async fn usage(
    State(state): State<AppState>,
    tenant: Tenant,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let p = params(q, &["from", "to", "groupBy"])?;
    let now = neureus_store::now_ms();
    let to = p
        .get("to")
        .map(|v| parse_time("to", v))
        .transpose()?
        .unwrap_or(now + 1);
    let from = p
        .get("from")
        .map(|v| parse_time("from", v))
        .transpose()?
        .unwrap_or(to - 30 * 86_400_000);
    if from >= to {
        return Err(ApiError::invalid("from must be before to"));
    }
    let (group_by, key) = match p.get("groupBy").map(String::as_str).unwrap_or("model") {
        "model" => (GroupBy::Model, "model"),
        "provider" => (GroupBy::Provider, "provider"),
        "day" => (GroupBy::Day, "day"),
        "apiKey" => (GroupBy::ApiKey, "apiKeyId"),
        other => {
            return Err(ApiError::invalid(format!(
                "groupBy must be model, provider, day or apiKey, got {other:?}"
            )))
        }
    };
    let (total, groups) = state
        .store
        .usage(&tenant.tenant_id, from, to, group_by)
        .await?;
    Ok(Json(json!({
        "from": neureus_store::rfc3339(from),
        "to": neureus_store::rfc3339(to),
        "groupBy": p.get("groupBy").map(String::as_str).unwrap_or("model"),
        "totals": usage_view(&total, None),
        "groups": groups.iter().map(|g| usage_view(g, Some(key))).collect::<Vec<_>>(),
    })))
}
