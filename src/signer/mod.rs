//! Access tokens: one [`Signer`] trait, an implementation per algorithm, and the key
//! ring that builds the configured one from the keys kept in the store.
//!
//! The key decides the algorithm, never the token: each implementation is bound to one
//! algorithm by its key type, looks the key up by `kid`, and refuses a token that names
//! another algorithm. Only [`Signer::verify`] turns untrusted text into [`Claims`];
//! [`Claims::check`] then applies the time and issuer rules with the time as a parameter.

pub mod jwt;
pub mod keys;
pub mod paseto;

use serde::{Deserialize, Serialize};

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

impl Claims {
    /// Applies the time and issuer rules at `now` (Unix seconds).
    pub fn check(&self, issuer: &str, now: i64) -> Result<(), VerifyError> {
        if self.iss != issuer {
            return Err(VerifyError::Issuer(self.iss.clone()));
        }
        if now >= self.exp {
            return Err(VerifyError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + SKEW_SECS) {
            return Err(VerifyError::NotYetValid);
        }
        if self.iat > now + SKEW_SECS {
            return Err(VerifyError::IssuedInFuture);
        }
        if self.sub.is_empty() || self.sid.is_empty() || self.jti.is_empty() {
            return Err(VerifyError::Claims("empty sub, sid or jti".into()));
        }
        Ok(())
    }
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
    fn alg(&self) -> crate::config::TokenAlg;
    /// Signs `claims` with the current signing key.
    fn sign(&self, claims: &Claims) -> Result<String, String>;
    /// Verifies the token's form and signature with the key its id names and returns its
    /// claims; time and issuer rules are [`Claims::check`]'s. `now` (Unix seconds) decides
    /// which retired keys still verify.
    fn verify(&self, token: &str, now: i64) -> Result<Claims, VerifyError>;
    /// The public keys that still verify live tokens.
    fn public_keys(&self, now: i64) -> PublicKeys;
}

/// Random bytes from the system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no randomness".to_string())?;
    Ok(b)
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding: no padding, canonical trailing bits only.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
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
