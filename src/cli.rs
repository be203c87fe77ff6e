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
use protocol::Secret;
use serde_json::{json, Value};
use storage::{Store, StoreError};

use crate::clock::{Clock as _, SystemClock};
use crate::config::{self, Checked, StoreBackend};
use crate::service::admin::{self, NewAccount, StateChange};
use crate::service::groups;
use crate::service::Service;
use crate::signer::keys;

/// What `latchkey --version` prints: the release, and the commit and day it was built
/// from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BUILT_FROM_COMMIT"),
    ", built ",
    env!("BUILT_ON_DATE"),
    ")"
);

/// latchkey: a single-binary authentication server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version = VERSION, about)]
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
    /// Groups of users (through the admin API while a server runs).
    #[command(subcommand)]
    Group(GroupCmd),
    /// The access rules, as forward-auth and OpenID Connect decide them.
    #[command(subcommand)]
    Access(AccessCmd),
    /// The audit log, oldest first (through the admin API while a server runs).
    Audit {
        /// Only this account's events (id, email or username).
        #[arg(long)]
        user: Option<String>,
        /// Only events of this name (sign_in, user_deleted, ...).
        #[arg(long)]
        event: Option<String>,
        /// Only events at or after this time (RFC 3339: 2026-12-07T10:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Webhooks (through the admin API while a server runs).
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Signing keys (through the admin API while a server runs).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The server key (the file that protects codes and TOTP secrets).
    #[command(subcommand)]
    ServerKey(ServerKeyCmd),
    /// The store as a whole.
    #[command(subcommand)]
    Store(StoreCmd),
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
    /// Ask the server this configuration describes whether it serves: GET /healthz on
    /// its listener (on loopback when it listens on every address); exit 0 when it
    /// answers 200 (for container health checks: the image has no curl).
    Healthcheck {
        /// Ask this `http://host:port` instead of the configured listener.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
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

/// `access` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccessCmd {
    /// What the rules decide for USER at URL (or for USER signing in to an OpenID
    /// Connect client), which rule decided, and why each rule before it did not match.
    /// Exit 0 when allowed, 1 otherwise. The same code as the server's.
    Check {
        /// The user: id, number, email or username.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        /// The URL the user asks for (forward-auth).
        #[arg(long, required_unless_present = "client", conflicts_with = "client")]
        url: Option<String>,
        /// The method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The client's address.
        #[arg(long, default_value = "127.0.0.1")]
        ip: std::net::IpAddr,
        /// Factors of the sign-in: 1, or 2 (a second factor or a passkey).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
        factors: u8,
        /// An OpenID Connect client's id (its allowed_groups and require_mfa).
        #[arg(long)]
        client: Option<String>,
    },
}

/// `webhooks` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhooksCmd {
    /// Each endpoint's URL with its pending and failed messages.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `group` subcommands. NAME: 1 to 64 of a-z, 0-9, _ and - (compared in lower case);
/// USER: a user id, number, email or username.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Every group, with how many members it has.
    List {
        /// Print JSON (the admin API's answer).
        #[arg(long)]
        json: bool,
    },
    /// One group and its members.
    Show {
        /// The group.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a group.
    Create {
        /// The group.
        name: String,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group: every membership of it goes, and every decision sees it at once.
    Delete {
        /// The group.
        name: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Add users to a group (a member already stays one).
    Add {
        /// The group.
        name: String,
        /// The users.
        #[arg(required = true, allow_hyphen_values = true)]
        users: Vec<String>,
    },
    /// Remove users from a group.
    Remove {
        /// The group.
        name: String,
        /// The users.
        #[arg(required = true, allow_hyphen_values = true)]
        users: Vec<String>,
    },
}

/// `user` subcommands. KEY is a user id, number, email or username (prefix with `id:`,
/// `num:`, `email:` or `username:` when it could name several).
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// List users in the order they were made.
    List {
        /// Start after this user number.
        #[arg(long)]
        after: Option<u64>,
        /// At most this many (1..=1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON (the admin API's answer) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one user, with any lockout holding it back.
    Show {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Make an account. The password is asked on the terminal, or read from the first
    /// line of standard input (`--no-password`: it signs in by mailed codes only).
    Create {
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Username.
        #[arg(long)]
        username: Option<String>,
        /// Display name.
        #[arg(long)]
        display_name: Option<String>,
        /// Role (any; oauth.signup_roles bounds only what sign-up may ask).
        #[arg(long, default_value = "user")]
        role: String,
        /// The address is known to be the owner's (otherwise it is proven by the first
        /// mailed code).
        #[arg(long)]
        email_verified: bool,
        /// No password: the account signs in by mailed codes.
        #[arg(long)]
        no_password: bool,
    },
    /// Set a user's password (asked on the terminal, or the first line of standard
    /// input); every session of the account is revoked and its lockout cleared.
    SetPassword {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Set a user's role. Sessions stay; access tokens issued before carry the old role
    /// until they expire.
    SetRole {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// The new role.
        role: String,
    },
    /// Disable sign-in and revoke every session.
    Disable {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Enable a disabled (or unverified) account; clears its lockout.
    Enable {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Block and revoke every session.
    Block {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Unblock; clears its lockout.
    Unblock {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Remove the user's second factor (TOTP and recovery codes), for an owner who lost
    /// both; the account signs in with its first factor and may enrol again.
    ResetMfa {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// List the user's passkeys (id, name, when added and last used).
    Passkeys {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Remove one of the user's passkeys (a lost device), even the last one.
    RemovePasskey {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// The passkey's id, as `user passkeys` shows it.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete the account and revoke every session (asks first, unless --yes).
    Delete {
        /// id, number, email or username
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Bulk-load users with their password hashes, all or nothing. `latchkey` format: JSON
    /// lines, {"id"?,"email","username"?,"display_name"?,"role"?,"email_verified"?,
    /// "disabled"?,"password_hash"?} with a bcrypt, argon2, scrypt, pbkdf2-sha256 or
    /// firebase-scrypt hash; `firebase`: the file of `firebase auth:export`, with the
    /// project's hash parameters. On redb the server must be stopped.
    Import {
        /// The file.
        file: PathBuf,
        /// `latchkey` (JSON lines) or `firebase` (an auth:export file).
        #[arg(long, value_enum, default_value_t = ImportFormat::Latchkey)]
        format: ImportFormat,
        /// Check every user and report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Firebase: the project's base64_signer_key.
        #[arg(long, required_if_eq("format", "firebase"))]
        hash_key: Option<String>,
        /// Firebase: the project's base64_salt_separator.
        #[arg(long, required_if_eq("format", "firebase"))]
        salt_separator: Option<String>,
        /// Firebase: the project's rounds.
        #[arg(long, required_if_eq("format", "firebase"))]
        rounds: Option<u32>,
        /// Firebase: the project's mem_cost.
        #[arg(long, required_if_eq("format", "firebase"))]
        mem_cost: Option<u8>,
    },
}

/// `user import --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// latchkey's JSON lines.
    Latchkey,
    /// A Firebase Auth export (`firebase auth:export users.json`).
    Firebase,
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
        /// The key id (`keys list`; base64url, so it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// `server-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServerKeyCmd {
    /// Replace the server key (the server must be stopped): TOTP secrets are sealed again
    /// under a new key file; pending codes are dropped and recovery codes removed (their
    /// owners make new ones with their authenticator).
    Rotate,
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy the whole configured store into another, empty one: a redb file (a new path)
    /// or a PostgreSQL database (postgres://...), either way. No server may write to the
    /// source meanwhile. The copy works with the same server key file.
    Copy {
        /// postgres://user:password@host/db, or the path of a new redb file.
        #[arg(long, value_name = "URL_OR_PATH")]
        to: String,
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
    ListUsers(Option<u64>, usize),
    /// `user create`
    Create(NewAccount),
    /// `user set-password`
    SetPassword(String, Secret),
    /// `user set-role`
    SetRole(String, String),
    /// `user show`
    ShowUser(String),
    /// `user disable|enable|block|unblock`
    Change(String, StateChange),
    /// `user delete`
    Delete(String),
    /// `user reset-mfa`
    ResetMfa(String),
    /// `user passkeys`
    Passkeys(String),
    /// `user remove-passkey`
    RemovePasskey(String, String),
    /// `group list`
    Groups,
    /// `group show`
    ShowGroup(String),
    /// `group create`
    CreateGroup(String, Option<String>),
    /// `group delete`
    DeleteGroup(String),
    /// `group add` (true) or `group remove` (false), one user
    Member(String, String, bool),
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
    /// `audit`, one page
    Audit(crate::service::audit::AuditArgs),
    /// `webhooks status`
    Webhooks,
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
                    q.push_str(&format!("&after={a}"));
                }
                (Method::GET, format!("/admin/users{q}"), None)
            }
            AdminCall::Create(n) => (
                Method::POST,
                "/admin/users".into(),
                Some(json!({
                    "email": n.email,
                    "username": n.username,
                    "display_name": n.display_name,
                    "password": n.password.as_ref().map(|p| p.0.as_str()),
                    "role": n.role,
                    "email_verified": n.email_verified,
                })),
            ),
            AdminCall::SetPassword(k, p) => (
                Method::POST,
                format!("/admin/users/{}/password", seg(k)),
                Some(json!({"password": p.0})),
            ),
            AdminCall::SetRole(k, r) => (
                Method::POST,
                format!("/admin/users/{}/role", seg(k)),
                Some(json!({"role": r})),
            ),
            AdminCall::ShowUser(k) => (Method::GET, format!("/admin/users/{}", seg(k)), None),
            AdminCall::Change(k, c) => {
                let action = match c {
                    StateChange::Disable => "disable",
                    StateChange::Enable => "enable",
                    StateChange::Block => "block",
                    StateChange::Unblock => "unblock",
                    StateChange::RevokeSessions => "revoke-sessions",
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
            AdminCall::Passkeys(k) => (
                Method::GET,
                format!("/admin/users/{}/passkeys", seg(k)),
                None,
            ),
            AdminCall::RemovePasskey(k, id) => (
                Method::DELETE,
                format!("/admin/users/{}/passkeys/{}", seg(k), seg(id)),
                None,
            ),
            AdminCall::Groups => (Method::GET, "/admin/groups".into(), None),
            AdminCall::Audit(a) => (Method::GET, format!("/admin/audit?{}", a.to_query()), None),
            AdminCall::Webhooks => (Method::GET, "/admin/webhooks".into(), None),
            AdminCall::ShowGroup(n) => (Method::GET, format!("/admin/groups/{}", seg(n)), None),
            AdminCall::CreateGroup(n, d) => (
                Method::POST,
                "/admin/groups".into(),
                Some(json!({"name": n, "description": d})),
            ),
            AdminCall::DeleteGroup(n) => {
                (Method::DELETE, format!("/admin/groups/{}", seg(n)), None)
            }
            AdminCall::Member(n, u, add) => (
                if *add { Method::PUT } else { Method::DELETE },
                format!("/admin/groups/{}/members/{}", seg(n), seg(u)),
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
                | AdminCall::Create(_)
                | AdminCall::SetPassword(..)
                | AdminCall::SetRole(..)
                | AdminCall::Delete(_)
                | AdminCall::ResetMfa(_)
                | AdminCall::RemovePasskey(..)
                | AdminCall::CreateGroup(..)
                | AdminCall::DeleteGroup(_)
                | AdminCall::Member(..)
                | AdminCall::Rotate
                | AdminCall::RevokeKey(_)
        )
    }

    /// Runs the call on the store itself (no server holds it). Reads open it read-only
    /// and change nothing; no call builds a whole service.
    fn direct(&self, store: &Store, cfg: &Checked) -> Result<Value, String> {
        let now = SystemClock.now();
        let reads = admin::Reads::new(store, cfg, now);
        // What the command line changes on a stopped server is recorded as `cli`'s.
        let actx = cfg
            .audit
            .enabled
            .then(|| crate::service::audit::Context::admin("cli", None));
        let a = actx.as_ref();
        let r = match self {
            AdminCall::ListUsers(after, limit) => reads.list_users(*after, *limit),
            // A redb file opened here has no server (lockouts live in a server's memory);
            // a shared store keeps them itself.
            AdminCall::ShowUser(k) => reads.show_user(k).map(|mut v| {
                let id = s(at(&v, "id"));
                if let Some(m) = v.as_object_mut() {
                    m.insert(
                        "lockout".into(),
                        admin::stored_lockout(store, cfg, &id, now),
                    );
                }
                v
            }),
            AdminCall::Create(n) => {
                admin::new_account(cfg, n.clone(), now).and_then(|(mut u, p)| {
                    if let Some(p) = p {
                        u.password_hash = Some(admin::hash_here(cfg, &p)?);
                    }
                    let u = admin::insert_account(store, u, a)?;
                    reads.show_user(&u.id)
                })
            }
            AdminCall::SetPassword(k, p) => admin::password_for(store, cfg, k, p)
                .and_then(|p| admin::hash_here(cfg, &p))
                .and_then(|hash| admin::set_password(store, k, hash, now, a))
                .and_then(|ch| {
                    admin::clear_stored_lockout(store, cfg, &ch.user.id);
                    admin::changed_json(&reads, &ch)
                }),
            AdminCall::SetRole(k, r) => {
                admin::set_role(store, k, r, now, a).and_then(|u| reads.show_user(&u.id))
            }
            AdminCall::Change(k, c) => admin::change_state(store, k, *c, now, a).and_then(|ch| {
                if matches!(c, StateChange::Enable | StateChange::Unblock) {
                    admin::clear_stored_lockout(store, cfg, &ch.user.id);
                }
                admin::changed_json(&reads, &ch)
            }),
            AdminCall::Delete(k) => {
                admin::delete_user(store, k, now, a).map(|(id, _)| json!({"deleted": id}))
            }
            AdminCall::ResetMfa(k) => {
                admin::reset_mfa(store, k, now, a).and_then(|u| reads.show_user(&u.id))
            }
            AdminCall::Passkeys(k) => admin::passkeys_json(store, k),
            AdminCall::RemovePasskey(k, id) => admin::remove_passkey(store, k, id, now, a)
                .map(|user| json!({"removed": id, "user": user})),
            AdminCall::Groups => groups::list(store),
            AdminCall::Audit(q) => {
                crate::service::audit::query(store, q).map_err(admin::AdminError::from)
            }
            AdminCall::Webhooks => crate::webhooks::status(store, &cfg.webhooks),
            AdminCall::ShowGroup(n) => groups::show(store, n),
            AdminCall::CreateGroup(n, d) => groups::create(store, n, d.clone(), now, a),
            AdminCall::DeleteGroup(n) => groups::delete(store, n, now, a),
            AdminCall::Member(n, u, true) => {
                groups::add(store, n, u, now, a).map(|c| json!({"changed": c}))
            }
            AdminCall::Member(n, u, false) => {
                groups::remove(store, n, u, now, a).map(|c| json!({"changed": c}))
            }
            AdminCall::Keys => reads.keys(),
            AdminCall::Rotate => {
                let alg = cfg.tokens.alg;
                let ttl = cfg.tokens.key_window_secs();
                keys::rotate(store, alg, &cfg.id_token_algs(), now, ttl, false)
                    .map(|kid| json!({"kid": kid.unwrap_or_default(), "alg": alg.id()}))
                    .map_err(admin::AdminError::from)
            }
            AdminCall::RevokeKey(kid) => {
                match keys::revoke(store, cfg.tokens.alg, &cfg.id_token_algs(), kid, now) {
                    Ok(true) => Ok(json!({"revoked": kid})),
                    Ok(false) => Err(admin::AdminError::NoSuchKey),
                    Err(e) => Err(admin::AdminError::from(e)),
                }
            }
            AdminCall::Inspect(t) => reads.inspect(t),
            AdminCall::Backup(p) => store
                .backup(p)
                .map(|done| admin::backup_json(p, done))
                .map_err(admin::AdminError::from),
        };
        r.map_err(|e| e.to_string())
    }
}

/// Runs a command other than `serve`; what to print, or the error.
pub fn run(cfg: &Checked, command: &Command) -> Result<String, String> {
    let mut json_out = false;
    let call = match command {
        Command::Healthcheck { url } => return healthcheck(cfg, url.as_deref()),
        Command::Serve | Command::BenchBounds { .. } => {
            return Err("serve and bench-bounds are run by main".into())
        }
        Command::Config(ConfigCmd::Check) => return Ok(config_check(cfg)),
        Command::Backup { file, with_key } => return backup(cfg, file, *with_key),
        Command::ServerKey(ServerKeyCmd::Rotate) => return rotate_server_key(cfg),
        Command::Store(StoreCmd::Copy { to }) => return store_copy(cfg, to),
        Command::User(u) => match u {
            UserCmd::Import {
                file,
                format,
                dry_run,
                hash_key,
                salt_separator,
                rounds,
                mem_cost,
            } => {
                let format = match format {
                    ImportFormat::Latchkey => crate::import::Format::Latchkey,
                    ImportFormat::Firebase => {
                        crate::import::Format::Firebase(crate::import::FirebaseParams {
                            hash_key: hash_key.clone().unwrap_or_default(),
                            salt_separator: salt_separator.clone().unwrap_or_default(),
                            rounds: rounds.unwrap_or(0),
                            mem_cost: mem_cost.unwrap_or(0),
                        })
                    }
                };
                let opts = crate::import::Options {
                    format,
                    dry_run: *dry_run,
                    limits: cfg.password.import_limits.clone(),
                };
                return import(cfg, file, &opts);
            }
            UserCmd::Delete { key, yes } => return delete(cfg, key, *yes),
            UserCmd::List { after, limit, json } => {
                json_out = *json;
                AdminCall::ListUsers(*after, *limit)
            }
            UserCmd::Show { key, json } => {
                json_out = *json;
                AdminCall::ShowUser(key.clone())
            }
            UserCmd::Create {
                email,
                username,
                display_name,
                role,
                email_verified,
                no_password,
            } => AdminCall::Create(NewAccount {
                email: email.clone(),
                username: username.clone(),
                display_name: display_name.clone(),
                password: if *no_password {
                    None
                } else {
                    Some(read_password()?)
                },
                role: Some(role.clone()),
                email_verified: *email_verified,
            }),
            UserCmd::SetPassword { key } => AdminCall::SetPassword(key.clone(), read_password()?),
            UserCmd::SetRole { key, role } => AdminCall::SetRole(key.clone(), role.clone()),
            UserCmd::Disable { key } => AdminCall::Change(key.clone(), StateChange::Disable),
            UserCmd::Enable { key } => AdminCall::Change(key.clone(), StateChange::Enable),
            UserCmd::Block { key } => AdminCall::Change(key.clone(), StateChange::Block),
            UserCmd::Unblock { key } => AdminCall::Change(key.clone(), StateChange::Unblock),
            UserCmd::ResetMfa { key } => AdminCall::ResetMfa(key.clone()),
            UserCmd::Passkeys { key } => AdminCall::Passkeys(key.clone()),
            UserCmd::RemovePasskey { key, id } => AdminCall::RemovePasskey(key.clone(), id.clone()),
        },
        Command::Access(AccessCmd::Check {
            user,
            url,
            method,
            ip,
            factors,
            client,
        }) => {
            let u = admin(cfg, &AdminCall::ShowUser(user.clone()))?;
            return access_check(
                cfg,
                &u,
                url.as_deref(),
                method,
                *ip,
                *factors,
                client.as_deref(),
            );
        }
        Command::Group(g) => match g {
            GroupCmd::List { json } => {
                json_out = *json;
                AdminCall::Groups
            }
            GroupCmd::Show { name, json } => {
                json_out = *json;
                AdminCall::ShowGroup(name.clone())
            }
            GroupCmd::Create { name, description } => {
                AdminCall::CreateGroup(name.clone(), description.clone())
            }
            GroupCmd::Delete { name, yes } => return delete_group(cfg, name, *yes),
            GroupCmd::Add { name, users } => return members(cfg, name, users, true),
            GroupCmd::Remove { name, users } => return members(cfg, name, users, false),
        },
        Command::Audit {
            user,
            event,
            since,
            json,
        } => {
            let args = crate::service::audit::AuditArgs {
                user: user.clone(),
                event: event.clone(),
                since: since.clone(),
                limit: Some(crate::service::audit::MAX_PAGE),
                cursor: None,
            };
            return audit(cfg, args, *json);
        }
        Command::Webhooks(WebhooksCmd::Status { json }) => {
            json_out = *json;
            AdminCall::Webhooks
        }
        Command::Keys(KeysCmd::List) => AdminCall::Keys,
        Command::Keys(KeysCmd::Rotate) => AdminCall::Rotate,
        Command::Keys(KeysCmd::Revoke { kid }) => AdminCall::RevokeKey(kid.clone()),
        Command::Token(TokenCmd::Inspect { token }) => AdminCall::Inspect(token.clone()),
    };
    let v = admin(cfg, &call)?;
    if json_out {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ));
    }
    format(&call, &v)
}

/// `audit`: every page of the query, oldest first: a line per event, or its JSON.
fn audit(
    cfg: &Checked,
    mut args: crate::service::audit::AuditArgs,
    json: bool,
) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let page = admin(cfg, &AdminCall::Audit(args.clone()))?;
        for e in at(&page, "events").as_array().into_iter().flatten() {
            if json {
                out.push_str(&e.to_string());
            } else {
                out.push_str(&format!("{} {:<22}", s(at(e, "at")), s(at(e, "event"))));
                for k in ["user", "actor", "door", "ip"] {
                    if let Some(v) = at(e, k).as_str() {
                        out.push_str(&format!(" {k}={v}"));
                    }
                }
                let detail = at(e, "detail");
                if detail.as_object().is_some_and(|d| !d.is_empty()) {
                    out.push_str(&format!(" {detail}"));
                }
            }
            out.push('\n');
        }
        match at(&page, "next").as_str() {
            Some(next) => args.cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

fn terminal() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdin())
}

/// A new password: asked twice on the terminal (not echoed), or the first line of
/// standard input when it is not a terminal (for scripts).
fn read_password() -> Result<Secret, String> {
    if terminal() {
        let first = rpassword::prompt_password("New password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(Secret(first));
    }
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err("no password on standard input (or use --no-password)".into());
    }
    Ok(Secret(line.to_owned()))
}

/// `user delete KEY [--yes]`: names the user and asks, unless `yes`.
fn delete(cfg: &Checked, key: &str, yes: bool) -> Result<String, String> {
    let user = admin(cfg, &AdminCall::ShowUser(key.to_owned()))?;
    let id = s(at(&user, "id"));
    if !yes {
        if !terminal() {
            return Err("user delete asks first; add --yes to delete without asking".into());
        }
        eprint!(
            "Delete user {id} (email {}, username {})? Every session is revoked; this \
             cannot be undone. [y/N] ",
            s(at(&user, "email")),
            s(at(&user, "username"))
        );
        let mut answer = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer)
            .map_err(|e| e.to_string())?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err("not deleted".into());
        }
    }
    let v = admin(cfg, &AdminCall::Delete(format!("id:{id}")))?;
    Ok(format!("deleted {}\n", s(at(&v, "deleted"))))
}

/// `access check`: the decision for the user `u` (as the admin API shows one), at `url`
/// or at the OpenID Connect client `client`.
fn access_check(
    cfg: &Checked,
    u: &Value,
    url: Option<&str>,
    method: &str,
    ip: std::net::IpAddr,
    factors: u8,
    client: Option<&str>,
) -> Result<String, String> {
    let groups: Vec<String> = at(u, "groups")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    let id = s(at(u, "id"));
    let who = crate::access::Who {
        id: &id,
        email: at(u, "email").as_str(),
        username: at(u, "username").as_str(),
        groups: &groups,
        two_factors: factors == 2,
    };
    if let Some(client) = client {
        let c = cfg
            .oidc_client(client)
            .ok_or_else(|| format!("no OpenID Connect client `{client}` in the configuration"))?;
        let (decision, why) =
            crate::access::oidc_decision(c.allowed_groups.as_deref(), c.require_mfa, &who);
        let line = format!("{} ({why})\n", decision.name());
        return match decision {
            crate::access::Decision::Allow => Ok(line),
            _ => Err(line.trim_end().to_owned()),
        };
    }
    let url = url::Url::parse(url.unwrap_or_default()).map_err(|e| format!("--url: {e}"))?;
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let method = method.to_ascii_uppercase();
    let target = crate::access::Target {
        host: &host,
        path: &path,
        method: &method,
        ip,
    };
    let rules = &cfg.access;
    let v = rules.explain(&target, Some(&who));
    let mut out = match v.rule {
        Some(i) => {
            let domains: Vec<String> = rules.rules.get(i).map_or(Vec::new(), |r| {
                r.domains.iter().map(crate::access::Domain::shown).collect()
            });
            let domain = if domains.is_empty() {
                "any".into()
            } else {
                domains.join(", ")
            };
            format!(
                "{} by rule {} (domain {domain}; policy {})\n",
                v.decision.name(),
                i + 1,
                v.policy.name()
            )
        }
        None => format!(
            "{} by the default policy ({})\n",
            v.decision.name(),
            v.policy.name()
        ),
    };
    for (i, why) in &v.passed {
        out.push_str(&format!(
            "  rule {} did not match: {}\n",
            i + 1,
            why.describe(&target)
        ));
    }
    match v.decision {
        crate::access::Decision::Allow => Ok(out),
        _ => Err(out.trim_end().to_owned()),
    }
}

/// `group delete NAME [--yes]`: names what goes and asks, unless `yes`.
fn delete_group(cfg: &Checked, name: &str, yes: bool) -> Result<String, String> {
    let group = admin(cfg, &AdminCall::ShowGroup(name.to_owned()))?;
    let name = s(at(&group, "name"));
    if !yes {
        if !terminal() {
            return Err("group delete asks first; add --yes to delete without asking".into());
        }
        let n = at(&group, "members").as_array().map_or(0, Vec::len);
        eprint!("Delete group {name} and its {n} membership(s)? [y/N] ");
        let mut answer = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer)
            .map_err(|e| e.to_string())?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err("not deleted".into());
        }
    }
    admin(cfg, &AdminCall::DeleteGroup(name.clone()))?;
    Ok(format!("deleted group {name}\n"))
}

/// `group add|remove NAME USER...`: a line per user; the first failure stops.
fn members(cfg: &Checked, name: &str, users: &[String], add: bool) -> Result<String, String> {
    let mut out = String::new();
    for u in users {
        let v = admin(cfg, &AdminCall::Member(name.to_owned(), u.clone(), add))?;
        let changed = at(&v, "changed").as_bool() != Some(false);
        let what = match (add, changed) {
            (true, true) => "added to",
            (true, false) => "already in",
            (false, true) => "removed from",
            (false, false) => "was not in",
        };
        out.push_str(&format!("{u} {what} {}\n", name.to_ascii_lowercase()));
    }
    Ok(out)
}

/// How a command needs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Writes: a redb store is made or migrated when needed.
    Write,
    /// Reads: a redb store must exist and is changed in nothing.
    Read,
    /// A server: writes, with redb's page cache bounded by `storage.cache_size`.
    Serve,
}

/// Opens the configured store: the redb file, or a connection to the database.
fn open_store(cfg: &Checked, need: Need) -> Result<Store, StoreError> {
    match (&cfg.storage.backend, need) {
        (StoreBackend::Redb, Need::Write) => Store::open(&cfg.storage.path),
        (StoreBackend::Redb, Need::Serve) => {
            Store::open_with_cache(&cfg.storage.path, cfg.storage.cache_bytes)
        }
        (StoreBackend::Redb, Need::Read) => Store::open_existing(&cfg.storage.path),
        (StoreBackend::Postgres { url, pool_size }, _) => Store::connect(url, *pool_size),
    }
}

/// Where the configured store is, for messages.
fn store_name(cfg: &Checked) -> String {
    match &cfg.storage.backend {
        StoreBackend::Redb => cfg.storage.path.display().to_string(),
        StoreBackend::Postgres { .. } => "the database (storage.url)".into(),
    }
}

/// Loads the configuration or explains why not.
pub fn load_config(cli: &Cli) -> Result<Checked, String> {
    config::load(cli.config.as_deref()).map_err(|e| e.to_string())
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
    let url_file = admin_url_file(&cfg.storage.path);
    let written = std::fs::read_to_string(&url_file)
        .ok()
        .map(|s| s.trim().to_owned());
    let Some(token) = &cfg.admin.token else {
        return Err(match written {
            Some(url) => format!(
                "a server holds the store; its admin API is at {url}, but this command's \
                 configuration has no admin.token: set it to the server's (in the file given \
                 by --config, or LATCHKEY_ADMIN__TOKEN)"
            ),
            None => "a server holds the store and its admin API is off: stop the server, or \
                     set admin.token in its configuration (and restart it) and in this \
                     command's configuration (the file given by --config, or \
                     LATCHKEY_ADMIN__TOKEN)"
                .into(),
        });
    };
    let base = written.unwrap_or_else(|| format!("http://{}", cfg.admin.listen));
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
    if status == http::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
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
    let need = if call.writes() {
        Need::Write
    } else {
        Need::Read
    };
    match open_store(cfg, need) {
        Ok(store) => call.direct(&store, cfg),
        Err(StoreError::Locked(_)) => runtime()?.block_on(remote(cfg, call)),
        Err(e @ (StoreError::Missing(_) | StoreError::Outdated(_) | StoreError::TooNew(_))) => {
            Err(e.to_string())
        }
        Err(e) => Err(format!("cannot open {}: {e}", store_name(cfg))),
    }
}

/// `user import`: opens the store directly (a running server must be stopped first).
pub fn import(cfg: &Checked, file: &Path, opts: &crate::import::Options) -> Result<String, String> {
    let store = open_store(cfg, Need::Write).map_err(|e| match e {
        StoreError::Locked(_) => format!("{e}; stop the server to import"),
        e => format!("cannot open {}: {e}", store_name(cfg)),
    })?;
    let summary = crate::import::import(&store, file, opts, &SystemClock)?;
    if opts.dry_run {
        return Ok(summary);
    }
    // Imports write many transactions: give their free pages back.
    store
        .compact()
        .map_err(|e| format!("imported, but compacting {} failed: {e}", store_name(cfg)))?;
    Ok(summary)
}

/// `backup FILE [--with-key]`: through the running server when one holds the store.
pub fn backup(cfg: &Checked, file: &Path, with_key: bool) -> Result<String, String> {
    let file = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut key_copy = file.as_os_str().to_owned();
    key_copy.push(".key");
    let key_copy = PathBuf::from(key_copy);
    // The store's copy is named first: it is what the command is for.
    for taken in std::iter::once(&file).chain(with_key.then_some(&key_copy)) {
        if taken.exists() {
            return Err(format!(
                "{} exists; a backup never overwrites a file (choose a new name)",
                taken.display()
            ));
        }
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

/// `store copy --to`: the configured store into a new redb file or an empty database.
fn store_copy(cfg: &Checked, to: &str) -> Result<String, String> {
    let from = open_store(cfg, Need::Read).map_err(|e| match e {
        StoreError::Locked(_) => format!("{e}; stop the server: a copy needs a source at rest"),
        e => format!("cannot open {}: {e}", store_name(cfg)),
    })?;
    let remote = to.starts_with("postgres://") || to.starts_with("postgresql://");
    let new_file = (!remote).then(|| PathBuf::from(to));
    if let Some(path) = &new_file {
        if path.exists() {
            return Err(format!(
                "{} exists; a copy goes into a new file (or an empty database)",
                path.display()
            ));
        }
    }
    let dest = match &new_file {
        Some(path) => Store::open(path),
        None => Store::connect(to, 4),
    }
    .map_err(|e| format!("cannot open the destination: {e}"))?;
    let shown = dest.describe();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |n: u64| {
        if tty {
            eprint!("\rcopied {n} items");
        }
    };
    let copied = storage::copy(&from, &dest, &mut progress);
    if tty {
        eprintln!();
    }
    drop(dest);
    match copied {
        Ok(c) => Ok(format!(
            "copied {} users, {} refresh families ({} items) to {shown}\n\
             use it with the same server key file ({}): its TOTP secrets and codes are sealed \
             with it\n",
            c.users,
            c.families,
            c.items,
            cfg.storage.key_file.display()
        )),
        Err(e) => {
            if let Some(path) = &new_file {
                // A new file half written is no store: it goes.
                let _ = std::fs::remove_file(path);
                Err(format!("the copy failed, {} removed: {e}", path.display()))
            } else {
                let held = match e {
                    StoreError::CopyMismatch { .. } => {
                        "every item was written, but the copy \
                                                        does not match its source (was the \
                                                        source written to meanwhile?)"
                    }
                    _ => "the database holds what was written before the failure",
                };
                Err(format!(
                    "the copy failed: {e}; {held}: drop its latchkey_* tables (or make a new \
                     database) before trying again, with the server stopped"
                ))
            }
        }
    }
}

/// `server-key rotate`: on the store itself, with no server running.
fn rotate_server_key(cfg: &Checked) -> Result<String, String> {
    let store = open_store(cfg, Need::Read).map_err(|e| match e {
        StoreError::Locked(_) => {
            format!("{e}; stop it first: a server reads the server key when it starts")
        }
        e => e.to_string(),
    })?;
    let done = crate::service::rotate_server_key(&store, &cfg.storage.key_file)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "new server key in {}\n{} TOTP secrets sealed again; recovery codes removed from {} \
         accounts (they make new ones with their authenticator); {} pending codes dropped\n",
        cfg.storage.key_file.display(),
        done.resealed,
        done.recovery_removed,
        done.pending_dropped
    ))
}

/// `config check`.
pub fn config_check(cfg: &Checked) -> String {
    let mut out = cfg.masked_toml();
    for w in &cfg.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    // Groups are data, not configuration: one the rules name that the store does not
    // have is a warning (when the store can be read here), never an error.
    if let Ok(v) = admin(cfg, &AdminCall::Groups) {
        let have: Vec<&str> = at(&v, "groups")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("name").and_then(Value::as_str))
            .collect();
        for (key, name) in cfg.named_groups() {
            if !have.contains(&name.as_str()) {
                out.push_str(&format!(
                    "# warning: {key}: no group `{name}` in the store (yet): it matches nobody\n"
                ));
            }
        }
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
                "{:>6} {:<32} {:<28} {:<20} {:<10} {:<11}\n",
                "num", "id", "email", "username", "role", "state"
            );
            for u in at(v, "users").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{:>6} {:<32} {:<28} {:<20} {:<10} {:<11}\n",
                    s(at(u, "num")),
                    s(at(u, "id")),
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
            if let Some(next) = at(v, "next").as_u64() {
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
        AdminCall::Passkeys(_) => {
            let keys = v.as_array().cloned().unwrap_or_default();
            if keys.is_empty() {
                return Ok("no passkeys\n".into());
            }
            let mut out = String::new();
            for k in &keys {
                out.push_str(&format!(
                    "{}  {}  added {}",
                    s(at(k, "id")),
                    s(at(k, "name")),
                    s(at(k, "created_at"))
                ));
                if let Some(used) = at(k, "last_used_at").as_str() {
                    out.push_str(&format!(", last used {used}"));
                }
                out.push('\n');
            }
            Ok(out)
        }
        AdminCall::RemovePasskey(..) => Ok(format!("removed passkey {}\n", s(at(v, "removed")))),
        AdminCall::Groups => {
            let mut out = format!("{:<24} {:>8}  description\n", "group", "members");
            for g in at(v, "groups").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{:<24} {:>8}  {}\n",
                    s(at(g, "name")),
                    s(at(g, "members")),
                    at(g, "description").as_str().unwrap_or("")
                ));
            }
            Ok(out)
        }
        AdminCall::ShowGroup(_) => {
            let mut out = s(at(v, "name"));
            if let Some(d) = at(v, "description").as_str() {
                out.push_str(&format!(" ({d})"));
            }
            out.push('\n');
            for m in at(v, "members").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  {:<32} {:<28} {}\n",
                    s(at(m, "id")),
                    s(at(m, "email")),
                    s(at(m, "username"))
                ));
            }
            Ok(out)
        }
        AdminCall::CreateGroup(..) => Ok(format!("created group {}\n", s(at(v, "name")))),
        AdminCall::Webhooks => {
            let mut out = String::new();
            for e in at(v, "endpoints").as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{} pending={} failed={}\n",
                    s(at(e, "url")),
                    s(at(e, "pending")),
                    s(at(e, "failed"))
                ));
            }
            if out.is_empty() {
                out.push_str("no webhooks configured\n");
            }
            Ok(out)
        }
        AdminCall::ShowUser(_)
        | AdminCall::Create(_)
        | AdminCall::SetPassword(..)
        | AdminCall::SetRole(..)
        | AdminCall::Change(..)
        | AdminCall::ResetMfa(_) => Ok(user_lines(v)),
        _ => Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(v).unwrap_or_default()
        )),
    }
}

/// `upstream:subject (email)` of each linked identity.
fn identities_line(v: &Value) -> String {
    let list: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| match at(i, "email").as_str() {
            Some(e) => format!("{}:{} ({e})", s(at(i, "upstream")), s(at(i, "subject"))),
            None => format!("{}:{}", s(at(i, "upstream")), s(at(i, "subject"))),
        })
        .collect();
    if list.is_empty() {
        "-".into()
    } else {
        list.join(", ")
    }
}

fn groups_line(v: &Value) -> String {
    let names: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}

/// One user for a person: a line per fact, the state saying what holds it back.
fn user_lines(v: &Value) -> String {
    let mut state = s(at(v, "state"));
    let lockout = at(v, "lockout");
    if !lockout.is_null() {
        let n = at(lockout, "sources_locked").as_u64().unwrap_or(0);
        if n > 0 {
            state.push_str(&format!(
                ", locked out for {n} source(s) until {} (user enable clears it)",
                s(at(lockout, "until"))
            ));
        }
        if let Some(until) = at(lockout, "new_sources_refused_until").as_str() {
            state.push_str(&format!(
                ", closed to new sources after {} failures until {until}",
                s(at(lockout, "recent_failures"))
            ));
        }
    }
    let email = match (at(v, "email").as_str(), at(v, "email_verified").as_bool()) {
        (Some(e), Some(true)) => format!("{e} (proven)"),
        (Some(e), _) => format!("{e} (not proven)"),
        (None, _) => "-".into(),
    };
    let mfa = if at(v, "mfa_enabled").as_bool() == Some(true) {
        "TOTP"
    } else {
        "none"
    };
    let mut out = String::new();
    for (name, value) in [
        ("id", s(at(v, "id"))),
        ("number", s(at(v, "num"))),
        ("email", email),
        ("username", s(at(v, "username"))),
        ("display name", s(at(v, "display_name"))),
        ("role", s(at(v, "role"))),
        ("state", state),
        ("second factor", mfa.into()),
        ("live sessions", s(at(v, "live_families"))),
        ("groups", groups_line(at(v, "groups"))),
        ("linked", identities_line(at(v, "identities"))),
        ("created", s(at(v, "created_at"))),
        ("last sign-in", s(at(v, "last_login_at"))),
    ] {
        out.push_str(&format!("{name:<15} {value}\n"));
    }
    if let Some(n) = at(v, "families_revoked").as_u64() {
        out.push_str(&format!("{:<15} {n}\n", "revoked now"));
    }
    out
}

/// File descriptors a server needs besides its connections: the store, its log, the
/// listeners, the database's connections, the mail server, the hashing threads.
const FDS_BESIDES_CONNECTIONS: u64 = 64;

/// Raises the soft limit of open files to the hard one (a service manager's default soft
/// limit, often 1024, is far below `server.max_connections`), and warns, naming both
/// numbers, when it is still too low for `max_connections` and what the server needs
/// besides: the connections past it would fail to be accepted.
fn raise_open_file_limit(cfg: &Checked) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let before = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    let below_hard = match (before.current, before.maximum) {
        (Some(soft), Some(hard)) => soft < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if below_hard {
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::info!(
                from = before.current.unwrap_or(u64::MAX),
                to = before.maximum.unwrap_or(u64::MAX),
                "raised the open-file limit (RLIMIT_NOFILE) to its hard limit"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
    let limit = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let pool = match &cfg.storage.backend {
        crate::config::StoreBackend::Postgres { pool_size, .. } => *pool_size as u64,
        crate::config::StoreBackend::Redb => 0,
    };
    let needed = (cfg.server.max_connections as u64)
        .saturating_add(FDS_BESIDES_CONNECTIONS)
        .saturating_add(pool);
    if limit < needed {
        tracing::warn!(
            limit,
            needed,
            "the open-file limit ({limit}) is below server.max_connections ({}) + {} for the \
             store and the rest: raise the hard limit (LimitNOFILE= in the systemd unit, \
             ulimit -Hn, --ulimit nofile= for a container) or lower server.max_connections",
            cfg.server.max_connections,
            needed.saturating_sub(cfg.server.max_connections as u64),
        );
    }
}

/// How long a node that started before its database waits between tries, at most.
const DATABASE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// What a listener answers while its node waits for the database: 503, `Retry-After`.
fn not_ready() -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    crate::http::to_response(
        protocol::Reply::json(
            http::StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "starting", "store": "unavailable"}),
        )
        .retry_after(1),
    )
}

/// Opens the store a server serves from, off the reactor (PostgreSQL's connect blocks
/// for up to 5 s).
async fn open_store_off_reactor(cfg: &Checked) -> Result<Store, StoreError> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || open_store(&cfg, Need::Serve))
        .await
        .map_err(|e| StoreError::Setup(format!("opening the store stopped: {e}")))?
}

/// Opens the store of a node whose database did not answer at start: tries again with a
/// growing pause (0.25 s doubling up to [`DATABASE_RETRY_MAX`]), logging the failures
/// ever less often; `Ok(None)` when the node is told to stop first.
async fn wait_for_database(
    cfg: &Checked,
    mut shutdown: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<Option<Store>, StoreError> {
    let mut pause = std::time::Duration::from_millis(250);
    let mut tries: u32 = 1;
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(None),
            () = tokio::time::sleep(pause) => {}
        }
        match open_store_off_reactor(cfg).await {
            Ok(s) => {
                tracing::info!(tries, "the database answers: serving");
                return Ok(Some(s));
            }
            Err(e) if e.is_unavailable() => {
                tries += 1;
                if tries.is_power_of_two() {
                    tracing::warn!(tries, error = %e, "the database still does not answer");
                }
                pause = (pause * 2).min(DATABASE_RETRY_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `serve`: runs until SIGINT/SIGTERM. Composes the public listener, the admin listener
/// (when `admin.token` is set) and the sweeper over one service. A node on PostgreSQL
/// that starts before its database answers serves 503 (`/healthz` too) and tries again
/// with a growing pause (at most [`DATABASE_RETRY_MAX`]), as containers expect.
pub fn serve(cfg: Checked) -> Result<(), String> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    raise_open_file_limit(&cfg);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        // Signals first (a SIGTERM right after the start is not lost), then the listeners:
        // a port that cannot be had leaves no store or key behind.
        let shutdown = crate::http::shutdown_signal();
        tokio::pin!(shutdown);
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
        let opened_msg = |e: StoreError| match e {
            StoreError::Locked(_) | StoreError::Damaged { .. } => format!("{e}"),
            e => format!("cannot open {}: {e}", store_name(&cfg)),
        };
        let postgres = matches!(cfg.storage.backend, StoreBackend::Postgres { .. });
        let first = match open_store_off_reactor(&cfg).await {
            Ok(s) => Some(s),
            Err(e) if postgres && e.is_unavailable() => {
                tracing::warn!(error = %e, "the database does not answer yet: serving 503 and trying again");
                None
            }
            Err(e) => return Err(opened_msg(e)),
        };
        let url_file = admin_url_file(&cfg.storage.path);
        let bounds = crate::http::Bounds {
            header_timeout: cfg.server.header_timeout,
            idle_timeout: cfg.server.idle_timeout,
            max_connections: cfg.server.max_connections,
            per_source: cfg.server.max_connections_per_source,
            exempt: cfg.server.trusted_proxies.clone().into(),
        };
        // What the listeners serve once the store is open; 503 until then.
        let app_cell: Arc<std::sync::OnceLock<Arc<crate::server::App>>> = Arc::default();
        let admin_cell: Arc<std::sync::OnceLock<Arc<crate::admin::Admin>>> = Arc::default();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut announce = Vec::new();
        if let Some(l) = admin_listener {
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            let cell = admin_cell.clone();
            let handler = move |req, peer| {
                let admin = cell.get().cloned();
                async move {
                    match admin {
                        Some(a) => crate::admin::handle(a, req, peer).await,
                        None => Ok(not_ready()),
                    }
                }
            };
            tasks.push(tokio::spawn(crate::http::serve(
                l,
                handler,
                bounds.clone(),
                stop_rx.clone(),
            )));
            announce.push(format!("latchkey admin listening on http://{addr}"));
            write_private(&url_file, &format!("http://{addr}\n"))
                .map_err(|e| format!("{}: {e}", url_file.display()))?;
            tracing::info!(%addr, "admin API listening");
        }
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let cell = app_cell.clone();
        let handler = move |req, peer| {
            let app = cell.get().cloned();
            async move {
                match app {
                    Some(app) => crate::server::handle(app, req, peer).await,
                    None => Ok(not_ready()),
                }
            }
        };
        tasks.push(tokio::spawn(crate::http::serve(
            listener, handler, bounds, stop_rx,
        )));
        tracing::info!(%addr, "listening");
        announce.push(format!("latchkey listening on http://{addr}"));
        // One line per listener on stdout that scripts (and the tests) can wait for: once
        // the node serves, or before it waits for the database.
        let waited = first.is_none();
        if waited {
            for line in &announce {
                println!("{line}");
            }
        }
        // A node whose database did not answer at start waits for it, serving 503.
        let opened = match first {
            Some(s) => Ok(Some(s)),
            None => wait_for_database(&cfg, shutdown.as_mut()).await,
        };
        let built = match opened {
            Ok(Some(store)) => Service::new(cfg, store, Arc::new(SystemClock))
                .map_err(|e| e.to_string())
                .and_then(|service| Ok(Some((crate::server::App::new(service.clone()).map_err(|e| e.to_string())?, service)))),
            Ok(None) => Ok(None),
            Err(e) => Err(opened_msg(e)),
        };
        let (app, service) = match built {
            Ok(Some(b)) => b,
            // Stopped while waiting, or the store cannot serve: the listeners end.
            other => {
                let _ = stop_tx.send(true);
                for t in tasks {
                    let _ = t.await;
                }
                let _ = std::fs::remove_file(&url_file);
                return other.map(|_| ());
            }
        };
        if let Some(admin) = crate::admin::Admin::new(service.clone()) {
            let _ = admin_cell.set(Arc::new(admin));
        }
        let _ = app_cell.set(Arc::new(app));
        if !waited {
            for line in &announce {
                println!("{line}");
            }
        }
        let sweeper = tokio::spawn(sweep_loop(service.clone()));
        let deliverer = match webhook_deliverer(&service) {
            Ok(Some(d)) => Some(tokio::spawn(d.run())),
            Ok(None) => None,
            Err(e) => {
                let _ = stop_tx.send(true);
                return Err(e);
            }
        };
        let watcher = service.clone();
        let stopped_by = tokio::select! {
            () = &mut shutdown => None,
            why = watcher.watch_store() => Some(why),
        };
        if let Some(why) = &stopped_by {
            tracing::error!("{why}");
        }
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        sweeper.abort();
        if let Some(d) = deliverer {
            d.abort();
        }
        let _ = std::fs::remove_file(&url_file);
        tracing::info!("store closed, bye");
        match stopped_by {
            Some(why) => Err(why),
            None => Ok(()),
        }
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

/// The webhook deliverer of this node, with each new endpoint's fan-out started at the
/// end of the audit log; `None` without webhooks.
fn webhook_deliverer(service: &Service) -> Result<Option<crate::webhooks::Deliverer>, String> {
    let cfg = service.config();
    if cfg.webhooks.is_empty() {
        return Ok(None);
    }
    crate::webhooks::start_endpoints(service.store(), &cfg.webhooks)
        .map_err(|e| format!("webhooks: {e}"))?;
    crate::webhooks::Deliverer::new(
        service.store().clone(),
        cfg.webhooks.clone(),
        service.clock(),
        cfg.audit.retention,
        service.audited(),
    )
    .map(Some)
    .map_err(|e| format!("webhooks: {e}"))
}

/// Removes expired refresh families and session codes once a minute.
async fn sweep_loop(service: Service) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match service.sweep().await {
            Ok((f, c)) if f + c > 0 => tracing::info!(
                families_and_spent_tokens = f,
                codes = c,
                "swept expired refresh families, spent refresh tokens and codes"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}

/// `healthcheck`: `GET /healthz` on the configured listener (or `url`), within 5 s.
fn healthcheck(cfg: &Checked, url: Option<&str>) -> Result<String, String> {
    use std::io::{Read as _, Write as _};
    use std::net::ToSocketAddrs as _;
    let mut addr = match url {
        None => cfg.server.listen,
        Some(u) => {
            let host = u
                .strip_prefix("http://")
                .ok_or_else(|| format!("{u}: an http:// URL of the server"))?;
            let host = host.split('/').next().unwrap_or_default();
            host.to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("{u}: not an address and port"))?
        }
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let within = std::time::Duration::from_secs(5);
    let fail = |e: std::io::Error| format!("{addr}: {e}");
    let mut conn = std::net::TcpStream::connect_timeout(&addr, within).map_err(fail)?;
    conn.set_read_timeout(Some(within)).map_err(fail)?;
    conn.set_write_timeout(Some(within)).map_err(fail)?;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(fail)?;
    let mut head = [0u8; 64];
    let n = conn.read(&mut head).map_err(fail)?;
    let status = String::from_utf8_lossy(head.get(..n).unwrap_or_default());
    let line = status.lines().next().unwrap_or_default().to_owned();
    if line.starts_with("HTTP/1.1 200") {
        Ok(format!("{addr}: ok\n"))
    } else {
        Err(format!("{addr}: {line}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key ids are base64url: one in 32 starts with `-` (a flaky test found it), and a
    /// username may too. They are values, not options.
    #[test]
    fn key_ids_and_user_keys_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from(["latchkey", "keys", "revoke", "-SXBz3kL"]).unwrap();
        assert!(
            matches!(cli.command, Command::Keys(KeysCmd::Revoke { ref kid }) if kid == "-SXBz3kL")
        );
        let cli = Cli::try_parse_from(["latchkey", "user", "show", "-ann", "--json"]).unwrap();
        assert!(
            matches!(cli.command, Command::User(UserCmd::Show { ref key, json: true }) if key == "-ann")
        );
    }
}
