//! Refresh-token families: start, rotate, tolerate reuse within `reuse_interval`, revoke
//! the whole family on later reuse. Only SHA-256 hashes of refresh tokens are stored.

use protocol::{Failure, Outcome, Tokens};
use storage::{AccountState, FamilyRecord, RefreshEntry, Revocation, UserRecord, Writer};

use super::{internal, new_id, view, Abort, Service};
use crate::clock::ms;
use crate::primitives::{b64url, b64url_decode, hex, hex_decode, random_bytes, sha256};

/// Length of a refresh token: 32 random bytes in unpadded base64url.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// Parses a presented refresh token: exactly 43 characters of canonical base64url
/// (256 bits). Anything else is refused without touching the store.
pub fn parse_refresh_token(t: &str) -> Option<[u8; 32]> {
    if t.len() != REFRESH_TOKEN_LEN {
        return None;
    }
    let bytes = b64url_decode(t)?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

fn new_refresh_token() -> Result<(String, [u8; 32]), Failure> {
    let raw = random_bytes::<32>().map_err(|e| internal("randomness", e))?;
    let token = b64url(&raw);
    Ok((token.clone(), sha256(token.as_bytes())))
}

impl Service {
    fn refresh_ttl_ms(&self) -> i64 {
        ms(self.inner.cfg.tokens.refresh_ttl)
    }

    /// Starts a family for `user` inside the caller's transaction and issues its first
    /// token pair.
    pub(super) fn start_family(
        &self,
        w: &mut Writer,
        user: &UserRecord,
        amr: Vec<String>,
        now: i64,
    ) -> Result<Tokens, Abort> {
        let (refresh_token, hash) = new_refresh_token()?;
        let family = FamilyRecord {
            id: new_id()?,
            user_id: user.id.clone(),
            amr,
            created_at: now,
            rotated_at: now,
            expires_at: now.saturating_add(self.refresh_ttl_ms()),
            current_token: hex(&hash),
            revoked: None,
        };
        w.put_family(&family)?;
        w.put_refresh(
            &hash,
            &RefreshEntry {
                family_id: family.id.clone(),
                issued_at: now,
                spent_at: None,
            },
        )?;
        self.token_pair(user, &family, refresh_token, now)
    }

    fn token_pair(
        &self,
        user: &UserRecord,
        family: &FamilyRecord,
        refresh_token: String,
        now: i64,
    ) -> Result<Tokens, Abort> {
        let (access_token, claims) = self.access_token(user, &family.id, &family.amr, now)?;
        Ok(Tokens {
            access_token,
            expires_in: self.inner.cfg.tokens.access_ttl.as_secs(),
            issued_at: now,
            expires_at: claims.exp.saturating_mul(1000),
            refresh_token,
            family_id: family.id.clone(),
            family_created_at: family.created_at,
            user: view(user),
        })
    }

    pub(super) async fn refresh(&self, presented: String) -> Result<Outcome, Failure> {
        if parse_refresh_token(&presented).is_none() {
            return Err(Failure::RefreshInvalid);
        }
        let hash = sha256(presented.as_bytes());
        let now = self.now_ms();
        let reuse_ms = ms(self.inner.cfg.tokens.reuse_interval);
        // The inner Result carries refusals that must still commit (a revocation).
        let theft = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let theft_seen = theft.clone();
        let result = self
            .write(move |w, svc| {
                let Some(mut entry) = w.refresh(&hash)? else {
                    return Ok(Err(Failure::RefreshInvalid));
                };
                let Some(mut family) = w.family(&entry.family_id)? else {
                    return Ok(Err(Failure::RefreshInvalid));
                };
                if family.revoked.is_some() {
                    return Ok(Err(Failure::RefreshInvalid));
                }
                if now >= family.expires_at || now >= entry.issued_at.saturating_add(svc.refresh_ttl_ms()) {
                    return Ok(Err(Failure::RefreshExpired));
                }
                let user = match w.user(&family.user_id)? {
                    Some(u) if u.state == AccountState::Active => u,
                    _ => {
                        family.revoked = Some(Revocation { at: now, reason: "user_inactive".into() });
                        w.put_family(&family)?;
                        return Ok(Err(Failure::RefreshInvalid));
                    }
                };
                if let Some(spent_at) = entry.spent_at {
                    // Tolerated only within a window that exists: with reuse_interval = 0
                    // even a reuse in the same millisecond is theft.
                    let tolerated = reuse_ms > 0 && now.saturating_sub(spent_at) <= reuse_ms;
                    if !tolerated {
                        // A token spent long ago came back: assume theft, end the family.
                        tracing::warn!(target: "latchkey::audit", event = "family_revoked", cause = "reuse", family = %family.id, user = %family.user_id, "refresh token reuse: family revoked");
                        family.revoked = Some(Revocation { at: now, reason: "reuse".into() });
                        w.put_family(&family)?;
                        theft_seen.store(true, std::sync::atomic::Ordering::Relaxed);
                        return Ok(Err(Failure::RefreshInvalid));
                    }
                } else {
                    entry.spent_at = Some(now);
                    w.put_refresh(&hash, &entry)?;
                }
                // Tolerated reuse (or the normal case): the family's current token, if it is
                // another one, is spent now too, so one token stays live per family.
                if family.current_token != hex(&hash) {
                    if let Some(cur) = hex_decode(&family.current_token) {
                        if let Some(mut c) = w.refresh(&cur)? {
                            if c.spent_at.is_none() {
                                c.spent_at = Some(now);
                                w.put_refresh(&cur, &c)?;
                            }
                        }
                    }
                }
                let (refresh_token, new_hash) = new_refresh_token()?;
                w.put_refresh(&new_hash, &RefreshEntry { family_id: family.id.clone(), issued_at: now, spent_at: None })?;
                family.rotated_at = now;
                family.expires_at = now.saturating_add(svc.refresh_ttl_ms());
                family.current_token = hex(&new_hash);
                w.put_family(&family)?;
                Ok(Ok(Outcome::Tokens(svc.token_pair(&user, &family, refresh_token, now)?)))
            })
            .await?;
        if result.is_ok() {
            self.inner.metrics.rotation();
        } else if theft.load(std::sync::atomic::Ordering::Relaxed) {
            self.inner.metrics.revoked("reuse");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_syntax() {
        let (t, _) = new_refresh_token().unwrap();
        assert_eq!(t.len(), REFRESH_TOKEN_LEN);
        assert!(parse_refresh_token(&t).is_some());
        assert!(parse_refresh_token(t.get(1..).unwrap()).is_none());
        assert!(parse_refresh_token(&format!("{t}=")).is_none());
        assert!(parse_refresh_token(&"!".repeat(43)).is_none());
    }
}
