//! Recovery and account changes: a password reset by mailed code, a password change, an
//! email change (a code to the new address, a notice to the old), and proving an email
//! with a code given alone (the dialects that have no session for it).
//!
//! Codes are the session codes' kind (60 bits, `session.code_ttl`, 5 wrong ones spend
//! them). Each lives as the account's proof (purpose and user id: one live code per
//! account and purpose, its hash bound to the account); a code the dialect sends alone is
//! found through an index entry (purpose and the code's keyed hash) that names the
//! account's address: the index only finds the account, the account's proof decides.
//!
//! A reset never tells whether an account exists: an address without one gets a notice
//! instead of a code, after the same work. It proves the address: an account whose
//! address was never proven loses what was set up without the proof (the account policy's
//! "mailbox owner wins"), an account with a proven address keeps its second factor.

use protocol::input::{is_weak_password, prepare_password};
use protocol::{Failure, Outcome, Reauth, Secret};
use storage::{AccountState, ProofPurpose, ProofRecord, StoreError, Unique, UserRecord, Write};
use subtle::ConstantTimeEq as _;

use super::codes::{index_hash, new_code, normalize_code, proof_hash, VERIFY_EMAIL};
use super::events::Event;
use super::policy::{
    account_key, live_family, mailbox_owner_wins, may_act, revoke_all, revoke_all_but,
    signed_in_recently, MAX_MFA_FAILURES,
};
use super::principal::Principal;
use super::{refused, store_failure, Service};
use crate::clock::UnixMillis;
use crate::limits::Source;
use crate::mail::Purpose;

const RESET: &str = "reset_password";
const CHANGE: &str = "change_email";

/// Whether `typed` is the code of `proof`, the account's live proof for `purpose`, still
/// for the address the account has (a code mailed to an address the account no longer
/// has proves nothing).
fn matches(
    key: &crate::secrets::ServerKey,
    purpose: &str,
    user: &UserRecord,
    proof: &ProofRecord,
    typed: Option<&str>,
    now: UnixMillis,
) -> bool {
    let Some(n) = typed else { return false };
    let hash = proof_hash(key, purpose, &user.id, n);
    proof.expires_at > now && bool::from(hash.as_bytes().ct_eq(proof.code_hash.as_bytes()))
}

/// Counts a wrong code against the account's live proof: the fifth spends it.
fn count_failure(
    w: &mut dyn Write,
    purpose: ProofPurpose,
    user_id: &str,
) -> Result<(), StoreError> {
    if let Some(mut p) = w.proof(purpose, user_id)? {
        p.failures += 1;
        if p.failures >= MAX_MFA_FAILURES {
            w.delete_proof(purpose, user_id)?;
        } else {
            w.put_proof(purpose, user_id, &p)?;
        }
    }
    Ok(())
}

/// The account of an address, if any.
fn user_by_email(r: &dyn storage::Read, email: &str) -> Result<Option<UserRecord>, StoreError> {
    match r.user_id_by_email(email)? {
        Some(id) => r.user(&id),
        None => Ok(None),
    }
}

/// The account a code given alone belongs to, through its index entry.
fn user_by_index(
    r: &dyn storage::Read,
    index: ProofPurpose,
    hash: &str,
    now: UnixMillis,
) -> Result<Option<UserRecord>, StoreError> {
    match r.proof(index, hash)?.filter(|p| p.expires_at > now) {
        Some(p) => user_by_email(r, &p.email),
        None => Ok(None),
    }
}

impl Service {
    /// Mails a reset code to `email` when an account has it, a notice otherwise; the
    /// answer and the work are the same either way.
    pub(super) async fn forgot_password(
        &self,
        email: String,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let now = self.now();
        let user = self
            .inner
            .store
            .read(|r| user_by_email(r, &email))
            .map_err(store_failure)?;
        let known = user.as_ref().is_some_and(|u| {
            self.inner
                .guards
                .lockouts
                .knows(&account_key(&u.id), source, now)
        });
        self.take_mail_quota(&email, source, known)?;
        let (shown, normalized) = new_code()?;
        let key = &self.inner.key;
        let ttl = self.inner.cfg.session.code_ttl;
        let index = index_hash(key, RESET, &normalized);
        // The account's address as stored (the code goes where the account's mail goes).
        let to = user
            .as_ref()
            .and_then(|u| u.email.clone())
            .unwrap_or_else(|| email.clone());
        let record = ProofRecord {
            code_hash: String::new(),
            email: to.clone(),
            created_at: now,
            expires_at: now + ttl,
            failures: 0,
        };
        let own = user.as_ref().map(|u| {
            (
                u.id.clone(),
                ProofRecord {
                    code_hash: proof_hash(key, RESET, &u.id, &normalized),
                    ..record.clone()
                },
            )
        });
        let index_record = ProofRecord {
            code_hash: index.clone(),
            ..record
        };
        // Written for an unknown address too (an index entry that finds no account): the
        // same work either way, so timing does not tell.
        let written = (own.clone(), index.clone());
        self.write(move |w, _, _| {
            let (own, index) = &written;
            if let Some((id, rec)) = own {
                w.put_proof(ProofPurpose::ResetPassword, id, rec)?;
            }
            w.put_proof(ProofPurpose::ResetPasswordCode, index, &index_record)?;
            Ok(Ok(()))
        })
        .await?;
        let purpose = match &own {
            Some(_) => Purpose::ResetPassword {
                code: &shown,
                minutes: ttl.as_secs().div_ceil(60),
            },
            None => Purpose::ResetNoAccount,
        };
        if let Err(f) = self.send_mail(&to, purpose).await {
            // No usable code may be left behind for a message that never left.
            self.write(move |w, _, _| {
                if let Some((id, _)) = &own {
                    w.delete_proof(ProofPurpose::ResetPassword, id)?;
                }
                w.delete_proof(ProofPurpose::ResetPasswordCode, &index)?;
                Ok(Ok(()))
            })
            .await?;
            return Err(f);
        }
        if own.is_some() {
            tracing::info!(target: "latchkey::audit", event = "password_reset_requested");
        }
        Ok(Outcome::MailedTo { email })
    }

    /// Sets a new password with a reset code: every session of the account ends, its
    /// lockout is cleared, the code is spent; the address is proven by it.
    pub(super) async fn reset_password(
        &self,
        email: Option<String>,
        code: String,
        new_password: Secret,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let now = self.now();
        let typed = normalize_code(&code);
        let index = typed
            .as_deref()
            .map(|n| index_hash(&self.inner.key, RESET, n));
        let user = self
            .inner
            .store
            .read(|r| match (&email, &index) {
                (Some(e), _) => user_by_email(r, e),
                (None, Some(h)) => user_by_index(r, ProofPurpose::ResetPasswordCode, h, now),
                (None, None) => Ok(None),
            })
            .map_err(store_failure)?;
        let Some(user) = user else {
            return Err(Failure::InvalidCode);
        };
        let proof = self
            .inner
            .store
            .read(|r| r.proof(ProofPurpose::ResetPassword, &user.id))
            .map_err(store_failure)?
            .filter(|p| user.email.as_deref() == Some(p.email.as_str()));
        let right = proof
            .as_ref()
            .is_some_and(|p| matches(&self.inner.key, RESET, &user, p, typed.as_deref(), now));
        let user_id = user.id.clone();
        if !right {
            self.write(move |w, _, _| {
                count_failure(w, ProofPurpose::ResetPassword, &user_id)?;
                Ok(Ok(()))
            })
            .await?;
            return Err(Failure::InvalidCode);
        }
        let hash = self.new_password_hash(&user, new_password, source).await?;
        let email = self
            .write(move |w, svc, events| {
                let Some(mut user) = w.user(&user_id)? else {
                    return Ok(Err(Failure::InvalidCode));
                };
                let live = w
                    .proof(ProofPurpose::ResetPassword, &user_id)?
                    .filter(|p| user.email.as_deref() == Some(p.email.as_str()))
                    .filter(|p| matches(&svc.inner.key, RESET, &user, p, typed.as_deref(), now));
                if live.is_none() {
                    // Spent or replaced meanwhile.
                    return Ok(Err(Failure::InvalidCode));
                }
                w.delete_proof(ProofPurpose::ResetPassword, &user_id)?;
                if let Some(i) = &index {
                    w.delete_proof(ProofPurpose::ResetPasswordCode, i)?;
                }
                if let Err(refusal) = may_act(user.state, true) {
                    return Ok(Err(refusal));
                }
                let revoked = revoke_all(w, &user_id, "password_reset", now)?;
                if !user.email_verified {
                    // Never proven until now: the mailbox owner wins (the password set
                    // now is theirs; the second factor and passkeys set up before go).
                    let claimed = mailbox_owner_wins(w, &mut user, "password_reset", now)?;
                    if claimed.removed || revoked > 0 {
                        events.push(Event::EmailClaimed {
                            user: user_id.clone(),
                            by: "a reset code",
                        });
                    }
                }
                user.state = AccountState::Active;
                user.password_hash = Some(hash.clone());
                user.updated_at = now;
                w.update_user(&user)?;
                events.push(Event::PasswordReset {
                    user: user_id.clone(),
                    revoked,
                });
                Ok(Ok(user.email.clone().unwrap_or_default()))
            })
            .await?;
        Ok(Outcome::PasswordReset { email })
    }

    /// A new password's hash, after the policy's check (weak passwords refused before any
    /// hashing).
    async fn new_password_hash(
        &self,
        user: &UserRecord,
        new_password: Secret,
        source: Source,
    ) -> Result<String, Failure> {
        let identities: Vec<&str> = [user.username.as_deref(), user.email.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let min = self.inner.cfg.password.min_length;
        if is_weak_password(&new_password.0, min, &identities) {
            return Err(Failure::WeakPassword);
        }
        let prepared = prepare_password(&new_password.0).ok_or(Failure::WeakPassword)?;
        self.inner
            .guards
            .hasher
            .hash(Secret(prepared), source)
            .await
            .map_err(|e| self.hash_failure(e))
    }

    /// Changes the caller's password. Proven by the current password (counted by the
    /// lockout like a sign-in) or by a sign-in of the last minutes; other sessions end.
    pub(super) async fn change_password(
        &self,
        caller: &Principal,
        reauth: Reauth,
        new_password: Secret,
        fresh_tokens: bool,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let session = caller.session.clone();
        let (current, dialect_asks) = match reauth {
            Reauth::Password(p) => (p, true),
            Reauth::RecentSignIn => (None, false),
        };
        // The current password is wanted whenever the dialect has a place for it and the
        // account has one.
        if current.is_none() && dialect_asks && user.password_hash.is_some() {
            return Err(Failure::ReauthRequired);
        }
        let attempt = match current {
            Some(given) => {
                let attempt = self
                    .inner
                    .guards
                    .lockouts
                    .begin(&account_key(&user.id), source, self.now())
                    .map_err(refused)?;
                let prepared = prepare_password(&given.0);
                let stored = user.password_hash.clone().filter(|_| prepared.is_some());
                let verdict = self
                    .inner
                    .guards
                    .hasher
                    .verify(Secret(prepared.unwrap_or_default()), stored, source)
                    .await
                    .map_err(|e| self.hash_failure(e))?;
                if !verdict.ok {
                    let mut told = vec![Event::PasswordChangeFailed {
                        user: user.id.clone(),
                    }];
                    if attempt.failed(self.now()) {
                        told.push(Event::LockedOut);
                    }
                    self.emit(&told);
                    return Err(Failure::InvalidCredentials);
                }
                Some(attempt)
            }
            None => None,
        };
        let recent_needed = attempt.is_none();
        let hash = self.new_password_hash(&user, new_password, source).await?;
        let now = self.now();
        let user_id = user.id.clone();
        let result = self
            .write(move |w, svc, events| {
                let family = w
                    .family(&session)?
                    .filter(|f| live_family(f, &user_id, now));
                let Some(family) = family else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                let Some(mut user) = w.user(&user_id)? else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                if may_act(user.state, false).is_err() {
                    return Ok(Err(Failure::TokenInvalid));
                }
                if recent_needed && !signed_in_recently(family.created_at, now) {
                    return Ok(Err(Failure::ReauthRequired));
                }
                user.password_hash = Some(hash.clone());
                user.updated_at = now;
                w.update_user(&user)?;
                // Every other session ends; this one too when it gets fresh tokens.
                let keep = (!fresh_tokens).then_some(family.id.as_str());
                let revoked = revoke_all_but(w, &user_id, keep, "password_changed", now)?;
                events.push(Event::PasswordChanged {
                    user: user_id.clone(),
                    revoked,
                });
                let outcome = if fresh_tokens {
                    Outcome::Tokens(svc.start_family(w, &user, family.amr.clone(), now)?)
                } else {
                    Outcome::PasswordChanged
                };
                Ok(Ok(outcome))
            })
            .await;
        self.settle(attempt, &result);
        result
    }

    /// Starts an email change: a code to the new address, a notice to the old one. The
    /// old address stays the sign-in until the code comes back.
    pub(super) async fn change_email_start(
        &self,
        caller: &Principal,
        email: String,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let owner = self
            .inner
            .store
            .read(|r| r.user_id_by_email(&email))
            .map_err(store_failure)?;
        if owner.is_some_and(|id| id != user.id) {
            return Err(Failure::EmailTaken);
        }
        let now = self.now();
        self.take_mail_quota(&email, source, true)?;
        let (shown, normalized) = new_code()?;
        let ttl = self.inner.cfg.session.code_ttl;
        let record = ProofRecord {
            code_hash: proof_hash(&self.inner.key, CHANGE, &user.id, &normalized),
            email: email.clone(),
            created_at: now,
            expires_at: now + ttl,
            failures: 0,
        };
        let user_id = user.id.clone();
        self.write(move |w, _, _| {
            w.put_proof(ProofPurpose::ChangeEmail, &user_id, &record)?;
            Ok(Ok(()))
        })
        .await?;
        let purpose = Purpose::ChangeEmail {
            code: &shown,
            minutes: ttl.as_secs().div_ceil(60),
        };
        if let Err(f) = self.send_mail(&email, purpose).await {
            let user_id = user.id.clone();
            self.write(move |w, _, _| Ok(Ok(w.delete_proof(ProofPurpose::ChangeEmail, &user_id)?)))
                .await?;
            return Err(f);
        }
        if let Some(old) = user.email.as_deref() {
            // The notice is best effort: an old mailbox that is gone is a common reason
            // to move (a failure is logged and metered by `send_mail`).
            let _ = self
                .send_mail(old, Purpose::EmailChangeNotice { new: &email })
                .await;
        }
        tracing::info!(target: "latchkey::audit", event = "email_change_requested", user = %user.id);
        Ok(Outcome::MailedTo { email })
    }

    /// Switches the caller's address to the one the code was mailed to (proven by it).
    pub(super) async fn change_email_confirm(
        &self,
        caller: &Principal,
        code: String,
    ) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let typed = normalize_code(&code);
        let now = self.now();
        let user_id = user.id.clone();
        self.write(move |w, svc, events| {
            let Some(mut user) = w.user(&user_id)? else {
                return Ok(Err(Failure::TokenInvalid));
            };
            let Some(proof) = w.proof(ProofPurpose::ChangeEmail, &user_id)? else {
                return Ok(Err(Failure::InvalidCode));
            };
            if !matches(&svc.inner.key, CHANGE, &user, &proof, typed.as_deref(), now) {
                count_failure(w, ProofPurpose::ChangeEmail, &user_id)?;
                return Ok(Err(Failure::InvalidCode));
            }
            w.delete_proof(ProofPurpose::ChangeEmail, &user_id)?;
            let old = user.email.replace(proof.email.clone());
            user.email_verified = true;
            user.updated_at = now;
            match w.change_email(&user) {
                Ok(()) => {
                    events.push(Event::EmailChanged {
                        user: user.id.clone(),
                        had_address: old.is_some(),
                    });
                    Ok(Ok(Outcome::EmailChanged { email: proof.email }))
                }
                Err(StoreError::Conflict(Unique::Email)) => Ok(Err(Failure::EmailTaken)),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Proves an address with a verification code given alone (no session).
    pub(super) async fn verify_email_code(&self, code: String) -> Result<Outcome, Failure> {
        let Some(typed) = normalize_code(&code) else {
            return Err(Failure::InvalidCode);
        };
        let index = index_hash(&self.inner.key, VERIFY_EMAIL, &typed);
        let now = self.now();
        self.write(move |w, svc, events| {
            let Some(mut user) = user_by_index(&*w, ProofPurpose::VerifyEmailCode, &index, now)?
            else {
                return Ok(Err(Failure::InvalidCode));
            };
            let proof = w
                .proof(ProofPurpose::VerifyEmail, &user.id)?
                .filter(|p| user.email.as_deref() == Some(p.email.as_str()))
                .filter(|p| matches(&svc.inner.key, VERIFY_EMAIL, &user, p, Some(&typed), now));
            if proof.is_none() {
                return Ok(Err(Failure::InvalidCode));
            }
            if let Err(refusal) = may_act(user.state, false) {
                return Ok(Err(refusal));
            }
            w.delete_proof(ProofPurpose::VerifyEmail, &user.id)?;
            w.delete_proof(ProofPurpose::VerifyEmailCode, &index)?;
            user.email_verified = true;
            user.updated_at = now;
            w.update_user(&user)?;
            events.push(Event::EmailVerified {
                user: user.id.clone(),
            });
            Ok(Ok(Outcome::EmailVerified {
                email: user.email.clone().unwrap_or_default(),
            }))
        })
        .await
    }
}
