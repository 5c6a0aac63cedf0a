//! The operator's HTTP API under `/admin` (bearer `NEUREUS_ADMIN_TOKEN`), mirroring the CLI:
//! tenants and their API keys — create, list, revoke. Revocation here takes effect at once.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorKind};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Proof that the caller holds the admin token.
#[derive(Debug)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let expected = state.admin_token.expose().as_bytes();
        if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected)) {
            return Err(ApiError::new(
                ErrorKind::Authentication,
                "admin calls need Authorization: Bearer <NEUREUS_ADMIN_TOKEN>",
            ));
        }
        Ok(Admin)
    }
}

/// `POST /admin/tenants` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    name: String,
}

/// `POST /admin/tenants`
pub async fn create_tenant(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = neureus_store::tenant_name(&body.name).map_err(ApiError::invalid)?;
    let (tenant, key) = state.store.create_tenant(name).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"tenantId": tenant.id, "name": tenant.name, "keyId": key.key_id,
                    "apiKey": key.api_key.expose(), "createdAt": neureus_store::rfc3339(tenant.created_at_ms)}),
        ),
    ))
}

/// `GET /admin/tenants`
pub async fn list_tenants(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let tenants = state.store.list_tenants().await?;
    let list: Vec<Value> = tenants
        .iter()
        .map(|t| json!({"tenantId": t.id, "name": t.name, "createdAt": neureus_store::rfc3339(t.created_at_ms)}))
        .collect();
    Ok(Json(json!({ "tenants": list })))
}

/// `POST /admin/tenants/{tenantId}/keys`
pub async fn create_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(tenant_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = state.store.create_api_key(&tenant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"keyId": key.key_id, "tenantId": tenant_id, "apiKey": key.api_key.expose()})),
    ))
}

/// `GET /admin/tenants/{tenantId}/keys`
pub async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
    Path(tenant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if state.store.get_tenant(&tenant_id).await?.is_none() {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("tenant {tenant_id} not found"),
        ));
    }
    let keys = state.store.list_api_keys(&tenant_id).await?;
    let list: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"keyId": k.id, "createdAt": neureus_store::rfc3339(k.created_at_ms),
                   "revokedAt": k.revoked_at_ms.map(neureus_store::rfc3339)})
        })
        .collect();
    Ok(Json(json!({ "keys": list })))
}

/// `DELETE /admin/keys/{keyId}` (and `POST /admin/keys/{keyId}/revoke`): refused at once.
pub async fn revoke_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.store.revoke_api_key(&key_id).await? {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("API key {key_id} not found"),
        ));
    }
    if let Some(public_id) = key_id.strip_prefix("key_") {
        state.auth.mark_revoked(public_id);
    }
    Ok(Json(json!({"keyId": key_id, "revoked": true})))
}

/// `PATCH /admin/tenants/{tenantId}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    settings: crate::tenant_settings::TenantSettings,
}

/// `PATCH /admin/tenants/{tenantId}`: replaces the tenant's settings.
pub async fn patch_tenant(
    State(state): State<AppState>,
    _admin: Admin,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<TenantPatch>,
) -> Result<Json<Value>, ApiError> {
    if body.settings.trim_threshold_tokens == Some(0) {
        return Err(ApiError::invalid(
            "settings.trimThresholdTokens must be at least 1",
        ));
    }
    let json = serde_json::to_string(&body.settings).map_err(ApiError::internal)?;
    if !state.store.set_tenant_settings(&tenant_id, &json).await? {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("tenant {tenant_id} not found"),
        ));
    }
    state.tenant_settings.invalidate(&tenant_id);
    Ok(Json(
        json!({"tenantId": tenant_id, "settings": body.settings}),
    ))
}

/// `GET /admin/stats`: the request-log writer's counters (written, dropped, failed).
pub async fn stats(State(state): State<AppState>, _admin: Admin) -> Json<Value> {
    Json(json!({ "logs": state.logs.counters() }))
}
