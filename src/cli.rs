//! The command line: `serve`, `config check`, `keys list|rotate`, `token inspect`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use storage::Store;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Checked, TokenAlg};
use crate::signer::keys;

/// latchkey: a single-binary authentication server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
pub struct Cli {
    /// Configuration file (default: ./auth.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Signing keys (on a stopped server: the store is opened directly).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the effective configuration (secrets masked), or the error.
    Check,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List the signing keys and their state.
    List,
    /// Make a new signing key; the old ones verify until their last token expires.
    Rotate,
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Verify an access token and print its claims, or the exact reason it is refused.
    Inspect {
        /// The token.
        token: String,
    },
}

/// Loads the configuration or explains why not.
pub fn load_config(cli: &Cli) -> Result<Checked, String> {
    config::load(cli.config.as_deref())
}

fn open_store(cfg: &Checked) -> Result<Store, String> {
    Store::open(&cfg.raw.storage.path).map_err(|e| match e {
        storage::StoreError::Locked(_) => format!("{e}; stop the server first"),
        e => format!("cannot open {}: {e}", cfg.raw.storage.path.display()),
    })
}

fn access_ttl(cfg: &Checked) -> i64 {
    i64::try_from(cfg.raw.tokens.access_ttl).unwrap_or(i64::MAX / 4)
}

/// `config check`.
pub fn config_check(cfg: &Checked) -> String {
    let mut out = cfg.raw.masked_toml();
    for w in &cfg.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    out
}

/// `keys list`.
pub fn keys_list(cfg: &Checked) -> Result<String, String> {
    let store = open_store(cfg)?;
    let records = store.read(|r| r.keys()).map_err(|e| e.to_string())?;
    let now = SystemClock.now_ms();
    let mut out = format!(
        "{:<46} {:<17} {:<25} state\n",
        "kid", "algorithm", "created"
    );
    for k in records {
        let state = match k.retired_at {
            None if k.alg == cfg.alg.id() => "signing".to_string(),
            None => "inactive (other algorithm)".to_string(),
            Some(t) => {
                let until = t + access_ttl(cfg) * 1000;
                if until > now {
                    format!("verifies until {}", protocol::reply::rfc3339_ms(until))
                } else {
                    "expired".to_string()
                }
            }
        };
        out.push_str(&format!(
            "{:<46} {:<17} {:<25} {state}\n",
            k.kid,
            k.alg,
            protocol::reply::rfc3339_ms(k.created_at)
        ));
    }
    Ok(out)
}

/// `keys rotate`.
pub fn keys_rotate(cfg: &Checked) -> Result<String, String> {
    let store = open_store(cfg)?;
    let kid = keys::rotate(
        &store,
        cfg.alg,
        SystemClock.now_ms(),
        access_ttl(cfg),
        false,
    )
    .map_err(|e| e.to_string())?
    .unwrap_or_default();
    Ok(format!("new signing key {kid} ({})\n", cfg.alg.id()))
}

/// `token inspect`: `Ok` with the claims when the token is valid, `Err` with the reason.
pub fn token_inspect(cfg: &Checked, token: &str) -> Result<String, String> {
    let store = open_store(cfg)?;
    let records = store.read(|r| r.keys()).map_err(|e| e.to_string())?;
    let now = SystemClock.now_ms() / 1000;
    // The token's own shape says which signer to try; that signer's key then decides.
    let alg = if token.starts_with("v4.local.") {
        TokenAlg::PasetoV4Local
    } else if token.starts_with("v4.public.") {
        TokenAlg::PasetoV4Public
    } else {
        cfg.alg
    };
    let signer = keys::build(alg, &records, access_ttl(cfg))
        .or_else(|_| keys::build(cfg.alg, &records, access_ttl(cfg)))
        .map_err(|e| format!("refused: {e}"))?;
    let claims = signer
        .verify(token, now)
        .map_err(|e| format!("refused: {e}"))?;
    let pretty = serde_json::to_string_pretty(&claims).unwrap_or_default();
    claims
        .check(&cfg.raw.tokens.issuer, now)
        .map_err(|e| format!("refused: {e}\n{pretty}"))?;
    let family = store
        .read(|r| r.family(&claims.sid))
        .map_err(|e| e.to_string())?;
    let user = store
        .read(|r| r.user(&claims.sub))
        .map_err(|e| e.to_string())?;
    match (family, user) {
        (Some(f), _) if f.revoked.is_some() => Err(format!(
            "refused: its refresh family was revoked ({})\n{pretty}",
            f.revoked.map(|r| r.reason).unwrap_or_default()
        )),
        (None, _) => Err(format!(
            "refused: its refresh family no longer exists\n{pretty}"
        )),
        (_, None) => Err(format!("refused: its user no longer exists\n{pretty}")),
        (_, Some(u)) if u.state != storage::AccountState::Active => {
            Err(format!("refused: the account is {:?}\n{pretty}", u.state))
        }
        _ => Ok(format!("valid ({})\n{pretty}\n", signer.alg().id())),
    }
}

/// `serve`: runs until SIGINT/SIGTERM.
pub fn serve(cfg: Checked) -> Result<(), String> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let store = open_store(&cfg)?;
        let listen = cfg.listen;
        let service = crate::service::Service::new(cfg, store, Arc::new(SystemClock))?;
        let app = Arc::new(crate::server::App::new(service)?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "listening");
        // One line on stdout that scripts (and the tests) can wait for.
        println!("latchkey listening on http://{addr}");
        crate::server::run(app, listener, crate::server::shutdown_signal()).await;
        tracing::info!("store closed, bye");
        Ok(())
    })
}
