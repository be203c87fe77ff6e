//! Accounts: sign-up, password sign-in (lockout, activation), the bearer-authenticated
//! current user, and deleting one's own account.

use protocol::input::is_weak_password;
use protocol::{Bearer, Failure, NewUser, Outcome, Secret};
use storage::{AccountState, Revocation, UserRecord, Writer};

use super::{internal, new_id, view, Abort, Service};
use crate::primitives::{hex, sha256};
use crate::signer::{Claims, VerifyError};

/// The lockout key of a sign-in: the account when it exists, else the login as typed
/// (case-folded), so unknown accounts are counted and locked the same way.
/// The key is fixed-size whatever the login's length (a digest of it), so the in-memory
/// lockout table stays small however long the logins an attacker sends.
fn lockout_key(user: Option<&UserRecord>, login: &str) -> String {
    match user {
        Some(u) => format!("user:{}", u.id),
        None => format!("login:{}", hex(&sha256(login.to_lowercase().as_bytes()))),
    }
}

/// Revokes every live family of `user_id` inside the caller's transaction.
pub(super) fn revoke_all(
    w: &mut Writer,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<usize, storage::StoreError> {
    let mut n = 0;
    for id in w.family_ids_of_user(user_id)? {
        if let Some(mut f) = w.family(&id)? {
            if f.revoked.is_none() {
                f.revoked = Some(Revocation {
                    at: now,
                    reason: reason.into(),
                });
                w.put_family(&f)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

impl Service {
    pub(super) async fn sign_up(&self, new: NewUser, sign_in: bool) -> Result<Outcome, Failure> {
        let cfg = &self.inner.cfg;
        let password = new.password.clone().ok_or(Failure::WeakPassword)?;
        let identities: Vec<&str> = [new.username.as_deref(), new.email.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if is_weak_password(&password.0, cfg.password.min_length, &identities) {
            return Err(Failure::WeakPassword);
        }
        let role = match new.role.clone() {
            None => "user".to_string(),
            Some(r) if cfg.oauth.signup_roles.contains(&r) => r,
            Some(_) => return Err(Failure::RoleNotAllowed),
        };
        // Refuse a taken name before spending a hash on it; the write below re-checks.
        self.inner
            .store
            .read(|r| {
                if let Some(e) = &new.email {
                    if r.user_id_by_email(e)?.is_some() {
                        return Ok(Err(Failure::EmailTaken));
                    }
                }
                if let Some(n) = &new.username {
                    if r.user_id_by_username(n)?.is_some() {
                        return Ok(Err(Failure::UsernameTaken));
                    }
                }
                Ok::<_, storage::StoreError>(Ok(()))
            })
            .map_err(|e| internal("store", e))??;
        let hash = self
            .inner
            .hasher
            .hash(password)
            .await
            .map_err(|e| self.hash_failure(e))?;
        let id = new_id()?;
        let now = self.now_ms();
        self.write(move |w, svc| {
            let new = new.clone();
            let user = UserRecord {
                id: id.clone(),
                num: w.allocate_user_num()?,
                email: new.email,
                username: new.username,
                display_name: new.display_name,
                first_name: new.first_name,
                last_name: new.last_name,
                role: role.clone(),
                password_hash: Some(hash.clone()),
                state: if new.unverified {
                    AccountState::Unverified
                } else {
                    AccountState::Active
                },
                created_at: now,
                updated_at: now,
                last_login_at: sign_in.then_some(now),
                mfa: None,
            };
            w.insert_user(&user)?;
            if sign_in {
                let tokens = svc.start_family(w, &user, vec!["pwd".into()], now)?;
                Ok(Outcome::Tokens(tokens))
            } else {
                Ok(Outcome::User(view(&user)))
            }
        })
        .await
    }

    pub(super) async fn password_sign_in(
        &self,
        login: String,
        password: Secret,
        activate: bool,
    ) -> Result<Outcome, Failure> {
        let user = self
            .inner
            .store
            .read(|r| {
                let id = if login.contains('@') {
                    r.user_id_by_email(&login)?
                } else {
                    r.user_id_by_username(&login)?
                };
                match id {
                    Some(id) => r.user(&id),
                    None => Ok(None),
                }
            })
            .map_err(|e| internal("store", e))?;
        let key = lockout_key(user.as_ref(), &login);
        if let Some(retry_after) = self.inner.lockouts.locked(&key, self.now_ms()) {
            return Err(Failure::LockedOut { retry_after });
        }
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verdict = self
            .inner
            .hasher
            .verify(password.clone(), stored)
            .await
            .map_err(|e| self.hash_failure(e))?;
        let Some(user) = user.filter(|_| verdict.ok) else {
            if self.inner.lockouts.fail(&key, self.now_ms()) {
                self.inner.metrics.lockout();
                tracing::warn!(target: "latchkey::audit", event = "lockout", "sign-in locked after repeated failures");
            }
            self.inner.metrics.sign_in("pwd", "failed");
            tracing::info!(target: "latchkey::audit", event = "sign_in_failed");
            return Err(Failure::InvalidCredentials);
        };
        self.inner.lockouts.clear(&key);
        // The account state is told only to whoever knows the password.
        match user.state {
            AccountState::Active => {}
            AccountState::Unverified if activate => {}
            AccountState::Unverified => return Err(Failure::Unverified),
            AccountState::Disabled => return Err(Failure::Disabled),
            AccountState::Blocked => return Err(Failure::Blocked),
        }
        let upgraded = if verdict.needs_rehash {
            Some(
                self.inner
                    .hasher
                    .hash(password)
                    .await
                    .map_err(|e| self.hash_failure(e))?,
            )
        } else {
            None
        };
        let now = self.now_ms();
        let user_id = user.id;
        let uid = user_id.clone();
        let result = self
            .write(move |w, svc| {
                // Re-read inside the transaction: the user may have changed meanwhile.
                let Some(mut user) = w.user(&uid)? else {
                    return Err(Abort::Refuse(Failure::InvalidCredentials));
                };
                match user.state {
                    AccountState::Active => {}
                    AccountState::Unverified if activate => {
                        user.state = AccountState::Active;
                        user.updated_at = now;
                    }
                    AccountState::Unverified => return Err(Abort::Refuse(Failure::Unverified)),
                    AccountState::Disabled => return Err(Abort::Refuse(Failure::Disabled)),
                    AccountState::Blocked => return Err(Abort::Refuse(Failure::Blocked)),
                }
                user.last_login_at = Some(now);
                if let Some(h) = upgraded.clone() {
                    user.password_hash = Some(h);
                    user.updated_at = now;
                }
                w.update_user(&user)?;
                let tokens = svc.start_family(w, &user, vec!["pwd".into()], now)?;
                Ok(Outcome::Tokens(tokens))
            })
            .await;
        if result.is_ok() {
            self.inner.metrics.sign_in("pwd", "ok");
            tracing::info!(target: "latchkey::audit", event = "sign_in", user = %user_id);
        }
        result
    }

    /// Verifies an access token: signature, time, issuer. Revocation is checked by the
    /// callers against the store.
    fn verified_claims(&self, bearer: Bearer) -> Result<Claims, Failure> {
        let token = match bearer {
            Bearer::Missing => return Err(Failure::MissingToken),
            Bearer::Malformed => return Err(Failure::TokenInvalid),
            Bearer::Token(t) => t,
        };
        self.inner
            .keys
            .verify(&token, self.now_ms() / 1000)
            .map_err(|e| {
                tracing::debug!(reason = %e, "access token refused");
                match e {
                    VerifyError::Expired => Failure::TokenExpired,
                    _ => Failure::TokenInvalid,
                }
            })
    }

    /// The user a bearer token belongs to, if the token verifies, its family is live and
    /// the account is active.
    pub(super) fn authenticated_user(&self, bearer: Bearer) -> Result<UserRecord, Failure> {
        let claims = self.verified_claims(bearer)?;
        let now = self.now_ms();
        let user = self
            .inner
            .store
            .read(|r| {
                let family = r.family(&claims.sid)?;
                let live = family.is_some_and(|f| f.is_live(now) && f.user_id == claims.sub);
                if !live {
                    return Ok(None);
                }
                r.user(&claims.sub)
            })
            .map_err(|e| internal("store", e))?;
        match user {
            Some(u) if u.state == AccountState::Active => Ok(u),
            _ => Err(Failure::TokenInvalid),
        }
    }

    /// The user of a bearer token, as the families show it.
    pub(super) fn current_user(&self, bearer: Bearer) -> Result<protocol::UserView, Failure> {
        self.authenticated_user(bearer).map(|u| view(&u))
    }

    /// Deletes the account of a bearer token: the user goes, its username and email are
    /// free again, every family is revoked.
    pub(super) async fn delete_account(&self, bearer: Bearer) -> Result<Outcome, Failure> {
        let claims = self.verified_claims(bearer)?;
        let now = self.now_ms();
        let user_id = claims.sub.clone();
        self.write(move |w, _| {
            let live = w
                .family(&claims.sid)?
                .is_some_and(|f| f.is_live(now) && f.user_id == claims.sub);
            let active = w
                .user(&claims.sub)?
                .is_some_and(|u| u.state == AccountState::Active);
            if !live || !active {
                return Err(Abort::Refuse(Failure::TokenInvalid));
            }
            revoke_all(w, &claims.sub, "user_deleted", now)?;
            w.delete_user(&claims.sub)?;
            Ok(Outcome::Done)
        })
        .await?;
        self.inner.metrics.revoked("user_deleted");
        tracing::info!(target: "latchkey::audit", event = "account_deleted", user = %user_id);
        Ok(Outcome::Done)
    }

    /// Clears the lockout of a user (administrator's enable/unblock).
    pub(super) fn clear_lockout(&self, user_id: &str) {
        self.inner.lockouts.clear(&format!("user:{user_id}"));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_login_keys_are_bounded_and_case_folded() {
        let long = "A".repeat(60_000);
        let k = super::lockout_key(None, &long);
        assert_eq!(k.len(), "login:".len() + 64);
        assert_eq!(k, super::lockout_key(None, &long.to_lowercase()));
        assert_ne!(k, super::lockout_key(None, "other"));
    }
}
