//! Shared application state: configuration, catalog, providers, credentials, store and the
//! auth cache. Cheap to clone.

use std::sync::Arc;

use neureus_providers::anthropic::AnthropicProvider;
use neureus_providers::openai::OpenaiProvider;
use neureus_providers::workers_ai::WorkersAiProvider;
use neureus_providers::{Credentials, HttpClient, Provider, ProviderError};
use neureus_store::crypto::Keyring;
use neureus_store::{KeyringSource, Store};
use neureus_types::{ProviderId, Secret};

use crate::auth::AuthCache;
use crate::catalog::{Catalog, CatalogError};
use crate::config::{Config, ProviderSettings};
use crate::credentials::TenantKeys;

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Catalog problem.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// HTTP client problem.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Routing table problem.
    #[error("{0}")]
    Routing(String),
}

/// Everything handlers share.
pub struct Inner {
    /// Resolved configuration.
    pub config: Config,
    /// Model catalog.
    pub catalog: Catalog,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// API-key cache.
    pub auth: AuthCache,
    /// Master keyring and opened tenant provider keys.
    pub tenant_keys: TenantKeys,
    /// Bearer token of `/admin`.
    pub admin_token: Secret,
    /// Per-tenant settings.
    pub tenant_settings: crate::tenant_settings::SettingsCache,
    /// `auto` routing table.
    pub routing: crate::routing::RoutingTable,
    /// `auto` session pins.
    pub session_pins: crate::routing::SessionPins,
    /// Request log queue.
    pub logs: Arc<crate::logging::LogWriter>,
    providers: [Arc<dyn Provider>; 3],
}

/// The secrets a gateway starts with.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Master keyring.
    pub keyring: Keyring,
    /// Where it came from (file mode reloads it during rotations).
    pub source: KeyringSource,
    /// Admin bearer token.
    pub admin_token: Secret,
}

impl Keys {
    /// Fresh in-memory keys, for tests.
    pub fn ephemeral() -> Result<Keys, neureus_store::crypto::CryptoError> {
        let (key, _) = neureus_store::crypto::MasterKey::generate()?;
        let (_, token) = neureus_store::generate_api_key();
        Ok(Keys {
            keyring: Keyring::new(key, Vec::new()),
            source: KeyringSource::Env,
            admin_token: Secret::new(token),
        })
    }
}

/// Cheaply clonable handle on [`Inner`].
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn slot(p: ProviderId) -> usize {
    match p {
        ProviderId::Anthropic => 0,
        ProviderId::Openai => 1,
        ProviderId::WorkersAi => 2,
    }
}

impl AppState {
    /// Builds the state with the real adapters.
    pub fn new(config: Config, store: Arc<dyn Store>, keys: Keys) -> Result<AppState, StateError> {
        let http = HttpClient::new(config.timeouts)?;
        let providers: [Arc<dyn Provider>; 3] = [
            Arc::new(AnthropicProvider::new(
                &config.anthropic.base_url,
                http.clone(),
            )?),
            Arc::new(OpenaiProvider::new(&config.openai.base_url, http.clone())?),
            Arc::new(WorkersAiProvider::new(&config.workers_ai.base_url, http)),
        ];
        let catalog = Catalog::load(&config.models)?;
        let routing = crate::routing::RoutingTable::new(&config.routing, &catalog)
            .map_err(StateError::Routing)?;
        let logs = Arc::new(crate::logging::LogWriter::start(store.clone(), config.logs));
        Ok(AppState(Arc::new(Inner {
            config,
            catalog,
            store,
            auth: AuthCache::default(),
            tenant_keys: TenantKeys::new(keys.keyring, keys.source),
            admin_token: keys.admin_token,
            tenant_settings: crate::tenant_settings::SettingsCache::default(),
            routing,
            session_pins: crate::routing::SessionPins::new(
                100_000,
                std::time::Duration::from_secs(3600),
            ),
            logs,
            providers,
        })))
    }

    /// The adapter for a provider.
    pub fn provider(&self, id: ProviderId) -> &Arc<dyn Provider> {
        &self.providers[slot(id)]
    }

    fn settings(&self, id: ProviderId) -> &ProviderSettings {
        match id {
            ProviderId::Anthropic => &self.config.anthropic,
            ProviderId::Openai => &self.config.openai,
            ProviderId::WorkersAi => &self.config.workers_ai,
        }
    }

    /// The operator's credentials for a provider, if complete.
    pub fn global_credentials(&self, id: ProviderId) -> Option<Credentials> {
        let s = self.settings(id);
        let api_key = s.api_key.clone()?;
        if id == ProviderId::WorkersAi && s.account_id.as_deref().is_none_or(str::is_empty) {
            return None;
        }
        Some(Credentials {
            api_key,
            account_id: s.account_id.clone(),
        })
    }

    /// How to give the gateway credentials for a provider.
    pub fn credentials_hint(id: ProviderId) -> &'static str {
        match id {
            ProviderId::Openai => "set NEUREUS_OPENAI_API_KEY",
            ProviderId::Anthropic => "set NEUREUS_ANTHROPIC_API_KEY",
            ProviderId::WorkersAi => {
                "set NEUREUS_WORKERS_AI_ACCOUNT_ID and NEUREUS_WORKERS_AI_API_TOKEN"
            }
        }
    }
}
