//! Access tokens: one [`Signer`] trait, an implementation per algorithm, and the key
//! ring that builds the configured one from the keys kept in the store.
//!
//! The key decides the algorithm, never the token: each implementation is bound to one
//! algorithm by its key type, looks the key up by `kid`, and refuses a token that names
//! another algorithm. Only [`Signer::verify`] turns untrusted text into [`Claims`], and
//! only after the time and issuer [`Rules`] (time as a parameter) accept them.

mod cache;
pub mod idtoken;
pub mod jwt;
pub mod keys;
pub mod paseto;

use crate::clock::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::primitives::NoRandomness;

/// The token format and algorithm, as one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlg {
    /// JWT, Ed25519.
    JwtEdDsa,
    /// JWT, ECDSA P-256 SHA-256.
    JwtEs256,
    /// JWT, HMAC SHA-256.
    JwtHs256,
    /// PASETO v4.public (Ed25519).
    PasetoV4Public,
    /// PASETO v4.local (XChaCha20 + BLAKE2b).
    PasetoV4Local,
}

impl TokenAlg {
    /// Every algorithm.
    pub const ALL: [TokenAlg; 5] = [
        TokenAlg::JwtEdDsa,
        TokenAlg::JwtEs256,
        TokenAlg::JwtHs256,
        TokenAlg::PasetoV4Public,
        TokenAlg::PasetoV4Local,
    ];

    /// The name stored with a key (`jwt:EdDSA`, `paseto:v4.public`, ...).
    pub fn id(self) -> &'static str {
        match self {
            TokenAlg::JwtEdDsa => "jwt:EdDSA",
            TokenAlg::JwtEs256 => "jwt:ES256",
            TokenAlg::JwtHs256 => "jwt:HS256",
            TokenAlg::PasetoV4Public => "paseto:v4.public",
            TokenAlg::PasetoV4Local => "paseto:v4.local",
        }
    }

    /// Parses [`TokenAlg::id`].
    pub fn from_id(s: &str) -> Option<TokenAlg> {
        TokenAlg::ALL.into_iter().find(|a| a.id() == s)
    }
}

/// Longest token any verifier reads; longer ones are refused unread.
pub const MAX_TOKEN_LEN: usize = protocol::input::MAX_TOKEN_LEN;

/// Clock skew tolerated for `iat` and `nbf` in the future, seconds.
pub const SKEW_SECS: i64 = 60;

/// The claims of a latchkey access token. Times are Unix seconds here; each format
/// encodes them its own way (NumericDate for JWT, RFC 3339 for PASETO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Not before (not set by latchkey, checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id.
    pub jti: String,
    /// Refresh-token family id.
    pub sid: String,
    /// Role.
    pub role: String,
    /// Authentication methods.
    pub amr: Vec<String>,
}

/// Why a token was refused. The `Display` text is exact (for `latchkey token inspect` and
/// the log); clients only ever see "invalid" or "expired".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLarge,
    /// Not a token of the configured format.
    Malformed(String),
    /// The token names an algorithm (or version/purpose) its key is not for.
    Algorithm(String),
    /// The header carries `crit`, which no latchkey token uses.
    Crit,
    /// No live key has this id.
    UnknownKey(String),
    /// The signature (or authentication tag) does not match.
    Signature,
    /// The payload is not latchkey's claims.
    Claims(String),
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `iss` is not this server.
    Issuer(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::TooLarge => write!(f, "token longer than {MAX_TOKEN_LEN} bytes"),
            VerifyError::Malformed(m) => write!(f, "malformed token: {m}"),
            VerifyError::Algorithm(m) => write!(f, "algorithm refused: {m}"),
            VerifyError::Crit => f.write_str("critical header parameters (crit) are not supported"),
            VerifyError::UnknownKey(k) => write!(f, "no live signing key with id `{k}`"),
            VerifyError::Signature => f.write_str("signature does not verify"),
            VerifyError::Claims(m) => write!(f, "claims refused: {m}"),
            VerifyError::Expired => f.write_str("token expired (exp is in the past)"),
            VerifyError::NotYetValid => f.write_str("token not valid yet (nbf is in the future)"),
            VerifyError::IssuedInFuture => f.write_str("token issued in the future (iat)"),
            VerifyError::Issuer(i) => write!(f, "wrong issuer `{i}`"),
        }
    }
}

/// The rules a verified token's claims must meet: the issuer, and the time rules at
/// `now`. [`Rules::new`] applies every rule; relaxing one takes an explicit constructor.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    issuer: &'a str,
    now: i64,
    expiry: bool,
}

impl<'a> Rules<'a> {
    /// Every rule: issuer, `exp` (no leeway), `nbf` and `iat` (at most [`SKEW_SECS`] in
    /// the future), at `now` (claims count whole seconds).
    pub fn new(issuer: &'a str, now: UnixMillis) -> Rules<'a> {
        Rules {
            issuer,
            now: now.secs(),
            expiry: true,
        }
    }

    /// Every rule but `exp`: for RFC 7009 revocation only, which must accept an expired
    /// access token to find and end its family.
    pub fn allowing_expired(issuer: &'a str, now: UnixMillis) -> Rules<'a> {
        Rules {
            issuer,
            now: now.secs(),
            expiry: false,
        }
    }

    /// Now, Unix seconds.
    pub fn now(&self) -> i64 {
        self.now
    }
}

/// Claims whose signature verified, not yet checked against [`Rules`]: the only way to
/// the [`Claims`] is [`Unchecked::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked(Claims);

impl Unchecked {
    /// Applies `rules`.
    pub fn check(self, rules: &Rules<'_>) -> Result<Claims, VerifyError> {
        let c = self.0;
        if c.iss != rules.issuer {
            return Err(VerifyError::Issuer(c.iss));
        }
        if rules.expiry && rules.now >= c.exp {
            return Err(VerifyError::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf > rules.now + SKEW_SECS) {
            return Err(VerifyError::NotYetValid);
        }
        if c.iat > rules.now + SKEW_SECS {
            return Err(VerifyError::IssuedInFuture);
        }
        if c.sub.is_empty() || c.sid.is_empty() || c.jti.is_empty() {
            return Err(VerifyError::Claims("empty sub, sid or jti".into()));
        }
        Ok(c)
    }

    /// The claims, to SHOW a refused token to an administrator (`token inspect`); never
    /// to authorize anything.
    pub fn for_display(&self) -> &Claims {
        &self.0
    }

    /// When the token expires (Unix seconds), e.g. to bound how long it is cached.
    pub fn exp(&self) -> i64 {
        self.0.exp
    }
}

/// A boxed cause, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a key could not be made, loaded or used to sign.
#[derive(Debug)]
pub enum KeyError {
    /// The system's random number generator failed.
    Randomness(NoRandomness),
    /// A stored key does not load (damaged, or not a key of its algorithm).
    Load {
        /// The key's id.
        kid: String,
        /// What the crypto library said.
        source: Cause,
    },
    /// A new key could not be made.
    Generate(Cause),
    /// No active key of this algorithm is in the store.
    NoSigningKey(TokenAlg),
    /// No active id-token key of this JWS algorithm is in the store.
    NoIdTokenKey(&'static str),
    /// Signing failed.
    Sign(Cause),
    /// The store failed.
    Store(storage::StoreError),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Randomness(e) => e.fmt(f),
            KeyError::Load { kid, source } => {
                write!(f, "signing key {kid} does not load: {source}")
            }
            KeyError::Generate(e) => write!(f, "cannot make a signing key: {e}"),
            KeyError::NoSigningKey(alg) => write!(f, "no active {} key", alg.id()),
            KeyError::NoIdTokenKey(alg) => write!(f, "no active {alg} id-token key"),
            KeyError::Sign(e) => write!(f, "signing failed: {e}"),
            KeyError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Randomness(e) => Some(e),
            KeyError::Load { source, .. } => Some(source.as_ref()),
            KeyError::Generate(e) | KeyError::Sign(e) => Some(e.as_ref()),
            KeyError::Store(e) => Some(e),
            KeyError::NoSigningKey(_) | KeyError::NoIdTokenKey(_) => None,
        }
    }
}

impl From<NoRandomness> for KeyError {
    fn from(e: NoRandomness) -> Self {
        KeyError::Randomness(e)
    }
}

impl From<storage::StoreError> for KeyError {
    fn from(e: storage::StoreError) -> Self {
        KeyError::Store(e)
    }
}

/// A cause from anything printable (for crypto libraries whose errors are only `Debug`).
pub(crate) fn cause(e: impl std::fmt::Debug) -> Cause {
    format!("{e:?}").into()
}

/// A public key as published for sidecars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicKeys {
    /// JWKs (RFC 7517), for `/.well-known/jwks.json`.
    pub jwks: Vec<serde_json::Value>,
    /// `{"kid","paserk"}` entries, for `/.well-known/paserk.json`.
    pub paserks: Vec<serde_json::Value>,
}

/// Signs and verifies access tokens with one algorithm and a set of keys of it.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// `jwt:EdDSA`, `paseto:v4.public`, ...
    fn alg(&self) -> TokenAlg;
    /// Signs `claims` with the current signing key.
    fn sign(&self, claims: &Claims) -> Result<String, KeyError>;
    /// Verifies the token's form and signature with the key its id names. `now` (Unix
    /// seconds) decides which retired keys still verify. The claims come back
    /// [`Unchecked`]; [`Signer::verify`] is what callers want.
    fn verify_signature(&self, token: &str, now: i64) -> Result<Unchecked, VerifyError>;
    /// The public keys that still verify live tokens.
    fn public_keys(&self, now: i64) -> PublicKeys;
    /// Verifies the signature, then the claims against `rules`: the checked claims.
    fn verify(&self, token: &str, rules: &Rules<'_>) -> Result<Claims, VerifyError> {
        self.verify_signature(token, rules.now())?.check(rules)
    }
}

/// A live verification key: usable until `verify_until` (Unix seconds), `None` = while
/// it signs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub verify_until: Option<i64>,
}

impl Window {
    pub(crate) fn live(&self, now: i64) -> bool {
        self.verify_until.is_none_or(|t| now <= t)
    }
}

#[cfg(test)]
mod tests;
