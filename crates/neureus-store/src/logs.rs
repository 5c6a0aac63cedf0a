//! Request log records and the queries over them (all scoped by tenant).

/// One request's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRecord {
    /// `log_…`, time-ordered.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// The API key used.
    pub api_key_id: String,
    /// Arrival, unix ms.
    pub created_at_ms: i64,
    /// `/ai/chat`, `/v1/chat/completions`, …
    pub endpoint: String,
    /// Model named in the request (`auto` included).
    pub model_requested: Option<String>,
    /// Model used.
    pub model: Option<String>,
    /// Provider used.
    pub provider: Option<String>,
    /// Routing category (auto only).
    pub category: Option<String>,
    /// HTTP status sent.
    pub status: u16,
    /// Contract error type, if it failed.
    pub error_type: Option<String>,
    /// Error message, if it failed.
    pub error_message: Option<String>,
    /// Input tokens (cached included).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Total latency, ms.
    pub latency_ms: u64,
    /// Time to first byte of the answer, ms (streams).
    pub ttft_ms: Option<u64>,
    /// Streamed or not.
    pub streamed: bool,
    /// Routing decision, JSON.
    pub routing: Option<String>,
    /// Pre-processing stats, JSON (the gateway stores a compact form of its report).
    pub preprocessing: Option<String>,
    /// Request metadata, JSON.
    pub metadata: Option<String>,
    /// Request body (only when body logging is on).
    pub request_body: Option<String>,
    /// Response body (only when body logging is on).
    pub response_body: Option<String>,
}

/// Cost ↔ stored integer (1e-10 USD).
pub fn cost_to_e10(usd: f64) -> i64 {
    (usd * 1e10).round() as i64
}

/// Stored integer → USD.
pub fn cost_from_e10(v: i64) -> f64 {
    v as f64 / 1e10
}

/// Filters of `GET /ai/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Model used.
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// From (inclusive), unix ms.
    pub from_ms: Option<i64>,
    /// To (exclusive), unix ms.
    pub to_ms: Option<i64>,
    /// Only ids before this one (cursor).
    pub before: Option<String>,
}

/// `groupBy` of `GET /ai/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Model used.
    Model,
    /// Provider.
    Provider,
    /// UTC day.
    Day,
    /// API key.
    ApiKey,
}

/// One usage group (or the totals).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageRow {
    /// Group key (model, provider, `YYYY-MM-DD` or key id); empty for totals.
    pub key: String,
    /// Requests.
    pub requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cached tokens.
    pub cached_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Failed requests (status ≥ 400).
    pub errors: u64,
}
