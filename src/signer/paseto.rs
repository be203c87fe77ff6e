//! PASETO access tokens (`pasetors`): v4.public (Ed25519) and v4.local (XChaCha20 +
//! BLAKE2b). The footer is `{"kid":"<PASERK id>"}`; time claims are RFC 3339 strings as
//! the PASETO spec has them.
//!
//! The version and purpose are fixed by the signer (a v4.local token offered to the
//! v4.public verifier is refused by its header); the footer is parsed strictly before
//! any key is chosen, and then authenticated as part of the token.

use pasetors::keys::{
    AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate, SymmetricKey,
};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, PublicToken, V4};
use pasetors::{Local, Public};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    cause, Claims, KeyError, PublicKeys, Signer, TokenAlg, Unchecked, VerifyError, Window,
};
use storage::SigningKeyRecord;

/// The claims as PASETO encodes them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaims {
    iss: String,
    sub: String,
    iat: String,
    exp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<String>,
    jti: String,
    sid: String,
    role: String,
    amr: Vec<String>,
}

fn to_rfc3339(secs: i64) -> Result<String, KeyError> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| KeyError::Sign(e.into()))?
        .format(&Rfc3339)
        .map_err(|e| KeyError::Sign(e.into()))
}

fn from_rfc3339(s: &str, what: &str) -> Result<i64, VerifyError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| VerifyError::Claims(format!("`{what}` is not an RFC 3339 time")))
}

fn encode_claims(c: &Claims) -> Result<Vec<u8>, KeyError> {
    let w = WireClaims {
        iss: c.iss.clone(),
        sub: c.sub.clone(),
        iat: to_rfc3339(c.iat)?,
        exp: to_rfc3339(c.exp)?,
        nbf: c.nbf.map(to_rfc3339).transpose()?,
        jti: c.jti.clone(),
        sid: c.sid.clone(),
        role: c.role.clone(),
        amr: c.amr.clone(),
    };
    serde_json::to_vec(&w).map_err(|e| KeyError::Sign(e.into()))
}

fn decode_claims(bytes: &[u8]) -> Result<Unchecked, VerifyError> {
    let w: WireClaims =
        serde_json::from_slice(bytes).map_err(|e| VerifyError::Claims(e.to_string()))?;
    Ok(Unchecked(Claims {
        iat: from_rfc3339(&w.iat, "iat")?,
        exp: from_rfc3339(&w.exp, "exp")?,
        nbf: w
            .nbf
            .as_deref()
            .map(|n| from_rfc3339(n, "nbf"))
            .transpose()?,
        iss: w.iss,
        sub: w.sub,
        jti: w.jti,
        sid: w.sid,
        role: w.role,
        amr: w.amr,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer {
    kid: String,
}

fn footer_json(kid: &str) -> Vec<u8> {
    json!({"kid": kid}).to_string().into_bytes()
}

fn footer_kid(footer: &[u8]) -> Result<String, VerifyError> {
    if footer.is_empty() {
        return Err(VerifyError::UnknownKey(String::new()));
    }
    let f: Footer = serde_json::from_slice(footer)
        .map_err(|e| VerifyError::Malformed(format!("footer: {e}")))?;
    Ok(f.kid)
}

fn paserk(k: &impl FormatAsPaserk) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = k.fmt(&mut s);
    s
}

fn check_len(token: &str) -> Result<(), VerifyError> {
    if token.len() > super::MAX_TOKEN_LEN {
        return Err(VerifyError::TooLarge);
    }
    Ok(())
}

/// Refuses a token of another version or purpose before anything else is read.
fn check_header(token: &str, header: &str) -> Result<(), VerifyError> {
    if !token.starts_with(header) {
        let got: String = token.split('.').take(2).collect::<Vec<_>>().join(".");
        return Err(VerifyError::Algorithm(format!(
            "token is `{got}`, the key is {}",
            header.trim_end_matches('.')
        )));
    }
    Ok(())
}

fn malformed(e: pasetors::errors::Error) -> VerifyError {
    VerifyError::Malformed(format!("{e:?}"))
}

struct PublicKeyEntry {
    kid: String,
    secret: AsymmetricSecretKey<V4>,
    public: AsymmetricPublicKey<V4>,
    window: Window,
}

/// PASETO v4.public.
pub struct V4Public {
    keys: Vec<PublicKeyEntry>,
    signing: Option<usize>,
}

impl std::fmt::Debug for V4Public {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("V4Public").field("kids", &kids).finish()
    }
}

impl V4Public {
    /// Makes a new key: `(PASERK id, secret)`.
    pub fn generate() -> Result<(String, Vec<u8>), KeyError> {
        let pair = AsymmetricKeyPair::<V4>::generate().map_err(|e| KeyError::Generate(cause(e)))?;
        Ok((
            paserk(&Id::from(&pair.public)),
            pair.secret.as_bytes().to_vec(),
        ))
    }

    /// Builds the signer from the stored v4.public keys; one must sign.
    pub fn from_records(records: &[SigningKeyRecord], access_ttl: i64) -> Result<Self, KeyError> {
        let s = Self::verifier_from_records(records, access_ttl)?;
        if s.signing.is_none() {
            return Err(KeyError::NoSigningKey(TokenAlg::PasetoV4Public));
        }
        Ok(s)
    }

    /// As [`V4Public::from_records`], without requiring a key that signs.
    pub fn verifier_from_records(
        records: &[SigningKeyRecord],
        access_ttl: i64,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        let mut signing = None;
        for r in records
            .iter()
            .filter(|r| r.alg == TokenAlg::PasetoV4Public.id())
        {
            let load = |e| KeyError::Load {
                kid: r.kid.clone(),
                source: cause(e),
            };
            let secret = AsymmetricSecretKey::<V4>::from(&r.secret).map_err(load)?;
            let public = AsymmetricPublicKey::<V4>::try_from(&secret).map_err(load)?;
            if r.retired_at.is_none() {
                signing = Some(keys.len());
            }
            let window = Window {
                verify_until: r.retired_at.map(|t| t.secs() + access_ttl),
            };
            keys.push(PublicKeyEntry {
                kid: r.kid.clone(),
                secret,
                public,
                window,
            });
        }
        Ok(V4Public { keys, signing })
    }
}

impl Signer for V4Public {
    fn alg(&self) -> TokenAlg {
        TokenAlg::PasetoV4Public
    }

    fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let k = self
            .keys
            .get(
                self.signing
                    .ok_or(KeyError::NoSigningKey(TokenAlg::PasetoV4Public))?,
            )
            .ok_or(KeyError::NoSigningKey(TokenAlg::PasetoV4Public))?;
        PublicToken::sign(
            &k.secret,
            &encode_claims(claims)?,
            Some(&footer_json(&k.kid)),
            None,
        )
        .map_err(|e| KeyError::Sign(cause(e)))
    }

    fn verify_signature(&self, token: &str, now: i64) -> Result<Unchecked, VerifyError> {
        check_len(token)?;
        check_header(token, PublicToken::HEADER)?;
        let t = UntrustedToken::<Public, V4>::try_from(token).map_err(malformed)?;
        let kid = footer_kid(t.untrusted_footer())?;
        let k = self
            .keys
            .iter()
            .find(|k| k.kid == kid && k.window.live(now))
            .ok_or(VerifyError::UnknownKey(kid))?;
        let trusted =
            PublicToken::verify(&k.public, &t, None, None).map_err(|_| VerifyError::Signature)?;
        decode_claims(trusted.payload().as_bytes())
    }

    fn public_keys(&self, now: i64) -> PublicKeys {
        PublicKeys {
            jwks: Vec::new(),
            paserks: self
                .keys
                .iter()
                .filter(|k| k.window.live(now))
                .map(|k| json!({"kid": k.kid, "paserk": paserk(&k.public)}))
                .collect(),
        }
    }
}

/// PASETO v4.local. Nothing is published: the key is secret.
pub struct V4Local {
    keys: Vec<(String, SymmetricKey<V4>, Window)>,
    signing: Option<usize>,
}

impl std::fmt::Debug for V4Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.0.as_str()).collect();
        f.debug_struct("V4Local").field("kids", &kids).finish()
    }
}

impl V4Local {
    /// Makes a new key: `(PASERK id, secret)`.
    pub fn generate() -> Result<(String, Vec<u8>), KeyError> {
        let key = SymmetricKey::<V4>::generate().map_err(|e| KeyError::Generate(cause(e)))?;
        Ok((paserk(&Id::from(&key)), key.as_bytes().to_vec()))
    }

    /// Builds the signer from the stored v4.local keys; one must sign.
    pub fn from_records(records: &[SigningKeyRecord], access_ttl: i64) -> Result<Self, KeyError> {
        let s = Self::verifier_from_records(records, access_ttl)?;
        if s.signing.is_none() {
            return Err(KeyError::NoSigningKey(TokenAlg::PasetoV4Local));
        }
        Ok(s)
    }

    /// As [`V4Local::from_records`], without requiring a key that signs.
    pub fn verifier_from_records(
        records: &[SigningKeyRecord],
        access_ttl: i64,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        let mut signing = None;
        for r in records
            .iter()
            .filter(|r| r.alg == TokenAlg::PasetoV4Local.id())
        {
            let key = SymmetricKey::<V4>::from(&r.secret).map_err(|e| KeyError::Load {
                kid: r.kid.clone(),
                source: cause(e),
            })?;
            if r.retired_at.is_none() {
                signing = Some(keys.len());
            }
            keys.push((
                r.kid.clone(),
                key,
                Window {
                    verify_until: r.retired_at.map(|t| t.secs() + access_ttl),
                },
            ));
        }
        Ok(V4Local { keys, signing })
    }
}

impl Signer for V4Local {
    fn alg(&self) -> TokenAlg {
        TokenAlg::PasetoV4Local
    }

    fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let (kid, key, _) = self
            .keys
            .get(
                self.signing
                    .ok_or(KeyError::NoSigningKey(TokenAlg::PasetoV4Local))?,
            )
            .ok_or(KeyError::NoSigningKey(TokenAlg::PasetoV4Local))?;
        LocalToken::encrypt(key, &encode_claims(claims)?, Some(&footer_json(kid)), None)
            .map_err(|e| KeyError::Sign(cause(e)))
    }

    fn verify_signature(&self, token: &str, now: i64) -> Result<Unchecked, VerifyError> {
        check_len(token)?;
        check_header(token, LocalToken::HEADER)?;
        let t = UntrustedToken::<Local, V4>::try_from(token).map_err(malformed)?;
        let kid = footer_kid(t.untrusted_footer())?;
        let (_, key, _) = self
            .keys
            .iter()
            .find(|(k, _, w)| *k == kid && w.live(now))
            .ok_or(VerifyError::UnknownKey(kid))?;
        let trusted =
            LocalToken::decrypt(key, &t, None, None).map_err(|_| VerifyError::Signature)?;
        decode_claims(trusted.payload().as_bytes())
    }

    fn public_keys(&self, _now: i64) -> PublicKeys {
        PublicKeys::default()
    }
}
