//! Configuration: TOML file → `NEUREUS_*` environment → flags (contract §1), resolved in two
//! phases: [`RawConfig`] (every field optional, unknown fields rejected) then
//! [`Config::resolve`], which reports every error at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use neureus_providers::Timeouts;
use neureus_types::Secret;
use serde::Deserialize;

use crate::catalog::ModelEntry;

/// Every environment variable the gateway reads.
pub mod env {
    /// Listen address.
    pub const LISTEN: &str = "NEUREUS_LISTEN";
    /// Data directory.
    pub const DATA_DIR: &str = "NEUREUS_DATA_DIR";
    /// Database URL.
    pub const DATABASE_URL: &str = "NEUREUS_DATABASE_URL";
    /// Redis URL (shared counters; used by later features).
    pub const REDIS_URL: &str = "NEUREUS_REDIS_URL";
    /// Admin bearer token.
    pub const ADMIN_TOKEN: &str = "NEUREUS_ADMIN_TOKEN";
    /// Master key (base64 of 32 bytes) sealing stored provider keys.
    pub const MASTER_KEY: &str = "NEUREUS_MASTER_KEY";
    /// Previous master keys still accepted for opening, comma-separated (during a rotation).
    pub const MASTER_KEY_PREVIOUS: &str = "NEUREUS_MASTER_KEY_PREVIOUS";
    /// OpenAI key.
    pub const OPENAI_API_KEY: &str = "NEUREUS_OPENAI_API_KEY";
    /// OpenAI base URL.
    pub const OPENAI_BASE_URL: &str = "NEUREUS_OPENAI_BASE_URL";
    /// Anthropic key.
    pub const ANTHROPIC_API_KEY: &str = "NEUREUS_ANTHROPIC_API_KEY";
    /// Anthropic base URL.
    pub const ANTHROPIC_BASE_URL: &str = "NEUREUS_ANTHROPIC_BASE_URL";
    /// Workers AI account id.
    pub const WORKERS_AI_ACCOUNT_ID: &str = "NEUREUS_WORKERS_AI_ACCOUNT_ID";
    /// Workers AI API token.
    pub const WORKERS_AI_API_TOKEN: &str = "NEUREUS_WORKERS_AI_API_TOKEN";
    /// Workers AI base URL.
    pub const WORKERS_AI_BASE_URL: &str = "NEUREUS_WORKERS_AI_BASE_URL";
    /// Upstream connect timeout, milliseconds.
    pub const CONNECT_TIMEOUT_MS: &str = "NEUREUS_CONNECT_TIMEOUT_MS";
    /// Upstream first-byte timeout, milliseconds.
    pub const FIRST_BYTE_TIMEOUT_MS: &str = "NEUREUS_FIRST_BYTE_TIMEOUT_MS";
    /// Upstream idle-between-chunks timeout, milliseconds.
    pub const IDLE_TIMEOUT_MS: &str = "NEUREUS_IDLE_TIMEOUT_MS";
    /// Upstream total timeout, milliseconds.
    pub const TOTAL_TIMEOUT_MS: &str = "NEUREUS_TOTAL_TIMEOUT_MS";
    /// Largest accepted request body, bytes.
    pub const MAX_BODY_BYTES: &str = "NEUREUS_MAX_BODY_BYTES";
    /// Trim conversations above this many tokens.
    pub const TRIM_THRESHOLD_TOKENS: &str = "NEUREUS_TRIM_THRESHOLD_TOKENS";
    /// Compress only older context of at least this many tokens.
    pub const COMPRESS_MIN_TOKENS: &str = "NEUREUS_COMPRESS_MIN_TOKENS";
    /// Compressor timeout, milliseconds.
    pub const COMPRESS_TIMEOUT_MS: &str = "NEUREUS_COMPRESS_TIMEOUT_MS";
    /// Delete request logs older than this many days (0 keeps them).
    pub const LOG_RETENTION_DAYS: &str = "NEUREUS_LOG_RETENTION_DAYS";
    /// Store request and response bodies in logs for every tenant (`true`/`false`).
    pub const LOG_BODIES: &str = "NEUREUS_LOG_BODIES";
}

/// Where environment values come from (a `HashMap` in tests, so no test mutates the process
/// environment).
pub trait Source {
    /// The value of `name`, if set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).filter(|v| !v.is_empty()).cloned()
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The TOML file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Listen address.
    pub listen: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Database URL.
    pub database_url: Option<String>,
    /// Redis URL.
    pub redis_url: Option<String>,
    /// Largest request body.
    pub max_body_bytes: Option<usize>,
    /// Upstream timeouts.
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// Provider settings.
    #[serde(default)]
    pub providers: RawProviders,
    /// Pre-processing settings.
    #[serde(default)]
    pub preprocess: RawPreprocess,
    /// Request log settings.
    #[serde(default)]
    pub logs: RawLogs,
    /// Catalog additions and overrides (matched by `id`).
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// `auto` routing: category → ordered candidate model ids.
    #[serde(default)]
    pub routing: HashMap<String, Vec<String>>,
}

/// `[timeouts]`, milliseconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// Connect.
    pub connect_ms: Option<u64>,
    /// First byte.
    pub first_byte_ms: Option<u64>,
    /// Idle between chunks.
    pub idle_ms: Option<u64>,
    /// Whole call.
    pub total_ms: Option<u64>,
}

/// `[preprocess]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreprocess {
    /// Trim above this many tokens (default 6000).
    pub trim_threshold_tokens: Option<u64>,
    /// Minimum older-context size to compress (default 500 tokens).
    pub compress_min_tokens: Option<u64>,
    /// Compressor timeout (default 10000 ms).
    pub compress_timeout_ms: Option<u64>,
}

/// `[logs]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogs {
    /// Days to keep (default 30; 0 keeps forever).
    pub retention_days: Option<u32>,
    /// Store bodies for every tenant (default false).
    pub store_bodies: Option<bool>,
    /// Cap on each stored body (default 65536).
    pub body_cap_bytes: Option<usize>,
    /// Queue capacity (default 10000).
    pub queue_capacity: Option<usize>,
    /// Records per insert (default 500).
    pub batch_size: Option<usize>,
    /// Longest wait for a log batch to fill, milliseconds.
    pub flush_interval_ms: Option<u64>,
}

/// `[providers.*]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviders {
    /// OpenAI.
    #[serde(default)]
    pub openai: RawProvider,
    /// Anthropic.
    #[serde(default)]
    pub anthropic: RawProvider,
    /// Workers AI.
    #[serde(default, rename = "workers-ai", alias = "workers_ai")]
    pub workers_ai: RawProvider,
}

/// One provider's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Key or token.
    pub api_key: Option<String>,
    /// Base URL.
    pub base_url: Option<String>,
    /// Workers AI account id.
    pub account_id: Option<String>,
}

/// Command-line overrides (the highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
}

/// One provider, resolved.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Base URL, used exactly as given.
    pub base_url: String,
    /// Operator's key, if any.
    pub api_key: Option<Secret>,
    /// Workers AI account id.
    pub account_id: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// Redis URL, when several replicas share state.
    pub redis_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Upstream timeouts.
    pub timeouts: Timeouts,
    /// OpenAI.
    pub openai: ProviderSettings,
    /// Anthropic.
    pub anthropic: ProviderSettings,
    /// Workers AI.
    pub workers_ai: ProviderSettings,
    /// Catalog overrides.
    pub models: Vec<ModelEntry>,
    /// Pre-processing settings.
    pub preprocess: crate::preprocess::Settings,
    /// `auto` routing overrides.
    pub routing: HashMap<String, Vec<String>>,
    /// Request log settings.
    pub logs: crate::logging::LogSettings,
    /// `NEUREUS_MASTER_KEY`, when set.
    pub master_key: Option<Secret>,
    /// `NEUREUS_MASTER_KEY_PREVIOUS`, when set.
    pub master_key_previous: Option<Secret>,
    /// `NEUREUS_ADMIN_TOKEN`, when set.
    pub admin_token: Option<Secret>,
}

/// A configuration problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {message}")]
    File {
        /// Path.
        path: String,
        /// Why.
        message: String,
    },
    /// The file is not valid.
    #[error("invalid config file: {0}")]
    Toml(String),
    /// A value is not valid.
    #[error("{name}: {message}")]
    Value {
        /// Setting name.
        name: String,
        /// Why.
        message: String,
    },
}

/// Default request body limit: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

impl RawConfig {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::new(text);
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text)
    }
}

impl Config {
    /// Merges file, environment and flags, reporting every error.
    pub fn resolve(
        raw: RawConfig,
        src: &dyn Source,
        flags: &Flags,
    ) -> Result<Config, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let listen_text = flags
            .listen
            .clone()
            .or_else(|| src.get(env::LISTEN))
            .or(raw.listen)
            .unwrap_or_else(|| "127.0.0.1:8787".into());
        let listen = listen_text.parse().unwrap_or_else(|e| {
            errors.push(ConfigError::Value {
                name: env::LISTEN.into(),
                message: format!("{listen_text:?} is not an address like 127.0.0.1:8787 ({e})"),
            });
            SocketAddr::from(([127, 0, 0, 1], 8787))
        });
        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| src.get(env::DATA_DIR).map(PathBuf::from))
            .or(raw.data_dir)
            .unwrap_or_else(|| PathBuf::from("./neureus-data"));
        let database_url = src
            .get(env::DATABASE_URL)
            .or(raw.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("neureus.db").display()));
        if neureus_store::Backend::of(&database_url).is_none() {
            errors.push(ConfigError::Value {
                name: env::DATABASE_URL.into(),
                message: format!(
                    "expected a sqlite:// or postgres:// URL, got {:?}",
                    neureus_store::redact_url(&database_url)
                ),
            });
        }
        let mut num = |name: &str, file: Option<u64>, default: u64| -> u64 {
            match src.get(name) {
                None => file.unwrap_or(default),
                Some(v) => v.parse::<u64>().unwrap_or_else(|_| {
                    errors.push(ConfigError::Value {
                        name: name.into(),
                        message: format!("{v:?} is not a whole number"),
                    });
                    default
                }),
            }
        };
        let d = Timeouts::default();
        let ms = |x: Duration| u64::try_from(x.as_millis()).unwrap_or(u64::MAX);
        let timeouts = Timeouts {
            connect: Duration::from_millis(num(
                env::CONNECT_TIMEOUT_MS,
                raw.timeouts.connect_ms,
                ms(d.connect),
            )),
            first_byte: Duration::from_millis(num(
                env::FIRST_BYTE_TIMEOUT_MS,
                raw.timeouts.first_byte_ms,
                ms(d.first_byte),
            )),
            idle: Duration::from_millis(num(
                env::IDLE_TIMEOUT_MS,
                raw.timeouts.idle_ms,
                ms(d.idle),
            )),
            total: Duration::from_millis(num(
                env::TOTAL_TIMEOUT_MS,
                raw.timeouts.total_ms,
                ms(d.total),
            )),
        };
        let max_body = num(
            env::MAX_BODY_BYTES,
            raw.max_body_bytes.map(|b| b as u64),
            DEFAULT_MAX_BODY_BYTES as u64,
        );
        let dp = crate::preprocess::Settings::default();
        let preprocess = crate::preprocess::Settings {
            trim_threshold_tokens: num(
                env::TRIM_THRESHOLD_TOKENS,
                raw.preprocess.trim_threshold_tokens,
                dp.trim_threshold_tokens,
            ),
            compress_min_tokens: num(
                env::COMPRESS_MIN_TOKENS,
                raw.preprocess.compress_min_tokens,
                dp.compress_min_tokens,
            ),
            compress_timeout: Duration::from_millis(num(
                env::COMPRESS_TIMEOUT_MS,
                raw.preprocess.compress_timeout_ms,
                ms(dp.compress_timeout),
            )),
        };
        let dl = crate::logging::LogSettings::default();
        let mut bad_bodies = None;
        let store_bodies = match src.get(env::LOG_BODIES) {
            None => raw.logs.store_bodies.unwrap_or(dl.store_bodies),
            Some(v) => match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    bad_bodies = Some(v.clone());
                    false
                }
            },
        };
        let logs = crate::logging::LogSettings {
            retention_days: u32::try_from(num(
                env::LOG_RETENTION_DAYS,
                raw.logs.retention_days.map(u64::from),
                u64::from(dl.retention_days),
            ))
            .unwrap_or(dl.retention_days),
            store_bodies,
            body_cap_bytes: raw.logs.body_cap_bytes.unwrap_or(dl.body_cap_bytes),
            queue_capacity: raw.logs.queue_capacity.unwrap_or(dl.queue_capacity).max(1),
            batch_size: raw.logs.batch_size.unwrap_or(dl.batch_size).max(1),
            linger: raw
                .logs
                .flush_interval_ms
                .map_or(dl.linger, std::time::Duration::from_millis),
        };
        if let Some(v) = bad_bodies {
            errors.push(ConfigError::Value {
                name: env::LOG_BODIES.into(),
                message: format!("{v:?} is not true or false"),
            });
        }
        let p = raw.providers;
        let pick = |env_name: &str, file: Option<String>| src.get(env_name).or(file);
        let openai = ProviderSettings {
            base_url: pick(env::OPENAI_BASE_URL, p.openai.base_url)
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: pick(env::OPENAI_API_KEY, p.openai.api_key).map(Secret::new),
            account_id: None,
        };
        let anthropic = ProviderSettings {
            base_url: pick(env::ANTHROPIC_BASE_URL, p.anthropic.base_url)
                .unwrap_or_else(|| "https://api.anthropic.com".into()),
            api_key: pick(env::ANTHROPIC_API_KEY, p.anthropic.api_key).map(Secret::new),
            account_id: None,
        };
        let workers_ai = ProviderSettings {
            base_url: pick(env::WORKERS_AI_BASE_URL, p.workers_ai.base_url)
                .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into()),
            api_key: pick(env::WORKERS_AI_API_TOKEN, p.workers_ai.api_key).map(Secret::new),
            account_id: pick(env::WORKERS_AI_ACCOUNT_ID, p.workers_ai.account_id),
        };
        for (name, s) in [
            (env::OPENAI_BASE_URL, &openai),
            (env::ANTHROPIC_BASE_URL, &anthropic),
            (env::WORKERS_AI_BASE_URL, &workers_ai),
        ] {
            if !(s.base_url.starts_with("http://") || s.base_url.starts_with("https://")) {
                errors.push(ConfigError::Value {
                    name: name.into(),
                    message: format!("{:?} must start with http:// or https://", s.base_url),
                });
            }
        }
        if errors.is_empty() {
            Ok(Config {
                listen,
                data_dir,
                database_url,
                redis_url: src.get(env::REDIS_URL).or(raw.redis_url),
                max_body_bytes: usize::try_from(max_body).unwrap_or(DEFAULT_MAX_BODY_BYTES),
                timeouts,
                openai,
                anthropic,
                workers_ai,
                models: raw.models,
                preprocess,
                routing: raw.routing,
                logs,
                master_key: src.get(env::MASTER_KEY).map(Secret::new),
                master_key_previous: src.get(env::MASTER_KEY_PREVIOUS).map(Secret::new),
                admin_token: src.get(env::ADMIN_TOKEN).map(Secret::new),
            })
        } else {
            Err(errors)
        }
    }

    /// A configuration for tests: every provider at the given base URLs with test keys,
    /// an in-memory database, port 0.
    pub fn for_tests(openai: &str, anthropic: &str, workers_ai: &str) -> Config {
        let settings = |base: &str, key: &str, account: Option<&str>| ProviderSettings {
            base_url: base.to_owned(),
            api_key: Some(Secret::new(key)),
            account_id: account.map(str::to_owned),
        };
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::from("./neureus-test-data"),
            database_url: "sqlite::memory:".into(),
            redis_url: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeouts: Timeouts::default(),
            openai: settings(openai, "sk-test-openai", None),
            anthropic: settings(anthropic, "sk-ant-test", None),
            workers_ai: settings(workers_ai, "cf-test-token", Some("acct123")),
            models: Vec::new(),
            preprocess: crate::preprocess::Settings::default(),
            routing: HashMap::new(),
            logs: crate::logging::LogSettings::default(),
            master_key: None,
            master_key_previous: None,
            admin_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn log_batching_window_from_the_file() {
        let none = Flags {
            listen: None,
            data_dir: None,
        };
        let raw = RawConfig::from_toml("[logs]\nflush_interval_ms = 5\nbatch_size = 64\n").unwrap();
        let c = Config::resolve(raw, &src(&[]), &none).unwrap();
        assert_eq!(c.logs.linger, Duration::from_millis(5));
        assert_eq!(c.logs.batch_size, 64);
        let default = Config::resolve(RawConfig::default(), &src(&[]), &none).unwrap();
        assert_eq!(default.logs.linger, Duration::from_millis(50));
    }

    #[test]
    fn precedence_file_env_flags() {
        let raw = RawConfig::from_toml(
            "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 5\n[timeouts]\nidle_ms = 7\n[providers.openai]\napi_key = \"from-file\"\n",
        )
        .unwrap();
        let env = src(&[
            (env::LISTEN, "127.0.0.1:9001"),
            (env::OPENAI_API_KEY, "from-env"),
        ]);
        let flags = Flags {
            listen: Some("127.0.0.1:9002".into()),
            data_dir: None,
        };
        let c = Config::resolve(raw, &env, &flags).unwrap();
        assert_eq!(c.listen.port(), 9002);
        assert_eq!(c.max_body_bytes, 5);
        assert_eq!(c.timeouts.idle, Duration::from_millis(7));
        assert_eq!(c.openai.api_key.unwrap().expose(), "from-env");
        assert!(
            c.database_url.ends_with("neureus-data/neureus.db"),
            "{}",
            c.database_url
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let env = src(&[
            (env::LISTEN, "nowhere"),
            (env::IDLE_TIMEOUT_MS, "soon"),
            (env::OPENAI_BASE_URL, "ftp://x"),
        ]);
        let errs = Config::resolve(RawConfig::default(), &env, &Flags::default()).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn database_urls_of_either_backend_are_taken_and_others_named_without_their_password() {
        for url in [
            "sqlite::memory:",
            "postgres://u:pw@db/n",
            "postgresql://db/n",
        ] {
            let c = Config::resolve(
                RawConfig::default(),
                &src(&[(env::DATABASE_URL, url)]),
                &Flags::default(),
            )
            .unwrap();
            assert_eq!(c.database_url, url);
        }
        let errs = Config::resolve(
            RawConfig::default(),
            &src(&[(env::DATABASE_URL, "mysql://u:hunter2@db/n")]),
            &Flags::default(),
        )
        .unwrap_err();
        let text = format!("{errs:?}");
        assert!(text.contains("mysql://u:***@db/n"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn unknown_file_keys_are_rejected_with_their_path() {
        let e = RawConfig::from_toml("[providers.openai]\napi_kee = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("api_kee"), "{e}");
    }
}
