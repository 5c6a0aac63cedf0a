//! Start-up secrets: the master keyring (checked against the database canary) and the
//! admin token; and `master-key rotate`.

use anyhow::Result;
use neureus_gateway::config::Config;
use neureus_gateway::state::Keys;
use neureus_store::byok;
use neureus_store::keyfile::KEY_FILE;
use neureus_store::{load_keyring, Store};
use neureus_types::Secret;

/// Loads the keyring and admin token; fails if the master key does not fit the database.
pub async fn startup_keys(config: &Config, store: &dyn Store) -> Result<Keys> {
    let (keyring, source, created) = load_keyring(
        &config.data_dir,
        config.master_key.as_ref(),
        config.master_key_previous.as_ref(),
    )?;
    if created {
        eprintln!(
            "generated a master key in {} (mode 0600): back it up; without it stored provider keys cannot be read",
            config.data_dir.join(KEY_FILE).display()
        );
    }
    byok::check_canary(store, &keyring).await?;
    let admin_token = admin_token(config)?;
    Ok(Keys {
        keyring,
        source,
        admin_token,
    })
}

fn admin_token(config: &Config) -> Result<Secret> {
    if let Some(t) = &config.admin_token {
        return Ok(t.clone());
    }
    let path = config.data_dir.join("admin-token");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        if !text.is_empty() {
            return Ok(Secret::new(text));
        }
    }
    let (_, token) = neureus_store::generate_api_key();
    let token = format!("nra_{}", token.trim_start_matches("nru_"));
    crate::demo::write_private(&path, &token)?;
    eprintln!(
        "admin token (shown once, saved to {}): {token}",
        path.display()
    );
    Ok(Secret::new(token))
}
