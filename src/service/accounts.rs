//! Accounts: sign-up, password sign-in (lockout, states, activation, the second factor
//! whatever the door), the bearer-authenticated current user, and deleting one's own
//! account.

use protocol::input::{canonical_login, is_weak_password, prepare_password, Login};
use protocol::{Failure, NewUser, Outcome, SecondFactor, Secret};
use storage::{AccountState, Unique, UserRecord};

use super::events::Event;
use super::policy::{
    account_key, decide, live_family, lockout_key, may_act, mfa_enabled, revoke_all, Decision,
    Factor,
};
use super::principal::Principal;
use super::refresh::Issue;
use super::{new_id, refused, store_failure, view, Service};
use crate::limits::Source;

impl Service {
    pub(super) async fn sign_up(
        &self,
        new: NewUser,
        sign_in: bool,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let cfg = &self.inner.cfg;
        // The one check of an account's fields, whichever door the sign-up came through.
        let fields = protocol::fields::Fields {
            email: new.email.clone(),
            username: new.username.clone(),
            display_name: new.display_name.clone(),
            first_name: new.first_name.clone(),
            last_name: new.last_name.clone(),
            role: new.role.clone(),
        }
        .checked()
        .map_err(Failure::InvalidField)?;
        let password = new.password.clone().ok_or(Failure::WeakPassword)?;
        let identities: Vec<&str> = [new.username.as_deref(), new.email.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if is_weak_password(&password.0, cfg.password.min_length, &identities) {
            return Err(Failure::WeakPassword);
        }
        let prepared = prepare_password(&password.0).ok_or(Failure::WeakPassword)?;
        let role = match new.role.clone() {
            None => "user".to_string(),
            Some(r) if cfg.oauth.signup_roles.contains(&r) => r,
            Some(_) => return Err(Failure::RoleNotAllowed),
        };
        let id = new_id()?;
        let now = self.now();
        let mut user = UserRecord {
            email: fields.email,
            username: fields.username,
            display_name: fields.display_name,
            first_name: fields.first_name,
            last_name: fields.last_name,
            role,
            state: if new.unverified {
                AccountState::Unverified
            } else {
                AccountState::Active
            },
            last_login_at: sign_in.then_some(now),
            ..UserRecord::new(id, now)
        };
        // Refuse a taken name before spending a hash on it; the write below re-checks.
        let taken = self
            .inner
            .store
            .read(|r| r.conflict(&user))
            .map_err(store_failure)?;
        if let Some(t) = taken {
            return Err(taken_failure(t));
        }
        user.password_hash = Some(
            self.inner
                .guards
                .hasher
                .hash(Secret(prepared), source)
                .await
                .map_err(|e| self.hash_failure(e))?,
        );
        self.write(move |w, svc, events| {
            let mut user = user.clone();
            if let Some(t) = w.conflict(&user)? {
                return Ok(Err(taken_failure(t)));
            }
            user.num = w.allocate_user_num()?;
            w.insert_user(&user)?;
            events.push(Event::UserCreated {
                user: user.id.clone(),
                how: "signup",
            });
            Ok(Ok(if sign_in {
                Outcome::Tokens(svc.start_family(w, &user, vec!["pwd".into()], now)?)
            } else {
                Outcome::User(view(&user))
            }))
        })
        .await
    }

    /// A password sign-in, whatever the door: lockout per account and source (taken
    /// before the hash is checked), the account's state (told only to the password's
    /// holder), then the second factor when the account has one.
    pub(super) async fn password_sign_in(
        &self,
        login: String,
        password: Secret,
        activate: bool,
        second: SecondFactor,
        source: Source,
        issue: Issue,
    ) -> Result<Outcome, Failure> {
        let login_key = canonical_login(&login);
        let user = match &login_key {
            Some(l) => self
                .inner
                .store
                .read(|r| {
                    let id = match l {
                        Login::Email(e) => r.user_id_by_email(e)?,
                        Login::Username(n) => r.user_id_by_username(n)?,
                    };
                    match id {
                        Some(id) => r.user(&id),
                        None => Ok(None),
                    }
                })
                .map_err(store_failure)?,
            None => None,
        };
        let typed = match &login_key {
            Some(Login::Email(e) | Login::Username(e)) => e.clone(),
            None => login.clone(),
        };
        let key = lockout_key(user.as_ref(), &typed);
        let attempt = self
            .inner
            .guards
            .lockouts
            .begin(&key, source, self.now())
            .map_err(refused)?;
        // A password the profile refuses matches nothing, at the cost of one hash all the
        // same (the dummy's).
        let prepared = prepare_password(&password.0);
        let stored = user
            .as_ref()
            .filter(|_| prepared.is_some())
            .and_then(|u| u.password_hash.clone());
        let verdict = self
            .inner
            .guards
            .hasher
            .verify(Secret(prepared.clone().unwrap_or_default()), stored, source)
            .await
            .map_err(|e| self.hash_failure(e))?;
        let Some(user) = user.filter(|_| verdict.ok) else {
            let mut told = vec![Event::SignInFailed { method: "pwd" }];
            if attempt.failed(self.now()) {
                told.push(Event::LockedOut);
            }
            self.emit(&told);
            return Err(Failure::InvalidCredentials);
        };
        // The account state is told only to whoever knows the password.
        may_act(user.state, activate)?;
        let upgraded = match (verdict.needs_rehash, prepared) {
            (true, Some(p)) => Some(
                self.inner
                    .guards
                    .hasher
                    .hash(Secret(p), source)
                    .await
                    .map_err(|e| self.hash_failure(e))?,
            ),
            _ => None,
        };
        let with_mfa = mfa_enabled(&user);
        let code = match (&second, with_mfa) {
            (_, false) => None,
            (SecondFactor::Inline(None), true) => return Err(Failure::MfaRequired),
            (SecondFactor::Later, true) => {
                if let Some(h) = upgraded {
                    // The password was right: its new hash need not wait for the second step.
                    let id = user.id.clone();
                    let verified = user.password_hash.clone();
                    self.write(move |w, _, _| {
                        if let Some(mut u) = w.user(&id)?.filter(|u| u.password_hash == verified) {
                            u.password_hash = Some(h.clone());
                            w.update_user(&u)?;
                        }
                        Ok(Ok(()))
                    })
                    .await?;
                }
                return self.mfa_pending(&user, vec!["pwd".into()]).await;
            }
            (SecondFactor::Inline(Some(c)), true) => Some(c.clone()),
        };
        let now = self.now();
        let user_id = user.id;
        let uid = user_id.clone();
        let verified = user.password_hash;
        let result = self
            .write(move |w, svc, events| {
                // Re-read inside the transaction: the user may have changed meanwhile (a
                // password reset or change makes the one just checked worthless).
                let Some(mut user) = w.user(&uid)?.filter(|u| u.password_hash == verified) else {
                    return Ok(Err(Failure::InvalidCredentials));
                };
                let amr = match decide(
                    &svc.inner.key,
                    &mut user,
                    Factor::Password { activate },
                    code.as_deref(),
                    now,
                )? {
                    Decision::SignedIn(amr) => amr,
                    Decision::Refused(f) => {
                        if f == Failure::InvalidMfaCode {
                            events.push(Event::SecondFactorFailed {
                                user: Some(user.id.clone()),
                                method: "pwd",
                            });
                        }
                        return Ok(Err(f));
                    }
                    // TOTP was confirmed meanwhile: the second factor is wanted now.
                    Decision::SecondFactorNeeded => return Ok(Err(Failure::MfaRequired)),
                };
                if let Some(h) = upgraded.clone() {
                    user.password_hash = Some(h);
                    user.updated_at = now;
                }
                w.update_user(&user)?;
                events.push(Event::signed_in(&user.id, "pwd", &amr));
                Ok(Ok(svc.start_session(w, &user, amr, now, issue)?))
            })
            .await;
        self.settle(Some(attempt), &result);
        result
    }

    /// Deletes the caller's account: the user goes, its username and email are free
    /// again, every family is revoked.
    pub(super) async fn delete_account(&self, caller: &Principal) -> Result<Outcome, Failure> {
        let (session, user_id) = (caller.session.clone(), caller.user.id.clone());
        let now = self.now();
        self.write(move |w, _, events| {
            let live = w
                .family(&session)?
                .is_some_and(|f| live_family(&f, &user_id, now));
            let active = w
                .user(&user_id)?
                .is_some_and(|u| may_act(u.state, false).is_ok());
            if !live || !active {
                return Ok(Err(Failure::TokenInvalid));
            }
            let count = revoke_all(w, &user_id, "user_deleted", now)?;
            w.delete_user(&user_id)?;
            events.push(Event::Revoked {
                cause: "user_deleted",
                count,
            });
            events.push(Event::AccountDeleted {
                user: user_id.clone(),
            });
            Ok(Ok(Outcome::Done))
        })
        .await
    }

    /// Clears the lockout of a user (administrator's enable/unblock).
    pub(super) fn clear_lockout(&self, user_id: &str) {
        self.inner.guards.lockouts.clear(&account_key(user_id));
    }

    pub(super) fn lockout_status(&self, user_id: &str) -> crate::limits::LockoutStatus {
        self.inner
            .guards
            .lockouts
            .status(&account_key(user_id), self.now())
    }
}

/// The refusal of a taken email or username.
fn taken_failure(u: Unique) -> Failure {
    match u {
        Unique::Email => Failure::EmailTaken,
        Unique::Username => Failure::UsernameTaken,
    }
}
