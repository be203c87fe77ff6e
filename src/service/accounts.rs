//! Accounts: sign-up, password sign-in, and the bearer-authenticated current user.

use protocol::{Bearer, Failure, NewUser, Outcome, Secret};
use storage::{AccountState, UserRecord};

use super::{internal, new_id, view, Abort, Service};
use crate::password::is_weak;
use crate::signer::VerifyError;

impl Service {
    pub(super) async fn sign_up(&self, new: NewUser, sign_in: bool) -> Result<Outcome, Failure> {
        let cfg = &self.inner.cfg.raw;
        let password = new.password.clone().ok_or(Failure::WeakPassword)?;
        let identities: Vec<&str> = [new.username.as_deref(), new.email.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if is_weak(&password.0, cfg.password.min_length, &identities) {
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
            .map_err(|e| internal("hash", e))?;
        let id = new_id()?;
        let now = self.now_ms();
        self.write(move |w, svc| {
            let user = UserRecord {
                id,
                num: w.allocate_user_num()?,
                email: new.email,
                username: new.username,
                display_name: new.display_name,
                first_name: new.first_name,
                last_name: new.last_name,
                role,
                password_hash: Some(hash),
                state: AccountState::Active,
                created_at: now,
                updated_at: now,
                last_login_at: sign_in.then_some(now),
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
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verdict = self
            .inner
            .hasher
            .verify(password.clone(), stored)
            .await
            .map_err(|e| internal("verify", e))?;
        let Some(user) = user.filter(|_| verdict.ok) else {
            return Err(Failure::InvalidCredentials);
        };
        // The account state is told only to whoever knows the password.
        match user.state {
            AccountState::Active => {}
            AccountState::Disabled => return Err(Failure::Disabled),
            AccountState::Blocked => return Err(Failure::Blocked),
            AccountState::Unverified => return Err(Failure::Unverified),
        }
        let upgraded = if verdict.needs_rehash {
            Some(
                self.inner
                    .hasher
                    .hash(password)
                    .await
                    .map_err(|e| internal("hash", e))?,
            )
        } else {
            None
        };
        let now = self.now_ms();
        let user_id = user.id;
        self.write(move |w, svc| {
            // Re-read inside the transaction: the user may have changed meanwhile.
            let Some(mut user) = w.user(&user_id)? else {
                return Err(Abort::Refuse(Failure::InvalidCredentials));
            };
            if user.state != AccountState::Active {
                return Err(Abort::Refuse(Failure::Disabled));
            }
            user.last_login_at = Some(now);
            if let Some(h) = upgraded {
                user.password_hash = Some(h);
                user.updated_at = now;
            }
            w.update_user(&user)?;
            let tokens = svc.start_family(w, &user, vec!["pwd".into()], now)?;
            Ok(Outcome::Tokens(tokens))
        })
        .await
    }

    /// The user a bearer token belongs to, if the token verifies, its family is live and
    /// the account is active.
    pub(super) fn current_user(&self, bearer: Bearer) -> Result<protocol::UserView, Failure> {
        let token = match bearer {
            Bearer::Missing => return Err(Failure::MissingToken),
            Bearer::Malformed => return Err(Failure::TokenInvalid),
            Bearer::Token(t) => t,
        };
        let now = self.now_ms();
        let claims = self
            .inner
            .keys
            .signer()
            .verify(&token, now / 1000)
            .and_then(|c| {
                c.check(&self.inner.cfg.raw.tokens.issuer, now / 1000)
                    .map(|()| c)
            })
            .map_err(|e| {
                tracing::debug!(reason = %e, "access token refused");
                match e {
                    VerifyError::Expired => Failure::TokenExpired,
                    _ => Failure::TokenInvalid,
                }
            })?;
        let user = self
            .inner
            .store
            .read(|r| {
                let family = r.family(&claims.sid)?;
                let live = family.is_some_and(|f| f.revoked.is_none() && f.user_id == claims.sub);
                if !live {
                    return Ok(None);
                }
                r.user(&claims.sub)
            })
            .map_err(|e| internal("store", e))?;
        match user {
            Some(u) if u.state == AccountState::Active => Ok(view(&u)),
            _ => Err(Failure::TokenInvalid),
        }
    }
}
