//! The model catalog: data compiled in from `models.toml`, overridable from configuration,
//! and the cost of a request computed from real usage.

use std::sync::Arc;

use neureus_providers::{ReasoningStyle, UpstreamModel};
use neureus_types::{ProviderId, Usage};
use serde::{Deserialize, Serialize};

use crate::FastMap;

/// The pseudo-model that lets the gateway choose.
pub const AUTO: &str = "auto";

const BUILT_IN: &str = include_str!("../models.toml");

/// Default `max_tokens` when a request sets none (capped by the model's maximum).
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// One catalog entry, as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Public id (`model` in requests).
    pub id: String,
    /// Serving provider.
    pub provider: ProviderId,
    /// The provider's model id.
    pub upstream: String,
    /// Context window, tokens.
    pub context_window: u64,
    /// Maximum output tokens.
    pub max_output_tokens: u32,
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
    /// USD per million cached input tokens read (input price when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_per_mtok: Option<f64>,
    /// USD per million input tokens written to the cache (input price when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
    /// How the model reasons.
    #[serde(default)]
    pub reasoning: ReasoningStyle,
    /// Capability tags.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Tokens of this model per `o200k_base` token, for offline estimates (providers.md
    /// §5); the provider's usual factor when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_factor: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    models: Vec<ModelEntry>,
}

/// A model ready to call.
#[derive(Debug, Clone)]
pub struct CatalogModel {
    /// The entry.
    pub entry: ModelEntry,
    /// What the adapter needs.
    pub upstream: UpstreamModel,
}

impl CatalogModel {
    fn new(entry: ModelEntry) -> Self {
        let upstream = UpstreamModel {
            id: entry.upstream.clone(),
            default_max_tokens: DEFAULT_MAX_TOKENS.min(entry.max_output_tokens.max(1)),
            reasoning: entry.reasoning,
        };
        CatalogModel { entry, upstream }
    }

    /// The token-estimate factor (providers.md §5.3): exact for OpenAI, ~1.15 for Claude.
    pub fn tokenizer_factor(&self) -> f64 {
        self.entry
            .tokenizer_factor
            .unwrap_or(match self.entry.provider {
                ProviderId::Openai => 1.0,
                ProviderId::Anthropic => 1.15,
                ProviderId::WorkersAi => 1.05,
            })
    }

    /// Cost in USD of one call's usage.
    pub fn cost_usd(&self, u: &Usage) -> f64 {
        let e = &self.entry;
        let cached = u.cache_read_tokens + u.cache_write_tokens;
        let fresh = u.input_tokens.saturating_sub(cached) as f64;
        let micro = fresh * e.input_per_mtok
            + u.cache_read_tokens as f64 * e.cache_read_per_mtok.unwrap_or(e.input_per_mtok)
            + u.cache_write_tokens as f64 * e.cache_write_per_mtok.unwrap_or(e.input_per_mtok)
            + u.output_tokens as f64 * e.output_per_mtok;
        // Rounded to 1e-10 USD so float noise does not show in responses.
        (micro / 1e6 * 1e10).round() / 1e10
    }
}

/// Why the catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The built-in file is broken.
    #[error("built-in catalog: {0}")]
    BuiltIn(String),
    /// An entry is not valid.
    #[error("model {id}: {message}")]
    Entry {
        /// Model id.
        id: String,
        /// Why.
        message: String,
    },
}

/// All models, in catalog order.
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<Arc<CatalogModel>>,
    by_id: FastMap<String, usize>,
}

impl Catalog {
    /// The built-in catalog with `overrides` applied (same id replaces, new id appends).
    pub fn load(overrides: &[ModelEntry]) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(BUILT_IN).map_err(|e| CatalogError::BuiltIn(e.to_string()))?;
        let mut entries = file.models;
        for o in overrides {
            match entries.iter_mut().find(|e| e.id == o.id) {
                Some(slot) => *slot = o.clone(),
                None => entries.push(o.clone()),
            }
        }
        let mut models = Vec::with_capacity(entries.len());
        let mut by_id = FastMap::default();
        for e in entries {
            let bad = |m: &str| CatalogError::Entry {
                id: e.id.clone(),
                message: m.to_owned(),
            };
            if e.id == AUTO {
                return Err(bad("`auto` is reserved"));
            }
            if e.context_window == 0 || e.max_output_tokens == 0 {
                return Err(bad("context_window and max_output_tokens must be positive"));
            }
            let prices = [
                Some(e.input_per_mtok),
                Some(e.output_per_mtok),
                e.cache_read_per_mtok,
                e.cache_write_per_mtok,
            ];
            if prices
                .into_iter()
                .flatten()
                .any(|p| !p.is_finite() || p < 0.0)
            {
                return Err(bad("prices must be non-negative numbers"));
            }
            by_id.insert(e.id.clone(), models.len());
            models.push(Arc::new(CatalogModel::new(e)));
        }
        Ok(Catalog { models, by_id })
    }

    /// A model by public id.
    pub fn get(&self, id: &str) -> Option<&Arc<CatalogModel>> {
        self.by_id.get(id).and_then(|&i| self.models.get(i))
    }

    /// Every model, in order.
    pub fn models(&self) -> &[Arc<CatalogModel>] {
        &self.models
    }

    /// Every id a request may name, `auto` first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(AUTO)
            .chain(self.models.iter().map(|m| m.entry.id.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalog_has_every_contract_model() {
        let c = Catalog::load(&[]).unwrap();
        let ids = c.ids();
        for id in [
            "auto",
            "claude-opus-4-8",
            "claude-sonnet-4-6",
            "claude-haiku-4-5",
            "gpt-4o",
            "gpt-4o-mini",
            "meta/llama-3.3-70b",
            "meta/llama-3.1-8b",
            "deepseek/r1-32b",
            "qwen/coder-32b",
            "moonshot/kimi-k2",
            "mistral/small-3.1-24b",
        ] {
            assert!(ids.contains(&id), "{id} missing");
        }
        assert_eq!(ids.len(), 12);
        assert_eq!(
            c.get("deepseek/r1-32b").unwrap().upstream.reasoning,
            ReasoningStyle::InlineThink
        );
    }

    #[test]
    fn cost_uses_cached_prices() {
        let c = Catalog::load(&[]).unwrap();
        // providers.md §4.2: (prompt - cached)*in + cached*cached_in + completion*out.
        let gpt = c.get("gpt-4o").unwrap();
        let u = Usage {
            input_tokens: 1210,
            output_tokens: 18,
            cache_read_tokens: 1024,
            cache_write_tokens: 0,
        };
        let want = (186.0 * 2.5 + 1024.0 * 1.25 + 18.0 * 10.0) / 1e6;
        assert!(
            (gpt.cost_usd(&u) - want).abs() < 1e-9,
            "{} vs {want}",
            gpt.cost_usd(&u)
        );
        // §4.1: input excludes cache; write at 1.25x, read at 0.1x.
        let sonnet = c.get("claude-sonnet-4-6").unwrap();
        let u = Usage {
            input_tokens: 412 + 1800 + 100,
            output_tokens: 96,
            cache_read_tokens: 1800,
            cache_write_tokens: 100,
        };
        let want = (412.0 * 3.0 + 1800.0 * 0.3 + 100.0 * 3.75 + 96.0 * 15.0) / 1e6;
        assert!((sonnet.cost_usd(&u) - want).abs() < 1e-9);
        // Workers AI: no cache price, input price applies.
        let llama = c.get("meta/llama-3.3-70b").unwrap();
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Usage::default()
        };
        assert!((llama.cost_usd(&u) - (0.293 + 2.253)).abs() < 1e-9);
    }

    #[test]
    fn overrides_replace_and_add() {
        let mut e = Catalog::load(&[])
            .unwrap()
            .get("gpt-4o")
            .unwrap()
            .entry
            .clone();
        e.upstream = "gpt-4o-2024-11-20".into();
        let mut added = e.clone();
        added.id = "my-model".into();
        let c = Catalog::load(&[e, added]).unwrap();
        assert_eq!(c.get("gpt-4o").unwrap().upstream.id, "gpt-4o-2024-11-20");
        assert!(c.get("my-model").is_some());
        let mut bad = c.get("gpt-4o").unwrap().entry.clone();
        bad.input_per_mtok = -1.0;
        assert!(Catalog::load(&[bad]).is_err());
    }
}
