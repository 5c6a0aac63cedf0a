//! The `neureus` binary: reads configuration, then runs one command.

mod cli;
mod demo;
mod keys;
mod logfmt;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use neureus_gateway::config::{Config, Flags, ProcessEnv, RawConfig};
use neureus_gateway::AppState;
use neureus_store::Store;
use serde_json::json;

use cli::{Cli, Command, KeysCommand, MasterKeyCommand, TenantsCommand};

/// Writes a line to stdout: the CLI's output channel (logs go to stderr).
fn out(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("cannot write to stdout")
}

fn load_config(cli: &Cli, listen: Option<String>) -> Result<Config> {
    let raw = match &cli.config {
        Some(path) => RawConfig::from_file(path)?,
        None => RawConfig::default(),
    };
    let flags = Flags {
        listen,
        data_dir: cli.data_dir.clone(),
    };
    Config::resolve(raw, &ProcessEnv, &flags).map_err(|errs| {
        let lines: Vec<String> = errs.iter().map(|e| format!("  - {e}")).collect();
        anyhow::anyhow!("invalid configuration:\n{}", lines.join("\n"))
    })
}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    if config.database_url.starts_with("sqlite://") {
        ensure_dir(&config.data_dir)?;
    }
    // The URL may hold a password (postgres://user:secret@…): messages show it redacted.
    let shown = neureus_store::redact_url(&config.database_url);
    let store = neureus_store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database at {shown}"))?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store)
}

fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

// mimalloc instead of the system allocator: a request allocates and frees hundreds of small
// buffers (JSON values, header maps, log fields), and glibc's malloc/free showed as ~15% of
// the gateway's CPU under load (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Transparent huge pages off for this process. mimalloc gives each thread its own pages
    // inside large arenas; with THP set to `always` (the default of many distributions) the
    // kernel backs every 2 MB region a thread touches with a whole huge page. Measured with
    // 1,000 open streams: peak RSS 88 MB with THP, 52 MB without; CPU per request at c=16
    // unchanged (37.0 µs without, 37.3 µs with, three runs each; BENCHMARKS.md). Failure (an
    // old kernel) only costs memory.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // Colours only on a terminal: into a file or a log collector they are escape codes in
    // every line, and formatting them was ~1.5% of a request's CPU at the default level.
    let fmt = tracing_subscriber::fmt()
        .fmt_fields(logfmt::PlainFields)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match log_filter(std::env::var("RUST_LOG").ok().as_deref()) {
        LogFilter::Level(level) => fmt.with_max_level(level).init(),
        LogFilter::Directives(filter) => fmt.with_env_filter(*filter).init(),
    }
    let cli = Cli::parse();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let runtime = match runtime(cpus) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What filters the process's log lines.
#[derive(Debug)]
enum LogFilter {
    /// One level for every target: unset `RUST_LOG` (`info`), or a bare level.
    Level(tracing_subscriber::filter::LevelFilter),
    /// Anything else `RUST_LOG` says (per-target levels, span filters).
    Directives(Box<tracing_subscriber::EnvFilter>),
}

/// The filter for `RUST_LOG` (`None`: unset). A bare level filters as an `EnvFilter` of it
/// would, without its per-span work: an `EnvFilter` takes a lock and pushes a level onto a
/// thread-local stack each time a span is entered or left (four times a request), and looks
/// at every new span; ~0.3k instructions a request at `info` (callgrind, BENCHMARKS.md,
/// stop 22). A value `EnvFilter` cannot parse falls back to `info`, as before.
fn log_filter(rust_log: Option<&str>) -> LogFilter {
    use tracing_subscriber::filter::LevelFilter;
    let Some(value) = rust_log.map(str::trim) else {
        return LogFilter::Level(LevelFilter::INFO);
    };
    // Names only: `LevelFilter` also reads digits, which `EnvFilter` takes for a target.
    if value.bytes().all(|b| b.is_ascii_alphabetic()) {
        if let Ok(level) = value.parse::<LevelFilter>() {
            return LogFilter::Level(level);
        }
    }
    match tracing_subscriber::EnvFilter::try_new(value) {
        Ok(filter) => LogFilter::Directives(Box::new(filter)),
        Err(_) => LogFilter::Level(LevelFilter::INFO),
    }
}

/// The runtime for `cpus` CPUs (0: unknown). With one CPU (a pinned process, or a container
/// limited to one core: Rust reads the cgroup quota) a multi-thread runtime has one worker,
/// and the thread that runs `block_on` hands every accepted connection over to it; a
/// current-thread runtime runs it all on one thread, as the bare proxy of `bench/` does.
/// Measured at c=64 with builds taking turns (BENCHMARKS.md, stop 18): ~4% less CPU per
/// request, ~1% fewer instructions.
fn runtime(cpus: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Serve(args) => serve(&cli, args.listen.clone(), args.demo).await,
        Command::Migrate => {
            let config = load_config(&cli, None)?;
            open_store(&config).await?;
            out("migrations applied")
        }
        Command::Tenants(TenantsCommand::Create { name, json }) => {
            let name = neureus_store::tenant_name(name)
                .map_err(|why| anyhow::anyhow!("invalid tenant {why}"))?;
            let store = open_store(&load_config(&cli, None)?).await?;
            let (tenant, key) = store.create_tenant(name).await?;
            if *json {
                out(
                    &json!({"tenantId": tenant.id, "name": tenant.name, "keyId": key.key_id,
                            "apiKey": key.api_key.expose()})
                    .to_string(),
                )
            } else {
                out(&format!("tenant  {}  ({})", tenant.id, tenant.name))?;
                out(&format!("key id  {}", key.key_id))?;
                out(&format!(
                    "api key {}   (shown once: store it now)",
                    key.api_key.expose()
                ))
            }
        }
        Command::Tenants(TenantsCommand::List { json }) => {
            let store = open_store(&load_config(&cli, None)?).await?;
            let tenants = store.list_tenants().await?;
            if *json {
                let list: Vec<_> = tenants
                    .iter()
                    .map(|t| json!({"tenantId": t.id, "name": t.name, "createdAt": neureus_store::rfc3339(t.created_at_ms)}))
                    .collect();
                out(&serde_json::Value::Array(list).to_string())
            } else {
                for t in tenants {
                    out(&format!(
                        "{}  {}  {}",
                        t.id,
                        neureus_store::rfc3339(t.created_at_ms),
                        t.name
                    ))?;
                }
                Ok(())
            }
        }
        Command::Keys(KeysCommand::Create { tenant, json }) => {
            let store = open_store(&load_config(&cli, None)?).await?;
            let key = store.create_api_key(tenant).await?;
            if *json {
                out(&json!({"keyId": key.key_id, "tenantId": tenant, "apiKey": key.api_key.expose()}).to_string())
            } else {
                out(&format!("key id  {}", key.key_id))?;
                out(&format!(
                    "api key {}   (shown once: store it now)",
                    key.api_key.expose()
                ))
            }
        }
        Command::Keys(KeysCommand::Revoke { key_id, json }) => {
            let store = open_store(&load_config(&cli, None)?).await?;
            if !store.revoke_api_key(key_id).await? {
                bail!("no API key with id {key_id}");
            }
            if *json {
                out(&json!({"keyId": key_id, "revoked": true}).to_string())
            } else {
                out(&format!("revoked {key_id}"))
            }
        }
        Command::MasterKey(MasterKeyCommand::Rotate { json }) => {
            let config = load_config(&cli, None)?;
            let store = open_store(&config).await?;
            let r = neureus_gateway::rotation::rotate(
                &config,
                store.as_ref(),
                neureus_gateway::rotation::RELOAD_GRACE,
            )
            .await?;
            if *json {
                out(&json!({"masterKeyId": r.master_key_id, "resealed": r.resealed}).to_string())
            } else {
                out(&format!(
                    "master key is now {}; {} stored provider keys re-sealed",
                    r.master_key_id, r.resealed
                ))
            }
        }
    }
}

async fn serve(cli: &Cli, listen: Option<String>, demo: bool) -> Result<()> {
    let mut config = load_config(cli, listen)?;
    ensure_dir(&config.data_dir)?;
    let _mock = if demo {
        Some(demo::attach_mock(&mut config).await?)
    } else {
        None
    };
    let store = open_store(&config).await?;
    if demo {
        demo::ensure_demo_tenant(&config, store.as_ref()).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let keys = keys::startup_keys(&config, store.as_ref()).await?;
    let state = AppState::new(config, store, keys)?;
    eprintln!("neureus listening on http://{addr}");
    neureus_gateway::serve(listener, state, shutdown_signal()).await?;
    eprintln!("neureus stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_cpu_gets_a_current_thread_runtime_and_more_or_unknown_a_multi_thread_one() {
        let flavor = |cpus| super::runtime(cpus).unwrap().handle().runtime_flavor();
        assert_eq!(flavor(1), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(2), RuntimeFlavor::MultiThread);
        assert_eq!(flavor(0), RuntimeFlavor::MultiThread);
    }

    /// A bare level (or none) gets the plain level filter, anything else `EnvFilter`, and
    /// what `EnvFilter` refuses the default `info`, as before.
    #[test]
    fn rust_log_values_and_their_filters() {
        use super::{log_filter, LogFilter};
        use tracing_subscriber::filter::LevelFilter;
        let level = |v| match log_filter(v) {
            LogFilter::Level(l) => Some(l),
            LogFilter::Directives(_) => None,
        };
        assert_eq!(level(None), Some(LevelFilter::INFO));
        assert_eq!(level(Some("warn")), Some(LevelFilter::WARN));
        assert_eq!(level(Some(" DEBUG ")), Some(LevelFilter::DEBUG));
        assert_eq!(level(Some("off")), Some(LevelFilter::OFF));
        assert_eq!(level(Some("trace")), Some(LevelFilter::TRACE));
        assert_eq!(level(Some("neureus_gateway=debug,info")), None);
        assert_eq!(
            level(Some("3")),
            None,
            "a target named 3, as EnvFilter reads it"
        );
        assert_eq!(level(Some("[{")), Some(LevelFilter::INFO), "unparsable");
        let LogFilter::Directives(f) = log_filter(Some("neureus_gateway=debug,warn")) else {
            panic!("per-target directives need EnvFilter");
        };
        assert_eq!(f.max_level_hint(), Some(LevelFilter::DEBUG));
    }
}
