//! ID tokens of the OpenID Connect provider: compact JWS signed with RS256 (what OIDC
//! requires every relying party to accept, the default), ES256 or EdDSA (per client).
//! Their keys live with the access-token keys (stored algorithm `oidc:<alg>`), are
//! published in the same JWKS, and rotate with them; ring signs and verifies. RSA keys
//! are made once by the `rsa` crate (ring cannot generate them), which is used for
//! nothing else.

use ring::signature::{self, KeyPair as _};
use serde_json::{json, Value};

use super::jwt::{self, EdDsa, Es256, JwsKey};
use super::{cause, Cause, KeyError, VerifyError, Window};
use crate::primitives::b64url;
use storage::SigningKeyRecord;

/// An id-token signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

/// Bits of the RSA keys made.
const RSA_BITS: usize = 2048;

impl IdAlg {
    /// Every id-token algorithm.
    pub const ALL: [IdAlg; 3] = [IdAlg::Rs256, IdAlg::Es256, IdAlg::EdDsa];

    /// The JWS `alg` name.
    pub fn jws(self) -> &'static str {
        match self {
            IdAlg::Rs256 => "RS256",
            IdAlg::Es256 => "ES256",
            IdAlg::EdDsa => "EdDSA",
        }
    }

    /// The name stored with a key.
    pub fn id(self) -> &'static str {
        match self {
            IdAlg::Rs256 => "oidc:RS256",
            IdAlg::Es256 => "oidc:ES256",
            IdAlg::EdDsa => "oidc:EdDSA",
        }
    }

    /// The algorithm of a JWS `alg` name (as configured per client).
    pub fn from_jws(s: &str) -> Option<IdAlg> {
        IdAlg::ALL.into_iter().find(|a| a.jws() == s)
    }

    /// The algorithm of a stored key's name.
    pub fn from_id(s: &str) -> Option<IdAlg> {
        IdAlg::ALL.into_iter().find(|a| a.id() == s)
    }

    /// The left half of the hash OIDC's `at_hash` takes of an access token: SHA-256 for
    /// RS256 and ES256, SHA-512 for EdDSA (Ed25519), as OIDC libraries check it.
    pub fn half_hash(self, token: &str) -> String {
        let alg = match self {
            IdAlg::Rs256 | IdAlg::Es256 => &ring::digest::SHA256,
            IdAlg::EdDsa => &ring::digest::SHA512,
        };
        let d = ring::digest::digest(alg, token.as_bytes());
        let all = d.as_ref();
        b64url(all.get(..all.len() / 2).unwrap_or_default())
    }
}

/// A loaded id-token key.
enum IdKey {
    Rs256(signature::RsaKeyPair),
    Es256(Es256),
    EdDsa(EdDsa),
}

/// Modulus and exponent of an RSA key pair, base64url.
fn rsa_ne(pair: &signature::RsaKeyPair) -> (String, String) {
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    (b64url(&strip(&c.n)), b64url(&strip(&c.e)))
}

impl IdKey {
    fn load(alg: IdAlg, secret: &[u8]) -> Result<IdKey, Cause> {
        Ok(match alg {
            IdAlg::Rs256 => IdKey::Rs256(signature::RsaKeyPair::from_pkcs8(secret).map_err(cause)?),
            IdAlg::Es256 => IdKey::Es256(Es256::load(secret)?),
            IdAlg::EdDsa => IdKey::EdDsa(EdDsa::load(secret)?),
        })
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            IdKey::Rs256(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|e| KeyError::Sign(cause(e)))?;
                Ok(sig)
            }
            IdKey::Es256(k) => k.sign(msg),
            IdKey::EdDsa(k) => k.sign(msg),
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            IdKey::Rs256(pair) => signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
            .verify(msg, sig)
            .is_ok(),
            IdKey::Es256(k) => k.verify(msg, sig),
            IdKey::EdDsa(k) => k.verify(msg, sig),
        }
    }

    fn jwk(&self, kid: &str) -> Option<Value> {
        match self {
            IdKey::Rs256(pair) => {
                let (n, e) = rsa_ne(pair);
                Some(
                    json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": "RS256", "use": "sig"}),
                )
            }
            IdKey::Es256(k) => k.jwk(kid),
            IdKey::EdDsa(k) => k.jwk(kid),
        }
    }
}

/// Makes a new id-token key of `alg`: `(kid, PKCS#8 secret)`.
pub fn generate(alg: IdAlg) -> Result<(String, Vec<u8>), KeyError> {
    match alg {
        IdAlg::Es256 => Es256::generate(),
        IdAlg::EdDsa => EdDsa::generate(),
        IdAlg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| KeyError::Generate(cause(e)))?;
            let doc = key
                .to_pkcs8_der()
                .map_err(|e| KeyError::Generate(cause(e)))?;
            let secret = doc.as_bytes().to_vec();
            let pair = signature::RsaKeyPair::from_pkcs8(&secret)
                .map_err(|e| KeyError::Generate(cause(e)))?;
            let (n, e) = rsa_ne(&pair);
            let kid = jwt::thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
            Ok((kid, secret))
        }
    }
}

/// The id-token keys: per algorithm the one that signs, and retired ones that verify
/// (an `id_token_hint`) until their tokens have expired.
pub struct IdSigner {
    keys: Vec<(String, IdAlg, IdKey, Window)>,
}

impl std::fmt::Debug for IdSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<(&str, &str)> = self
            .keys
            .iter()
            .map(|(k, a, _, _)| (k.as_str(), a.jws()))
            .collect();
        f.debug_struct("IdSigner").field("kids", &kids).finish()
    }
}

impl IdSigner {
    /// The id-token keys among `records`; retired ones verify `ttl` seconds more.
    pub fn from_records(records: &[SigningKeyRecord], ttl: i64) -> Result<IdSigner, KeyError> {
        let mut keys = Vec::new();
        for r in records {
            let Some(alg) = IdAlg::from_id(&r.alg) else {
                continue;
            };
            let key = IdKey::load(alg, &r.secret).map_err(|source| KeyError::Load {
                kid: r.kid.clone(),
                source,
            })?;
            let verify_until = r.retired_at.map(|t| t.secs() + ttl);
            keys.push((r.kid.clone(), alg, key, Window { verify_until }));
        }
        Ok(IdSigner { keys })
    }

    /// Signs `claims` with the key of `alg` that signs now.
    pub fn sign(&self, alg: IdAlg, claims: &Value) -> Result<String, KeyError> {
        let (kid, _, key, _) = self
            .keys
            .iter()
            .find(|(_, a, _, w)| *a == alg && w.verify_until.is_none())
            .ok_or(KeyError::NoIdTokenKey(alg.jws()))?;
        let header = json!({"alg": alg.jws(), "typ": "JWT", "kid": kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = key.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    /// The claims of an id token this server signed with a key still live at `now`
    /// (Unix seconds): its signature only; the caller checks what it needs of them.
    pub fn verify(&self, token: &str, now: i64) -> Result<Value, VerifyError> {
        let untrusted = jwt::parse(token)?;
        let Some(kid) = untrusted.kid().map(str::to_owned) else {
            return Err(VerifyError::UnknownKey(String::new()));
        };
        let Some((_, alg, key, _)) = self
            .keys
            .iter()
            .find(|(k, _, _, w)| *k == kid && w.live(now))
        else {
            return Err(VerifyError::UnknownKey(kid));
        };
        let payload = untrusted.verify_as(alg.jws(), |m, s| key.verify(m, s))?;
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Claims(e.to_string()))
    }

    /// The public keys of live id-token keys.
    pub fn jwks(&self, now: i64) -> Vec<Value> {
        self.keys
            .iter()
            .filter(|(_, _, _, w)| w.live(now))
            .filter_map(|(kid, _, k, _)| k.jwk(kid))
            .collect()
    }

    /// Whether a key of `alg` signs.
    pub fn signs(&self, alg: IdAlg) -> bool {
        self.keys
            .iter()
            .any(|(_, a, _, w)| *a == alg && w.verify_until.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_signs_and_verifies_and_refuses_a_swap() {
        let mut records = Vec::new();
        for alg in IdAlg::ALL {
            let (kid, secret) = generate(alg).unwrap();
            records.push(SigningKeyRecord {
                kid,
                alg: alg.id().into(),
                secret,
                created_at: crate::clock::UnixMillis::EPOCH,
                retired_at: None,
            });
        }
        let s = IdSigner::from_records(&records, 300).unwrap();
        let claims = json!({"sub": "u", "aud": "app"});
        for alg in IdAlg::ALL {
            let t = s.sign(alg, &claims).unwrap();
            assert_eq!(s.verify(&t, 0).unwrap(), claims);
            // Another key's id in the header: refused.
            let (h, rest) = t.split_once('.').unwrap();
            let mut header: Value =
                serde_json::from_slice(&crate::primitives::b64url_decode(h).unwrap()).unwrap();
            let other = records.iter().find(|r| r.alg != alg.id()).unwrap();
            header["kid"] = json!(other.kid);
            let forged = format!("{}.{rest}", b64url(header.to_string().as_bytes()));
            assert!(s.verify(&forged, 0).is_err());
            let mut tampered = t.clone();
            tampered.push('A');
            assert!(s.verify(&tampered, 0).is_err());
        }
        assert_eq!(s.jwks(0).len(), 3);
        let rsa = &s.jwks(0)[0];
        assert_eq!(rsa["kty"], "RSA");
        assert_eq!(rsa["e"], "AQAB");
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OIDC Core's example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        // under RS256 is "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(
            IdAlg::Rs256.half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(IdAlg::EdDsa.half_hash("x").len(), 43);
    }
}
