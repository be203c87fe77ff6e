//! Mailed codes: session codes (sign-in by email, and the proof of the address they are
//! mailed to), email verification for a signed-in account, and logout.
//!
//! A code (see `codes`) works once, until `session.code_ttl`; a session code dies after 5 wrong second
//! factors, a verification code after 5 wrong codes.
//!
//! An email address is owned only once proven. Redeeming a session code proves it; when
//! the account's address was never proven before, everything set up without that proof
//! (password, second factor, passkeys, sessions) is removed: the mailbox owner wins.

use protocol::{Failure, Outcome};
use storage::{ProofPurpose, ProofRecord, SessionCodeRecord, UserRecord};

use super::codes::{index_hash, new_code, normalize_code, proof_hash, VERIFY_EMAIL};
use super::events::Event;
use super::policy::{
    account_key, decide, end_session, mailbox_owner_wins, may_act, mfa_enabled, Decision, Factor,
    MAX_MFA_FAILURES,
};
use super::principal::Principal;
use super::refresh::Issue;
use super::{new_id, refused, store_failure, Service};
use crate::limits::Source;
use crate::mail::Purpose;

impl Service {
    /// Takes one mail from the quotas of `email` for `source` (see `parts::Outgoing`).
    pub(super) fn take_mail_quota(
        &self,
        email: &str,
        source: Source,
        known: bool,
    ) -> Result<(), Failure> {
        self.inner.mail.take_quota(email, source, known, self.now())
    }

    pub(super) async fn send_mail(&self, to: &str, purpose: Purpose<'_>) -> Result<(), Failure> {
        self.inner.mail.send(to, purpose, self.lang).await
    }

    pub(super) async fn request_code(
        &self,
        email: String,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let cfg = &self.inner.cfg;
        let now = self.now();
        let user_id = self
            .inner
            .store
            .read(|r| r.user_id_by_email(&email))
            .map_err(store_failure)?;
        let known = user_id.as_deref().is_some_and(|id| {
            self.inner
                .guards
                .lockouts
                .knows(&account_key(id), source, now)
        });
        self.take_mail_quota(&email, source, known)?;
        let (shown, normalized) = new_code()?;
        let hash = self.inner.key.code_hash(&normalized);
        let invalidate = cfg.session.invalidate_previous;
        let record = SessionCodeRecord {
            email: email.clone(),
            created_at: now,
            expires_at: now + cfg.session.code_ttl,
            mfa_failures: 0,
        };
        // Written whether or not the address has an account (and whether or not the code
        // is mailed): the same work either way, so timing does not tell.
        self.write(move |w, _, _| {
            if invalidate {
                w.delete_session_codes_of(&record.email)?;
            }
            w.put_session_code(&hash, &record)?;
            Ok(Ok(()))
        })
        .await?;
        let purpose = if user_id.is_none() && !cfg.session.allow_signup {
            // No account and no sign-up: the owner of the address is told what happened.
            Purpose::NoAccount
        } else {
            Purpose::Code {
                code: &shown,
                minutes: cfg.session.code_ttl.as_secs().div_ceil(60),
            }
        };
        if let Err(f) = self.send_mail(&email, purpose).await {
            // No usable code may be left behind for a message that never left.
            self.write(move |w, _, _| Ok(Ok(w.delete_session_code(&hash)?)))
                .await?;
            return Err(f);
        }
        Ok(Outcome::CodeSent)
    }

    pub(super) async fn redeem_code(
        &self,
        code: String,
        mfa_code: Option<String>,
        source: Source,
        issue: Issue,
    ) -> Result<Outcome, Failure> {
        let Some(normalized) = normalize_code(&code) else {
            return Err(Failure::InvalidSessionCode);
        };
        let hash = self.inner.key.code_hash(&normalized);
        let now = self.now();
        let allow_signup = self.inner.cfg.session.allow_signup;
        // A second factor to check takes its place in the account's lockout first.
        let owner = self
            .inner
            .store
            .read(|r| match r.session_code(&hash)? {
                Some(rec) => match r.user_id_by_email(&rec.email)? {
                    Some(id) => r.user(&id),
                    None => Ok(None),
                },
                None => Ok(None),
            })
            .map_err(store_failure)?;
        let attempt = match (&owner, &mfa_code) {
            (Some(u), Some(_)) if mfa_enabled(u) && u.email_verified => Some(
                self.inner
                    .guards
                    .lockouts
                    .begin(&account_key(&u.id), source, now)
                    .map_err(refused)?,
            ),
            _ => None,
        };
        let result = self
            .write(move |w, svc, events| {
                let Some(mut rec) = w.session_code(&hash)? else {
                    return Ok(Err(Failure::InvalidSessionCode));
                };
                if rec.expires_at <= now {
                    w.delete_session_code(&hash)?;
                    return Ok(Err(Failure::InvalidSessionCode));
                }
                let existing = match w.user_id_by_email(&rec.email)? {
                    Some(id) => w.user(&id)?,
                    None => None,
                };
                let mut user = match existing {
                    Some(u) => u,
                    None if allow_signup => {
                        // Redeeming the mailed code proved the address.
                        let mut u = UserRecord {
                            email: Some(rec.email.clone()),
                            email_verified: true,
                            ..UserRecord::new(new_id()?, now)
                        };
                        u.num = w.allocate_user_num()?;
                        w.insert_user(&u)?;
                        events.push(Event::UserCreated {
                            user: u.id.clone(),
                            how: "code",
                        });
                        u
                    }
                    None => {
                        w.delete_session_code(&hash)?;
                        return Ok(Err(Failure::InvalidSessionCode));
                    }
                };
                if let Err(refusal) = may_act(user.state, true) {
                    w.delete_session_code(&hash)?;
                    return Ok(Err(refusal));
                }
                if !user.email_verified {
                    // Never proven until now: the mailbox owner wins.
                    let claimed = mailbox_owner_wins(w, &mut user, "email_proven", now)?;
                    if claimed.removed {
                        events.push(Event::Revoked {
                            cause: "email_proven",
                            count: claimed.revoked,
                        });
                        events.push(Event::EmailClaimed {
                            user: user.id.clone(),
                            by: "a mailed code",
                        });
                    }
                }
                let factor = Factor::MailedCode;
                let amr = match decide(&svc.inner.key, &mut user, factor, mfa_code.as_deref(), now)?
                {
                    Decision::SignedIn(amr) => amr,
                    Decision::SecondFactorNeeded => {
                        // The code stays valid for the second step.
                        w.update_user(&user)?;
                        return Ok(Ok(Outcome::MfaRequired));
                    }
                    Decision::Refused(Failure::InvalidMfaCode) => {
                        events.push(Event::SecondFactorFailed {
                            user: Some(user.id.clone()),
                            method: "otp",
                        });
                        rec.mfa_failures += 1;
                        if rec.mfa_failures >= MAX_MFA_FAILURES {
                            w.delete_session_code(&hash)?;
                        } else {
                            w.put_session_code(&hash, &rec)?;
                        }
                        return Ok(Err(Failure::InvalidMfaCode));
                    }
                    Decision::Refused(refusal) => {
                        w.delete_session_code(&hash)?;
                        return Ok(Err(refusal));
                    }
                };
                w.delete_session_code(&hash)?;
                user.updated_at = now;
                w.update_user(&user)?;
                events.push(Event::signed_in(&user.id, "otp", &amr));
                Ok(Ok(svc.start_session(w, &user, amr, now, issue)?))
            })
            .await;
        if result == Err(Failure::InvalidSessionCode) {
            self.emit(&[Event::SignInFailed { method: "otp" }]);
        }
        self.settle(attempt, &result);
        result
    }

    /// Mails a code that proves the caller's email address (one live code per account; a
    /// new one replaces it).
    pub(super) async fn verify_email_start(
        &self,
        caller: &Principal,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let email = user.email.clone().ok_or(Failure::InvalidEmail)?;
        let now = self.now();
        self.take_mail_quota(&email, source, true)?;
        let (shown, normalized) = new_code()?;
        let code_hash = proof_hash(&self.inner.key, VERIFY_EMAIL, &user.id, &normalized);
        let index = index_hash(&self.inner.key, VERIFY_EMAIL, &normalized);
        let ttl = self.inner.cfg.session.code_ttl;
        let record = ProofRecord {
            code_hash,
            email: email.clone(),
            created_at: now,
            expires_at: now + ttl,
            failures: 0,
        };
        let user_id = user.id.clone();
        // The index lets a dialect that sends the code alone find the account.
        let index_record = ProofRecord {
            code_hash: index.clone(),
            ..record.clone()
        };
        let written = index.clone();
        self.write(move |w, _, _| {
            w.put_proof(ProofPurpose::VerifyEmail, &user_id, &record)?;
            w.put_proof(ProofPurpose::VerifyEmailCode, &written, &index_record)?;
            Ok(Ok(()))
        })
        .await?;
        let purpose = Purpose::VerifyEmail {
            code: &shown,
            minutes: ttl.as_secs().div_ceil(60),
        };
        if let Err(f) = self.send_mail(&email, purpose).await {
            let user_id = user.id.clone();
            self.write(move |w, _, _| {
                w.delete_proof(ProofPurpose::VerifyEmail, &user_id)?;
                w.delete_proof(ProofPurpose::VerifyEmailCode, &index)?;
                Ok(Ok(()))
            })
            .await?;
            return Err(f);
        }
        Ok(Outcome::MailedTo { email })
    }

    /// Proves the caller's email with the mailed code. Asked for by the account's own
    /// session, the proof keeps everything: the credential holder controls the mailbox.
    /// A wrong code counts toward the account's lockout like every other wrong code.
    pub(super) async fn verify_email(
        &self,
        caller: &Principal,
        code: String,
        source: Source,
    ) -> Result<Outcome, Failure> {
        use subtle::ConstantTimeEq as _;
        let user = caller.user.clone();
        let attempt = self
            .inner
            .guards
            .lockouts
            .begin(&account_key(&user.id), source, self.now())
            .map_err(refused)?;
        let normalized = normalize_code(&code);
        let given = normalized
            .as_deref()
            .map(|n| proof_hash(&self.inner.key, VERIFY_EMAIL, &user.id, n));
        let index = normalized
            .as_deref()
            .map(|n| index_hash(&self.inner.key, VERIFY_EMAIL, n));
        let now = self.now();
        let user_id = user.id.clone();
        let result = self
            .write(move |w, _, _| {
                let Some(mut proof) = w
                    .proof(ProofPurpose::VerifyEmail, &user_id)?
                    .filter(|p| p.expires_at > now)
                else {
                    return Ok(Err(Failure::InvalidCode));
                };
                let Some(mut user) = w.user(&user_id)? else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                let right = given
                    .as_deref()
                    .is_some_and(|g| bool::from(g.as_bytes().ct_eq(proof.code_hash.as_bytes())));
                // A code mailed to an address the account no longer has proves nothing.
                let same_address = user.email.as_deref() == Some(proof.email.as_str());
                if !right || !same_address {
                    proof.failures += 1;
                    if proof.failures >= MAX_MFA_FAILURES || !same_address {
                        w.delete_proof(ProofPurpose::VerifyEmail, &user_id)?;
                    } else {
                        w.put_proof(ProofPurpose::VerifyEmail, &user_id, &proof)?;
                    }
                    return Ok(Err(Failure::InvalidCode));
                }
                w.delete_proof(ProofPurpose::VerifyEmail, &user_id)?;
                if let Some(i) = &index {
                    w.delete_proof(ProofPurpose::VerifyEmailCode, i)?;
                }
                user.email_verified = true;
                user.updated_at = now;
                w.update_user(&user)?;
                Ok(Ok(Outcome::EmailVerified {
                    email: proof.email.clone(),
                }))
            })
            .await;
        match &result {
            Ok(_) => self.emit(&[Event::EmailVerified { user: user.id }]),
            Err(Failure::InvalidCode) => {
                if attempt.failed(self.now()) {
                    self.emit(&[Event::LockedOut]);
                }
            }
            // Neither right nor wrong: the place is given back.
            Err(_) => drop(attempt),
        }
        result
    }

    pub(super) async fn logout(&self, refresh_token: String) -> Result<Outcome, Failure> {
        if super::refresh::parse_refresh_token(&refresh_token).is_none() {
            return Ok(Outcome::Done);
        }
        let hash = super::sha256(refresh_token.as_bytes());
        let now = self.now();
        self.write(move |w, _, events| {
            if let Some(entry) = w.refresh(&hash)? {
                if let Some(mut f) = w.family(&entry.family_id)? {
                    if end_session(w, &mut f, "logout", now)? {
                        events.push(Event::Revoked {
                            cause: "logout",
                            count: 1,
                        });
                        events.push(Event::SignedOut {
                            user: f.user_id.clone(),
                            sessions: 1,
                        });
                    }
                }
            }
            Ok(Ok(Outcome::Done))
        })
        .await
    }
}
