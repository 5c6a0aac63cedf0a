//! Bring your own key (contract §5): `PUT|DELETE /ai/providers/{provider}/key`,
//! `POST /ai/providers/{provider}/key/rotate`, `GET /ai/providers`. Keys are validated,
//! sealed, and never returned (only `last4`).

use axum::extract::{Path, State};
use axum::Json;
use neureus_store::byok::{self, ByokError};
use neureus_store::ProviderKeyRecord;
use neureus_types::{ProviderId, Secret};
use serde::{Deserialize, Serialize};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorKind};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Longest accepted provider key.
pub const MAX_KEY_BYTES: usize = 512;

/// `PUT` / `rotate` body. The key is moved into a [`Secret`] as soon as it is parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyBody {
    key: String,
    #[serde(default)]
    account_id: Option<String>,
}

/// One provider's state for this tenant.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    provider: &'static str,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

fn parse_provider(name: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(name).ok_or_else(|| {
        let known: Vec<&str> = ProviderId::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::new(
            ErrorKind::NotFound,
            format!(
                "unknown provider {name:?}; known providers: {}",
                known.join(", ")
            ),
        )
    })
}

/// Checks a key without ever echoing it.
fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::invalid("key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::invalid(format!(
            "key must be at most {MAX_KEY_BYTES} bytes"
        )));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid(
            "key must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

/// Account ids go into the upstream URL path: letters, digits, `-` and `_` only.
fn validate_account(
    provider: ProviderId,
    account: Option<&str>,
    required: bool,
) -> Result<(), ApiError> {
    match (provider, account) {
        (ProviderId::WorkersAi, None) if required => Err(ApiError::invalid(
            "workers-ai keys need accountId (your Cloudflare account id)",
        )),
        (ProviderId::WorkersAi, Some(a)) => {
            let ok = !a.is_empty()
                && a.len() <= 64
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if ok {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "accountId must be 1-64 letters, digits, - or _",
                ))
            }
        }
        (_, Some(_)) => Err(ApiError::invalid(format!(
            "accountId applies to workers-ai only, not {provider}"
        ))),
        (_, None) => Ok(()),
    }
}

impl From<ByokError> for ApiError {
    fn from(e: ByokError) -> Self {
        match e {
            ByokError::Store(s) => s.into(),
            ByokError::NoKey(p) => ApiError::new(
                ErrorKind::NotFound,
                format!(
                    "no {p} key is registered for this tenant; PUT /ai/providers/{p}/key first"
                ),
            ),
            ByokError::Contended(p) => ApiError::new(
                ErrorKind::RateLimit,
                format!("the {p} key is being changed concurrently; try again"),
            ),
            ByokError::Crypto(c) => ApiError::internal(c),
        }
    }
}

fn tenant_view(p: ProviderId, rec: &ProviderKeyRecord) -> ProviderView {
    ProviderView {
        provider: p.as_str(),
        source: "tenant",
        version: Some(rec.version),
        last4: rec.last4.clone(),
        account_id: rec.account_id.clone(),
        updated_at: Some(neureus_store::rfc3339(rec.updated_at_ms)),
    }
}

fn fallback_view(state: &AppState, p: ProviderId) -> ProviderView {
    let source = if state.global_credentials(p).is_some() {
        "global"
    } else {
        "none"
    };
    ProviderView {
        provider: p.as_str(),
        source,
        version: None,
        last4: None,
        account_id: None,
        updated_at: None,
    }
}

async fn set(
    state: &AppState,
    tenant: &Tenant,
    provider: &str,
    body: KeyBody,
    rotate: bool,
) -> Result<Json<ProviderView>, ApiError> {
    let p = parse_provider(provider)?;
    let KeyBody { key, account_id } = body;
    let key = Secret::new(key);
    validate_key(key.expose())?;
    validate_account(p, account_id.as_deref(), !rotate)?;
    let keyring = state.tenant_keys.keyring();
    let rec = byok::set_key(
        state.store.as_ref(),
        &keyring,
        &tenant.tenant_id,
        p.as_str(),
        &key,
        account_id,
        rotate,
    )
    .await?;
    state.tenant_keys.invalidate(&tenant.tenant_id, p);
    tracing::info!(
        provider = p.as_str(),
        version = rec.version,
        rotate,
        "tenant provider key stored"
    );
    Ok(Json(tenant_view(p, &rec)))
}

/// `PUT /ai/providers/{provider}/key`
pub async fn put_key(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(provider): Path<String>,
    JsonBody(body): JsonBody<KeyBody>,
) -> Result<Json<ProviderView>, ApiError> {
    set(&state, &tenant, &provider, body, false).await
}

/// `POST /ai/providers/{provider}/key/rotate`
pub async fn rotate_key(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(provider): Path<String>,
    JsonBody(body): JsonBody<KeyBody>,
) -> Result<Json<ProviderView>, ApiError> {
    set(&state, &tenant, &provider, body, true).await
}

/// `DELETE /ai/providers/{provider}/key`: back to the global key.
pub async fn delete_key(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(provider): Path<String>,
) -> Result<Json<ProviderView>, ApiError> {
    let p = parse_provider(&provider)?;
    byok::delete_key(state.store.as_ref(), &tenant.tenant_id, p.as_str()).await?;
    state.tenant_keys.invalidate(&tenant.tenant_id, p);
    tracing::info!(provider = p.as_str(), "tenant provider key deleted");
    Ok(Json(fallback_view(&state, p)))
}

/// `GET /ai/providers`
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = state.store.list_provider_keys(&tenant.tenant_id).await?;
    let views: Vec<ProviderView> = ProviderId::ALL
        .into_iter()
        .map(|p| {
            match rows
                .iter()
                .find(|r| r.provider == p.as_str() && r.sealed.is_some())
            {
                Some(rec) => tenant_view(p, rec),
                None => fallback_view(&state, p),
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "providers": views })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation_never_echoes() {
        for bad in ["", "sk abc", "sk-\u{7}", "sk-\nx", &"k".repeat(513)] {
            let e = validate_key(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            if !bad.is_empty() {
                assert!(!e.message.contains(bad.trim()), "{}", e.message);
            }
        }
        validate_key(&"k".repeat(512)).unwrap();
        assert!(validate_account(ProviderId::WorkersAi, Some("../../x"), true).is_err());
        assert!(validate_account(ProviderId::WorkersAi, None, true).is_err());
        assert!(validate_account(ProviderId::WorkersAi, None, false).is_ok());
        assert!(validate_account(ProviderId::Openai, Some("a"), true).is_err());
        assert_eq!(
            parse_provider("azure").unwrap_err().kind,
            ErrorKind::NotFound
        );
    }
}
