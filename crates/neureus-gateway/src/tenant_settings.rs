//! Per-tenant settings (set by the operator through `/admin`), cached in memory. A change
//! through this process applies at once; other processes' changes are polled.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::FastMap;

/// What a tenant may have set. Unknown keys are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettings {
    /// Trim this tenant's conversations above this many tokens (operator default if unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim_threshold_tokens: Option<u64>,
    /// Store this tenant's request and response bodies in its logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_bodies: Option<bool>,
}

/// tenant id → settings.
#[derive(Debug, Default)]
pub struct SettingsCache {
    map: RwLock<FastMap<String, Arc<TenantSettings>>>,
}

impl SettingsCache {
    /// Forgets a tenant's settings.
    pub fn invalidate(&self, tenant_id: &str) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(tenant_id);
    }

    fn get(&self, tenant_id: &str) -> Option<Arc<TenantSettings>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(tenant_id)
            .cloned()
    }

    fn put(&self, tenant_id: &str, s: Arc<TenantSettings>) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant_id.to_owned(), s);
    }
}

/// A tenant's settings (cached).
pub async fn get(state: &AppState, tenant_id: &str) -> Result<Arc<TenantSettings>, ApiError> {
    if let Some(s) = state.tenant_settings.get(tenant_id) {
        return Ok(s);
    }
    let json = state
        .store
        .tenant_settings(tenant_id)
        .await?
        .unwrap_or_else(|| "{}".into());
    let parsed: TenantSettings = serde_json::from_str(&json).unwrap_or_else(|e| {
        tracing::warn!(tenant_id, error = %e, "stored tenant settings are unreadable; using defaults");
        TenantSettings::default()
    });
    let s = Arc::new(parsed);
    state.tenant_settings.put(tenant_id, s.clone());
    Ok(s)
}
