//! Administration: list/show users, change their state, delete them, list and rotate
//! keys, inspect tokens. One implementation, used by the admin HTTP API (`src/admin.rs`)
//! and by the command line when no server holds the store. Answers are JSON values, so
//! both paths print the same.

use protocol::reply::rfc3339_ms;
use serde_json::{json, Value};
use storage::{AccountState, Reader, StoreError, UserRecord};

use super::accounts::revoke_all;
use super::{Abort, Service};
use crate::config::TokenAlg;
use crate::signer::keys;

/// Why an administrative request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No user matches the key.
    NotFound,
    /// The request makes no sense in the current state.
    Conflict(String),
    /// The request is malformed.
    BadRequest(String),
    /// Something broke (details in the log).
    Internal(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NotFound => f.write_str("no such user"),
            AdminError::Conflict(m) | AdminError::BadRequest(m) | AdminError::Internal(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Internal(e.to_string())
    }
}

impl From<Abort> for AdminError {
    fn from(a: Abort) -> Self {
        match a {
            Abort::Store(e) => e.into(),
            Abort::Refuse(f) => AdminError::Conflict(format!("{f:?}")),
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
}

impl StateChange {
    /// Parses `disable`, `enable`, `block`, `unblock`.
    pub fn parse(s: &str) -> Option<StateChange> {
        match s {
            "disable" => Some(StateChange::Disable),
            "enable" => Some(StateChange::Enable),
            "block" => Some(StateChange::Block),
            "unblock" => Some(StateChange::Unblock),
            _ => None,
        }
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
        "created_at": rfc3339_ms(u.created_at),
        "updated_at": rfc3339_ms(u.updated_at),
        "last_login_at": u.last_login_at.map(rfc3339_ms),
        "live_families": live_families,
    })
}

fn live_families(r: &Reader, user_id: &str, now: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in r.family_ids_of_user(user_id)? {
        if r.family(&id)?
            .is_some_and(|f| f.revoked.is_none() && f.expires_at > now)
        {
            n += 1;
        }
    }
    Ok(n)
}

impl Service {
    /// Users in id order after `after`, at most `limit` (1..=1000).
    pub fn admin_list_users(&self, after: Option<&str>, limit: usize) -> Result<Value, AdminError> {
        let limit = limit.clamp(1, 1000);
        let now = self.now_ms();
        self.store().read(|r| {
            let users = r.users(after, limit)?;
            let next = if users.len() == limit {
                users.last().map(|u| u.id.clone())
            } else {
                None
            };
            let mut list = Vec::new();
            for u in &users {
                list.push(user_json(u, live_families(r, &u.id, now)?));
            }
            Ok(json!({"users": list, "next": next, "total": r.user_count()?}))
        })
    }

    /// One user by id, number, email or username.
    pub fn admin_show_user(&self, key: &str) -> Result<Value, AdminError> {
        let now = self.now_ms();
        self.store().read(|r| match r.find_user(key)? {
            Some(u) => Ok(user_json(&u, live_families(r, &u.id, now)?)),
            None => Err(AdminError::NotFound),
        })
    }

    /// Changes a user's state. Disabling and blocking revoke every family at once.
    pub async fn admin_change(&self, key: &str, change: StateChange) -> Result<Value, AdminError> {
        let key = key.to_owned();
        let now = self.now_ms();
        let this = self.clone();
        let (user, revoked) = tokio::task::spawn_blocking(move || {
            this.store().write(|w| {
                let Some(mut u) = w.find_user(&key)? else {
                    return Err(AdminError::NotFound);
                };
                let from = u.state;
                u.state = match (change, from) {
                    (StateChange::Disable, AccountState::Blocked) => {
                        return Err(AdminError::Conflict(
                            "user is blocked; unblock first".into(),
                        ))
                    }
                    (StateChange::Disable, _) => AccountState::Disabled,
                    (StateChange::Enable, AccountState::Blocked) => {
                        return Err(AdminError::Conflict("user is blocked; use unblock".into()))
                    }
                    (StateChange::Enable, _) => AccountState::Active,
                    (StateChange::Block, _) => AccountState::Blocked,
                    (StateChange::Unblock, AccountState::Blocked) => AccountState::Active,
                    (StateChange::Unblock, s) => s,
                };
                if u.state != from {
                    u.updated_at = now;
                    w.update_user(&u)?;
                }
                let revoked = match u.state {
                    AccountState::Disabled | AccountState::Blocked => revoke_all(
                        w,
                        &u.id,
                        if u.state == AccountState::Blocked {
                            "user_blocked"
                        } else {
                            "user_disabled"
                        },
                        now,
                    )?,
                    _ => 0,
                };
                Ok((u, revoked))
            })
        })
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
        if matches!(change, StateChange::Enable | StateChange::Unblock) {
            self.clear_lockout(&user.id);
        }
        let cause = if user.state == AccountState::Blocked {
            "user_blocked"
        } else {
            "user_disabled"
        };
        for _ in 0..revoked {
            self.metrics().revoked(cause);
        }
        tracing::info!(target: "latchkey::audit", event = "admin_state_change", user = %user.id, state = state_name(user.state), families_revoked = revoked);
        let mut v = self.admin_show_user(&user.id)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("families_revoked".into(), json!(revoked));
        }
        Ok(v)
    }

    /// Deletes a user and revokes every family.
    pub async fn admin_delete(&self, key: &str) -> Result<Value, AdminError> {
        let key = key.to_owned();
        let now = self.now_ms();
        let this = self.clone();
        let id = tokio::task::spawn_blocking(move || {
            this.store().write(|w| {
                let Some(u) = w.find_user(&key)? else {
                    return Err(AdminError::NotFound);
                };
                revoke_all(w, &u.id, "user_deleted", now)?;
                w.delete_user(&u.id)?;
                Ok(u.id)
            })
        })
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
        self.metrics().revoked("user_deleted");
        tracing::info!(target: "latchkey::audit", event = "admin_delete", user = %id);
        Ok(json!({"deleted": id}))
    }

    /// Counts and sizes: users, refresh families, session codes, store file bytes.
    pub fn admin_stats(&self) -> Result<Value, AdminError> {
        let (users, families, codes) = self.store().read(|r| {
            Ok::<_, StoreError>((r.user_count()?, r.family_count()?, r.session_code_count()?))
        })?;
        Ok(json!({
            "users": users,
            "families": families,
            "session_codes": codes,
            "store_bytes": self.store().file_size(),
            "hash_queue": self.hasher().queued(),
            "token_cache": self.token_cache_len(),
        }))
    }

    /// Every signing key with its state.
    pub fn admin_keys(&self) -> Result<Value, AdminError> {
        let records = self.store().read(|r| r.keys())?;
        let now = self.now_ms();
        let ttl = i64::try_from(self.config().raw.tokens.access_ttl).unwrap_or(i64::MAX / 4);
        let current = self.config().alg.id();
        let keys: Vec<Value> = records
            .iter()
            .map(|k| {
                let state = match k.retired_at {
                    None if k.alg == current => "signing".to_string(),
                    None => "inactive (other algorithm)".to_string(),
                    Some(t) if t + ttl * 1000 > now => format!("verifies until {}", rfc3339_ms(t + ttl * 1000)),
                    Some(_) => "expired".to_string(),
                };
                json!({"kid": k.kid, "alg": k.alg, "created_at": rfc3339_ms(k.created_at), "state": state})
            })
            .collect();
        Ok(json!({"keys": keys}))
    }

    /// A new signing key; the old ones verify until their last token expires.
    pub async fn admin_rotate_keys(&self) -> Result<Value, AdminError> {
        let this = self.clone();
        let kid =
            tokio::task::spawn_blocking(move || this.keys().rotate(this.store(), this.now_ms()))
                .await
                .map_err(|e| AdminError::Internal(e.to_string()))?
                .map_err(|e| AdminError::Internal(e.to_string()))?;
        tracing::info!(target: "latchkey::audit", event = "keys_rotated", kid = %kid);
        Ok(json!({"kid": kid, "alg": self.config().alg.id()}))
    }

    /// Verifies a token as the server would, and says exactly why it is refused.
    pub fn admin_inspect(&self, token: &str) -> Result<Value, AdminError> {
        let cfg = self.config();
        let records = self.store().read(|r| r.keys())?;
        let now = self.now_ms() / 1000;
        let ttl = i64::try_from(cfg.raw.tokens.access_ttl).unwrap_or(i64::MAX / 4);
        // The token's own shape says which signer to try; that signer's key then decides.
        let alg = if token.starts_with("v4.local.") {
            TokenAlg::PasetoV4Local
        } else if token.starts_with("v4.public.") {
            TokenAlg::PasetoV4Public
        } else {
            cfg.alg
        };
        let refused = |reason: String, claims: Option<Value>| {
            Ok(json!({"valid": false, "reason": reason, "claims": claims}))
        };
        let signer = match keys::build(alg, &records, ttl)
            .or_else(|_| keys::build(cfg.alg, &records, ttl))
        {
            Ok(s) => s,
            Err(e) => return refused(e, None),
        };
        let claims = match signer.verify(token, now) {
            Ok(c) => c,
            Err(e) => return refused(e.to_string(), None),
        };
        let shown = serde_json::to_value(&claims).ok();
        if let Err(e) = claims.check(&cfg.raw.tokens.issuer, now) {
            return refused(e.to_string(), shown);
        }
        let (family, user) = self
            .store()
            .read(|r| Ok::<_, StoreError>((r.family(&claims.sid)?, r.user(&claims.sub)?)))?;
        let reason = match (family, user) {
            (Some(f), _) if f.revoked.is_some() => Some(format!(
                "its refresh family was revoked ({})",
                f.revoked.map(|r| r.reason).unwrap_or_default()
            )),
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
