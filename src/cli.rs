//! The command line: `serve`, `config check`, `user ...`, `keys ...`, `token inspect`.
//!
//! The user, keys and token commands run the service's admin operations. When no server
//! holds the store they open it directly; when a server does, they go through its admin
//! API (address from `<storage.path>.admin-url`, written by the server, or `admin.listen`;
//! bearer `admin.token`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::Method;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use storage::{Store, StoreError};

use crate::clock::{Clock as _, SystemClock};
use crate::config::{self, Checked};
use crate::service::admin::{self, StateChange};
use crate::service::Service;
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
    /// Users (through the admin API while a server runs).
    #[command(subcommand)]
    User(UserCmd),
    /// Signing keys (through the admin API while a server runs).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Write a consistent copy of the store to FILE (a new file), while a server serves
    /// or not; restore by putting it (and the key) where storage.path (and the key file)
    /// point, with no server running.
    Backup {
        /// The new file (never overwritten).
        file: PathBuf,
        /// Copy the server key file too, to FILE.key (without it, TOTP secrets in the
        /// backup cannot be used by another server key).
        #[arg(long)]
        with_key: bool,
    },
    /// Measure the hashing and verification bounds of this machine (for bench/run.sh).
    #[command(hide = true)]
    BenchBounds {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the effective configuration (secrets masked), or the error.
    Check,
}

/// `user` subcommands. KEY is a user id, integer id, email or username.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// List users.
    List {
        /// Start after this user id.
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1..=1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one user.
    Show {
        /// id, integer id, email or username
        key: String,
    },
    /// Disable sign-in and revoke every session.
    Disable {
        /// id, integer id, email or username
        key: String,
    },
    /// Enable a disabled (or unverified) account.
    Enable {
        /// id, integer id, email or username
        key: String,
    },
    /// Block and revoke every session.
    Block {
        /// id, integer id, email or username
        key: String,
    },
    /// Unblock.
    Unblock {
        /// id, integer id, email or username
        key: String,
    },
    /// Remove the user's second factor (TOTP and recovery codes), for an owner who lost
    /// both; the account signs in with its first factor and may enrol again.
    ResetMfa {
        /// id, integer id, email or username
        key: String,
    },
    /// Delete the account and revoke every session.
    Delete {
        /// id, integer id, email or username
        key: String,
    },
    /// Bulk-load users from JSON lines ({"email","username","display_name",
    /// "password_hash","role"}); the server must be stopped.
    Import {
        /// The JSON-lines file.
        file: PathBuf,
    },
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List the signing keys and their state.
    List,
    /// Make a new signing key; the old ones verify until their last token expires.
    Rotate,
    /// Remove a signing key at once (a leaked key): every token it signed stops
    /// verifying, the key sets drop it; a new key signs if it was the signing one.
    Revoke {
        /// The key id (`keys list`).
        kid: String,
    },
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

/// One administrative call, runnable against the store or a running server.
#[derive(Debug, Clone)]
pub enum AdminCall {
    /// `user list`
    ListUsers(Option<String>, usize),
    /// `user show`
    ShowUser(String),
    /// `user disable|enable|block|unblock`
    Change(String, StateChange),
    /// `user delete`
    Delete(String),
    /// `user reset-mfa`
    ResetMfa(String),
    /// `keys list`
    Keys,
    /// `keys rotate`
    Rotate,
    /// `keys revoke`
    RevokeKey(String),
    /// `token inspect`
    Inspect(String),
    /// `backup` (an absolute path)
    Backup(PathBuf),
}

fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl AdminCall {
    fn http(&self) -> (Method, String, Option<Value>) {
        match self {
            AdminCall::ListUsers(after, limit) => {
                let mut q = format!("?limit={limit}");
                if let Some(a) = after {
                    q.push_str(&format!("&after={}", seg(a)));
                }
                (Method::GET, format!("/admin/users{q}"), None)
            }
            AdminCall::ShowUser(k) => (Method::GET, format!("/admin/users/{}", seg(k)), None),
            AdminCall::Change(k, c) => {
                let action = match c {
                    StateChange::Disable => "disable",
                    StateChange::Enable => "enable",
                    StateChange::Block => "block",
                    StateChange::Unblock => "unblock",
                };
                (
                    Method::POST,
                    format!("/admin/users/{}/{action}", seg(k)),
                    None,
                )
            }
            AdminCall::Delete(k) => (Method::DELETE, format!("/admin/users/{}", seg(k)), None),
            AdminCall::ResetMfa(k) => (
                Method::POST,
                format!("/admin/users/{}/reset-mfa", seg(k)),
                None,
            ),
            AdminCall::Keys => (Method::GET, "/admin/keys".into(), None),
            AdminCall::Rotate => (Method::POST, "/admin/keys/rotate".into(), None),
            AdminCall::RevokeKey(kid) => (
                Method::POST,
                format!("/admin/keys/{}/revoke", seg(kid)),
                None,
            ),
            AdminCall::Inspect(t) => (
                Method::POST,
                "/admin/tokens/inspect".into(),
                Some(json!({"token": t})),
            ),
            AdminCall::Backup(p) => (
                Method::POST,
                "/admin/backup".into(),
                Some(json!({"path": p.display().to_string()})),
            ),
        }
    }

    fn writes(&self) -> bool {
        matches!(
            self,
            AdminCall::Change(..)
                | AdminCall::Delete(_)
                | AdminCall::ResetMfa(_)
                | AdminCall::Rotate
                | AdminCall::RevokeKey(_)
        )
    }

    /// Runs the call on the store itself (no server holds it). Reads open it read-only
    /// and change nothing; no call builds a whole service.
    fn direct(&self, store: &Store, cfg: &Checked) -> Result<Value, String> {
        let now = SystemClock.now_ms();
        let reads = admin::Reads::new(store, cfg, now);
        let r = match self {
            AdminCall::ListUsers(after, limit) => reads.list_users(after.as_deref(), *limit),
            AdminCall::ShowUser(k) => reads.show_user(k),
            AdminCall::Change(k, c) => admin::change_state(store, k, *c, now)
                .and_then(|ch| admin::changed_json(&reads, &ch)),
            AdminCall::Delete(k) => {
                admin::delete_user(store, k, now).map(|(id, _)| json!({"deleted": id}))
            }
            AdminCall::ResetMfa(k) => {
                admin::reset_mfa(store, k, now).and_then(|u| reads.show_user(&u.id))
            }
            AdminCall::Keys => reads.keys(),
            AdminCall::Rotate => {
                let alg = cfg.tokens.alg;
                let ttl = crate::service::secs_i64(cfg.tokens.access_ttl);
                keys::rotate(store, alg, now, ttl, false)
                    .map(|kid| json!({"kid": kid.unwrap_or_default(), "alg": alg.id()}))
                    .map_err(admin::AdminError::from)
            }
            AdminCall::RevokeKey(kid) => match keys::revoke(store, cfg.tokens.alg, kid, now) {
                Ok(true) => Ok(json!({"revoked": kid})),
                Ok(false) => Err(admin::AdminError::NoSuchKey),
                Err(e) => Err(admin::AdminError::from(e)),
            },
            AdminCall::Inspect(t) => reads.inspect(t),
            AdminCall::Backup(p) => store
                .backup(p)
                .map(|done| admin::backup_json(p, done))
                .map_err(admin::AdminError::from),
        };
        r.map_err(|e| e.to_string())
    }
}

/// Loads the configuration or explains why not.
pub fn load_config(cli: &Cli) -> Result<Checked, String> {
    config::load(cli.config.as_deref())
}

/// Where a running server writes the address of its admin listener.
pub fn admin_url_file(store_path: &Path) -> PathBuf {
    let mut p = store_path.as_os_str().to_owned();
    p.push(".admin-url");
    PathBuf::from(p)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

async fn remote(cfg: &Checked, call: &AdminCall) -> Result<Value, String> {
    let Some(token) = &cfg.admin.token else {
        return Err(
            "a server holds the store and its admin API is off (admin.token is empty); \
                    stop the server or set admin.token"
                .into(),
        );
    };
    let base = std::fs::read_to_string(admin_url_file(&cfg.storage.path))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| format!("http://{}", cfg.admin.listen));
    let (method, path, body) = call.http();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .map_err(|e| e.to_string())?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("admin API at {base}: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| format!("admin API answered {status}"))?;
    if status.is_success() {
        Ok(v)
    } else {
        Err(format!(
            "{} ({status})",
            at(&v, "message").as_str().unwrap_or("admin API error")
        ))
    }
}

/// Runs an administrative call: directly on the store when it is free, else through the
/// running server's admin API.
pub fn admin(cfg: &Checked, call: &AdminCall) -> Result<Value, String> {
    let path = &cfg.storage.path;
    let opened = if call.writes() {
        Store::open(path)
    } else {
        Store::open_existing(path)
    };
    match opened {
        Ok(store) => call.direct(&store, cfg),
        Err(StoreError::Locked(_)) => runtime()?.block_on(remote(cfg, call)),
        Err(e @ (StoreError::Missing(_) | StoreError::Outdated(_) | StoreError::TooNew(_))) => {
            Err(e.to_string())
        }
        Err(e) => Err(format!("cannot open {}: {e}", path.display())),
    }
}

/// `user import`: opens the store directly (a running server must be stopped first).
pub fn import(cfg: &Checked, file: &Path) -> Result<String, String> {
    let store = Store::open(&cfg.storage.path).map_err(|e| match e {
        StoreError::Locked(_) => format!("{e}; stop the server to import"),
        e => format!("cannot open {}: {e}", cfg.storage.path.display()),
    })?;
    crate::import::import(&store, file, &SystemClock)
}

/// `backup FILE [--with-key]`: through the running server when one holds the store.
pub fn backup(cfg: &Checked, file: &Path, with_key: bool) -> Result<String, String> {
    let file = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut key_copy = file.as_os_str().to_owned();
    key_copy.push(".key");
    let key_copy = PathBuf::from(key_copy);
    if with_key && key_copy.exists() {
        return Err(format!(
            "{} exists; a backup never overwrites a file (choose a new name)",
            key_copy.display()
        ));
    }
    let call = AdminCall::Backup(file.clone());
    let v = admin(cfg, &call)?;
    let mut out = format!(
        "backup {}: {} users, {} bytes\n",
        file.display(),
        s(at(&v, "users")),
        s(at(&v, "bytes"))
    );
    if with_key {
        let key = std::fs::read_to_string(&cfg.storage.key_file)
            .map_err(|e| format!("the server key {}: {e}", cfg.storage.key_file.display()))?;
        new_private(&key_copy, &key).map_err(|e| format!("{}: {e}", key_copy.display()))?;
        out.push_str(&format!("server key {}\n", key_copy.display()));
    }
    Ok(out)
}

/// `config check`.
pub fn config_check(cfg: &Checked) -> String {
    let mut out = cfg.masked_toml();
    for w in &cfg.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    out
}

/// A member of a JSON object, `Null` when absent (indexing without a panic path).
fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(key).unwrap_or(&NULL)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Prints the answer of `call` for a person.
pub fn format(call: &AdminCall, v: &Value) -> Result<String, String> {
    match call {
        AdminCall::Keys => {
            let mut out = format!(
                "{:<46} {:<17} {:<25} state\n",
                "kid", "algorithm", "created"
            );
            for k in at(v, "keys").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{:<46} {:<17} {:<25} {}\n",
                    s(at(k, "kid")),
                    s(at(k, "alg")),
                    s(at(k, "created_at")),
                    s(at(k, "state"))
                ));
            }
            Ok(out)
        }
        AdminCall::Rotate => Ok(format!(
            "new signing key {} ({})\n",
            s(at(v, "kid")),
            s(at(v, "alg"))
        )),
        AdminCall::ListUsers(..) => {
            let mut out = format!(
                "{:<33} {:>6} {:<28} {:<20} {:<10} {:<11}\n",
                "id", "num", "email", "username", "role", "state"
            );
            for u in at(v, "users").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{:<33} {:>6} {:<28} {:<20} {:<10} {:<11}\n",
                    s(at(u, "id")),
                    s(at(u, "num")),
                    s(at(u, "email")),
                    s(at(u, "username")),
                    s(at(u, "role")),
                    s(at(u, "state"))
                ));
            }
            out.push_str(&format!(
                "{} of {} users",
                at(v, "users").as_array().map_or(0, Vec::len),
                s(at(v, "total"))
            ));
            if let Some(next) = at(v, "next").as_str() {
                out.push_str(&format!("; more with --after {next}"));
            }
            out.push('\n');
            Ok(out)
        }
        AdminCall::Inspect(_) => {
            let claims = serde_json::to_string_pretty(at(v, "claims")).unwrap_or_default();
            if at(v, "valid") == &json!(true) {
                Ok(format!("valid ({})\n{claims}\n", s(at(v, "alg"))))
            } else if at(v, "claims").is_null() {
                Err(format!("refused: {}", s(at(v, "reason"))))
            } else {
                Err(format!("refused: {}\n{claims}", s(at(v, "reason"))))
            }
        }
        _ => Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(v).unwrap_or_default()
        )),
    }
}

/// `serve`: runs until SIGINT/SIGTERM. Composes the public listener, the admin listener
/// (when `admin.token` is set) and the sweeper over one service.
pub fn serve(cfg: Checked) -> Result<(), String> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        // Signals first (a SIGTERM right after the start is not lost), then the listeners:
        // a port that cannot be had leaves no store or key behind.
        let shutdown = crate::http::shutdown_signal();
        let listen = cfg.server.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen} (server.listen): {e}"))?;
        let admin_listener = match &cfg.admin.token {
            Some(_) => {
                let at = cfg.admin.listen;
                Some(
                    tokio::net::TcpListener::bind(at)
                        .await
                        .map_err(|e| format!("cannot listen on {at} (admin.listen): {e}"))?,
                )
            }
            None => None,
        };
        let store = Store::open(&cfg.storage.path).map_err(|e| match e {
            StoreError::Locked(_) | StoreError::Damaged { .. } => format!("{e}"),
            e => format!("cannot open {}: {e}", cfg.storage.path.display()),
        })?;
        let url_file = admin_url_file(&cfg.storage.path);
        let bounds = crate::http::Bounds {
            header_timeout: cfg.server.header_timeout,
            idle_timeout: cfg.server.idle_timeout,
            max_connections: cfg.server.max_connections,
        };
        let service = Service::new(cfg, store, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        if let (Some(l), Some(admin)) = (admin_listener, crate::admin::Admin::new(service.clone()))
        {
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            write_private(&url_file, &format!("http://{addr}\n"))
                .map_err(|e| format!("{}: {e}", url_file.display()))?;
            tracing::info!(%addr, "admin API listening");
            println!("latchkey admin listening on http://{addr}");
            let admin = Arc::new(admin);
            let handler = move |req, peer| crate::admin::handle(admin.clone(), req, peer);
            tasks.push(tokio::spawn(crate::http::serve(
                l,
                handler,
                bounds,
                stop_rx.clone(),
            )));
        }
        let app = Arc::new(crate::server::App::new(service.clone())?);
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "listening");
        // One line on stdout that scripts (and the tests) can wait for.
        println!("latchkey listening on http://{addr}");
        let handler = move |req, peer| crate::server::handle(app.clone(), req, peer);
        tasks.push(tokio::spawn(crate::http::serve(
            listener, handler, bounds, stop_rx,
        )));
        let sweeper = tokio::spawn(sweep_loop(service));
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        sweeper.abort();
        let _ = std::fs::remove_file(&url_file);
        tracing::info!("store closed, bye");
        Ok(())
    })
}

/// Writes `text` to a new file (never an existing one) only its owner can read.
fn new_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Writes `text` to `path`, readable by its owner only (mode 0600), replacing it.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        o.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Removes expired refresh families and session codes once a minute.
async fn sweep_loop(service: Service) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match service.sweep().await {
            Ok((f, c)) if f + c > 0 => tracing::info!(
                families = f,
                codes = c,
                "swept expired refresh families and session codes"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}
