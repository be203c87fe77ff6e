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

use crate::clock::SystemClock;
use crate::config::{self, Checked};
use crate::service::admin::StateChange;
use crate::service::Service;

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
    /// `keys list`
    Keys,
    /// `keys rotate`
    Rotate,
    /// `token inspect`
    Inspect(String),
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
            AdminCall::Keys => (Method::GET, "/admin/keys".into(), None),
            AdminCall::Rotate => (Method::POST, "/admin/keys/rotate".into(), None),
            AdminCall::Inspect(t) => (
                Method::POST,
                "/admin/tokens/inspect".into(),
                Some(json!({"token": t})),
            ),
        }
    }

    async fn direct(&self, svc: &Service) -> Result<Value, String> {
        let r = match self {
            AdminCall::ListUsers(after, limit) => svc.admin_list_users(after.as_deref(), *limit),
            AdminCall::ShowUser(k) => svc.admin_show_user(k),
            AdminCall::Change(k, c) => svc.admin_change(k, *c).await,
            AdminCall::Delete(k) => svc.admin_delete(k).await,
            AdminCall::Keys => svc.admin_keys(),
            AdminCall::Rotate => svc.admin_rotate_keys().await,
            AdminCall::Inspect(t) => svc.admin_inspect(t),
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
    let token = &cfg.raw.admin.token;
    if token.is_empty() {
        return Err(
            "a server holds the store and its admin API is off (admin.token is empty); \
                    stop the server or set admin.token"
                .into(),
        );
    }
    let base = std::fs::read_to_string(admin_url_file(&cfg.raw.storage.path))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| format!("http://{}", cfg.admin_listen));
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
    let rt = runtime()?;
    match Store::open(&cfg.raw.storage.path) {
        Ok(store) => rt.block_on(async {
            let svc = Service::new(cfg.clone(), store, Arc::new(SystemClock))?;
            call.direct(&svc).await
        }),
        Err(StoreError::Locked(_)) => rt.block_on(remote(cfg, call)),
        Err(e) => Err(format!(
            "cannot open {}: {e}",
            cfg.raw.storage.path.display()
        )),
    }
}

/// `user import`: opens the store directly (a running server must be stopped first).
pub fn import(cfg: &Checked, file: &Path) -> Result<String, String> {
    let store = Store::open(&cfg.raw.storage.path).map_err(|e| match e {
        StoreError::Locked(_) => format!("{e}; stop the server to import"),
        e => format!("cannot open {}: {e}", cfg.raw.storage.path.display()),
    })?;
    crate::import::import(&store, file)
}

/// `config check`.
pub fn config_check(cfg: &Checked) -> String {
    let mut out = cfg.raw.masked_toml();
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
        let store = Store::open(&cfg.raw.storage.path).map_err(|e| match e {
            StoreError::Locked(_) => format!("{e}"),
            e => format!("cannot open {}: {e}", cfg.raw.storage.path.display()),
        })?;
        let listen = cfg.listen;
        let admin_listen = cfg.admin_listen;
        let url_file = admin_url_file(&cfg.raw.storage.path);
        let service = Service::new(cfg, store, Arc::new(SystemClock))?;
        let admin = match crate::admin::Admin::new(service.clone()) {
            Some(a) => {
                let l = tokio::net::TcpListener::bind(admin_listen)
                    .await
                    .map_err(|e| format!("cannot listen on {admin_listen} (admin.listen): {e}"))?;
                let addr = l.local_addr().map_err(|e| e.to_string())?;
                std::fs::write(&url_file, format!("http://{addr}\n"))
                    .map_err(|e| format!("{}: {e}", url_file.display()))?;
                tracing::info!(%addr, "admin API listening");
                println!("latchkey admin listening on http://{addr}");
                Some((l, a))
            }
            None => None,
        };
        let app = Arc::new(crate::server::App::new(service)?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen} (server.listen): {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "listening");
        // One line on stdout that scripts (and the tests) can wait for.
        println!("latchkey listening on http://{addr}");
        crate::server::run(app, listener, admin, crate::server::shutdown_signal()).await;
        let _ = std::fs::remove_file(&url_file);
        tracing::info!("store closed, bye");
        Ok(())
    })
}
