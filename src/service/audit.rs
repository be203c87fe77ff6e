//! The audit log in the store (API.md Part 3, "Events"): what each [`Event`] of a plan
//! records, written by `Service::write` in the plan's own transaction (so an event is
//! never recorded for a change that did not happen, nor lost for one that did), and the
//! reads of the log (the admin API, `latchkey audit`, the account page).
//!
//! The admin functions that run on the store without a service (the command line on a
//! stopped server) record through [`record`] with their own [`Context`].

use std::net::IpAddr;

use serde_json::{json, Map, Value};
use storage::{AuditQuery, AuditRecord, Records, Store, StoreError, UserRecord, Write};

use super::events::Event;
use super::policy::{PASSKEY_AMR, UPSTREAM_AMR};
use crate::clock::UnixMillis;

/// Who acts, through which door, from where: what the audit events of a call say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The door (`oauth`, `toolkit`, `v0`, `session`, `portal`, `oidc`, `admin`).
    pub door: Option<&'static str>,
    /// The client's address (after `trusted_proxies`).
    pub ip: Option<IpAddr>,
    /// Who acts for someone else (`admin-api`, `cli`, an admin's user id); `None`: the
    /// account acts itself.
    pub actor: Option<String>,
}

impl Context {
    /// A call through `door` from `ip`.
    pub fn at(door: &'static str, ip: IpAddr) -> Context {
        Context {
            door: Some(door),
            ip: Some(ip),
            actor: None,
        }
    }

    /// An administrator's call: door `admin`, actor `actor`.
    pub fn admin(actor: &str, ip: Option<IpAddr>) -> Context {
        Context {
            door: Some("admin"),
            ip,
            actor: Some(actor.to_owned()),
        }
    }
}

/// One audit event about to be written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub event: &'static str,
    pub user: Option<String>,
    /// A door the event names itself (a passkey's or an upstream's sign-in).
    pub door: Option<&'static str>,
    pub detail: Value,
}

fn entry(event: &'static str, user: Option<&str>, detail: Value) -> Entry {
    Entry {
        event,
        user: user.map(str::to_owned),
        door: None,
        detail,
    }
}

/// The door a sign-in's method names, when it is a door of its own.
fn door_of(method: &str) -> Option<&'static str> {
    match method {
        PASSKEY_AMR => Some("passkey"),
        UPSTREAM_AMR => Some("upstream"),
        _ => None,
    }
}

/// What `e` records in the audit log (most events record one entry; some none).
pub(crate) fn entries(e: &Event) -> Vec<Entry> {
    let one = |x: Entry| vec![x];
    match e {
        Event::SignedIn { user, method, mfa } => one(Entry {
            door: door_of(method),
            ..entry("sign_in", Some(user), json!({"method": method, "mfa": mfa}))
        }),
        Event::SignInFailed { method } => one(Entry {
            door: door_of(method),
            ..entry("sign_in_failed", None, json!({"method": method}))
        }),
        Event::SecondFactorFailed { user, method } => one(entry(
            "sign_in_failed",
            user.as_deref(),
            json!({"method": method, "second_factor": true}),
        )),
        Event::SessionEnded {
            cause,
            family,
            user,
            client,
        } => {
            let name = match *cause {
                "reuse" | "code_reuse" => "family_revoked",
                _ => "sign_out",
            };
            one(entry(
                name,
                user.as_deref(),
                json!({"cause": cause, "session": family, "client": client}),
            ))
        }
        Event::SignedOut { user, sessions } => {
            one(entry("sign_out", Some(user), json!({"sessions": sessions})))
        }
        Event::EmailClaimed { user, by } => {
            one(entry("account_cleaned", Some(user), json!({"by": by})))
        }
        Event::EmailChanged { user, had_address } => one(entry(
            "email_changed",
            Some(user),
            json!({"had_address": had_address}),
        )),
        Event::EmailVerified { user } => one(entry("email_proven", Some(user), json!({}))),
        Event::PasswordReset { user, revoked } => one(entry(
            "password_reset",
            Some(user),
            json!({"sessions_ended": revoked}),
        )),
        Event::SecondFactorChanged { user, change } => match *change {
            "mfa_enabled" => one(entry("mfa_enabled", Some(user), json!({}))),
            "mfa_disabled" => one(entry("mfa_disabled", Some(user), json!({}))),
            _ => Vec::new(),
        },
        Event::PasswordChanged { user, revoked } => one(entry(
            "password_changed",
            Some(user),
            json!({"sessions_ended": revoked}),
        )),
        Event::PasskeyAdded { user, passkey } => one(entry(
            "passkey_added",
            Some(user),
            json!({"passkey": passkey}),
        )),
        Event::PasskeyRemoved { user } => one(entry("passkey_removed", Some(user), json!({}))),
        Event::AccountDeleted { user } => one(entry("user_deleted", Some(user), json!({}))),
        Event::UserCreated { user, how } => {
            one(entry("user_created", Some(user), json!({"how": how})))
        }
        Event::UpstreamLinked {
            user,
            upstream,
            how,
        } => one(Entry {
            door: Some("upstream"),
            ..entry(
                "upstream_linked",
                Some(user),
                json!({"upstream": upstream, "how": how}),
            )
        }),
        Event::UpstreamUnlinked { user, upstream } => one(entry(
            "upstream_unlinked",
            Some(user),
            json!({"upstream": upstream}),
        )),
        Event::UpstreamFailed { upstream, reason } => one(Entry {
            door: Some("upstream"),
            ..entry(
                "sign_in_failed",
                None,
                json!({"method": UPSTREAM_AMR, "upstream": upstream, "reason": reason}),
            )
        }),
        Event::AccessDenied { user, host, rule } => one(entry(
            "access_denied",
            Some(user),
            json!({"host": host, "rule": rule}),
        )),
        Event::LockedOut
        | Event::Revoked { .. }
        | Event::PortalSignedIn { .. }
        | Event::OidcGranted { .. }
        | Event::OidcRefused { .. }
        | Event::Rotated
        | Event::PasswordChangeFailed { .. } => Vec::new(),
    }
}

/// Writes `entries` in the caller's transaction, as `ctx` says who acted and from where.
pub(crate) fn write_entries(
    w: &mut dyn Write,
    ctx: &Context,
    entries: Vec<Entry>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    for e in entries {
        let user = match &e.user {
            Some(id) => w.user(id)?,
            None => None,
        };
        append(w, ctx, e, user.as_ref(), now)?;
    }
    Ok(())
}

fn append(
    w: &mut dyn Write,
    ctx: &Context,
    e: Entry,
    user: Option<&UserRecord>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let rec = AuditRecord {
        id: 0,
        at: now,
        event: e.event.to_owned(),
        actor: ctx.actor.clone().or_else(|| e.user.clone()),
        user: e.user,
        door: e.door.or(ctx.door).map(str::to_owned),
        ip: ctx.ip.map(|i| i.to_string()),
        detail: e.detail.to_string(),
        email: user.and_then(|u| u.email.clone()),
        username: user.and_then(|u| u.username.clone()),
    };
    storage::append_audit(w, rec).map(|_| ())
}

/// Records `event` about `user` in the caller's transaction (the admin functions, which
/// run with or without a service): `ctx` names the actor; `None`: the audit log is off.
pub fn record(
    w: &mut dyn Write,
    ctx: Option<&Context>,
    event: &'static str,
    user: Option<&UserRecord>,
    detail: Value,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let Some(ctx) = ctx else { return Ok(()) };
    let e = entry(event, user.map(|u| u.id.as_str()), detail);
    append(w, ctx, e, user, now)
}

/// An event as the admin API and `latchkey audit --json` show it.
pub fn json_of(e: &AuditRecord) -> Value {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or_else(|_| json!({}));
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id.to_string()));
    m.insert("at".into(), json!(crate::clock::rfc3339(e.at)));
    m.insert("event".into(), json!(e.event));
    for (k, v) in [
        ("user", &e.user),
        ("actor", &e.actor),
        ("door", &e.door),
        ("ip", &e.ip),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("detail".into(), detail);
    Value::Object(m)
}

/// At most `limit` events of `q`, oldest first, and the cursor after them (when the
/// page is full: more may follow).
pub fn page<R: Records + ?Sized>(
    r: &R,
    q: &AuditQuery<'_>,
    limit: usize,
) -> Result<Value, StoreError> {
    let events = storage::audit_page(r, q, limit)?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(json!({
        "events": events.iter().map(json_of).collect::<Vec<_>>(),
        "next": next,
    }))
}

/// Removes events older than `retention` (at most `limit`); how many.
pub fn prune(
    w: &mut dyn Write,
    now: UnixMillis,
    retention: std::time::Duration,
    limit: usize,
) -> Result<usize, StoreError> {
    storage::prune_audit(w, now - retention, limit)
}

/// An audit query as the admin API (`GET /admin/audit?...`) and `latchkey audit` ask it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditArgs {
    /// An account: its id, email or username (a deleted account's id still finds its
    /// events).
    pub user: Option<String>,
    /// An event name.
    pub event: Option<String>,
    /// RFC 3339: only events at or after.
    pub since: Option<String>,
    /// At most this many (1 to 1000; default 100).
    pub limit: Option<usize>,
    /// Continue after this event id (the `next` of the page before).
    pub cursor: Option<String>,
}

/// Why an audit query was refused.
#[derive(Debug)]
pub enum QueryError {
    /// A malformed argument (which, and what it should be).
    BadRequest(String),
    /// No such account.
    NotFound,
    /// The key names several accounts.
    Ambiguous,
    /// The store failed.
    Store(StoreError),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::BadRequest(why) => f.write_str(why),
            QueryError::NotFound => f.write_str("no such user"),
            QueryError::Ambiguous => f.write_str("the key names several users"),
            QueryError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueryError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for QueryError {
    fn from(e: StoreError) -> Self {
        QueryError::Store(e)
    }
}

/// The most events one page holds.
pub const MAX_PAGE: usize = 1000;

impl AuditArgs {
    /// The arguments of a query string.
    pub fn from_query(q: &str) -> Result<AuditArgs, QueryError> {
        let mut a = AuditArgs::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            let v = Some(v.into_owned()).filter(|v| !v.is_empty());
            match k.as_ref() {
                "user" => a.user = v,
                "event" => a.event = v,
                "since" => a.since = v,
                "cursor" => a.cursor = v,
                "limit" => {
                    a.limit = match v.map(|n| n.parse::<usize>()) {
                        None => None,
                        Some(Ok(n)) => Some(n),
                        Some(Err(_)) => {
                            return Err(QueryError::BadRequest("limit is a number".into()))
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(a)
    }

    /// As a query string (the command line asks the admin API so).
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("user", &self.user),
            ("event", &self.event),
            ("since", &self.since),
            ("cursor", &self.cursor),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(l) = self.limit {
            q.append_pair("limit", &l.to_string());
        }
        q.finish()
    }
}

/// A page of the audit log (`{"events": [...], "next": cursor | null}`), oldest first.
pub fn query(store: &Store, a: &AuditArgs) -> Result<Value, QueryError> {
    let limit = a.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(QueryError::BadRequest(format!("limit is 1 to {MAX_PAGE}")));
    }
    let after = match &a.cursor {
        None => 0,
        Some(c) => c
            .parse::<u64>()
            .map_err(|_| QueryError::BadRequest("cursor is the `next` of a page".into()))?,
    };
    let since = match &a.since {
        None => None,
        Some(s) => Some(crate::clock::parse_rfc3339(s).ok_or_else(|| {
            QueryError::BadRequest("since is an RFC 3339 time (2026-12-07T10:00:00Z)".into())
        })?),
    };
    store.read(|r| {
        let user = match &a.user {
            None => None,
            Some(k) => match r.find_user(k)? {
                storage::Found::One(u) => Some(u.id),
                // A deleted account's id still names its events.
                storage::Found::None if k.len() == 32 => Some(k.clone()),
                storage::Found::None => return Err(QueryError::NotFound),
                storage::Found::Several(_) => return Err(QueryError::Ambiguous),
            },
        };
        let q = AuditQuery {
            user: user.as_deref(),
            event: a.event.as_deref(),
            since,
            after,
        };
        Ok(page(r, &q, limit)?)
    })
}

/// A sign-in, as the account page lists its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInView {
    /// When.
    pub at: UnixMillis,
    /// Through which door.
    pub door: Option<String>,
    /// From which address.
    pub ip: Option<String>,
}

impl super::Service {
    /// Writes the audit entries of `events` that no plan made (refusals before any
    /// write) in a write of their own, in the background: the answer does not wait.
    pub(crate) fn audit_in_background(&self, events: &[Event]) {
        if !self.config().audit.enabled {
            return;
        }
        let entries: Vec<Entry> = events.iter().flat_map(entries).collect();
        if entries.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            let now = this.now();
            let ctx = this.context().clone();
            let job: storage::Job = Box::new(move |w| {
                write_entries(w, &ctx, entries.clone(), now)
                    .map_err(|e| storage::Abort::from(super::Abort::from(e)))
            });
            match this.store().commit(job).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = ?e, "an audit event could not be written"),
                Err(e) => tracing::warn!(error = ?e, "an audit event could not be written"),
            }
        });
    }

    /// The account's last `n` events, newest first, as the admin pages show them.
    pub fn recent_events(&self, user_id: &str, n: usize) -> Vec<Value> {
        self.store()
            .read(|r| storage::recent_audit(r, user_id, None, n))
            .unwrap_or_default()
            .iter()
            .map(json_of)
            .collect()
    }

    /// The account's last `n` sign-ins, newest first.
    pub fn recent_sign_ins(&self, user_id: &str, n: usize) -> Vec<SignInView> {
        self.store()
            .read(|r| storage::recent_audit(r, user_id, Some("sign_in"), n))
            .unwrap_or_default()
            .into_iter()
            .map(|e| SignInView {
                at: e.at,
                door: e.door,
                ip: e.ip,
            })
            .collect()
    }
}
