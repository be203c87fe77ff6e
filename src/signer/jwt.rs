//! JWT access tokens: a small, strict compact-JWS codec (RFC 7515) on `ring`, one
//! implementation per algorithm through the [`JwsKey`] type of its keys.
//!
//! Refused: anything but three base64url segments (no padding, canonical bits), more
//! than [`MAX_TOKEN_LEN`](super::MAX_TOKEN_LEN) bytes, an `alg` other than the key's own
//! (so `none` and every algorithm swap), a `kid` naming no live key, `crit`, `b64`, a
//! `typ` other than `JWT`, duplicate JSON members. `jwk`, `jku`, `x5u`, `x5c` are ignored,
//! never fetched.

use std::marker::PhantomData;

use ring::signature::{self, KeyPair as _};
use serde::Deserialize;
use serde_json::json;

use super::{
    cause, Cause, Claims, KeyError, PublicKeys, Signer, TokenAlg, Unchecked, VerifyError, Window,
};
use crate::primitives::{b64url, b64url_decode, random_bytes};
use storage::SigningKeyRecord;

/// The key type of one JWS algorithm.
pub trait JwsKey: Sized + Send + Sync + 'static {
    /// The `alg` header value.
    const ALG: &'static str;
    /// The latchkey algorithm.
    const TOKEN_ALG: TokenAlg;
    /// Loads a key from its stored secret.
    fn load(secret: &[u8]) -> Result<Self, Cause>;
    /// Makes a new key: `(kid, secret)`.
    fn generate() -> Result<(String, Vec<u8>), KeyError>;
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// Checks `sig` over `msg` (constant-time where a secret is involved).
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
    /// The public JWK, for asymmetric keys.
    fn jwk(&self, kid: &str) -> Option<serde_json::Value>;
}

fn rng() -> ring::rand::SystemRandom {
    ring::rand::SystemRandom::new()
}

/// RFC 7638 thumbprint of a JWK given as its required members in lexicographic order.
pub fn thumbprint(canonical_json: &str) -> String {
    b64url(ring::digest::digest(&ring::digest::SHA256, canonical_json.as_bytes()).as_ref())
}

/// Ed25519 (`EdDSA`, RFC 8037).
pub struct EdDsa {
    pair: signature::Ed25519KeyPair,
}

impl JwsKey for EdDsa {
    const ALG: &'static str = "EdDSA";
    const TOKEN_ALG: TokenAlg = TokenAlg::JwtEdDsa;
    fn load(secret: &[u8]) -> Result<Self, Cause> {
        let pair = signature::Ed25519KeyPair::from_pkcs8(secret).map_err(cause)?;
        Ok(EdDsa { pair })
    }
    fn generate() -> Result<(String, Vec<u8>), KeyError> {
        let doc = signature::Ed25519KeyPair::generate_pkcs8(&rng())
            .map_err(|e| KeyError::Generate(cause(e)))?;
        let key = Self::load(doc.as_ref()).map_err(KeyError::Generate)?;
        let x = b64url(key.pair.public_key().as_ref());
        Ok((
            thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#)),
            doc.as_ref().to_vec(),
        ))
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.pair.sign(msg).as_ref().to_vec())
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, self.pair.public_key().as_ref())
            .verify(msg, sig)
            .is_ok()
    }
    fn jwk(&self, kid: &str) -> Option<serde_json::Value> {
        Some(
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(self.pair.public_key().as_ref()),
                    "kid": kid, "alg": "EdDSA", "use": "sig"}),
        )
    }
}

/// ECDSA P-256 SHA-256 (`ES256`), fixed-width `r || s` signatures.
pub struct Es256 {
    pair: signature::EcdsaKeyPair,
}

impl Es256 {
    fn xy(&self) -> (String, String) {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        let p = self.pair.public_key().as_ref();
        (
            b64url(p.get(1..33).unwrap_or_default()),
            b64url(p.get(33..65).unwrap_or_default()),
        )
    }
}

impl JwsKey for Es256 {
    const ALG: &'static str = "ES256";
    const TOKEN_ALG: TokenAlg = TokenAlg::JwtEs256;
    fn load(secret: &[u8]) -> Result<Self, Cause> {
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            secret,
            &rng(),
        )
        .map_err(cause)?;
        Ok(Es256 { pair })
    }
    fn generate() -> Result<(String, Vec<u8>), KeyError> {
        let doc = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng(),
        )
        .map_err(|e| KeyError::Generate(cause(e)))?;
        let key = Self::load(doc.as_ref()).map_err(KeyError::Generate)?;
        let (x, y) = key.xy();
        Ok((
            thumbprint(&format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
            )),
            doc.as_ref().to_vec(),
        ))
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&rng(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| KeyError::Sign(cause(e)))
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // ring rejects r or s of zero and out-of-range values (no CVE-2022-21449 here).
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.pair.public_key().as_ref(),
        )
        .verify(msg, sig)
        .is_ok()
    }
    fn jwk(&self, kid: &str) -> Option<serde_json::Value> {
        let (x, y) = self.xy();
        Some(
            json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"}),
        )
    }
}

/// HMAC SHA-256 (`HS256`) with a 256-bit random key that never leaves the server.
pub struct Hs256 {
    key: ring::hmac::Key,
}

impl JwsKey for Hs256 {
    const ALG: &'static str = "HS256";
    const TOKEN_ALG: TokenAlg = TokenAlg::JwtHs256;
    fn load(secret: &[u8]) -> Result<Self, Cause> {
        if secret.len() < 32 {
            return Err("HS256 key shorter than 256 bits".into());
        }
        Ok(Hs256 {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        })
    }
    fn generate() -> Result<(String, Vec<u8>), KeyError> {
        let secret = random_bytes::<32>()?;
        let kid = b64url(&random_bytes::<12>()?);
        Ok((kid, secret.to_vec()))
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(ring::hmac::sign(&self.key, msg).as_ref().to_vec())
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        ring::hmac::verify(&self.key, msg, sig).is_ok() // constant-time
    }
    fn jwk(&self, _kid: &str) -> Option<serde_json::Value> {
        None
    }
}

/// The JOSE header members latchkey reads. Others (`jwk`, `jku`, `x5u`, ...) are ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
    b64: Option<serde_json::Value>,
}

/// A compact JWS split and decoded, signature not yet checked.
pub struct Untrusted<'a> {
    signing_input: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Refuses everything that is not exactly
/// `b64url(header).b64url(payload).b64url(signature)` with a JSON object header.
pub fn parse(token: &str) -> Result<Untrusted<'_>, VerifyError> {
    if token.len() > super::MAX_TOKEN_LEN {
        return Err(VerifyError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "a JWS has exactly three dot-separated parts".into(),
        ));
    };
    // An empty signature is left for the algorithm check to refuse (`alg: none` tokens
    // have one, and are refused for naming `none`).
    if h.is_empty() || p.is_empty() {
        return Err(VerifyError::Malformed("empty JWS segment".into()));
    }
    let dec = |x: &str, what: &str| {
        b64url_decode(x).ok_or_else(|| {
            VerifyError::Malformed(format!("{what} is not canonical unpadded base64url"))
        })
    };
    let header_bytes = dec(h, "header")?;
    let payload = dec(p, "payload")?;
    let signature = dec(s, "signature")?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .ok_or_else(|| VerifyError::Malformed("split".into()))?;
    Ok(Untrusted {
        signing_input,
        header,
        payload,
        signature,
    })
}

impl Untrusted<'_> {
    /// Checks the header against the algorithm `K` and the signature with `key`, and
    /// returns the payload bytes.
    pub fn verify_with<K: JwsKey>(self, key: &K) -> Result<Vec<u8>, VerifyError> {
        self.check_header::<K>()?;
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(self.payload)
        } else {
            Err(VerifyError::Signature)
        }
    }

    /// The key id the header names.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// Checks the header against algorithm `alg` (the key's own) and the signature with
    /// `verify`, and returns the payload bytes.
    pub fn verify_as(
        self,
        alg: &str,
        verify: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Result<Vec<u8>, VerifyError> {
        self.check_alg(alg)?;
        if verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(self.payload)
        } else {
            Err(VerifyError::Signature)
        }
    }

    fn check_header<K: JwsKey>(&self) -> Result<(), VerifyError> {
        self.check_alg(K::ALG)
    }

    fn check_alg(&self, alg: &str) -> Result<(), VerifyError> {
        if self.header.alg != alg {
            return Err(VerifyError::Algorithm(format!(
                "token says `{}`, the key is {alg}",
                self.header.alg,
            )));
        }
        if self.header.crit.is_some() {
            return Err(VerifyError::Crit);
        }
        if self.header.b64.is_some() {
            return Err(VerifyError::Malformed(
                "unencoded payloads (b64) are not supported".into(),
            ));
        }
        if self
            .header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(VerifyError::Malformed("typ must be JWT".into()));
        }
        Ok(())
    }
}

/// Signs `payload` as a compact JWS with header `{"alg","typ":"JWT","kid"}`.
pub fn sign_compact<K: JwsKey>(key: &K, kid: &str, payload: &[u8]) -> Result<String, KeyError> {
    let header = json!({"alg": K::ALG, "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// A JWT signer for the algorithm of `K`.
pub struct Jwt<K: JwsKey> {
    keys: Vec<(String, K, Window)>,
    signing: Option<usize>,
    _alg: PhantomData<K>,
}

impl<K: JwsKey> std::fmt::Debug for Jwt<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(k, _, _)| k.as_str()).collect();
        f.debug_struct("Jwt")
            .field("alg", &K::ALG)
            .field("kids", &kids)
            .finish()
    }
}

impl<K: JwsKey> Jwt<K> {
    /// Builds the signer from the stored keys of this algorithm: the one without
    /// `retired_at` signs; retired ones verify until `retired_at + access_ttl`.
    pub fn from_records(records: &[SigningKeyRecord], access_ttl: i64) -> Result<Self, KeyError> {
        let s = Self::verifier_from_records(records, access_ttl)?;
        if s.signing.is_none() {
            return Err(KeyError::NoSigningKey(K::TOKEN_ALG));
        }
        Ok(s)
    }

    /// As [`Jwt::from_records`], without requiring a key that signs (only retired keys
    /// of this algorithm verify: after `tokens.algorithm` changed).
    pub fn verifier_from_records(
        records: &[SigningKeyRecord],
        access_ttl: i64,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        let mut signing = None;
        for r in records.iter().filter(|r| r.alg == K::TOKEN_ALG.id()) {
            let key = K::load(&r.secret).map_err(|source| KeyError::Load {
                kid: r.kid.clone(),
                source,
            })?;
            let verify_until = r.retired_at.map(|t| t.secs() + access_ttl);
            if r.retired_at.is_none() {
                signing = Some(keys.len());
            }
            keys.push((r.kid.clone(), key, Window { verify_until }));
        }
        Ok(Jwt {
            keys,
            signing,
            _alg: PhantomData,
        })
    }
}

impl<K: JwsKey> Signer for Jwt<K> {
    fn alg(&self) -> TokenAlg {
        K::TOKEN_ALG
    }

    fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let (kid, key, _) = self
            .keys
            .get(self.signing.ok_or(KeyError::NoSigningKey(K::TOKEN_ALG))?)
            .ok_or(KeyError::NoSigningKey(K::TOKEN_ALG))?;
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.into()))?;
        sign_compact(key, kid, &payload)
    }

    fn verify_signature(&self, token: &str, now: i64) -> Result<Unchecked, VerifyError> {
        let untrusted = parse(token)?;
        untrusted.check_header::<K>()?;
        let Some(kid) = untrusted.header.kid.as_deref() else {
            return Err(VerifyError::UnknownKey(String::new()));
        };
        let Some((_, key, _)) = self.keys.iter().find(|(k, _, w)| k == kid && w.live(now)) else {
            return Err(VerifyError::UnknownKey(kid.to_owned()));
        };
        let payload = untrusted.verify_with(key)?;
        serde_json::from_slice(&payload)
            .map(Unchecked)
            .map_err(|e| VerifyError::Claims(e.to_string()))
    }

    fn public_keys(&self, now: i64) -> PublicKeys {
        PublicKeys {
            jwks: self
                .keys
                .iter()
                .filter(|(_, _, w)| w.live(now))
                .filter_map(|(kid, k, _)| k.jwk(kid))
                .collect(),
            paserks: Vec::new(),
        }
    }
}
