//! Prompt pre-processing (contract §3): every chat request passes, in order, through
//! normalize → structure → trim → compress before it reaches a provider.
//!
//! Passes 1–3 are pure and synchronous; compression is the only one that may call out.
//! Token counts in the stats are exact only when the caller asked for them
//! (`x-neureus-debug: true`): counting a 100K-token prompt on every request would cost more
//! than the passes themselves. Without debug the stats keep changes, message counts and
//! durations.

pub mod compress;
pub mod normalize;
pub mod options;
pub mod stored;
pub mod structure;
pub mod tokens;
pub mod trim;

use std::time::{Duration, Instant};

use neureus_types::{ChatRequest, ProviderId};
use serde::Serialize;

pub use options::Options;
use tokens::Counter;

/// Operator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Trim above this many tokens.
    pub trim_threshold_tokens: u64,
    /// Compress only older context of at least this many tokens.
    pub compress_min_tokens: u64,
    /// Give up on the compressor after this long.
    pub compress_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            trim_threshold_tokens: 6_000,
            compress_min_tokens: 500,
            compress_timeout: Duration::from_secs(10),
        }
    }
}

/// One pass's stats.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PassStats {
    /// `normalize`, `structure`, `trim` or `compress`.
    pub name: &'static str,
    /// Whether it changed anything.
    pub changed: bool,
    /// Tokens before (debug only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_before: Option<u64>,
    /// Tokens after (debug only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_after: Option<u64>,
    /// Messages before.
    pub messages_before: usize,
    /// Messages after.
    pub messages_after: usize,
    /// Time spent, microseconds.
    pub duration_us: u64,
    /// Why it did nothing or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For compression: the compressor call's tokens and cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressor: Option<CompressorStats>,
}

/// The compressor call.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompressorStats {
    /// Model id.
    pub model: &'static str,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
}

/// The whole pipeline's stats.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Per pass, in order.
    pub passes: Vec<PassStats>,
    /// Totals.
    pub totals: Totals,
}

/// Totals over the passes.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Whether anything changed.
    pub changed: bool,
    /// Tokens before the first pass (debug only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_before: Option<u64>,
    /// Tokens after the last pass (debug only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_after: Option<u64>,
    /// Messages before.
    pub messages_before: usize,
    /// Messages after.
    pub messages_after: usize,
    /// Time spent in all passes, microseconds.
    pub duration_us: u64,
    /// Cost of pre-processing (the compressor), USD.
    pub cost_usd: f64,
}

/// Whether a provider requires the conversation to start with a user message.
pub fn user_first(p: ProviderId) -> bool {
    matches!(p, ProviderId::Anthropic)
}

/// Runs passes 1–3 (pure). `threshold` is `None` when trimming is off.
pub fn run_sync(
    req: &mut ChatRequest,
    counter: &Counter,
    threshold: Option<u64>,
    user_first: bool,
    debug: bool,
) -> Vec<PassStats> {
    let mut out = Vec::with_capacity(4);
    let count = |r: &ChatRequest| debug.then(|| counter.messages(&r.messages));
    let mut tokens = count(req);

    let mut step =
        |name: &'static str,
         req: &mut ChatRequest,
         f: &mut dyn FnMut(&mut ChatRequest) -> (bool, Option<String>)| {
            let before = req.messages.len();
            let t0 = Instant::now();
            let (changed, note) = f(req);
            let duration_us = t0.elapsed().as_micros() as u64;
            let after_tokens = if changed { count(req) } else { tokens };
            out.push(PassStats {
                name,
                changed,
                tokens_before: tokens,
                tokens_after: after_tokens,
                messages_before: before,
                messages_after: req.messages.len(),
                duration_us,
                note,
                compressor: None,
            });
            tokens = after_tokens;
        };
    step("normalize", req, &mut |r| {
        (normalize::run(&mut r.messages), None)
    });
    step("structure", req, &mut |r| {
        (structure::run(&mut r.messages), None)
    });
    step("trim", req, &mut |r| match threshold {
        None => (false, Some("off for this request".into())),
        Some(t) if !counter.exceeds(&r.messages, t) => {
            (false, Some(format!("under the threshold of {t} tokens")))
        }
        Some(_) => (trim::run(&mut r.messages, user_first), None),
    });
    out
}

/// Sums the passes.
pub fn totals(passes: &[PassStats]) -> Totals {
    Totals {
        changed: passes.iter().any(|p| p.changed),
        tokens_before: passes.first().and_then(|p| p.tokens_before),
        tokens_after: passes.last().and_then(|p| p.tokens_after),
        messages_before: passes.first().map_or(0, |p| p.messages_before),
        messages_after: passes.last().map_or(0, |p| p.messages_after),
        duration_us: passes.iter().map(|p| p.duration_us).sum(),
        cost_usd: passes
            .iter()
            .filter_map(|p| p.compressor.as_ref())
            .map(|c| c.cost_usd)
            // From +0.0: an empty f64 sum is -0.0, which showed as `"costUsd": -0.0`.
            .fold(0.0, |a, b| a + b),
    }
}

/// Runs the whole pipeline for a tenant's request to `model`.
pub async fn run(
    state: &crate::state::AppState,
    tenant_id: &str,
    model: &crate::catalog::CatalogModel,
    req: &mut ChatRequest,
    opts: Options,
    tenant_threshold: Option<u64>,
) -> Report {
    let settings = state.config.preprocess;
    let counter = Counter::new(model.tokenizer_factor());
    let threshold =
        (!opts.no_trim).then_some(tenant_threshold.unwrap_or(settings.trim_threshold_tokens));
    let mut passes = run_sync(
        req,
        &counter,
        threshold,
        user_first(model.entry.provider),
        opts.debug,
    );
    let before = req.messages.len();
    let tokens_before = passes.last().and_then(|p| p.tokens_after);
    let t0 = Instant::now();
    let outcome = if opts.compress {
        compress::run(
            state,
            tenant_id,
            req,
            &counter,
            settings.compress_min_tokens,
            settings.compress_timeout,
        )
        .await
    } else {
        compress::Outcome {
            note: Some("not requested".into()),
            ..compress::Outcome::default()
        }
    };
    let duration_us = t0.elapsed().as_micros() as u64;
    passes.push(PassStats {
        name: "compress",
        changed: outcome.changed,
        tokens_before,
        tokens_after: if outcome.changed && opts.debug {
            Some(counter.messages(&req.messages))
        } else {
            tokens_before
        },
        messages_before: before,
        messages_after: req.messages.len(),
        duration_us,
        note: outcome.note,
        compressor: outcome.usage.map(|u| CompressorStats {
            model: compress::COMPRESSOR_MODEL,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cost_usd: outcome.cost_usd,
        }),
    });
    let totals = totals(&passes);
    Report { passes, totals }
}
