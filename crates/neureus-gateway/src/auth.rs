//! Tenant authentication. Keys are looked up by public id in an in-memory cache, so a
//! request costs no database round trip once its key has been seen; a miss reads the store
//! once (keys created by the CLI work at once). Revocations done elsewhere (the CLI) reach
//! the cache through [`crate::tasks::poll_changes`] within about a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use neureus_store::{split_api_key, verify_secret, KeyFormatError};

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use crate::FastMap;

/// A cached key.
#[derive(Debug)]
struct CachedKey {
    key_id: String,
    tenant_id: String,
    secret_hash: String,
    revoked: AtomicBool,
}

/// public id → key.
#[derive(Debug, Default)]
pub struct AuthCache {
    keys: RwLock<FastMap<String, Arc<CachedKey>>>,
}

impl AuthCache {
    fn get(&self, public_id: &str) -> Option<Arc<CachedKey>> {
        let map = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(public_id).cloned()
    }

    fn insert(&self, public_id: String, key: Arc<CachedKey>) {
        let mut map = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(public_id, key);
    }

    /// Marks a key revoked (no-op if it is not cached: the store already says so).
    pub fn mark_revoked(&self, public_id: &str) {
        if let Some(k) = self.get(public_id) {
            k.revoked.store(true, Ordering::SeqCst);
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `ten_…`
    pub tenant_id: String,
    /// `key_…`
    pub key_id: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorKind::Authentication, message)
}

/// Checks a bearer token.
pub async fn authenticate(state: &AppState, header: Option<&str>) -> Result<Tenant, ApiError> {
    let Some(header) = header else {
        return Err(unauthorized(
            "missing API key: send Authorization: Bearer nru_… (create one with `neureus tenants create`)",
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer nru_…`"))?;
    let (public_id, secret) = split_api_key(token).map_err(|e| match e {
        KeyFormatError::Prefix => unauthorized("API keys start with nru_"),
        KeyFormatError::Shape => unauthorized("malformed API key"),
    })?;
    let key = match state.auth.get(public_id) {
        Some(k) => k,
        None => {
            let Some(rec) = state.store.find_api_key(public_id).await? else {
                return Err(unauthorized("unknown API key"));
            };
            let k = Arc::new(CachedKey {
                key_id: rec.id,
                tenant_id: rec.tenant_id,
                secret_hash: rec.secret_hash,
                revoked: AtomicBool::new(rec.revoked_at_ms.is_some()),
            });
            state.auth.insert(public_id.to_owned(), k.clone());
            k
        }
    };
    if !verify_secret(secret, &key.secret_hash) {
        return Err(unauthorized("unknown API key"));
    }
    if key.revoked.load(Ordering::SeqCst) {
        return Err(unauthorized("this API key has been revoked"));
    }
    Ok(Tenant {
        tenant_id: key.tenant_id.clone(),
        key_id: key.key_id.clone(),
    })
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Anthropic's SDKs send the key as `x-api-key`; everything else as a bearer token.
        let from_x_api_key;
        let header = match parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            Some(h) => Some(h),
            None => match parts
                .headers
                .get(crate::headers::X_API_KEY)
                .and_then(|v| v.to_str().ok())
            {
                Some(k) => {
                    from_x_api_key = format!("Bearer {}", k.trim());
                    Some(from_x_api_key.as_str())
                }
                None => None,
            },
        };
        let tenant = authenticate(state, header).await?;
        // As text, not `Debug` of a `str` (quoted and escaped a character at a time).
        crate::middleware::record_in_current_span([(
            "tenant_id",
            &tracing::field::display(&tenant.tenant_id),
        )]);
        Ok(tenant)
    }
}
