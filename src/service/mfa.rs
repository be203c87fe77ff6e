//! The second factor: TOTP enrolment and its changes, recovery codes, checking a second
//! factor for any door, and the pending credential of a sign-in whose second step is a
//! request of its own (`toolkit`'s `mfaSignIn:finalize`).
//!
//! Wrong second factors count toward the account's lockout like wrong passwords, for the
//! source they come from, whatever the door.

use protocol::{Failure, Outcome};
use storage::{MfaPendingRecord, MfaRecord, UserRecord};

use super::codes::{grouped, new_code};
use super::events::Event;
use super::policy::{
    account_key, decide, may_act, mfa_enabled, recovery_hash, second_factor, Decision, Factor,
    MAX_MFA_FAILURES, RECOVERY_LEN,
};
use super::principal::Principal;
use super::refresh::{new_opaque_token, parse_opaque_token, Issue};
use super::{internal, refused, store_failure, Abort, Service};
use crate::limits::Source;
use crate::primitives::sha256;
use crate::totp;

/// How long a pending credential lives.
pub(super) const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

/// New recovery codes for `user_id`: (as shown, keyed hashes to store).
fn new_recovery_codes(
    key: &crate::secrets::ServerKey,
    user_id: &str,
) -> Result<(Vec<String>, Vec<String>), Failure> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let (_, plain) = new_code()?;
        let plain: String = plain.chars().take(RECOVERY_LEN).collect();
        shown.push(grouped(&plain, 5));
        hashes.push(recovery_hash(key, user_id, &plain));
    }
    Ok((shown, hashes))
}

/// What to do with a user's TOTP, proven by a current code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MfaAction {
    /// Confirm a pending enrolment (TOTP code only); makes recovery codes.
    Confirm,
    /// Switch TOTP off (TOTP or recovery code).
    Disable,
    /// Replace the recovery codes (TOTP or recovery code).
    Regenerate,
}

/// Records a pending credential for `user` inside the caller's plan: the second step
/// of a sign-in whose first factor (`amr`) was accepted.
pub(super) fn put_pending(
    w: &mut dyn storage::Write,
    user: &UserRecord,
    amr: Vec<String>,
    now: crate::clock::UnixMillis,
) -> Result<Outcome, super::Abort> {
    let (credential, hash) = new_opaque_token()?;
    let record = MfaPendingRecord {
        user_id: user.id.clone(),
        amr,
        created_at: now,
        expires_at: now + PENDING_TTL,
        failures: 0,
    };
    w.put_mfa_pending(&hash, &record)?;
    Ok(Outcome::MfaPending {
        credential,
        user_id: user.id.clone(),
    })
}

impl Service {
    /// Records a pending credential for `user`, whose first factor (`amr`) was accepted.
    pub(super) async fn mfa_pending(
        &self,
        user: &UserRecord,
        amr: Vec<String>,
    ) -> Result<Outcome, Failure> {
        let now = self.now();
        let user = user.clone();
        self.write(move |w, _, _| Ok(Ok(put_pending(w, &user, amr.clone(), now)?)))
            .await
    }

    /// Finishes a pending sign-in with a TOTP or recovery code.
    pub(super) async fn mfa_finalize(
        &self,
        pending: String,
        code: String,
        source: Source,
        issue: Issue,
    ) -> Result<Outcome, Failure> {
        let Some(raw) = parse_opaque_token(&pending) else {
            return Err(Failure::InvalidMfaPending);
        };
        let hash = sha256(crate::primitives::b64url(&raw).as_bytes());
        let now = self.now();
        let record = self
            .inner
            .store
            .read(|r| r.mfa_pending(&hash))
            .map_err(store_failure)?
            .filter(|p| p.expires_at > now)
            .ok_or(Failure::InvalidMfaPending)?;
        let attempt = self
            .inner
            .guards
            .lockouts
            .begin(&account_key(&record.user_id), source, now)
            .map_err(refused)?;
        let result = self
            .write(move |w, svc, events| {
                let Some(mut rec) = w.mfa_pending(&hash)?.filter(|p| p.expires_at > now) else {
                    return Ok(Err(Failure::InvalidMfaPending));
                };
                let Some(mut user) = w.user(&rec.user_id)? else {
                    w.delete_mfa_pending(&hash)?;
                    return Ok(Err(Failure::InvalidMfaPending));
                };
                if let Err(refusal) = may_act(user.state, false) {
                    w.delete_mfa_pending(&hash)?;
                    return Ok(Err(refusal));
                }
                if user.updated_at > rec.created_at {
                    // The account changed since the password was checked (a reset, a new
                    // password, the second factor): that check no longer stands.
                    w.delete_mfa_pending(&hash)?;
                    return Ok(Err(Failure::InvalidMfaPending));
                }
                let first = rec.amr.clone();
                let factor = Factor::SecondStep { amr: &first };
                let amr = match decide(&svc.inner.key, &mut user, factor, Some(&code), now)? {
                    Decision::SignedIn(amr) => amr,
                    Decision::Refused(Failure::InvalidMfaCode) => {
                        events.push(Event::SecondFactorFailed {
                            user: Some(user.id.clone()),
                            method: "pwd",
                        });
                        rec.failures += 1;
                        if rec.failures >= MAX_MFA_FAILURES {
                            w.delete_mfa_pending(&hash)?;
                        } else {
                            w.put_mfa_pending(&hash, &rec)?;
                        }
                        return Ok(Err(Failure::InvalidMfaCode));
                    }
                    Decision::Refused(refusal) => {
                        w.delete_mfa_pending(&hash)?;
                        return Ok(Err(refusal));
                    }
                    Decision::SecondFactorNeeded => return Ok(Err(Failure::InvalidMfaPending)),
                };
                w.delete_mfa_pending(&hash)?;
                w.update_user(&user)?;
                let method = match first.first().map(String::as_str) {
                    Some(super::policy::UPSTREAM_AMR) => super::policy::UPSTREAM_AMR,
                    _ => "pwd",
                };
                events.push(Event::signed_in(&user.id, method, &amr));
                Ok(Ok(svc.start_session(w, &user, amr, now, issue)?))
            })
            .await;
        self.settle(Some(attempt), &result);
        result
    }

    pub(super) async fn totp_enroll(&self, caller: &Principal) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let secret = totp::new_secret().map_err(|e| internal("randomness", e))?;
        let sealed = self
            .inner
            .key
            .seal(&secret, &user.id)
            .map_err(|e| internal("seal", e))?;
        let issuer = self.inner.cfg.mfa_issuer.clone();
        let account = user
            .email
            .clone()
            .or(user.username.clone())
            .unwrap_or_else(|| user.id.clone());
        let url =
            totp::otpauth_url(&secret, &issuer, &account).map_err(|e| internal("otpauth", e))?;
        let now = self.now();
        let user_id = user.id;
        self.write(move |w, _, _| {
            let Some(mut u) = w.user(&user_id)? else {
                return Ok(Err(Failure::TokenInvalid));
            };
            if mfa_enabled(&u) {
                return Ok(Err(Failure::MfaAlreadyEnabled));
            }
            let last_step = u.mfa.as_ref().map_or(0, |m| m.last_step);
            u.mfa = Some(MfaRecord {
                sealed_secret: sealed.clone(),
                enabled: false,
                last_step,
                enrolled_at: now,
                recovery: Vec::new(),
            });
            w.update_user(&u)?;
            Ok(Ok(()))
        })
        .await?;
        Ok(Outcome::TotpEnrollment {
            secret: totp::base32(&secret),
            otpauth_url: url,
        })
    }

    /// Confirms, switches off, or renews the recovery codes of TOTP, with a current code.
    pub(super) async fn mfa_change(
        &self,
        caller: &Principal,
        code: String,
        action: MfaAction,
        source: Source,
    ) -> Result<Outcome, Failure> {
        let user = caller.user.clone();
        let lock_key = account_key(&user.id);
        let attempt = self
            .inner
            .guards
            .lockouts
            .begin(&lock_key, source, self.now())
            .map_err(refused)?;
        let now = self.now();
        let user_id = user.id.clone();
        // Made before the transaction (which may run more than once): what is shown is
        // what is stored.
        let (shown, hashes) = match action {
            MfaAction::Disable => (Vec::new(), Vec::new()),
            _ => new_recovery_codes(&self.inner.key, &user_id)?,
        };
        let result = self
            .write(move |w, svc, events| {
                let Some(mut u) = w.user(&user_id)? else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                let now_s = u64::try_from(now.secs()).unwrap_or(0);
                let enabled = match u.mfa.as_ref() {
                    None if action == MfaAction::Confirm => return Ok(Err(Failure::MfaNotPending)),
                    None => return Ok(Err(Failure::MfaNotEnabled)),
                    Some(m) => m.enabled,
                };
                match (action, enabled) {
                    (MfaAction::Confirm, true) => return Ok(Err(Failure::MfaAlreadyEnabled)),
                    (MfaAction::Disable | MfaAction::Regenerate, false) => {
                        return Ok(Err(Failure::MfaNotEnabled))
                    }
                    _ => {}
                }
                let proven = if action == MfaAction::Confirm {
                    // Confirmation proves the device works: a TOTP code, nothing else.
                    match u.mfa.as_mut() {
                        Some(mfa) => {
                            let secret =
                                svc.inner.key.open(&mfa.sealed_secret, &u.id).map_err(|e| {
                                    internal("mfa secret", e);
                                    Abort::Internal
                                })?;
                            match totp::check(&secret, &code, now_s, mfa.last_step) {
                                Some(step) => {
                                    mfa.enabled = true;
                                    mfa.last_step = step;
                                    true
                                }
                                None => false,
                            }
                        }
                        None => false,
                    }
                } else {
                    second_factor(&svc.inner.key, &mut u, &code, now_s)?
                };
                if !proven {
                    return Ok(Err(Failure::InvalidMfaCode));
                }
                let outcome = match action {
                    MfaAction::Disable => {
                        u.mfa = None;
                        Outcome::Done
                    }
                    MfaAction::Confirm => Outcome::MfaEnabled {
                        recovery_codes: shown.clone(),
                    },
                    MfaAction::Regenerate => Outcome::RecoveryCodes(shown.clone()),
                };
                if let Some(m) = u.mfa.as_mut() {
                    m.recovery = hashes.clone();
                }
                u.updated_at = now;
                w.update_user(&u)?;
                events.push(Event::SecondFactorChanged {
                    user: u.id.clone(),
                    change: match action {
                        MfaAction::Confirm => "mfa_enabled",
                        MfaAction::Disable => "mfa_disabled",
                        MfaAction::Regenerate => "mfa_recovery_codes_renewed",
                    },
                });
                Ok(Ok(outcome))
            })
            .await;
        self.settle(Some(attempt), &result);
        result
    }
}

impl Service {
    /// Step-up: the signed-in `caller`, whose session counts one factor, gives its second
    /// (a TOTP or recovery code, as at sign-in, counted by the lockout alike); the
    /// session then counts two (`amr` gains `mfa`). Not the password again.
    pub async fn step_up(
        &self,
        caller: &Principal,
        code: String,
        source: Source,
    ) -> Result<(), Failure> {
        let user_id = caller.user.id.clone();
        let session = caller.session.clone();
        let attempt = self
            .inner
            .guards
            .lockouts
            .begin(&account_key(&user_id), source, self.now())
            .map_err(refused)?;
        let now = self.now();
        let result = self
            .write(move |w, svc, _| {
                let Some(mut u) = w.user(&user_id)? else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                if !u.mfa.as_ref().is_some_and(|m| m.enabled) {
                    return Ok(Err(Failure::MfaNotEnabled));
                }
                let Some(mut family) = w.family(&session)?.filter(|f| f.is_live(now)) else {
                    return Ok(Err(Failure::TokenInvalid));
                };
                let now_s = u64::try_from(now.secs()).unwrap_or(0);
                if !second_factor(&svc.inner.key, &mut u, code.trim(), now_s)? {
                    return Ok(Err(Failure::InvalidMfaCode));
                }
                // The step used (or the recovery code spent) is kept: never twice.
                w.update_user(&u)?;
                if !family.amr.iter().any(|m| m == "mfa") {
                    family.amr.push("mfa".into());
                    w.put_family(&family)?;
                }
                Ok(Ok(()))
            })
            .await;
        self.settle(Some(attempt), &result);
        result
    }
}
