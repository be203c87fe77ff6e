//! Who a request acts for, authenticated once at the service's edge. A door turns what
//! the request presented (an access token; the portal's cookie) into a [`Principal`];
//! the operations of a signed-in user ([`protocol::UserOp`]) take that, never a raw
//! token. The portal runs the same operations with the principal of its cookie: it does
//! not mint tokens for itself.

use crate::clock::UnixMillis;
use protocol::{Bearer, Failure};
use storage::UserRecord;

use super::policy::{live_family, may_act};
use super::seen::Seen;
use super::{store_failure, Service};
use crate::signer::Claims;

/// How the caller was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// An access token (`Authorization: Bearer`, or forward-auth's cookie).
    AccessToken,
    /// The portal's session cookie.
    Portal,
}

/// A signed-in caller: the account (active, as read now), its live session, and how and
/// when it signed in.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account.
    pub user: UserRecord,
    /// How the caller was authenticated.
    pub door: Door,
    /// The methods of the sign-in (`amr`).
    pub amr: Vec<String>,
    /// When the session signed in, Unix milliseconds.
    pub signed_in_at: UnixMillis,
    /// The session (its family id).
    pub session: String,
}

impl Service {
    /// The caller of an access token: the token verifies, its session is live and the
    /// account may act.
    pub fn authenticate(&self, bearer: Bearer) -> Result<Principal, Failure> {
        let claims = self.inner.tokens.verify(bearer, self.now())?;
        let now = self.now();
        let principal = |user: UserRecord, signed_in_at: UnixMillis, claims: Claims| Principal {
            user,
            door: Door::AccessToken,
            amr: claims.amr,
            signed_in_at,
            session: claims.sid,
        };
        // What an earlier check read stands until the store changes (see `seen`): a
        // change notice on a shared store, any commit on redb.
        let store = &self.inner.store;
        let seen = Some(&*self.inner.tokens.seen).filter(|_| store.changes_known());
        let current = |s: &Seen| {
            if let Some(v) = store.version() {
                s.at_version(v);
            }
        };
        if let Some(s) = seen {
            current(s);
        }
        if let Some((u, at)) = seen.and_then(|s| s.lookup(&claims.sid, &claims.sub, now)) {
            // Only an active account was kept, and a change of state is a change; the
            // rule is still asked, as for a read.
            if may_act(u.state, false).is_err() {
                return Err(Failure::TokenInvalid);
            }
            return Ok(principal(u, at, claims));
        }
        let epoch = seen.map(|s| s.epoch());
        let found = store
            .read(|r| {
                let family = r.family(&claims.sid)?;
                let live = family.as_ref().filter(|f| live_family(f, &claims.sub, now));
                let Some(f) = live else {
                    return Ok(None);
                };
                Ok(r.user(&claims.sub)?
                    .map(|u| (f.expires_at, f.created_at, u)))
            })
            .map_err(store_failure)?;
        if let Some(s) = seen {
            current(s);
        }
        match found {
            Some((expires_at, signed_in_at, u)) if may_act(u.state, false).is_ok() => {
                if let (Some(s), Some(e)) = (seen, epoch) {
                    s.remember(e, &claims.sid, expires_at, signed_in_at, &u);
                }
                Ok(principal(u, signed_in_at, claims))
            }
            _ => Err(Failure::TokenInvalid),
        }
    }
}
