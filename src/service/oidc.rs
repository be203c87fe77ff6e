//! The OpenID Connect provider's grants: a code for a signed-in visitor, its exchange for
//! tokens (once: a code that comes back revokes what it gave), refresh, userinfo, and
//! the id token.
//!
//! A code is stored as its SHA-256, bound to the client, the redirect URI, the PKCE
//! challenge and the nonce; it works for [`CODE_TTL`] and is remembered ten minutes
//! (to recognise it when it comes back). The tokens of an exchange are a refresh family
//! like every other sign-in's; the family's grant (client, scope, sign-in time) is kept
//! beside it under the SHA-256 of `family:<id>`, for refresh and userinfo.

use std::time::Duration;

use protocol::{Failure, Tokens, Transport};
use serde_json::{json, Value};
use storage::{GrantRecord, UserRecord};
use subtle::ConstantTimeEq as _;

use super::events::Event;
use super::policy::{acr_of, end_session, may_act};
use super::portal::Visitor;
use super::principal::Principal;
use super::refresh::{family_key, new_opaque_token, OIDC_PREFIX};
use super::{internal, store_failure, Service};
use crate::clock::UnixMillis;
use crate::config::OidcClientSettings;
use crate::primitives::{b64url, sha256};

/// How long a code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a code is remembered after it was made (a code that comes back within this
/// revokes what it gave).
const CODE_KEPT: Duration = Duration::from_secs(600);

/// What an authorization asks for, checked by the caller (client, redirect URI, scope,
/// PKCE) before a code is made.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The client.
    pub client_id: String,
    /// The redirect URI (registered for it).
    pub redirect_uri: String,
    /// The scopes granted.
    pub scope: String,
    /// The client's nonce.
    pub nonce: Option<String>,
    /// The PKCE challenge (S256).
    pub code_challenge: Option<String>,
}

/// What the token endpoint answers.
#[derive(Debug)]
pub struct Granted {
    /// The token pair (its refresh token is given only with `offline_access`).
    pub tokens: Tokens,
    /// The id token.
    pub id_token: String,
    /// The scopes granted.
    pub scope: String,
}

impl Granted {
    /// Whether the refresh token goes to the client.
    pub fn offline(&self) -> bool {
        has_scope(&self.scope, "offline_access")
    }
}

/// Whether the space-separated `scope` holds `s`.
pub fn has_scope(scope: &str, s: &str) -> bool {
    scope.split(' ').any(|x| x == s)
}

/// PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) == challenge, in constant time.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let ok_syntax = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = b64url(&sha256(verifier.as_bytes()));
    ok_syntax && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

impl Service {
    /// The OpenID Connect client `id`, when its credentials are right: a confidential
    /// client's secret (constant time), or nothing for a public client.
    ///
    /// `secrets` are what the client may have meant (none; or the decoded and the raw
    /// form of one): a confidential client needs one of them to be its secret (each
    /// compared in constant time); a public client is one that sent none, or only an
    /// empty one (HTTP Basic with an empty password is `none` authentication).
    pub fn oidc_client(&self, id: &str, secrets: &[&str]) -> Result<&OidcClientSettings, Failure> {
        let client = self
            .inner
            .cfg
            .oidc_client(id)
            .ok_or(Failure::InvalidClient)?;
        let ok = match &client.secret_hash {
            None => secrets.iter().all(|s| s.is_empty()),
            Some(want) => secrets
                .iter()
                .fold(subtle::Choice::from(0u8), |ok, given| {
                    ok | want.ct_eq(&sha256(given.as_bytes()))
                })
                .into(),
        };
        if ok {
            Ok(client)
        } else {
            Err(Failure::InvalidClient)
        }
    }

    /// A code for `visitor`'s authorization `a`.
    pub async fn oidc_code(&self, v: &Visitor, a: Authorization) -> Result<String, Failure> {
        let (code, hash) = new_opaque_token()?;
        let now = self.now();
        let record = GrantRecord {
            client_id: a.client_id,
            scope: a.scope,
            user_id: v.user().id.clone(),
            auth_time: v.principal.signed_in_at,
            amr: v.principal.amr.clone(),
            nonce: a.nonce,
            redirect_uri: a.redirect_uri,
            code_challenge: a.code_challenge,
            created_at: now,
            expires_at: (now + CODE_KEPT),
            redeemed: None,
        };
        self.write(move |w, _, events| {
            w.put_grant(&hash, &record)?;
            events.push(Event::OidcGranted {
                grant: "authorization",
                client: record.client_id.clone(),
                user: record.user_id.clone(),
            });
            Ok(Ok(()))
        })
        .await?;
        Ok(code)
    }

    /// Exchanges a code (`grant_type=authorization_code`) for `client`.
    pub async fn oidc_exchange(
        &self,
        client: &OidcClientSettings,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Granted, Failure> {
        if super::refresh::parse_refresh_token(code).is_none() {
            return Err(Failure::InvalidCode);
        }
        let hash = sha256(code.as_bytes());
        let now = self.now();
        let client_id = client.id.clone();
        let redirect_uri = redirect_uri.map(str::to_owned);
        let verifier = verifier.map(str::to_owned);
        let result = self
            .write(move |w, svc, events| {
                let Some(mut grant) = w.grant(&hash)? else {
                    return Ok(Err(Failure::InvalidCode));
                };
                if let Some(family) = &grant.redeemed {
                    // A code that comes back: whoever has it is not to be trusted with
                    // what it gave either.
                    if let Some(mut f) = w.family(family)? {
                        end_session(w, &mut f, "code_reuse", now)?;
                    }
                    w.delete_grant(&hash)?;
                    events.push(Event::SessionEnded {
                        cause: "code_reuse",
                        family: family.clone(),
                        user: None,
                        client: None,
                    });
                    return Ok(Err(Failure::InvalidCode));
                }
                let bound = grant.client_id == client_id
                    && redirect_uri.as_deref() == Some(grant.redirect_uri.as_str())
                    && now < (grant.created_at + CODE_TTL)
                    && match (&grant.code_challenge, &verifier) {
                        (Some(c), Some(v)) => pkce_ok(v, c),
                        (None, None) => true,
                        _ => false,
                    };
                if !bound {
                    w.delete_grant(&hash)?;
                    return Ok(Err(Failure::InvalidCode));
                }
                let user = match w.user(&grant.user_id)? {
                    Some(u) if may_act(u.state, false).is_ok() => u,
                    _ => {
                        w.delete_grant(&hash)?;
                        return Ok(Err(Failure::InvalidCode));
                    }
                };
                // A refresh token exists only when the client is to get one.
                let prefix = has_scope(&grant.scope, "offline_access").then_some(OIDC_PREFIX);
                // The access token is signed after the commit (below).
                let (family, refresh) =
                    svc.open_family(w, &user, grant.amr.clone(), now, prefix)?;
                grant.redeemed = Some(family.id.clone());
                w.put_grant(&hash, &grant)?;
                let family_grant = GrantRecord {
                    redirect_uri: String::new(),
                    code_challenge: None,
                    created_at: now,
                    expires_at: (now + svc.refresh_ttl()),
                    redeemed: None,
                    ..grant.clone()
                };
                w.put_grant(&family_key(&family.id), &family_grant)?;
                Ok(Ok((family, refresh, user, family_grant)))
            })
            .await;
        let (family, refresh, user, grant) = match result {
            Ok(r) => r,
            Err(f) => {
                self.oidc_refused("authorization_code");
                return Err(f);
            }
        };
        let tokens = self.token_pair(&user, &family, refresh, now)?;
        self.emit(&[Event::OidcGranted {
            grant: "authorization_code",
            client: client.id.clone(),
            user: user.id.clone(),
        }]);
        self.granted(client, tokens, &user, &grant)
    }

    /// Rotates an OIDC refresh token (`grant_type=refresh_token`) for `client`, the one
    /// it was issued to.
    pub async fn oidc_refresh(
        &self,
        client: &OidcClientSettings,
        presented: String,
    ) -> Result<Granted, Failure> {
        if !presented.starts_with(OIDC_PREFIX) || !super::refresh::is_refresh_token(&presented) {
            return Err(Failure::RefreshInvalid);
        }
        let hash = sha256(presented.as_bytes());
        let family = self
            .inner
            .store
            .read(|r| Ok(r.refresh(&hash)?.map(|e| e.family_id)))
            .map_err(store_failure)?
            .ok_or(Failure::RefreshInvalid)?;
        let grant = self
            .inner
            .store
            .read(|r| r.grant(&family_key(&family)))
            .map_err(store_failure)?
            .filter(|g| g.client_id == client.id && has_scope(&g.scope, "offline_access"))
            .ok_or(Failure::RefreshInvalid)?;
        // The client's groups are asked again: a member removed since gets no more tokens.
        if client.allowed_groups.is_some() {
            let user_id = self
                .inner
                .store
                .read(|r| Ok(r.family(&family)?.map(|f| f.user_id)))
                .map_err(store_failure)?
                .ok_or(Failure::RefreshInvalid)?;
            let groups = self.groups_of(&user_id)?;
            let who = crate::access::Who {
                id: &user_id,
                email: None,
                username: None,
                groups: &groups,
                // The second factor was asked at the authorization; not again here.
                two_factors: true,
            };
            let allowed = client.allowed_groups.as_deref();
            let (decision, _) = crate::access::oidc_decision(allowed, false, &who);
            if decision != crate::access::Decision::Allow {
                self.access_refused(&user_id, &format!("oidc:{}", client.id), 0);
                self.oidc_refused("refresh_token");
                return Err(Failure::RefreshInvalid);
            }
        }
        let tokens = match self.rotate_refresh(presented, OIDC_PREFIX).await {
            Ok(protocol::Outcome::Tokens(t)) => t,
            Ok(_) => return Err(Failure::Transport(Transport::Internal)),
            Err(f) => {
                self.oidc_refused("refresh_token");
                return Err(f);
            }
        };
        // The grant lives as long as its family.
        let key = family_key(&tokens.family_id);
        let expires_at = self.now() + self.refresh_ttl();
        let mut kept = grant.clone();
        kept.expires_at = expires_at;
        self.write(move |w, _, _| {
            w.put_grant(&key, &kept)?;
            Ok(Ok(()))
        })
        .await?;
        let user = self
            .inner
            .store
            .read(|r| r.user(&tokens.user.id))
            .map_err(store_failure)?
            .ok_or(Failure::RefreshInvalid)?;
        self.emit(&[Event::OidcGranted {
            grant: "refresh_token",
            client: client.id.clone(),
            user: user.id.clone(),
        }]);
        self.granted(client, tokens, &user, &grant)
    }

    fn granted(
        &self,
        client: &OidcClientSettings,
        tokens: Tokens,
        user: &UserRecord,
        grant: &GrantRecord,
    ) -> Result<Granted, Failure> {
        let now_s = self.now().secs();
        let mut claims = serde_json::Map::new();
        let base = json!({
            "iss": self.inner.cfg.tokens.issuer,
            "sub": user.id,
            "aud": client.id,
            "azp": client.id,
            "iat": now_s,
            "exp": UnixMillis::from_millis(tokens.expires_at).secs(),
            "auth_time": grant.auth_time.secs(),
            "amr": grant.amr,
            "acr": acr_of(&grant.amr),
            "at_hash": client.id_token_alg.half_hash(&tokens.access_token),
        });
        if let Value::Object(m) = base {
            claims.extend(m);
        }
        if let Some(n) = &grant.nonce {
            claims.insert("nonce".into(), json!(n));
        }
        for (k, v) in self.claims_of(user, &grant.scope)? {
            claims.insert(k.into(), v);
        }
        let id_token = self
            .inner
            .tokens
            .keys
            .sign_id(client.id_token_alg, &Value::Object(claims))
            .map_err(|e| internal("signing an id token", e))?;
        Ok(Granted {
            tokens,
            id_token,
            scope: grant.scope.clone(),
        })
    }

    /// `userinfo`: the claims of the user of an access token issued by the token
    /// endpoint, by its grant's scopes.
    pub fn oidc_userinfo(&self, caller: &Principal) -> Result<Value, Failure> {
        let user = &caller.user;
        let grant = self
            .inner
            .store
            .read(|r| r.grant(&family_key(&caller.session)))
            .map_err(store_failure)?
            .ok_or(Failure::TokenInvalid)?;
        let mut out = serde_json::Map::new();
        out.insert("sub".into(), json!(user.id));
        for (k, v) in self.claims_of(user, &grant.scope)? {
            out.insert(k.into(), v);
        }
        Ok(Value::Object(out))
    }

    /// What an id token this server signed (an `id_token_hint`; expired ones too) says,
    /// if it is one.
    pub fn id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        let claims = self.inner.tokens.keys.verify_id(token, self.now()).ok()?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
        if text("iss").as_deref() != Some(self.inner.cfg.tokens.issuer.as_str()) {
            return None;
        }
        Some(IdTokenHint {
            client_id: text("aud")?,
            sub: text("sub")?,
            fresh: claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|exp| exp > self.now().secs()),
        })
    }

    /// Records a refused OpenID Connect request (`what`: `authorization`,
    /// `authorization_code`, `refresh_token`).
    pub fn oidc_refused(&self, what: &'static str) {
        self.emit(&[Event::OidcRefused { what }]);
    }
}

/// An id token this server signed, given back as a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// Its client (`aud`).
    pub client_id: String,
    /// Its user (`sub`).
    pub sub: String,
    /// Whether it has not expired yet.
    pub fresh: bool,
}

impl Service {
    /// The claims `scope` allows of `user` ([`user_claims`]), and with `groups` the
    /// names of its groups, sorted (read now: a membership changed counts at once).
    fn claims_of(
        &self,
        user: &UserRecord,
        scope: &str,
    ) -> Result<Vec<(&'static str, Value)>, Failure> {
        let mut out = user_claims(user, scope);
        if has_scope(scope, "groups") {
            out.push(("groups", json!(self.groups_of(&user.id)?)));
        }
        Ok(out)
    }
}

/// The claims `scope` allows of `user`: `email` and `email_verified` with `email`;
/// `name` and `preferred_username` with `profile`.
fn user_claims(user: &UserRecord, scope: &str) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if has_scope(scope, "email") {
        if let Some(e) = &user.email {
            out.push(("email", json!(e)));
            out.push(("email_verified", json!(user.email_verified)));
        }
    }
    if has_scope(scope, "profile") {
        let full = match (&user.first_name, &user.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        };
        if let Some(name) = user.display_name.clone().or(full) {
            out.push(("name", json!(name)));
        }
        if let Some(u) = &user.username {
            out.push(("preferred_username", json!(u)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(challenge, challenge));
        assert!(!pkce_ok("short", challenge));
    }
}
