//! RFC 7662 token introspection and RFC 7009 revocation, for sidecars that cannot (or
//! would rather not) verify tokens themselves. Both require OAuth client credentials.
//!
//! A token is active when latchkey itself would accept it now: an access token whose
//! signature and claims verify, whose family is live and whose user is active; a refresh
//! token that is its family's current one, unexpired, in a live family of an active user.

use protocol::{ClientCredentials, Failure, Introspection, Outcome};
use storage::UserRecord;

use super::events::Event;
use super::policy::{end_session, live_family, may_act};
use super::{refresh::is_refresh_token, store_failure, Service};
use crate::primitives::sha256;
use crate::signer::Claims;

impl Service {
    pub(super) fn introspect(
        &self,
        token: &str,
        hint: Option<&str>,
        client: &ClientCredentials,
    ) -> Result<Outcome, Failure> {
        self.check_client(client, true)?;
        let refresh_first = hint == Some("refresh_token");
        let found = if refresh_first {
            self.introspect_refresh(token, client)?
                .or(self.introspect_access(token, client)?)
        } else {
            self.introspect_access(token, client)?
                .or(self.introspect_refresh(token, client)?)
        };
        Ok(Outcome::Introspection(found.map(Box::new)))
    }

    fn active_user(&self, family_id: &str, user_id: &str) -> Result<Option<UserRecord>, Failure> {
        let now = self.now();
        self.inner
            .store
            .read(|r| {
                let live = r
                    .family(family_id)?
                    .is_some_and(|f| live_family(&f, user_id, now));
                if !live {
                    return Ok(None);
                }
                Ok(r.user(user_id)?.filter(|u| may_act(u.state, false).is_ok()))
            })
            .map_err(store_failure)
    }

    fn introspect_access(
        &self,
        token: &str,
        client: &ClientCredentials,
    ) -> Result<Option<Introspection>, Failure> {
        let Ok(c): Result<Claims, _> = self.inner.tokens.keys.verify(token, self.now()) else {
            return Ok(None);
        };
        let Some(user) = self.active_user(&c.sid, &c.sub)? else {
            return Ok(None);
        };
        let groups = self.groups_of(&user.id)?;
        Ok(Some(Introspection {
            token_type: "access_token",
            username: user.username.or(user.email),
            sub: c.sub,
            sid: c.sid,
            exp: c.exp,
            iat: c.iat,
            iss: c.iss,
            jti: Some(c.jti),
            role: c.role,
            amr: c.amr,
            groups,
            client_id: client.id.clone(),
        }))
    }

    fn introspect_refresh(
        &self,
        token: &str,
        client: &ClientCredentials,
    ) -> Result<Option<Introspection>, Failure> {
        if !is_refresh_token(token) {
            return Ok(None);
        }
        let hash = sha256(token.as_bytes());
        let now = self.now();
        let ttl = self.inner.cfg.tokens.refresh_ttl;
        let found = self
            .inner
            .store
            .read(|r| {
                let Some(entry) = r.refresh(&hash)? else {
                    return Ok(None);
                };
                if entry.spent_at.is_some() || (entry.issued_at + ttl) <= now {
                    return Ok(None);
                }
                Ok(r.family(&entry.family_id)?.map(|f| (entry, f)))
            })
            .map_err(store_failure)?;
        let Some((entry, family)) = found else {
            return Ok(None);
        };
        let Some(user) = self.active_user(&family.id, &family.user_id)? else {
            return Ok(None);
        };
        let groups = self.groups_of(&user.id)?;
        Ok(Some(Introspection {
            token_type: "refresh_token",
            username: user.username.or(user.email),
            sub: user.id,
            sid: family.id,
            exp: (entry.issued_at + ttl).secs(),
            iat: entry.issued_at.secs(),
            iss: self.inner.cfg.tokens.issuer.clone(),
            jti: None,
            role: user.role,
            amr: family.amr,
            groups,
            client_id: client.id.clone(),
        }))
    }

    /// Revokes the family of a refresh token or of an access token. Unknown, invalid or
    /// already revoked tokens answer the same (RFC 7009 §2.2).
    pub(super) async fn revoke(
        &self,
        token: String,
        client: &ClientCredentials,
    ) -> Result<Outcome, Failure> {
        self.check_client(client, true)?;
        let now = self.now();
        let family_id = if is_refresh_token(&token) {
            let hash = sha256(token.as_bytes());
            self.inner
                .store
                .read(|r| r.refresh(&hash))
                .map_err(store_failure)?
                .map(|e| e.family_id)
        } else {
            // An expired access token can still name a family worth ending.
            self.inner
                .tokens
                .keys
                .verify_allowing_expired(&token, now)
                .ok()
                .map(|c| c.sid)
        };
        let Some(family_id) = family_id else {
            return Ok(Outcome::Done);
        };
        let client = client.id.clone();
        self.write(move |w, _, events| {
            if let Some(mut f) = w.family(&family_id)? {
                if end_session(w, &mut f, "revoked", now)? {
                    events.push(Event::SessionEnded {
                        cause: "rfc7009",
                        family: f.id.clone(),
                        user: Some(f.user_id.clone()),
                        client: Some(client.clone()),
                    });
                }
            }
            Ok(Ok(Outcome::Done))
        })
        .await
    }
}
