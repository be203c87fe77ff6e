//! Administration: list/show users, change their state, delete them, list and rotate
//! keys, inspect tokens. One implementation, used by the admin HTTP API (`src/admin.rs`)
//! and by the command line when no server holds the store. Answers are JSON values, so
//! both paths print the same.

use crate::clock::rfc3339;
use crate::clock::UnixMillis;
use protocol::fields::Fields;
use protocol::input::{is_weak_password, prepare_password};
use protocol::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use storage::{AccountState, Found, Read, Store, StoreError, Unique, UserRecord};

use super::audit::{record, Context};
use super::policy::{account_key, revoke_all};
use super::Service;
use crate::config::Checked;
use crate::limits::{LockoutStatus, Source};
use crate::password::{HashError, Hasher};
use crate::primitives::{random_id, NoRandomness};
use crate::signer::{keys, KeyError, Rules, TokenAlg};

/// Why an administrative request failed.
#[derive(Debug)]
pub enum AdminError {
    /// No user matches the key.
    NotFound,
    /// The key names several users (by different kinds of key).
    Ambiguous,
    /// No signing key has this id.
    NoSuchKey,
    /// The user has no passkey with this id.
    NoSuchPasskey,
    /// No group has this name.
    NoSuchGroup,
    /// A group has this name already.
    GroupExists,
    /// Not a group's name (1 to 64 of `a-z 0-9 _ -`).
    InvalidGroupName,
    /// The request makes no sense in the current state.
    Conflict(&'static str),
    /// The request is malformed.
    BadRequest(String),
    /// The store failed.
    Store(StoreError),
    /// The signing keys could not be made or loaded.
    Keys(KeyError),
    /// The blocking task that ran the operation failed.
    Thread(tokio::task::JoinError),
    /// A password could not be hashed (or the hashing queue is full).
    Hash(HashError),
    /// The system's random number generator failed.
    Randomness(NoRandomness),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NotFound => f.write_str("no user with that id, number, email or username"),
            AdminError::Ambiguous => f.write_str(
                "that key names several users: say which with id:, num:, email: or username:",
            ),
            AdminError::NoSuchKey => f.write_str("no signing key with that id"),
            AdminError::NoSuchPasskey => f.write_str("the user has no passkey with that id"),
            AdminError::NoSuchGroup => f.write_str("no group with that name"),
            AdminError::GroupExists => f.write_str("a group with that name exists"),
            AdminError::InvalidGroupName => {
                f.write_str("a group's name is 1 to 64 of a-z, 0-9, _ and -")
            }
            AdminError::Conflict(m) => f.write_str(m),
            AdminError::BadRequest(m) => f.write_str(m),
            AdminError::Store(e) => e.fmt(f),
            AdminError::Keys(e) => e.fmt(f),
            AdminError::Thread(e) => write!(f, "operation failed: {e}"),
            AdminError::Hash(e) => write!(f, "cannot hash the password: {e}"),
            AdminError::Randomness(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AdminError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdminError::Store(e) => Some(e),
            AdminError::Keys(e) => Some(e),
            AdminError::Thread(e) => Some(e),
            AdminError::Hash(e) => Some(e),
            AdminError::Randomness(e) => Some(e),
            AdminError::NotFound
            | AdminError::Ambiguous
            | AdminError::NoSuchKey
            | AdminError::NoSuchPasskey
            | AdminError::NoSuchGroup
            | AdminError::GroupExists
            | AdminError::InvalidGroupName
            | AdminError::Conflict(_)
            | AdminError::BadRequest(_) => None,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl From<KeyError> for AdminError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(e) => AdminError::Store(e),
            e => AdminError::Keys(e),
        }
    }
}

/// A change of account state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// Active or unverified -> disabled; revokes every family.
    Disable,
    /// Disabled or unverified -> active.
    Enable,
    /// Any -> blocked; revokes every family.
    Block,
    /// Blocked -> active.
    Unblock,
    /// No change of state: every session ends ("sign out everywhere").
    RevokeSessions,
}

impl StateChange {
    /// Parses `disable`, `enable`, `block`, `unblock`.
    pub fn parse(s: &str) -> Option<StateChange> {
        match s {
            "disable" => Some(StateChange::Disable),
            "enable" => Some(StateChange::Enable),
            "block" => Some(StateChange::Block),
            "unblock" => Some(StateChange::Unblock),
            "revoke-sessions" => Some(StateChange::RevokeSessions),
            _ => None,
        }
    }
}

impl From<super::audit::QueryError> for AdminError {
    fn from(e: super::audit::QueryError) -> Self {
        use super::audit::QueryError as Q;
        match e {
            Q::BadRequest(why) => AdminError::BadRequest(why),
            Q::NotFound => AdminError::NotFound,
            Q::Ambiguous => AdminError::Ambiguous,
            Q::Store(e) => AdminError::from(e),
        }
    }
}

/// The one user `key` names.
pub(super) fn one(found: Found) -> Result<UserRecord, AdminError> {
    match found {
        Found::One(u) => Ok(*u),
        Found::None => Err(AdminError::NotFound),
        Found::Several(_) => Err(AdminError::Ambiguous),
    }
}

fn state_name(s: AccountState) -> &'static str {
    match s {
        AccountState::Active => "active",
        AccountState::Unverified => "unverified",
        AccountState::Disabled => "disabled",
        AccountState::Blocked => "blocked",
    }
}

fn user_json(u: &UserRecord, live_families: usize) -> Value {
    json!({
        "id": u.id,
        "num": u.num,
        "email": u.email,
        "username": u.username,
        "display_name": u.display_name,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "role": u.role,
        "state": state_name(u.state),
        "created_at": rfc3339(u.created_at),
        "updated_at": rfc3339(u.updated_at),
        "last_login_at": u.last_login_at.map(rfc3339),
        "live_families": live_families,
        "email_verified": u.email_verified,
        "mfa_enabled": u.mfa.as_ref().is_some_and(|m| m.enabled),
    })
}

fn live_families(r: &dyn Read, user_id: &str, now: UnixMillis) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in r.family_ids_of_user(user_id)? {
        if r.family(&id)?.is_some_and(|f| f.is_live(now)) {
            n += 1;
        }
    }
    Ok(n)
}

/// The administrative reads: they need only the store (opened read-only by the command
/// line when no server runs), the configuration and the time, never a whole service.
#[derive(Debug, Clone, Copy)]
pub struct Reads<'a> {
    store: &'a Store,
    cfg: &'a Checked,
    now_ms: UnixMillis,
}

impl<'a> Reads<'a> {
    /// Reads of `store` at `now_ms` (Unix milliseconds).
    pub fn new(store: &'a Store, cfg: &'a Checked, now_ms: UnixMillis) -> Reads<'a> {
        Reads { store, cfg, now_ms }
    }

    /// Users in the order they were made (by number) after number `after`, at most
    /// `limit` (1..=1000).
    pub fn list_users(&self, after: Option<u64>, limit: usize) -> Result<Value, AdminError> {
        let limit = limit.clamp(1, 1000);
        self.store.read(|r| {
            let users = r.users(after, limit)?;
            let next = if users.len() == limit {
                users.last().map(|u| u.num)
            } else {
                None
            };
            let mut list = Vec::new();
            for u in &users {
                list.push(user_json(u, live_families(r, &u.id, self.now_ms)?));
            }
            Ok(json!({"users": list, "next": next, "total": r.user_count()?}))
        })
    }

    /// One user by id, number, email or username.
    pub fn show_user(&self, key: &str) -> Result<Value, AdminError> {
        self.store.read(|r| {
            let u = one(r.find_user(key)?)?;
            let mut v = user_json(&u, live_families(r, &u.id, self.now_ms)?);
            if let Some(m) = v.as_object_mut() {
                m.insert("groups".into(), json!(storage::groups_of(r, &u.id)?));
                let identities: Vec<Value> = storage::identities_of(r, &u.id)?
                    .into_iter()
                    .map(|i| {
                        json!({
                            "upstream": i.upstream,
                            "subject": i.subject,
                            "email": i.email,
                            "linked_at": crate::clock::rfc3339(i.linked_at),
                            "last_used_at": i.last_used_at.map(crate::clock::rfc3339),
                        })
                    })
                    .collect();
                m.insert("identities".into(), json!(identities));
            }
            Ok(v)
        })
    }

    /// Counts and sizes: users, refresh families, session codes, store file bytes.
    pub fn stats(&self) -> Result<Value, AdminError> {
        let (users, families, codes) = self.store.read(|r| {
            Ok::<_, StoreError>((r.user_count()?, r.family_count()?, r.session_code_count()?))
        })?;
        Ok(json!({
            "users": users,
            "families": families,
            "session_codes": codes,
            "store_bytes": self.store.size_bytes(),
        }))
    }

    /// Every signing key with its state.
    pub fn keys(&self) -> Result<Value, AdminError> {
        let records = self.store.read(|r| r.keys())?;
        let verifies_for =
            Duration::from_secs(u64::try_from(self.cfg.tokens.key_window_secs()).unwrap_or(0));
        let current = self.cfg.tokens.alg.id();
        let keys: Vec<Value> = records
            .iter()
            .map(|k| {
                let state = match k.retired_at {
                    None if k.alg == current => "signing".to_string(),
                    None => "inactive (other algorithm)".to_string(),
                    Some(t) if t + verifies_for > self.now_ms => {
                        format!("verifies until {}", rfc3339(t + verifies_for))
                    }
                    Some(_) => "expired".to_string(),
                };
                json!({"kid": k.kid, "alg": k.alg, "created_at": rfc3339(k.created_at), "state": state})
            })
            .collect();
        Ok(json!({"keys": keys}))
    }

    /// Verifies a token as the server would, and says exactly why it is refused.
    pub fn inspect(&self, token: &str) -> Result<Value, AdminError> {
        let records = self.store.read(|r| r.keys())?;
        let now = self.now_ms;
        let ttl = self.cfg.tokens.key_window_secs();
        let configured = self.cfg.tokens.alg;
        // The token's own shape says which signer to try; that signer's key then decides.
        let alg = if token.starts_with("v4.local.") {
            TokenAlg::PasetoV4Local
        } else if token.starts_with("v4.public.") {
            TokenAlg::PasetoV4Public
        } else {
            configured
        };
        let refused = |reason: String, claims: Option<Value>| {
            Ok(json!({"valid": false, "reason": reason, "claims": claims}))
        };
        let signer = match keys::build(alg, &records, ttl)
            .or_else(|_| keys::build(configured, &records, ttl))
        {
            Ok(s) => s,
            Err(e) => return refused(e.to_string(), None),
        };
        let unchecked = match signer.verify_signature(token, now.secs()) {
            Ok(c) => c,
            Err(e) => return refused(e.to_string(), None),
        };
        let shown = serde_json::to_value(unchecked.for_display()).ok();
        let claims = match unchecked.check(&Rules::new(&self.cfg.tokens.issuer, now)) {
            Ok(c) => c,
            Err(e) => return refused(e.to_string(), shown),
        };
        let (family, user) = self
            .store
            .read(|r| Ok::<_, StoreError>((r.family(&claims.sid)?, r.user(&claims.sub)?)))?;
        let reason = match (family, user) {
            (Some(f), _) if f.revoked.is_some() => Some(format!(
                "its refresh family was revoked ({})",
                f.revoked.map(|r| r.reason).unwrap_or_default()
            )),
            (Some(f), _) if !f.is_live(self.now_ms) => {
                Some("its refresh family expired".to_string())
            }
            (None, _) => Some("its refresh family no longer exists".to_string()),
            (_, None) => Some("its user no longer exists".to_string()),
            (_, Some(u)) if u.state != AccountState::Active => {
                Some(format!("the account is {}", state_name(u.state)))
            }
            _ => None,
        };
        match reason {
            Some(r) => refused(r, shown),
            None => Ok(json!({"valid": true, "alg": signer.alg().id(), "claims": shown})),
        }
    }
}

/// An account an administrator makes (`user create`, `POST /admin/users`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Email address.
    pub email: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// The password; none: the account signs in by mailed codes only.
    pub password: Option<Secret>,
    /// Role (any; `oauth.signup_roles` bounds only what sign-up may ask).
    pub role: Option<String>,
    /// Whether the address is known to be its owner's.
    #[serde(default)]
    pub email_verified: bool,
}

/// A new password checked against the same rules as sign-up's; prepared for hashing.
fn checked_password(
    cfg: &Checked,
    password: &Secret,
    identities: &[&str],
) -> Result<Secret, AdminError> {
    if is_weak_password(&password.0, cfg.password.min_length, identities) {
        return Err(AdminError::BadRequest(format!(
            "the password is too weak: at least {} characters, not a common password, not \
             the username or email",
            cfg.password.min_length
        )));
    }
    prepare_password(&password.0)
        .map(Secret)
        .ok_or_else(|| AdminError::BadRequest("the password has characters not allowed".into()))
}

/// A user record from `new` (checked, canonical), and the prepared password to hash.
pub fn new_account(
    cfg: &Checked,
    new: NewAccount,
    now: UnixMillis,
) -> Result<(UserRecord, Option<Secret>), AdminError> {
    let bad = |m: &str| AdminError::BadRequest(m.into());
    let fields = Fields {
        email: new.email,
        username: new.username,
        display_name: new.display_name,
        role: Some(new.role.unwrap_or_else(|| "user".into())),
        ..Fields::default()
    }
    .checked()
    .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let (email, username) = (fields.email, fields.username);
    if email.is_none() && username.is_none() {
        return Err(bad("an account needs an email or a username"));
    }
    if email.is_none() && new.password.is_none() {
        return Err(bad(
            "an account without a password signs in by mail: give it an email",
        ));
    }
    let role = fields.role.unwrap_or_default();
    let identities: Vec<&str> = [username.as_deref(), email.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let password = match &new.password {
        Some(p) => Some(checked_password(cfg, p, &identities)?),
        None => None,
    };
    let user = UserRecord {
        email,
        username,
        display_name: fields.display_name,
        role,
        email_verified: new.email_verified,
        ..UserRecord::new(random_id().map_err(AdminError::Randomness)?, now)
    };
    Ok((user, password))
}

fn taken(u: Unique) -> AdminError {
    AdminError::Conflict(match u {
        Unique::Email => "that email is taken",
        Unique::Username => "that username is taken (or one that looks the same)",
    })
}

/// Stores a new account (blocking), its number allocated in the same transaction.
pub fn insert_account(
    store: &Store,
    user: UserRecord,
    audit: Option<&Context>,
) -> Result<UserRecord, AdminError> {
    let user = store.write(|w| {
        if let Some(t) = w.conflict(&user)? {
            return Err(taken(t));
        }
        let mut user = user.clone();
        user.num = w.allocate_user_num()?;
        w.insert_user(&user)?;
        let how = json!({"how": "admin"});
        record(w, audit, "user_created", Some(&user), how, user.created_at)?;
        Ok(user)
    })?;
    tracing::info!(target: "latchkey::audit", event = "admin_user_created", user = %user.id, role = %user.role);
    Ok(user)
}

/// The prepared new password of the user `key` names, checked as sign-up's would be.
pub fn password_for(
    store: &Store,
    cfg: &Checked,
    key: &str,
    password: &Secret,
) -> Result<Secret, AdminError> {
    let u = store.read(|r| one(r.find_user(key)?))?;
    let identities: Vec<&str> = [u.username.as_deref(), u.email.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    checked_password(cfg, password, &identities)
}

/// Sets the password hash of the user `key` names and revokes every family (whoever had
/// the old password is signed out), in one transaction (blocking).
pub fn set_password(
    store: &Store,
    key: &str,
    hash: String,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<Changed, AdminError> {
    let changed = store.write(|w| {
        let mut u = one(w.find_user(key)?)?;
        u.password_hash = Some(hash.clone());
        u.updated_at = now;
        w.update_user(&u)?;
        let revoked = revoke_all(w, &u.id, "password_set", now)?;
        let d = json!({"by": "admin", "sessions_ended": revoked});
        record(w, audit, "password_reset", Some(&u), d, now)?;
        Ok::<_, AdminError>(Changed { user: u, revoked })
    })?;
    tracing::warn!(target: "latchkey::audit", event = "admin_password_set", user = %changed.user.id, families_revoked = changed.revoked);
    Ok(changed)
}

/// Sets the role of the user `key` names (blocking). Sessions stay; access tokens issued
/// before carry the old role until they expire, refreshed ones the new.
pub fn set_role(
    store: &Store,
    key: &str,
    role: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<UserRecord, AdminError> {
    Fields {
        role: Some(role.to_owned()),
        ..Fields::default()
    }
    .checked()
    .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let user = store.write(|w| {
        let mut u = one(w.find_user(key)?)?;
        if u.role != role {
            u.role = role.to_owned();
            u.updated_at = now;
            w.update_user(&u)?;
            let d = json!({"role": role});
            record(w, audit, "role_changed", Some(&u), d, now)?;
        }
        Ok::<_, AdminError>(u)
    })?;
    tracing::warn!(target: "latchkey::audit", event = "admin_role_set", user = %user.id, role = %role);
    Ok(user)
}

/// The command line's way to hash, with no server running: on this thread.
pub fn hash_here(cfg: &Checked, password: &Secret) -> Result<String, AdminError> {
    Hasher::new(&cfg.password.scrypt, 1, 0)
        .and_then(|h| h.hash_here(password))
        .map_err(AdminError::Hash)
}

/// What [`change_state`] did.
#[derive(Debug)]
pub struct Changed {
    /// The user as it is now.
    pub user: UserRecord,
    /// Families revoked by the change.
    pub revoked: usize,
}

/// Changes a user's state in one transaction (blocking: run it off the reactor).
/// Disabling and blocking revoke every family at once.
pub fn change_state(
    store: &Store,
    key: &str,
    change: StateChange,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<Changed, AdminError> {
    let changed = store.write(|w| {
        let mut u = one(w.find_user(key)?)?;
        let from = u.state;
        u.state = match (change, from) {
            (StateChange::Disable, AccountState::Blocked) => {
                return Err(AdminError::Conflict("user is blocked; unblock first"))
            }
            (StateChange::Disable, _) => AccountState::Disabled,
            (StateChange::Enable, AccountState::Blocked) => {
                return Err(AdminError::Conflict("user is blocked; use unblock"))
            }
            (StateChange::Enable, _) => AccountState::Active,
            (StateChange::Block, _) => AccountState::Blocked,
            (StateChange::Unblock, AccountState::Blocked) => AccountState::Active,
            (StateChange::Unblock | StateChange::RevokeSessions, s) => s,
        };
        if u.state != from {
            u.updated_at = now;
            w.update_user(&u)?;
            let event = match u.state {
                AccountState::Disabled => "user_disabled",
                AccountState::Blocked => "user_blocked",
                _ if from == AccountState::Blocked => "user_unblocked",
                _ => "user_enabled",
            };
            record(
                w,
                audit,
                event,
                Some(&u),
                json!({"from": state_name(from)}),
                now,
            )?;
        }
        let revoked = match (change, revocation_cause(u.state)) {
            (StateChange::RevokeSessions, _) => {
                let n = revoke_all(w, &u.id, "signed_out_everywhere", now)?;
                let d = json!({"sessions": n});
                record(w, audit, "signed_out_everywhere", Some(&u), d, now)?;
                n
            }
            (_, Some(cause)) => revoke_all(w, &u.id, cause, now)?,
            (_, None) => 0,
        };
        Ok(Changed { user: u, revoked })
    })?;
    tracing::info!(target: "latchkey::audit", event = "admin_state_change", user = %changed.user.id, state = state_name(changed.user.state), families_revoked = changed.revoked);
    Ok(changed)
}

/// Why a state revokes every family, if it does.
fn revocation_cause(state: AccountState) -> Option<&'static str> {
    match state {
        AccountState::Blocked => Some("user_blocked"),
        AccountState::Disabled => Some("user_disabled"),
        AccountState::Active | AccountState::Unverified => None,
    }
}

/// Deletes a user and revokes every family, in one transaction (blocking). Returns the
/// user's id and how many families were revoked.
pub fn delete_user(
    store: &Store,
    key: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<(String, usize), AdminError> {
    let (id, revoked) = store.write(|w| {
        let u = one(w.find_user(key)?)?;
        let revoked = revoke_all(w, &u.id, "user_deleted", now)?;
        w.delete_user(&u.id)?;
        let d = json!({"sessions_ended": revoked});
        record(w, audit, "user_deleted", Some(&u), d, now)?;
        Ok::<_, AdminError>((u.id, revoked))
    })?;
    tracing::info!(target: "latchkey::audit", event = "admin_delete", user = %id, families_revoked = revoked);
    Ok((id, revoked))
}

/// A user's passkeys (key: id, number, email or username), oldest first.
pub fn passkeys_json(store: &Store, key: &str) -> Result<Value, AdminError> {
    let keys = store.read(|r| {
        let u = one(r.find_user(key)?)?;
        Ok::<_, AdminError>(r.passkeys_of(&u.id)?)
    })?;
    Ok(Value::Array(
        keys.iter()
            .map(|p| {
                json!({
                    "id": crate::primitives::b64url(&p.id),
                    "name": p.name,
                    "created_at": rfc3339(p.created_at),
                    "last_used_at": p.last_used_at.map(rfc3339),
                })
            })
            .collect(),
    ))
}

/// Removes passkey `id` (base64url) of a user: for an owner who lost the device. Unlike
/// the owner, an administrator may remove the last way in (and set a password after).
pub fn remove_passkey(
    store: &Store,
    key: &str,
    id: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<String, AdminError> {
    let cred = crate::primitives::b64url_decode(id).ok_or(AdminError::NoSuchPasskey)?;
    let user_id = store.write(|w| {
        let u = one(w.find_user(key)?)?;
        match w.passkey(&cred)? {
            Some(p) if p.user_id == u.id => {}
            _ => return Err(AdminError::NoSuchPasskey),
        }
        w.delete_passkey(&cred)?;
        record(
            w,
            audit,
            "passkey_removed",
            Some(&u),
            json!({"passkey": id}),
            now,
        )?;
        Ok(u.id)
    })?;
    tracing::warn!(target: "latchkey::audit", event = "admin_passkey_removed", user = %user_id, passkey = %id);
    Ok(user_id)
}

/// Removes a user's second factor (TOTP and recovery codes): for an owner who lost both.
/// Sessions stay; the account signs in with its first factor again, and may enrol anew.
pub fn reset_mfa(
    store: &Store,
    key: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<UserRecord, AdminError> {
    let user = store.write(|w| {
        let mut u = one(w.find_user(key)?)?;
        if u.mfa.is_none() {
            return Err(AdminError::Conflict("the user has no second factor"));
        }
        u.mfa = None;
        u.updated_at = now;
        w.update_user(&u)?;
        record(w, audit, "mfa_reset", Some(&u), json!({}), now)?;
        Ok(u)
    })?;
    tracing::warn!(target: "latchkey::audit", event = "admin_mfa_reset", user = %user.id);
    Ok(user)
}

/// The answer of a state change: the user as shown, plus the families it revoked.
pub fn changed_json(reads: &Reads<'_>, changed: &Changed) -> Result<Value, AdminError> {
    let mut v = reads.show_user(&changed.user.id)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("families_revoked".into(), json!(changed.revoked));
    }
    Ok(v)
}

/// The lockout of `user_id` when the store counts attempts (with a redb store, lockouts
/// live in the running server's memory, so a command on a stopped one finds none).
pub fn stored_lockout(store: &Store, cfg: &Checked, user_id: &str, now: UnixMillis) -> Value {
    if !store.counts_attempts() {
        return Value::Null;
    }
    let status = super::lockouts(cfg, store).status(&account_key(user_id), now);
    lockout_json(&status)
}

/// Clears the lockout of `user_id` when the store counts attempts.
pub fn clear_stored_lockout(store: &Store, cfg: &Checked, user_id: &str) {
    if store.counts_attempts() {
        super::lockouts(cfg, store).clear(&account_key(user_id));
    }
}

/// A lockout as the admin API shows it: `null` when nothing holds the account back.
fn lockout_json(s: &LockoutStatus) -> Value {
    if !s.any() {
        return Value::Null;
    }
    json!({
        "sources_locked": s.sources_locked,
        "until": s.until.map(rfc3339),
        "recent_failures": s.recent_failures,
        "new_sources_refused_until": s.new_sources_refused_until.map(rfc3339),
    })
}

/// Whether the admin API may write a backup at `dest`: a new file whose directory, with
/// every link resolved, is `dir` or below it (the admin token is not a licence to write
/// anywhere the server can).
fn backup_allowed(dest: &std::path::Path, dir: &std::path::Path) -> Result<(), AdminError> {
    use std::path::Component;
    let refuse = || {
        AdminError::BadRequest(format!(
            "a running server writes backups only to storage.backup_dir ({}) or below it \
             (set storage.backup_dir for another directory)",
            dir.display()
        ))
    };
    let (Some(parent), Some(Component::Normal(_))) = (dest.parent(), dest.components().next_back())
    else {
        return Err(refuse());
    };
    let (Ok(parent), Ok(dir)) = (parent.canonicalize(), dir.canonicalize()) else {
        return Err(refuse());
    };
    if parent.starts_with(&dir) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// The answer of a backup.
pub fn backup_json(dest: &std::path::Path, done: storage::Backup) -> Value {
    json!({"path": dest.display().to_string(), "users": done.users, "bytes": done.bytes})
}

impl Service {
    /// The audit context of an administrator's call (`None`: the audit log is off).
    pub fn audit_context(&self) -> Option<Context> {
        self.config().audit.enabled.then(|| self.context().clone())
    }

    /// The administrative reads, at the service's time.
    pub fn reads(&self) -> Reads<'_> {
        Reads::new(self.store(), self.config(), self.now())
    }

    /// [`change_state`], off the reactor; an enabled or unblocked user's lockout is cleared.
    pub async fn admin_change(&self, key: &str, change: StateChange) -> Result<Value, AdminError> {
        let key = key.to_owned();
        let now = self.now();
        let store = self.store().clone();
        let a = self.audit_context();
        let changed = tokio::task::spawn_blocking(move || {
            change_state(&store, &key, change, now, a.as_ref())
        })
        .await
        .map_err(AdminError::Thread)??;
        if matches!(change, StateChange::Enable | StateChange::Unblock) {
            self.clear_lockout(&changed.user.id);
        }
        if let Some(cause) = revocation_cause(changed.user.state) {
            for _ in 0..changed.revoked {
                self.metrics().revoked(cause);
            }
        }
        changed_json(&self.reads(), &changed)
    }

    /// One user, with what holds it back now (lockouts live in the server's memory).
    pub fn admin_show(&self, key: &str) -> Result<Value, AdminError> {
        let mut v = self.reads().show_user(key)?;
        if let Some(id) = v.get("id").and_then(Value::as_str) {
            let status = self.lockout_status(id);
            if let Some(m) = v.as_object_mut() {
                m.insert("lockout".into(), lockout_json(&status));
            }
        }
        Ok(v)
    }

    /// [`new_account`] and [`insert_account`]: the password hashed on the server's queue.
    pub async fn admin_create(&self, new: NewAccount) -> Result<Value, AdminError> {
        let (mut user, password) = new_account(self.config(), new, self.now())?;
        if let Some(p) = password {
            user.password_hash = Some(self.admin_hash(p).await?);
        }
        let store = self.store().clone();
        let a = self.audit_context();
        let user = tokio::task::spawn_blocking(move || insert_account(&store, user, a.as_ref()))
            .await
            .map_err(AdminError::Thread)??;
        self.admin_show(&user.id)
    }

    /// [`set_password`]; the account's lockout is cleared.
    pub async fn admin_set_password(
        &self,
        key: &str,
        password: Secret,
    ) -> Result<Value, AdminError> {
        let prepared = password_for(self.store(), self.config(), key, &password)?;
        let hash = self.admin_hash(prepared).await?;
        let (store, k, now) = (self.store().clone(), key.to_owned(), self.now());
        let a = self.audit_context();
        let changed =
            tokio::task::spawn_blocking(move || set_password(&store, &k, hash, now, a.as_ref()))
                .await
                .map_err(AdminError::Thread)??;
        self.clear_lockout(&changed.user.id);
        for _ in 0..changed.revoked {
            self.metrics().revoked("password_set");
        }
        changed_json(&self.reads(), &changed)
    }

    /// [`set_role`], off the reactor.
    pub async fn admin_set_role(&self, key: &str, role: String) -> Result<Value, AdminError> {
        let (store, k, now) = (self.store().clone(), key.to_owned(), self.now());
        let a = self.audit_context();
        let user =
            tokio::task::spawn_blocking(move || set_role(&store, &k, &role, now, a.as_ref()))
                .await
                .map_err(AdminError::Thread)??;
        self.admin_show(&user.id)
    }

    async fn admin_hash(&self, password: Secret) -> Result<String, AdminError> {
        self.hasher()
            .hash(password, Source::LOCAL)
            .await
            .map_err(AdminError::Hash)
    }

    /// [`reset_mfa`], off the reactor.
    pub async fn admin_reset_mfa(&self, key: &str) -> Result<Value, AdminError> {
        let key = key.to_owned();
        let now = self.now();
        let store = self.store().clone();
        let a = self.audit_context();
        let user = tokio::task::spawn_blocking(move || reset_mfa(&store, &key, now, a.as_ref()))
            .await
            .map_err(AdminError::Thread)??;
        self.reads().show_user(&user.id)
    }

    /// [`remove_passkey`], off the reactor.
    pub async fn admin_remove_passkey(&self, key: &str, id: &str) -> Result<Value, AdminError> {
        let (key, id) = (key.to_owned(), id.to_owned());
        let (store, now, a) = (self.store().clone(), self.now(), self.audit_context());
        let user = tokio::task::spawn_blocking(move || {
            remove_passkey(&store, &key, &id, now, a.as_ref()).map(|u| (u, id))
        })
        .await
        .map_err(AdminError::Thread)??;
        Ok(json!({"removed": user.1, "user": user.0}))
    }

    /// [`delete_user`], off the reactor.
    pub async fn admin_delete(&self, key: &str) -> Result<Value, AdminError> {
        let key = key.to_owned();
        let now = self.now();
        let store = self.store().clone();
        let a = self.audit_context();
        let (id, revoked) =
            tokio::task::spawn_blocking(move || delete_user(&store, &key, now, a.as_ref()))
                .await
                .map_err(AdminError::Thread)??;
        for _ in 0..revoked {
            self.metrics().revoked("user_deleted");
        }
        Ok(json!({"deleted": id}))
    }

    /// [`Reads::stats`] and the running server's own: hashing queue, token cache.
    pub fn admin_stats(&self) -> Result<Value, AdminError> {
        let mut v = self.reads().stats()?;
        if let Some(m) = v.as_object_mut() {
            m.insert("hash_queue".into(), json!(self.hasher().queued()));
            m.insert("token_cache".into(), json!(self.token_cache_len()));
        }
        Ok(v)
    }

    /// Removes a key at once: its tokens stop verifying, the key sets drop it.
    pub async fn admin_revoke_key(&self, kid: &str) -> Result<Value, AdminError> {
        let this = self.clone();
        let k = kid.to_owned();
        let existed =
            tokio::task::spawn_blocking(move || this.keys().revoke(this.store(), &k, this.now()))
                .await
                .map_err(AdminError::Thread)??;
        if !existed {
            return Err(AdminError::NoSuchKey);
        }
        tracing::warn!(target: "latchkey::audit", event = "key_revoked", kid = %kid);
        Ok(json!({"revoked": kid}))
    }

    /// [`Store::backup`] to `dest` (absolute, in `storage.backup_dir` or below), off the
    /// reactor, while the server serves.
    pub async fn admin_backup(&self, dest: std::path::PathBuf) -> Result<Value, AdminError> {
        if !dest.is_absolute() {
            return Err(AdminError::BadRequest(
                "the backup path must be absolute (it is the server's file system)".into(),
            ));
        }
        backup_allowed(&dest, &self.config().storage.backup_dir)?;
        let store = self.store().clone();
        let target = dest.clone();
        let done = tokio::task::spawn_blocking(move || store.backup(&target))
            .await
            .map_err(AdminError::Thread)??;
        tracing::info!(target: "latchkey::audit", event = "backup", path = %dest.display(), users = done.users, bytes = done.bytes);
        Ok(backup_json(&dest, done))
    }

    /// A new signing key; the old ones verify until their last token expires.
    pub async fn admin_rotate_keys(&self) -> Result<Value, AdminError> {
        let this = self.clone();
        let kid = tokio::task::spawn_blocking(move || this.keys().rotate(this.store(), this.now()))
            .await
            .map_err(AdminError::Thread)??;
        tracing::info!(target: "latchkey::audit", event = "keys_rotated", kid = %kid);
        Ok(json!({"kid": kid, "alg": self.config().tokens.alg.id()}))
    }
}
