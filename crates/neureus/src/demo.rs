//! `serve --demo`: the built-in mock providers, and a demo tenant whose key is written to
//! `DATA_DIR/demo-api-key` so the README's curl examples work with no setup.

use std::path::PathBuf;

use anyhow::{Context, Result};
use neureus_gateway::config::Config;
use neureus_mock::MockServer;
use neureus_store::Store;
use neureus_types::Secret;

/// Starts the mock and points every provider without credentials at it.
pub async fn attach_mock(config: &mut Config) -> Result<MockServer> {
    let mock = MockServer::start()
        .await
        .context("cannot start the demo mock providers")?;
    let mut mocked = Vec::new();
    if config.openai.api_key.is_none() {
        config.openai.base_url = mock.openai_base();
        config.openai.api_key = Some(Secret::new("demo-openai-key"));
        mocked.push("openai");
    }
    if config.anthropic.api_key.is_none() {
        config.anthropic.base_url = mock.anthropic_base();
        config.anthropic.api_key = Some(Secret::new("demo-anthropic-key"));
        mocked.push("anthropic");
    }
    if config.workers_ai.api_key.is_none() || config.workers_ai.account_id.is_none() {
        config.workers_ai.base_url = mock.workers_ai_base();
        config.workers_ai.api_key = Some(Secret::new("demo-workers-ai-token"));
        config.workers_ai.account_id = Some("demo-account".into());
        mocked.push("workers-ai");
    }
    eprintln!(
        "demo mode: {} answered by the built-in mock at {}",
        if mocked.is_empty() {
            "no provider".to_owned()
        } else {
            mocked.join(", ")
        },
        mock.addr()
    );
    Ok(mock)
}

fn key_file(config: &Config) -> PathBuf {
    config.data_dir.join("demo-api-key")
}

/// Creates the demo tenant once and writes its key (mode 0600) to the data dir.
pub async fn ensure_demo_tenant(config: &Config, store: &dyn Store) -> Result<()> {
    let path = key_file(config);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if let Ok(parts) = neureus_store::parse_api_key(existing) {
            if let Some(rec) = store.find_api_key(&parts.public_id).await? {
                if rec.revoked_at_ms.is_none() {
                    eprintln!(
                        "demo API key: {} (NEUREUS_API_KEY=$(cat {}))",
                        existing,
                        path.display()
                    );
                    return Ok(());
                }
            }
        }
    }
    let (tenant, key) = store.create_tenant("demo").await?;
    write_private(&path, key.api_key.expose())?;
    eprintln!(
        "demo tenant {} created; API key: {} (saved to {})",
        tenant.id,
        key.api_key.expose(),
        path.display()
    );
    Ok(())
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("cannot write {}", path.display()))
}
