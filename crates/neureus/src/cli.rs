//! The clap definitions, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Neureus: one endpoint in front of Claude, GPT-4o and Workers AI.
#[derive(Debug, Parser)]
#[command(name = "neureus", version, about)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides NEUREUS_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Apply database migrations (serve does this too).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage tenant API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the master key that seals tenants' provider keys.
    #[command(subcommand, name = "master-key")]
    MasterKey(MasterKeyCommand),
}

/// `master-key …`
#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Re-seal every stored provider key under a new master key while gateways keep serving.
    ///
    /// File mode (no NEUREUS_MASTER_KEY): generates the new key into DATA_DIR/master.keys,
    /// keeps the old one for opening until every key is re-sealed, then drops it. Env mode:
    /// set NEUREUS_MASTER_KEY to the new key and NEUREUS_MASTER_KEY_PREVIOUS to the old one on
    /// every replica first; this re-seals everything under NEUREUS_MASTER_KEY.
    Rotate {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides NEUREUS_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Start built-in mock providers on loopback and point every provider without
    /// credentials at them: try the gateway with no keys and no network.
    #[arg(long)]
    pub demo: bool,
}

/// `tenants …`
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant and its first API key (shown once).
    Create {
        /// Display name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant (shown once).
    Create {
        /// Tenant id (`ten_…`).
        #[arg(long)]
        tenant: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key; a running gateway refuses it within seconds.
    Revoke {
        /// Key id (`key_…`).
        key_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
