//! Portal sessions: what a browser signed in to the pages holds.
//!
//! A portal session IS a refresh family: every rule that ends families (sign-out
//! everywhere, a password reset, an account disabled or deleted, a proven address taking
//! an account back) ends portal sessions with them, and the account page lists both
//! alike. What differs is the family's token: the session cookie, stored as the SHA-256
//! of a domain-separated text, so it can never be presented as a refresh token (nor a
//! refresh token as a cookie), and it is never rotated: the family's lifetime slides
//! instead, renewed while the browser uses it.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::UnixMillis;
use protocol::{Failure, UserView};
use storage::{FamilyRecord, RefreshEntry, UserRecord};
use subtle::ConstantTimeEq as _;

use super::events::Event;
use super::policy::{end_session, may_act};
use super::principal::{Door, Principal};
use super::refresh::{family_key, new_family, new_opaque_token, parse_opaque_token};
use super::visits::Visit;
use super::{store_failure, view, Abort, Service};
use crate::primitives::{b64url, b64url_decode, hex, is_hex_of, sha256};

/// The store key of a session cookie: never the SHA-256 of the bare token, which is what
/// a refresh token is stored under.
fn session_hash(cookie: &str) -> [u8; 32] {
    let mut text = b"latchkey portal session\0".to_vec();
    text.extend_from_slice(cookie.as_bytes());
    sha256(&text)
}

/// The person behind a live session cookie.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Who they are, authenticated by the cookie: the caller of the operations the pages
    /// run.
    pub principal: Principal,
    /// The groups of the account, sorted, read with the session (one transaction): what
    /// forward-auth, the OIDC clients' `allowed_groups` and the admin pages decide on.
    pub groups: Vec<String>,
    /// A new end when this visit renewed the session (the cookie is sent again).
    pub renewed: Option<UnixMillis>,
}

impl Visitor {
    /// The account, as read with the session.
    pub fn user(&self) -> &UserRecord {
        &self.principal.user
    }

    /// The account as the pages may show it.
    pub fn view(&self) -> UserView {
        view(&self.principal.user)
    }

    /// Whether the account has a password (the page asks for it before changing it).
    pub fn has_password(&self) -> bool {
        self.principal.user.password_hash.is_some()
    }
}

/// One signed-in session of an account (a browser's or an app's), for the account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Family id.
    pub id: String,
    /// Sign-in time, Unix milliseconds.
    pub created_at: UnixMillis,
    /// Last renewal or rotation, Unix milliseconds.
    pub used_at: UnixMillis,
    /// How the sign-in was made.
    pub amr: Vec<String>,
    /// The OpenID Connect app it was given to (its name), if any.
    pub app: Option<String>,
}

impl Service {
    /// How long a portal session lives unless renewed.
    fn portal_ttl(&self) -> Duration {
        self.inner
            .cfg
            .portal
            .as_ref()
            .map_or(Duration::ZERO, |p| p.session_ttl)
    }

    /// Opens a portal session for `user` inside the sign-in's plan: a family whose one
    /// token is the cookie (stored under its own hash, never a refresh token's). Returns
    /// the cookie's value (given this once) and the session's end.
    pub(super) fn open_browser_session(
        &self,
        w: &mut dyn storage::Write,
        user: &UserRecord,
        amr: Vec<String>,
        now: UnixMillis,
    ) -> Result<(String, UnixMillis), Abort> {
        let expires_at = now + self.portal_ttl();
        let (cookie, _) = new_opaque_token()?;
        let hash = session_hash(&cookie);
        let family = new_family(user, amr, now, expires_at, hex(&hash))?;
        w.put_family(&family)?;
        w.put_refresh(&hash, &RefreshEntry::issued(&family.id, now))?;
        Ok((cookie, expires_at))
    }

    /// The person a session cookie belongs to: the cookie is the live family's token and
    /// the account is active. A session used after a twelfth of its lifetime is renewed.
    /// The session, the account and its groups are read in one transaction; on redb,
    /// what a read found stands until the next commit (see [`super::visits`]), and the
    /// rules that depend on the time and on the account are applied at every visit.
    pub async fn portal_visitor(&self, cookie: &str) -> Result<Visitor, Failure> {
        if parse_opaque_token(cookie).is_none() {
            return Err(Failure::TokenInvalid);
        }
        let hash = session_hash(cookie);
        let now = self.now();
        let store = &self.inner.store;
        let version = store.version();
        let kept = version.and_then(|v| self.inner.visits.get(&hash, v));
        let visit = match kept {
            Some(visit) => visit,
            None => {
                let found = store
                    .read(|r| {
                        let Some(entry) = r.refresh(&hash)?.filter(|e| e.spent_at.is_none()) else {
                            return Ok(None);
                        };
                        let Some(family) = r.family(&entry.family_id)? else {
                            return Ok(None);
                        };
                        if !is_hex_of(&family.current_token, &hash) {
                            return Ok(None);
                        }
                        let Some(user) = r.user(&family.user_id)? else {
                            return Ok(None);
                        };
                        let groups = storage::groups_of(r, &user.id)?;
                        Ok(Some(Visit {
                            family,
                            user,
                            groups,
                        }))
                    })
                    .map_err(store_failure)?;
                let visit = Arc::new(found.ok_or(Failure::TokenInvalid)?);
                if let (Some(before), Some(after)) = (version, store.version()) {
                    if visit.family.is_live(now) {
                        self.inner.visits.keep(hash, before, after, visit.clone());
                    }
                }
                visit
            }
        };
        let Visit {
            family,
            user,
            groups,
        } = &*visit;
        if !family.is_live(now) || may_act(user.state, false).is_err() {
            return Err(Failure::TokenInvalid);
        }
        let ttl = self.portal_ttl();
        let renew_after = (ttl / 12).max(Duration::from_secs(60));
        let renewed = if now.since(family.rotated_at) >= renew_after {
            Some(self.renew(family.id.clone(), hash, now, ttl).await?)
        } else {
            None
        };
        Ok(Visitor {
            groups: groups.clone(),
            principal: Principal {
                user: user.clone(),
                door: Door::Portal,
                amr: family.amr.clone(),
                signed_in_at: family.created_at,
                session: family.id.clone(),
            },
            renewed,
        })
    }

    /// Slides a session's end to `now + ttl`.
    async fn renew(
        &self,
        id: String,
        hash: [u8; 32],
        now: UnixMillis,
        ttl: Duration,
    ) -> Result<UnixMillis, Failure> {
        let expires_at = now + ttl;
        self.write(move |w, _, _| {
            let Some(mut f) = w.family(&id)? else {
                return Ok(Err(Failure::TokenInvalid));
            };
            if !f.is_live(now) || !is_hex_of(&f.current_token, &hash) {
                return Ok(Err(Failure::TokenInvalid));
            }
            f.rotated_at = now;
            f.expires_at = expires_at;
            w.put_family(&f)?;
            Ok(Ok(expires_at))
        })
        .await
    }

    /// `plain` sealed (AEAD, the server key) for a cookie of this browser, bound to
    /// `context`: what a page keeps between two steps without the store (the password
    /// typed on the sign-up page, until the mailed code proves the address).
    pub fn seal_for_browser(&self, plain: &str, context: &str) -> Result<String, Failure> {
        self.inner
            .key
            .seal(plain.as_bytes(), &format!("browser:{context}"))
            .map_err(|e| super::internal("sealing", e))
    }

    /// What [`Service::seal_for_browser`] sealed for `context`, if this is it.
    pub fn open_from_browser(&self, sealed: &str, context: &str) -> Option<String> {
        let plain = self
            .inner
            .key
            .open(sealed, &format!("browser:{context}"))
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// The live sessions of `user_id`, newest first.
    pub fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, Failure> {
        let now = self.now();
        let mut out = self
            .inner
            .store
            .read(|r| {
                let mut out = Vec::new();
                for id in r.family_ids_of_user(user_id)? {
                    if let Some(f) = r.family(&id)?.filter(|f| f.is_live(now)) {
                        let client = r.grant(&family_key(&f.id))?.map(|g| g.client_id);
                        let app = client.map(|c| {
                            self.inner
                                .cfg
                                .oidc_client(&c)
                                .map_or(c, |known| known.name.clone())
                        });
                        out.push(info(f, app));
                    }
                }
                Ok(out)
            })
            .map_err(store_failure)?;
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// Ends session `family_id` of `user_id` (one of the sessions listed, or the
    /// visitor's own at sign-out). Another account's session is not found.
    pub async fn end_session(&self, user_id: &str, family_id: &str) -> Result<(), Failure> {
        let now = self.now();
        let (user, id) = (user_id.to_owned(), family_id.to_owned());
        self.write(move |w, _, events| {
            if let Some(mut f) = w.family(&id)?.filter(|f| f.user_id == user) {
                if end_session(w, &mut f, "logout", now)? {
                    events.push(Event::SessionEnded {
                        cause: "logout",
                        family: f.id.clone(),
                        user: Some(user.clone()),
                        client: None,
                    });
                }
            }
            Ok(Ok(()))
        })
        .await
    }

    /// The token a page's forms carry, bound to `binding` (the pre-login cookie or the
    /// session cookie, each with its own prefix).
    pub fn form_token(&self, binding: &str) -> String {
        b64url(&self.inner.key.form_token(binding.as_bytes()))
    }

    /// Whether `given` is the form token of `binding` (constant time).
    pub fn form_token_ok(&self, binding: &str, given: &str) -> bool {
        let Some(given) = b64url_decode(given) else {
            return false;
        };
        let want = self.inner.key.form_token(binding.as_bytes());
        given.len() == want.len() && bool::from(want.as_slice().ct_eq(&given))
    }

    /// A stamp of `now` sealed to `request` (an authorization request on its way to the
    /// login page): `<ms>.<mac>`. Only this server can make one, and it vouches for that
    /// request alone.
    pub fn login_stamp(&self, now: UnixMillis, request: &str) -> String {
        let t = now.millis();
        format!("{t}.{}", self.form_token(&login_stamp_binding(t, request)))
    }

    /// The time a [`Service::login_stamp`] for `request` says, if it is one (constant-time
    /// check); `None` for anything else.
    pub fn login_stamp_time(&self, stamp: &str, request: &str) -> Option<UnixMillis> {
        let (t, mac) = stamp.split_once('.')?;
        let t: i64 = t.parse().ok()?;
        self.form_token_ok(&login_stamp_binding(t, request), mac)
            .then_some(UnixMillis::from_millis(t))
    }

    /// Randomness for the pages (a pre-login cookie): 256 bits, base64url.
    pub fn new_browser_secret(&self) -> Result<String, Failure> {
        new_opaque_token().map(|(t, _)| t)
    }

    /// Records a portal sign-in for the metrics and the audit log.
    pub fn portal_signed_in(&self, user_id: &str, method: &'static str) {
        self.emit(&[Event::PortalSignedIn {
            user: user_id.to_owned(),
            method,
        }]);
    }
}

fn info(f: FamilyRecord, app: Option<String>) -> SessionInfo {
    SessionInfo {
        id: f.id,
        created_at: f.created_at,
        used_at: f.rotated_at,
        amr: f.amr,
        app,
    }
}

/// What a login stamp's MAC covers: its own purpose, the time, the request.
fn login_stamp_binding(t: i64, request: &str) -> String {
    format!("login-after:{t}:{request}")
}

/// Whether `s` could be a session cookie at all (its syntax), before any lookup.
pub fn is_session_syntax(s: &str) -> bool {
    parse_opaque_token(s).is_some()
}
