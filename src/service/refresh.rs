//! Refresh-token families: start, rotate, tolerate reuse within `reuse_interval`, revoke
//! the whole family on later reuse. Only SHA-256 hashes of refresh tokens are stored.

use std::time::Duration;

use crate::clock::UnixMillis;
use protocol::{Failure, Outcome, Tokens};
use storage::{FamilyRecord, RefreshEntry, UserRecord, Write};

use super::events::Event;
use super::policy::{end_session, may_act};
use super::{internal, new_id, view, Abort, Service};
use crate::primitives::{b64url, b64url_decode, hex, hex_decode, is_hex_of, random_bytes, sha256};

/// Length of a refresh token: 32 random bytes in unpadded base64url.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// Parses a presented refresh token: exactly 43 characters of canonical base64url
/// A new family (a session) of `user`, signed in now with `amr`, its one live token
/// `current_token` (hex of its hash; empty: none), ending at `expires_at`.
pub(super) fn new_family(
    user: &UserRecord,
    amr: Vec<String>,
    now: UnixMillis,
    expires_at: UnixMillis,
    current_token: String,
) -> Result<FamilyRecord, Failure> {
    Ok(FamilyRecord {
        id: new_id()?,
        user_id: user.id.clone(),
        amr,
        created_at: now,
        rotated_at: now,
        expires_at,
        current_token,
        revoked: None,
    })
}

/// The store key of the OpenID Connect grant a family was made for.
pub(super) fn family_key(family_id: &str) -> [u8; 32] {
    sha256(format!("family:{family_id}").as_bytes())
}

/// (256 bits). Anything else is refused without touching the store.
pub fn parse_refresh_token(t: &str) -> Option<[u8; 32]> {
    if t.len() != REFRESH_TOKEN_LEN {
        return None;
    }
    let bytes = b64url_decode(t)?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// What starts a refresh token issued to an OpenID Connect client: such a token is
/// rotated only at the OIDC token endpoint, by its client, and every other refresh route
/// refuses it by its form (no read needed to tell).
pub const OIDC_PREFIX: &str = "oidc_";

/// Whether `t` has the form of a refresh token of either kind (API or OIDC).
pub fn is_refresh_token(t: &str) -> bool {
    parse_refresh_token(t.strip_prefix(OIDC_PREFIX).unwrap_or(t)).is_some()
}

/// A new refresh token starting with `prefix` (empty, or [`OIDC_PREFIX`]), and the
/// SHA-256 of its whole text.
fn new_refresh_token(prefix: &str) -> Result<(String, [u8; 32]), Failure> {
    let (t, _) = new_opaque_token()?;
    let token = format!("{prefix}{t}");
    let hash = sha256(token.as_bytes());
    Ok((token, hash))
}

/// A new opaque token (refresh token, MFA pending credential): 256 random bits in
/// unpadded base64url, and the SHA-256 of its text, which is all the store keeps.
pub(super) fn new_opaque_token() -> Result<(String, [u8; 32]), Failure> {
    let raw = random_bytes::<32>().map_err(|e| internal("randomness", e))?;
    let token = b64url(&raw);
    Ok((token.clone(), sha256(token.as_bytes())))
}

/// Parses a presented opaque token: see [`parse_refresh_token`].
pub(super) fn parse_opaque_token(t: &str) -> Option<[u8; 32]> {
    parse_refresh_token(t)
}

/// Spent tokens a family tolerates being presented again within `reuse_interval`, each:
/// enough for clients racing themselves and for a retry.
pub const MAX_TOLERATED_REPLAYS: u32 = 3;

/// How much longer than `reuse_interval` a spent token is still answered when nothing
/// has been done with what its rotation gave (its successor is the family's current
/// token, never presented): the rotation's answer may have been lost while the database
/// was away (its commit landed after the client was told 503), and the client's retry
/// must not read as theft. Milliseconds.
pub const UNKNOWN_OUTCOME_GRACE: Duration = Duration::from_secs(60);

/// What a finished sign-in starts: a family with the API's token pair, or a browser's
/// session (the portal's cookie), made by the sign-in's own commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Issue {
    /// An access token and a refresh token.
    Tokens,
    /// A portal session: its cookie is the family's one token.
    Browser,
}

impl Service {
    /// Starts the session of a sign-in `issue` asks for, inside the sign-in's plan.
    pub(super) fn start_session(
        &self,
        w: &mut dyn Write,
        user: &UserRecord,
        amr: Vec<String>,
        now: UnixMillis,
        issue: Issue,
    ) -> Result<Outcome, Abort> {
        Ok(match issue {
            Issue::Tokens => Outcome::Tokens(self.start_family(w, user, amr, now)?),
            Issue::Browser => {
                let (token, expires_at) = self.open_browser_session(w, user, amr, now)?;
                Outcome::Session {
                    user: view(user),
                    token,
                    expires_at: expires_at.millis(),
                }
            }
        })
    }

    pub(super) fn refresh_ttl(&self) -> Duration {
        self.inner.cfg.tokens.refresh_ttl
    }

    /// Starts a family for `user` inside the caller's transaction and issues its first
    /// token pair.
    pub(super) fn start_family(
        &self,
        w: &mut dyn Write,
        user: &UserRecord,
        amr: Vec<String>,
        now: UnixMillis,
    ) -> Result<Tokens, Abort> {
        self.start_family_as(w, user, amr, now, Some(""))
    }

    /// [`Service::start_family`], its refresh tokens starting with `prefix`; with
    /// `prefix` `None`, a family without a refresh token (its access tokens still name it,
    /// so revoking it ends them; [`Tokens::refresh_token`] is empty): for a grant whose
    /// client gets no refresh token, none exists.
    pub(super) fn start_family_as(
        &self,
        w: &mut dyn Write,
        user: &UserRecord,
        amr: Vec<String>,
        now: UnixMillis,
        prefix: Option<&str>,
    ) -> Result<Tokens, Abort> {
        let (family, token) = self.open_family(w, user, amr, now, prefix)?;
        self.token_pair(user, &family, token, now)
    }

    /// The writes of [`Service::start_family_as`] without the access token: the family
    /// and its refresh token. A hot path signs after its commit ([`Service::token_pair`]),
    /// so the store's one writer never waits on a signature.
    pub(super) fn open_family(
        &self,
        w: &mut dyn Write,
        user: &UserRecord,
        amr: Vec<String>,
        now: UnixMillis,
        prefix: Option<&str>,
    ) -> Result<(FamilyRecord, String), Abort> {
        let refresh = prefix.map(new_refresh_token).transpose()?;
        let family = new_family(
            user,
            amr,
            now,
            now + self.refresh_ttl(),
            refresh.as_ref().map(|(_, h)| hex(h)).unwrap_or_default(),
        )?;
        w.put_family(&family)?;
        if let Some((_, hash)) = &refresh {
            w.put_refresh(hash, &RefreshEntry::issued(&family.id, now))?;
        }
        let token = refresh.map(|(t, _)| t).unwrap_or_default();
        Ok((family, token))
    }

    /// The token pair of `family` for `user`: the refresh token given, and a new access
    /// token signed now.
    pub(super) fn token_pair(
        &self,
        user: &UserRecord,
        family: &FamilyRecord,
        refresh_token: String,
        now: UnixMillis,
    ) -> Result<Tokens, Abort> {
        let (access_token, claims) = self.access_token(user, &family.id, &family.amr, now)?;
        Ok(Tokens {
            access_token,
            expires_in: self.inner.cfg.tokens.access_ttl.as_secs(),
            issued_at: now.millis(),
            expires_at: UnixMillis::from_secs(claims.exp).millis(),
            refresh_token,
            family_id: family.id.clone(),
            family_created_at: family.created_at.millis(),
            user: view(user),
        })
    }

    pub(super) async fn refresh(&self, presented: String) -> Result<Outcome, Failure> {
        self.rotate_refresh(presented, "").await
    }

    /// Rotates a refresh token of the kind `prefix` says (empty: an API family's; an
    /// OIDC client's: [`OIDC_PREFIX`]); a token of the other kind is refused.
    pub(super) async fn rotate_refresh(
        &self,
        presented: String,
        prefix: &'static str,
    ) -> Result<Outcome, Failure> {
        let body = match presented.strip_prefix(prefix) {
            Some(b) if !b.starts_with(OIDC_PREFIX) => b,
            _ => return Err(Failure::RefreshInvalid),
        };
        if parse_refresh_token(body).is_none() {
            return Err(Failure::RefreshInvalid);
        }
        let hash = sha256(presented.as_bytes());
        // The token that replaces this one: the same whenever this rotation is asked for
        // again, so a burst, a retry or a racing tab gets one answer, never a fork.
        let successor = format!(
            "{prefix}{}",
            b64url(&self.inner.key.refresh_successor(&presented))
        );
        let successor_hash = sha256(successor.as_bytes());
        let reuse = self.inner.cfg.tokens.reuse_interval;
        // A refusal that records a revocation commits it, and its event.
        let result = self
            .write(move |w, svc, events| {
                // The time the transaction runs, the rotation's commit right after it.
                let now = svc.now();
                let Some(chain) = w.refresh_chain(&hash)? else {
                    return Ok(Err(Failure::RefreshInvalid));
                };
                let mut entry = chain.entry;
                let Some(mut family) = chain.family else {
                    return Ok(Err(Failure::RefreshInvalid));
                };
                if family.revoked.is_some() {
                    return Ok(Err(Failure::RefreshInvalid));
                }
                if now >= family.expires_at || now >= (entry.issued_at + svc.refresh_ttl()) {
                    return Ok(Err(Failure::RefreshExpired));
                }
                let user = match chain.user {
                    Some(u) if may_act(u.state, false).is_ok() => u,
                    _ => {
                        end_session(w, &mut family, "user_inactive", now)?;
                        return Ok(Err(Failure::RefreshInvalid));
                    }
                };
                if let Some(spent_at) = entry.spent_at {
                    // Whether what the rotation gave is untouched: its successor is still
                    // the family's current token.
                    let untouched = is_hex_of(&family.current_token, &successor_hash);
                    // Tolerated only within a window that exists: with reuse_interval = 0
                    // even a reuse in the same millisecond is theft.
                    let age = now.since(spent_at);
                    let tolerated = !reuse.is_zero()
                        && (age <= reuse
                            || (untouched && age <= reuse.saturating_add(UNKNOWN_OUTCOME_GRACE)));
                    if !tolerated {
                        // A token spent long ago came back: assume theft, end the family.
                        end_session(w, &mut family, "reuse", now)?;
                        events.push(Event::SessionEnded {
                            cause: "reuse",
                            family: family.id.clone(),
                            user: Some(family.user_id.clone()),
                            client: None,
                        });
                        return Ok(Err(Failure::RefreshInvalid));
                    }
                    // The chain moved on (its successor was rotated in turn): refused,
                    // not theft, within the window. One chain only, ever.
                    if !untouched || entry.replays >= MAX_TOLERATED_REPLAYS {
                        return Ok(Err(Failure::RefreshInvalid));
                    }
                    entry.replays += 1;
                    w.put_refresh(&hash, &entry)?;
                    // The answer of the first presentation again: the same refresh token,
                    // an access token signed anew. Nothing rotates.
                    return Ok(Ok((user, family, successor.clone(), now)));
                }
                entry.spent_at = Some(now);
                w.put_refresh(&hash, &entry)?;
                // The family's current token, if it is another one (a record of an older
                // release), is spent now too, so one token stays live per family.
                if !is_hex_of(&family.current_token, &hash) {
                    if let Some(cur) = hex_decode(&family.current_token) {
                        if let Some(mut c) = w.refresh(&cur)? {
                            if c.spent_at.is_none() {
                                c.spent_at = Some(now);
                                w.put_refresh(&cur, &c)?;
                            }
                        }
                    }
                }
                w.put_refresh(&successor_hash, &RefreshEntry::issued(&family.id, now))?;
                family.rotated_at = now;
                family.expires_at = now + svc.refresh_ttl();
                family.current_token = hex(&successor_hash);
                w.put_family(&family)?;
                events.push(Event::Rotated);
                // Signed after the commit (below): the writer does not wait on it.
                Ok(Ok((user, family, successor.clone(), now)))
            })
            .await;
        let (user, family, refresh_token, now) = result?;
        Ok(Outcome::Tokens(self.token_pair(
            &user,
            &family,
            refresh_token,
            now,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_syntax() {
        let (t, _) = new_opaque_token().unwrap();
        assert_eq!(t.len(), REFRESH_TOKEN_LEN);
        assert!(parse_refresh_token(&t).is_some());
        assert!(parse_refresh_token(t.get(1..).unwrap()).is_none());
        assert!(parse_refresh_token(&format!("{t}=")).is_none());
        assert!(parse_refresh_token(&"!".repeat(43)).is_none());
    }
}
