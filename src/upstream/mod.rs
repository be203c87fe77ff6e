//! The upstream OpenID Providers people may sign in through (`[[upstream]]`): the
//! relying-party side of OpenID Connect's authorization code flow. This module talks to
//! the provider (discovery, the key set, the code exchange, userinfo) and checks what it
//! says ([`jose`]); which account the identity signs in is the account policy's
//! (`service::upstream`); the pages are the portal's.
//!
//! - Discovery is read at the first sign-in and kept an hour; its `issuer` must be the
//!   configured one, exactly (OpenID Connect Discovery §4.3).
//! - The key set is kept until a token names a key it lacks; it is then read again, at
//!   most once a token and once every [`KEYS_REFETCH_GAP`].
//! - Every request is bounded in time and size and follows no redirect (`outbound`);
//!   the client secret goes only in the token request's `Authorization` header, and no
//!   error here ever holds it.

pub mod jose;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::UpstreamSettings;
use crate::outbound::{Outbound, OutboundError};
use crate::primitives::{b64url, random_bytes};
use crate::service::Identity;
use jose::{Expect, IdClaims, JoseError, Jwks};

/// How long discovery is believed.
pub const DISCOVERY_LIFE: Duration = Duration::from_secs(3600);
/// The least time between two reads of a key set (a token naming an unknown key asks).
pub const KEYS_REFETCH_GAP: Duration = Duration::from_secs(5);
/// How long a sign-in may take at the upstream.
pub const FLOW_LIFE: Duration = Duration::from_secs(600);
/// The most groups a `groups_claim` is read for.
const MAX_GROUPS: usize = 100;

/// Why a sign-in through an upstream failed (never holding a secret).
#[derive(Debug)]
pub enum UpstreamError {
    /// The upstream did not answer (in time).
    Unreachable(OutboundError),
    /// Its discovery document is unusable (what is wrong).
    Discovery(String),
    /// The code exchange was refused (the upstream's `error`, or the status).
    Exchange(String),
    /// The id token failed a check.
    IdToken(JoseError),
    /// Userinfo was unusable (what is wrong).
    Userinfo(&'static str),
}

impl UpstreamError {
    /// The reason an audit event gives.
    pub fn reason(&self) -> &'static str {
        match self {
            UpstreamError::Unreachable(_) => "unreachable",
            UpstreamError::Discovery(_) => "discovery",
            UpstreamError::Exchange(_) => "exchange",
            UpstreamError::IdToken(_) => "id_token",
            UpstreamError::Userinfo(_) => "userinfo",
        }
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Unreachable(e) => write!(f, "unreachable: {e}"),
            UpstreamError::Discovery(e) => write!(f, "discovery: {e}"),
            UpstreamError::Exchange(e) => write!(f, "code exchange refused: {e}"),
            UpstreamError::IdToken(e) => write!(f, "id token: {e}"),
            UpstreamError::Userinfo(e) => write!(f, "userinfo: {e}"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::Unreachable(e) => Some(e),
            UpstreamError::IdToken(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OutboundError> for UpstreamError {
    fn from(e: OutboundError) -> Self {
        UpstreamError::Unreachable(e)
    }
}

/// What discovery says of the endpoints.
#[derive(Debug, Clone)]
struct Metadata {
    authorization_endpoint: url::Url,
    token_endpoint: url::Url,
    jwks_uri: url::Url,
    userinfo_endpoint: Option<url::Url>,
}

/// One upstream: its settings, its client, and what it said (discovery, keys).
pub struct Provider {
    /// `[[upstream]]`, checked.
    pub settings: UpstreamSettings,
    http: Outbound,
    redirect_uri: String,
    meta: Mutex<Option<(Arc<Metadata>, Instant)>>,
    keys: Mutex<Option<(Arc<Jwks>, Instant)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("settings", &self.settings)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Every `[[upstream]]`.
#[derive(Debug, Default)]
pub struct Upstreams {
    list: Vec<Provider>,
}

/// The start of a sign-in: where to send the browser, and what the callback checks.
#[derive(Debug)]
pub struct Started {
    /// The upstream's authorization URL with this sign-in's parameters.
    pub url: String,
    /// `state` (the flow's key).
    pub state: String,
    /// `nonce` (the id token must carry it).
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
}

fn random_text() -> Result<String, UpstreamError> {
    random_bytes::<32>()
        .map(|b| b64url(&b))
        .map_err(|_| UpstreamError::Discovery("no randomness".into()))
}

impl Upstreams {
    /// The upstreams of `list`; their callbacks are under `callback_base`
    /// (`{public_url}{portal path}/upstream`).
    pub fn new(list: &[UpstreamSettings], callback_base: &str) -> Result<Upstreams, OutboundError> {
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            let allow_http = s.issuer.starts_with("http://");
            out.push(Provider {
                http: Outbound::new(s.ca_file.as_deref(), allow_http)?,
                redirect_uri: format!("{callback_base}/{}/callback", s.id),
                settings: s.clone(),
                meta: Mutex::new(None),
                keys: Mutex::new(None),
            });
        }
        Ok(Upstreams { list: out })
    }

    /// The upstream `id`.
    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.settings.id == id)
    }

    /// Every upstream, in the configuration's order.
    pub fn all(&self) -> &[Provider] {
        &self.list
    }
}

/// `work`, given up after [`crate::outbound::TIMEOUT`] in all (however many requests it
/// makes): an upstream holds a sign-in no longer.
async fn within<T>(
    work: impl std::future::Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    tokio::time::timeout(crate::outbound::TIMEOUT, work)
        .await
        .map_err(|_| UpstreamError::Unreachable(OutboundError::Timeout))?
}

/// A JSON object of an answer, if it is one.
fn object(body: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(body).ok()
}

/// A word an upstream's error code may be shown as (its `error`, RFC 6749 §5.2).
fn error_code(body: &[u8]) -> Option<String> {
    let e = object(body)?.get("error")?.as_str()?.to_owned();
    (e.len() <= 64 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(e)
}

impl Provider {
    /// The callback URL the upstream sends the browser back to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    fn endpoint(&self, doc: &Map<String, Value>, key: &str) -> Result<url::Url, UpstreamError> {
        let u = doc
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| url::Url::parse(s).ok())
            .ok_or_else(|| UpstreamError::Discovery(format!("no usable `{key}`")))?;
        if !self.http.may_ask(&u) {
            return Err(UpstreamError::Discovery(format!("`{key}` is not https")));
        }
        Ok(u)
    }

    async fn metadata(&self) -> Result<Arc<Metadata>, UpstreamError> {
        if let Ok(g) = self.meta.lock() {
            if let Some((m, at)) = g.as_ref().filter(|(_, at)| at.elapsed() < DISCOVERY_LIFE) {
                let _ = at;
                return Ok(m.clone());
            }
        }
        let url = url::Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        ))
        .map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        let answer = self.http.get(&url, None).await?;
        if !answer.status.is_success() {
            return Err(UpstreamError::Discovery(format!(
                "status {}",
                answer.status
            )));
        }
        let doc = object(&answer.body)
            .ok_or_else(|| UpstreamError::Discovery("not a JSON object".into()))?;
        if doc.get("issuer").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(UpstreamError::Discovery(
                "its `issuer` is not the configured issuer".into(),
            ));
        }
        let meta = Arc::new(Metadata {
            authorization_endpoint: self.endpoint(&doc, "authorization_endpoint")?,
            token_endpoint: self.endpoint(&doc, "token_endpoint")?,
            jwks_uri: self.endpoint(&doc, "jwks_uri")?,
            userinfo_endpoint: match doc.get("userinfo_endpoint") {
                Some(_) => Some(self.endpoint(&doc, "userinfo_endpoint")?),
                None => None,
            },
        });
        if let Ok(mut g) = self.meta.lock() {
            *g = Some((meta.clone(), Instant::now()));
        }
        Ok(meta)
    }

    /// The key set: the one kept, or read now (`fresh`: a token named a key the kept one
    /// lacks, and it was read longer than [`KEYS_REFETCH_GAP`] ago).
    async fn keys(&self, meta: &Metadata, fresh: bool) -> Result<Option<Arc<Jwks>>, UpstreamError> {
        let kept = self.keys.lock().ok().and_then(|g| g.clone());
        match (&kept, fresh) {
            (Some((k, _)), false) => return Ok(Some(k.clone())),
            (Some((_, at)), true) if at.elapsed() < KEYS_REFETCH_GAP => return Ok(None),
            _ => {}
        }
        let answer = self.http.get(&meta.jwks_uri, None).await?;
        if !answer.status.is_success() {
            return Err(UpstreamError::IdToken(JoseError::Malformed(
                "key set: not found",
            )));
        }
        let set = Arc::new(Jwks::parse(&answer.body).map_err(UpstreamError::IdToken)?);
        if let Ok(mut g) = self.keys.lock() {
            *g = Some((set.clone(), Instant::now()));
        }
        Ok(Some(set))
    }

    /// Begins a sign-in: `state`, `nonce` and a PKCE verifier, and the URL that sends the
    /// browser to the upstream with them. Within [`crate::outbound::TIMEOUT`].
    pub async fn start(&self) -> Result<Started, UpstreamError> {
        within(self.begin()).await
    }

    async fn begin(&self) -> Result<Started, UpstreamError> {
        let meta = self.metadata().await?;
        let (state, nonce, verifier) = (random_text()?, random_text()?, random_text()?);
        let mut url = meta.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &jose::pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Started {
            url: url.into(),
            state,
            nonce,
            verifier,
        })
    }

    /// Finishes a sign-in: exchanges `code` (with the flow's PKCE verifier), verifies the
    /// id token (signature through the key set, `iss`, `aud`, `exp`, `iat`, the flow's
    /// `nonce`), and reads userinfo when the token lacks what the scopes ask for. All of
    /// it within [`crate::outbound::TIMEOUT`].
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        verifier: &str,
        now_secs: i64,
    ) -> Result<Identity, UpstreamError> {
        within(self.complete(code, nonce, verifier, now_secs)).await
    }

    async fn complete(
        &self,
        code: &str,
        nonce: &str,
        verifier: &str,
        now_secs: i64,
    ) -> Result<Identity, UpstreamError> {
        let meta = self.metadata().await?;
        let s = &self.settings;
        let answer = self
            .http
            .post_form(
                &meta.token_endpoint,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", verifier),
                ],
                (&s.client_id, &s.client_secret.0),
            )
            .await?;
        if !answer.status.is_success() {
            return Err(UpstreamError::Exchange(
                error_code(&answer.body).unwrap_or_else(|| format!("status {}", answer.status)),
            ));
        }
        let tokens = object(&answer.body)
            .ok_or_else(|| UpstreamError::Exchange("not a JSON object".into()))?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::Exchange("no id_token".into()))?;
        let access_token = tokens.get("access_token").and_then(Value::as_str);
        let jws = jose::parse(id_token).map_err(UpstreamError::IdToken)?;
        let keys = self.keys(&meta, false).await?.unwrap_or_default();
        let verified = match jws.verify(&keys) {
            Err(JoseError::UnknownKey) => match self.keys(&meta, true).await? {
                Some(fresh) => jws.verify(&fresh),
                None => Err(JoseError::UnknownKey),
            },
            other => other,
        }
        .map_err(UpstreamError::IdToken)?;
        let want = Expect {
            issuer: &s.issuer,
            client_id: &s.client_id,
            nonce,
            now: now_secs,
        };
        let mut claims = jose::check_claims(verified, &want).map_err(UpstreamError::IdToken)?;
        if let (Some(endpoint), Some(token)) = (&meta.userinfo_endpoint, access_token) {
            if self.lacks_claims(&claims) {
                self.add_userinfo(endpoint, token, &mut claims).await?;
            }
        }
        Ok(self.identity(claims))
    }

    /// Whether the id token lacks a claim the scopes ask for (OIDC Core §5.4 lets a
    /// provider give them at userinfo only), or the groups claim.
    fn lacks_claims(&self, c: &IdClaims) -> bool {
        let asked = |scope: &str| self.settings.scopes.iter().any(|s| s == scope);
        (asked("email") && c.email.is_none())
            || (asked("profile") && c.name.is_none() && c.preferred_username.is_none())
            || self
                .settings
                .groups_claim
                .as_ref()
                .is_some_and(|g| !c.all.contains_key(g))
    }

    /// Adds what userinfo says (for the same `sub`) to the claims the id token lacks.
    async fn add_userinfo(
        &self,
        endpoint: &url::Url,
        token: &str,
        claims: &mut IdClaims,
    ) -> Result<(), UpstreamError> {
        let answer = self.http.get(endpoint, Some(token)).await?;
        if !answer.status.is_success() {
            return Err(UpstreamError::Userinfo("refused"));
        }
        let info = object(&answer.body).ok_or(UpstreamError::Userinfo("not a JSON object"))?;
        if info.get("sub").and_then(Value::as_str) != Some(claims.sub.as_str()) {
            return Err(UpstreamError::Userinfo("another `sub`"));
        }
        let mut all = std::mem::take(&mut claims.all);
        for (k, v) in info {
            all.entry(k).or_insert(v);
        }
        *claims = jose::person(std::mem::take(&mut claims.sub), all);
        Ok(())
    }

    fn identity(&self, c: IdClaims) -> Identity {
        let groups = self
            .settings
            .groups_claim
            .as_ref()
            .map(|claim| match c.all.get(claim) {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .take(MAX_GROUPS)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            });
        Identity {
            upstream: self.settings.id.clone(),
            subject: c.sub,
            email: c.email.filter(|e| protocol::input::valid_email(e)),
            email_verified: c.email_verified,
            name: c.name.or(c.preferred_username),
            mfa: c.amr.iter().any(|a| a == "mfa"),
            groups,
        }
    }
}
