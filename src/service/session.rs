//! Family `session`'s operations: mailed one-time session codes, their redemption (with
//! the TOTP second factor when on), logout, and TOTP enrolment.
//!
//! A session code is 60 random bits written as 12 characters of Crockford's base32
//! (`0-9 A-Z` without `I L O U`), shown as `XXXX-XXXX-XXXX`; typing is forgiving (case,
//! hyphens, spaces, `O`/`I`/`L` read as `0`/`1`/`1`). Only its HMAC under the server key is
//! stored. It works once, until `session.code_ttl`, and dies after 5 wrong MFA codes.

use protocol::{Bearer, Failure, Outcome};
use storage::{AccountState, MfaRecord, Revocation, SessionCodeRecord, UserRecord};

use super::{internal, new_id, Abort, Service};
use crate::clock::after;
use crate::mail::{MailError, Purpose};
use crate::primitives::hex;
use crate::totp;

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a session code (5 bits each: 60 bits).
pub const CODE_LEN: usize = 12;
/// Wrong MFA codes a session code survives.
pub const MAX_MFA_FAILURES: u32 = 5;

/// A new code: (as shown, normalized).
pub fn new_code() -> Result<(String, String), Failure> {
    let bytes = crate::primitives::random_bytes::<8>().map_err(|e| internal("randomness", e))?;
    let mut bits = u64::from_le_bytes(bytes);
    let mut plain = String::with_capacity(CODE_LEN);
    for _ in 0..CODE_LEN {
        let i = usize::try_from(bits & 31).unwrap_or(0);
        plain.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
        bits >>= 5;
    }
    let shown = grouped(&plain, 4);
    Ok((shown, plain))
}

/// `plain` in groups of `n` characters joined by hyphens, as codes are shown.
fn grouped(plain: &str, n: usize) -> String {
    let chars: Vec<char> = plain.chars().collect();
    chars
        .chunks(n)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalizes a typed session code, or `None` when it cannot be one.
pub fn normalize_code(typed: &str) -> Option<String> {
    normalize(typed, CODE_LEN)
}

/// Characters of a recovery code (5 bits each: 50 bits).
pub const RECOVERY_LEN: usize = 10;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

fn normalize(typed: &str, len: usize) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let mut out = String::with_capacity(len);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == len).then_some(out)
}

fn recovery_hash(key: &crate::secrets::ServerKey, user_id: &str, normalized: &str) -> String {
    hex(&key.code_hash(&format!("recovery:{user_id}:{normalized}")))
}

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

/// Checks a second factor for a user with TOTP on: a TOTP code (accepted once), or else
/// one of the user's recovery codes (spent by its use). Updates the record on success.
fn second_factor(
    key: &crate::secrets::ServerKey,
    u: &mut UserRecord,
    given: &str,
    now_s: u64,
) -> Result<bool, Abort> {
    use subtle::ConstantTimeEq as _;
    let id = u.id.clone();
    let Some(mfa) = u.mfa.as_mut().filter(|m| m.enabled) else {
        return Ok(false);
    };
    if given.len() == totp::DIGITS && given.bytes().all(|b| b.is_ascii_digit()) {
        let secret = key
            .open(&mfa.sealed_secret, &id)
            .map_err(|e| Abort::Refuse(internal("mfa secret", e)))?;
        return Ok(match totp::check(&secret, given, now_s, mfa.last_step) {
            Some(step) => {
                mfa.last_step = step;
                true
            }
            None => false,
        });
    }
    let Some(n) = normalize(given, RECOVERY_LEN) else {
        return Ok(false);
    };
    let h = recovery_hash(key, &id, &n);
    let mut found = None;
    for (i, stored) in mfa.recovery.iter().enumerate() {
        if bool::from(stored.as_bytes().ct_eq(h.as_bytes())) {
            found = Some(i);
        }
    }
    Ok(match found {
        Some(i) => {
            mfa.recovery.remove(i);
            true
        }
        None => false,
    })
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

fn mail_failure(e: &MailError) -> Failure {
    match e {
        MailError::Refused(_) => Failure::InvalidEmail,
        MailError::Unavailable(_) => Failure::MailUnavailable,
    }
}

impl Service {
    pub(super) async fn request_code(&self, email: String) -> Result<Outcome, Failure> {
        let cfg = &self.inner.cfg;
        let now = self.now_ms();
        self.inner
            .mail_quota
            .take(&email.to_lowercase(), now)
            .map_err(|retry_after| Failure::RateLimited { retry_after })?;
        let exists = self
            .inner
            .store
            .read(|r| r.user_id_by_email(&email))
            .map_err(|e| internal("store", e))?
            .is_some();
        if !exists && !cfg.session.allow_signup {
            // Same work and same answer as for a known address: no enumeration. The mail
            // tells the owner of the address what happened.
            return match self.inner.mailer.send(&email, Purpose::NoAccount).await {
                Ok(()) => {
                    self.inner.metrics.mail(true);
                    Ok(Outcome::CodeSent)
                }
                Err(e) => {
                    self.inner.metrics.mail(false);
                    tracing::warn!(error = %e, "mail not sent");
                    Err(mail_failure(&e))
                }
            };
        }
        let (shown, normalized) = new_code()?;
        let hash = self.inner.key.code_hash(&normalized);
        let invalidate = cfg.session.invalidate_previous;
        let record = SessionCodeRecord {
            email: email.clone(),
            created_at: now,
            expires_at: after(now, cfg.session.code_ttl),
            mfa_failures: 0,
        };
        self.write(move |w, _| {
            if invalidate {
                w.delete_session_codes_of(&record.email)?;
            }
            w.put_session_code(&hash, &record)?;
            Ok(())
        })
        .await?;
        let minutes = cfg.session.code_ttl.as_secs().div_ceil(60);
        match self
            .inner
            .mailer
            .send(
                &email,
                Purpose::Code {
                    code: &shown,
                    minutes,
                },
            )
            .await
        {
            Ok(()) => {
                self.inner.metrics.mail(true);
                Ok(Outcome::CodeSent)
            }
            Err(e) => {
                self.inner.metrics.mail(false);
                tracing::warn!(error = %e, "session code not sent; removing it");
                // No usable code may be left behind for a message that never left.
                self.write(move |w, _| Ok(w.delete_session_code(&hash)?))
                    .await?;
                Err(mail_failure(&e))
            }
        }
    }

    pub(super) async fn redeem_code(
        &self,
        code: String,
        mfa_code: Option<String>,
    ) -> Result<Outcome, Failure> {
        let Some(normalized) = normalize_code(&code) else {
            return Err(Failure::InvalidSessionCode);
        };
        let hash = self.inner.key.code_hash(&normalized);
        let now = self.now_ms();
        let allow_signup = self.inner.cfg.session.allow_signup;
        let result = self
            .write(move |w, svc| {
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
                        let u = UserRecord {
                            id: new_id()?,
                            num: w.allocate_user_num()?,
                            email: Some(rec.email.clone()),
                            username: None,
                            display_name: None,
                            first_name: None,
                            last_name: None,
                            role: "user".into(),
                            password_hash: None,
                            state: AccountState::Active,
                            created_at: now,
                            updated_at: now,
                            last_login_at: None,
                            mfa: None,
                        };
                        w.insert_user(&u)?;
                        u
                    }
                    None => {
                        w.delete_session_code(&hash)?;
                        return Ok(Err(Failure::InvalidSessionCode));
                    }
                };
                match user.state {
                    AccountState::Active => {}
                    // Redeeming a mailed code proves the address: it verifies the account.
                    AccountState::Unverified => {
                        user.state = AccountState::Active;
                        user.updated_at = now;
                    }
                    AccountState::Disabled => {
                        w.delete_session_code(&hash)?;
                        return Ok(Err(Failure::Disabled));
                    }
                    AccountState::Blocked => {
                        w.delete_session_code(&hash)?;
                        return Ok(Err(Failure::Blocked));
                    }
                }
                let mut amr = vec!["otp".to_string()];
                if user.mfa.as_ref().is_some_and(|m| m.enabled) {
                    let Some(given) = mfa_code.as_deref() else {
                        // The code stays valid for the second step.
                        return Ok(Ok(Outcome::MfaRequired));
                    };
                    let now_s = u64::try_from(now / 1000).unwrap_or(0);
                    match second_factor(&svc.inner.key, &mut user, given, now_s)? {
                        true => amr.push("mfa".into()),
                        false => {
                            rec.mfa_failures += 1;
                            if rec.mfa_failures >= MAX_MFA_FAILURES {
                                w.delete_session_code(&hash)?;
                            } else {
                                w.put_session_code(&hash, &rec)?;
                            }
                            return Ok(Err(Failure::InvalidMfaCode));
                        }
                    }
                }
                w.delete_session_code(&hash)?;
                user.last_login_at = Some(now);
                w.update_user(&user)?;
                let tokens = svc.start_family(w, &user, amr, now)?;
                Ok(Ok(Outcome::Tokens(tokens)))
            })
            .await?;
        match &result {
            Ok(Outcome::Tokens(t)) => {
                self.inner.metrics.sign_in("otp", "ok");
                tracing::info!(target: "latchkey::audit", event = "sign_in", method = "otp", user = %t.user.id)
            }
            Err(Failure::InvalidMfaCode) => {
                self.inner.metrics.sign_in("otp", "failed");
                tracing::info!(target: "latchkey::audit", event = "mfa_failed")
            }
            Err(Failure::InvalidSessionCode) => self.inner.metrics.sign_in("otp", "failed"),
            _ => {}
        }
        result
    }

    pub(super) async fn logout(&self, refresh_token: String) -> Result<Outcome, Failure> {
        if super::refresh::parse_refresh_token(&refresh_token).is_none() {
            return Ok(Outcome::Done);
        }
        let hash = super::sha256(refresh_token.as_bytes());
        let now = self.now_ms();
        let revoked = self
            .write(move |w, _| {
                if let Some(entry) = w.refresh(&hash)? {
                    if let Some(mut f) = w.family(&entry.family_id)? {
                        if f.revoked.is_none() {
                            f.revoked = Some(Revocation {
                                at: now,
                                reason: "logout".into(),
                            });
                            w.put_family(&f)?;
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            })
            .await?;
        if revoked {
            self.inner.metrics.revoked("logout");
        }
        Ok(Outcome::Done)
    }

    pub(super) async fn totp_enroll(&self, bearer: Bearer) -> Result<Outcome, Failure> {
        let user = self.authenticated_user(bearer)?;
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
        let now = self.now_ms();
        let user_id = user.id;
        self.write(move |w, _| {
            let Some(mut u) = w.user(&user_id)? else {
                return Err(Abort::Refuse(Failure::TokenInvalid));
            };
            if u.mfa.as_ref().is_some_and(|m| m.enabled) {
                return Err(Abort::Refuse(Failure::MfaAlreadyEnabled));
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
            Ok(())
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
        bearer: Bearer,
        code: String,
        action: MfaAction,
    ) -> Result<Outcome, Failure> {
        let user = self.authenticated_user(bearer)?;
        let lock_key = format!("mfa:{}", user.id);
        if let Some(retry_after) = self.inner.lockouts.locked(&lock_key, self.now_ms()) {
            return Err(Failure::LockedOut { retry_after });
        }
        let now = self.now_ms();
        let user_id = user.id.clone();
        // Made before the transaction (which may run more than once): what is shown is
        // what is stored.
        let (shown, hashes) = match action {
            MfaAction::Disable => (Vec::new(), Vec::new()),
            _ => new_recovery_codes(&self.inner.key, &user_id)?,
        };
        let result = self
            .write(move |w, svc| {
                let Some(mut u) = w.user(&user_id)? else {
                    return Err(Abort::Refuse(Failure::TokenInvalid));
                };
                let now_s = u64::try_from(now / 1000).unwrap_or(0);
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
                            let secret = svc
                                .inner
                                .key
                                .open(&mfa.sealed_secret, &u.id)
                                .map_err(|e| Abort::Refuse(internal("mfa secret", e)))?;
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
                Ok(Ok(outcome))
            })
            .await?;
        match &result {
            Err(Failure::InvalidMfaCode) => {
                self.inner.lockouts.fail(&lock_key, self.now_ms());
            }
            Ok(_) => {
                self.inner.lockouts.clear(&lock_key);
                let event = match action {
                    MfaAction::Confirm => "mfa_enabled",
                    MfaAction::Disable => "mfa_disabled",
                    MfaAction::Regenerate => "mfa_recovery_codes_renewed",
                };
                tracing::info!(target: "latchkey::audit", event, user = %user.id);
            }
            Err(_) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_60_bits_in_an_unambiguous_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let (shown, plain) = new_code().unwrap();
            assert_eq!(shown.len(), 14);
            assert_eq!(plain.len(), CODE_LEN);
            assert!(!plain.contains(['I', 'L', 'O', 'U']));
            assert_eq!(normalize_code(&shown).as_deref(), Some(plain.as_str()));
            assert_eq!(
                normalize_code(&shown.to_lowercase()).as_deref(),
                Some(plain.as_str())
            );
            seen.insert(plain);
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            normalize_code("abcd efgh jkmn").as_deref(),
            Some("ABCDEFGHJKMN")
        );
        assert_eq!(
            normalize_code("OIL0-0000-0000").as_deref(),
            Some("011000000000")
        );
        for bad in [
            "",
            "ABCD-EFGH-JKM",
            "ABCD-EFGH-JKMNP",
            "ABCD-EFGH-JKMU",
            "ÄBCD-EFGH-JKMN",
        ] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }
}
