//! The upstream's id tokens: a JWS in compact form (RFC 7515) signed by a key of the
//! upstream's JWKS (RFC 7517), verified with `ring`, and its claims checked as OpenID
//! Connect Core §3.1.3.7 says. Only asymmetric algorithms are taken: `none` and the HMAC
//! ones (whose key would be the client secret, known to more than the upstream) are
//! refused; the key found decides the algorithm, never the token alone (RFC 8725 §3.1).
//!
//! Pure functions of their input (the time is passed in): the fuzz target `upstream_jose`
//! runs them.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use crate::primitives::b64url_decode;

/// The longest id token taken, bytes.
pub const MAX_ID_TOKEN: usize = 16 * 1024;
/// The most keys a key set may hold (the rest are ignored).
pub const MAX_KEYS: usize = 32;
/// Seconds of clock difference allowed around `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 60;

/// Why an id token or a key set was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// Not a JWS / JWKS at all (the part that is wrong).
    Malformed(&'static str),
    /// An algorithm that is not taken (`none`, `HS256`, an unknown one).
    Algorithm(String),
    /// No key of the set has the token's `kid` (a refetch of the set may find it).
    UnknownKey,
    /// The signature does not verify with the key it names.
    Signature,
    /// A claim is missing or wrong (its name).
    Claim(&'static str),
}

impl std::fmt::Display for JoseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoseError::Malformed(what) => write!(f, "malformed {what}"),
            JoseError::Algorithm(a) => write!(f, "algorithm `{a}` is not accepted"),
            JoseError::UnknownKey => f.write_str("signed by a key the key set lacks"),
            JoseError::Signature => f.write_str("the signature does not verify"),
            JoseError::Claim(c) => write!(f, "claim `{c}` is missing or wrong"),
        }
    }
}

impl std::error::Error for JoseError {}

/// The signature algorithms taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what most providers use).
    Rs256,
    /// ... SHA-384.
    Rs384,
    /// ... SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ... SHA-384.
    Ps384,
    /// ... SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    fn parse(s: &str) -> Result<Alg, JoseError> {
        Ok(match s {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "EdDSA" => Alg::EdDsa,
            other => return Err(JoseError::Algorithm(other.chars().take(20).collect())),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// A public key of the set, in the form `ring` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Public {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Jwk {
    kid: Option<String>,
    /// The `alg` the key is for, when the set says.
    alg: Option<String>,
    public: Public,
}

impl Jwk {
    /// Whether this key can check `alg` (its type and curve; its own `alg` if it has one).
    fn fits(&self, alg: Alg) -> bool {
        let kind = matches!(
            (&self.public, alg),
            (
                Public::Rsa { .. },
                Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512
            ) | (Public::P256(_), Alg::Es256)
                | (Public::P384(_), Alg::Es384)
                | (Public::Ed25519(_), Alg::EdDsa)
        );
        kind && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }

    fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        match &self.public {
            Public::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            Public::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Public::P384(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Public::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// An upstream's signing keys (its `jwks_uri`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

fn b64_field(o: &Map<String, Value>, k: &str) -> Option<Vec<u8>> {
    b64url_decode(o.get(k)?.as_str()?)
}

impl Jwks {
    /// The signing keys of a JWK Set document. Keys of other uses (`enc`), types or
    /// curves are left out, as are malformed ones; a document that is not a set is
    /// refused.
    pub fn parse(doc: &[u8]) -> Result<Jwks, JoseError> {
        let v: Value =
            serde_json::from_slice(doc).map_err(|_| JoseError::Malformed("key set: not JSON"))?;
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JoseError::Malformed("key set: no `keys` array"))?;
        let keys = list
            .iter()
            .filter_map(Value::as_object)
            .filter(|o| {
                o.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
            })
            .filter_map(Self::key)
            .take(MAX_KEYS)
            .collect();
        Ok(Jwks { keys })
    }

    fn key(o: &Map<String, Value>) -> Option<Jwk> {
        let coord = |k: &str, len: usize| b64_field(o, k).filter(|c| c.len() == len);
        let public = match (
            o.get("kty")?.as_str()?,
            o.get("crv").and_then(Value::as_str),
        ) {
            ("RSA", _) => {
                let n = b64_field(o, "n")?;
                let e = b64_field(o, "e")?;
                // ring takes 2048 to 8192 bits; leading zero bytes are not part of n.
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                    return None;
                }
                Public::Rsa { n, e }
            }
            ("EC", Some("P-256")) => {
                let mut p = vec![4];
                p.extend(coord("x", 32)?);
                p.extend(coord("y", 32)?);
                Public::P256(p)
            }
            ("EC", Some("P-384")) => {
                let mut p = vec![4];
                p.extend(coord("x", 48)?);
                p.extend(coord("y", 48)?);
                Public::P384(p)
            }
            ("OKP", Some("Ed25519")) => Public::Ed25519(coord("x", 32)?),
            _ => return None,
        };
        Some(Jwk {
            kid: o.get("kid").and_then(Value::as_str).map(str::to_owned),
            alg: o.get("alg").and_then(Value::as_str).map(str::to_owned),
            public,
        })
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A compact JWS whose signature has not been checked yet.
#[derive(Debug)]
pub struct Unverified<'a> {
    alg: Alg,
    kid: Option<String>,
    signing_input: &'a [u8],
    signature: Vec<u8>,
    payload: Vec<u8>,
}

/// Splits a compact JWS and reads its header: three base64url parts, a header with a
/// taken `alg`, no `crit` (no extension is understood), a JSON object payload.
pub fn parse(token: &str) -> Result<Unverified<'_>, JoseError> {
    if token.len() > MAX_ID_TOKEN {
        return Err(JoseError::Malformed("id token: too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed("id token: not three parts"));
    };
    let header: Map<String, Value> = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JoseError::Malformed("id token: header"))?;
    if header.contains_key("crit") {
        return Err(JoseError::Malformed("id token: `crit` header"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JoseError::Malformed("id token: no `alg`"))?;
    let alg = Alg::parse(alg)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JoseError::Malformed("id token: `kid`")),
    };
    let payload = b64url_decode(p).ok_or(JoseError::Malformed("id token: payload"))?;
    let signature = b64url_decode(s).ok_or(JoseError::Malformed("id token: signature"))?;
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .ok_or(JoseError::Malformed("id token"))?
        .as_bytes();
    Ok(Unverified {
        alg,
        kid,
        signing_input,
        signature,
        payload,
    })
}

impl Unverified<'_> {
    /// The claims, once the signature verifies with the key of `keys` the header names
    /// (by `kid`; without one, the key that fits the algorithm when the set has just
    /// one such key).
    pub fn verify(&self, keys: &Jwks) -> Result<Map<String, Value>, JoseError> {
        let fitting: Vec<&Jwk> = keys.keys.iter().filter(|k| k.fits(self.alg)).collect();
        let key = match &self.kid {
            Some(kid) => fitting
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or(JoseError::UnknownKey)?,
            None => match fitting.as_slice() {
                [one] => one,
                [] => return Err(JoseError::UnknownKey),
                _ => return Err(JoseError::Malformed("id token: no `kid`, several keys fit")),
            },
        };
        if !key.verify(self.alg, self.signing_input, &self.signature) {
            return Err(JoseError::Signature);
        }
        serde_json::from_slice(&self.payload).map_err(|_| JoseError::Malformed("id token: claims"))
    }
}

/// What the id token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The upstream's issuer, exactly.
    pub issuer: &'a str,
    /// latchkey's client id there.
    pub client_id: &'a str,
    /// The nonce this sign-in sent.
    pub nonce: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
}

/// The person an id token names, with what latchkey uses of its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    /// The upstream's subject.
    pub sub: String,
    /// The email, when given.
    pub email: Option<String>,
    /// Whether the upstream says it verified the email.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// The user name the upstream suggests.
    pub preferred_username: Option<String>,
    /// How the person signed in there.
    pub amr: Vec<String>,
    /// Every claim (for `groups_claim`, and to know what userinfo must add).
    pub all: Map<String, Value>,
}

fn number(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// Checks the claims of a verified id token (OIDC Core §3.1.3.7): `iss`, `aud` (and `azp`
/// when there are several audiences), `exp`, `iat`, `nonce` and `sub`.
pub fn check_claims(c: Map<String, Value>, want: &Expect<'_>) -> Result<IdClaims, JoseError> {
    if c.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(JoseError::Claim("iss"));
    }
    let aud: Vec<&str> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(JoseError::Claim("aud")),
    };
    if !aud.contains(&want.client_id) {
        return Err(JoseError::Claim("aud"));
    }
    match c.get("azp").map(Value::as_str) {
        None if aud.len() > 1 => return Err(JoseError::Claim("azp")),
        None => {}
        Some(Some(azp)) if azp == want.client_id => {}
        Some(_) => return Err(JoseError::Claim("azp")),
    }
    let exp = number(c.get("exp")).ok_or(JoseError::Claim("exp"))?;
    if exp <= want.now - LEEWAY_SECS {
        return Err(JoseError::Claim("exp"));
    }
    let iat = number(c.get("iat")).ok_or(JoseError::Claim("iat"))?;
    if iat > want.now + LEEWAY_SECS {
        return Err(JoseError::Claim("iat"));
    }
    let nonce = c.get("nonce").and_then(Value::as_str).unwrap_or("");
    if want.nonce.is_empty() || !bool::from(nonce.as_bytes().ct_eq(want.nonce.as_bytes())) {
        return Err(JoseError::Claim("nonce"));
    }
    let sub = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(JoseError::Claim("sub"))?
        .to_owned();
    Ok(person(sub, c))
}

/// The person's claims of `c` (an id token's, or userinfo's with the same `sub`).
pub fn person(sub: String, all: Map<String, Value>) -> IdClaims {
    let text = |k: &str| {
        all.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 320)
            .map(str::to_owned)
    };
    // Some providers send the boolean as a string.
    let email_verified = matches!(all.get("email_verified"), Some(Value::Bool(true)))
        || all.get("email_verified").and_then(Value::as_str) == Some("true");
    let amr = all
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .take(16)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    IdClaims {
        email: text("email"),
        email_verified,
        name: text("name"),
        preferred_username: text("preferred_username"),
        amr,
        sub,
        all,
    }
}

/// The S256 PKCE challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    crate::primitives::b64url(&crate::primitives::sha256(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::b64url;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};
    use serde_json::json;

    fn ed_key() -> (Ed25519KeyPair, Jwks) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let doc = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
            "x": b64url(kp.public_key().as_ref())}]});
        (kp, Jwks::parse(doc.to_string().as_bytes()).unwrap())
    }

    fn sign(kp: &Ed25519KeyPair, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        format!("{input}.{}", b64url(kp.sign(input.as_bytes()).as_ref()))
    }

    fn claims() -> Value {
        json!({"iss": "https://up", "aud": "me", "sub": "s1", "exp": 1_000, "iat": 900,
            "nonce": "n1", "email": "a@b.c", "email_verified": true})
    }

    const WANT: Expect<'static> = Expect {
        issuer: "https://up",
        client_id: "me",
        nonce: "n1",
        now: 950,
    };

    fn run(token: &str, keys: &Jwks) -> Result<IdClaims, JoseError> {
        check_claims(parse(token)?.verify(keys)?, &WANT)
    }

    #[test]
    fn a_signed_token_with_the_right_claims_passes() {
        let (kp, keys) = ed_key();
        let t = sign(&kp, json!({"alg": "EdDSA", "kid": "k1"}), claims());
        let c = run(&t, &keys).unwrap();
        assert_eq!(c.sub, "s1");
        assert!(c.email_verified);
        assert_eq!(c.email.as_deref(), Some("a@b.c"));
    }

    #[test]
    fn none_hmac_and_unknown_algorithms_are_refused() {
        let (kp, keys) = ed_key();
        for alg in ["none", "HS256", "HS512", "XX"] {
            let t = sign(&kp, json!({"alg": alg, "kid": "k1"}), claims());
            assert!(
                matches!(run(&t, &keys), Err(JoseError::Algorithm(_))),
                "{alg}"
            );
        }
        // The key decides: an Ed25519 key does not check an RS256 token.
        let t = sign(&kp, json!({"alg": "RS256", "kid": "k1"}), claims());
        assert_eq!(run(&t, &keys), Err(JoseError::UnknownKey));
        let t = sign(
            &kp,
            json!({"alg": "EdDSA", "kid": "k1", "crit": ["b64"]}),
            claims(),
        );
        assert!(matches!(run(&t, &keys), Err(JoseError::Malformed(_))));
    }

    #[test]
    fn an_unknown_kid_and_a_forged_signature_are_told_apart() {
        let (kp, keys) = ed_key();
        let t = sign(&kp, json!({"alg": "EdDSA", "kid": "k2"}), claims());
        assert_eq!(run(&t, &keys), Err(JoseError::UnknownKey));
        let (other, _) = ed_key();
        let t = sign(&other, json!({"alg": "EdDSA", "kid": "k1"}), claims());
        assert_eq!(run(&t, &keys), Err(JoseError::Signature));
    }

    #[test]
    fn each_claim_is_checked() {
        let (kp, keys) = ed_key();
        let cases: [(&str, Value, &str); 9] = [
            ("iss", json!("https://other"), "iss"),
            ("aud", json!("other"), "aud"),
            ("aud", json!(["me", "other"]), "azp"),
            ("azp", json!("other"), "azp"),
            ("exp", json!(880), "exp"),
            ("iat", json!(1_100), "iat"),
            ("nonce", json!("n2"), "nonce"),
            ("sub", json!(""), "sub"),
            ("exp", json!("1000"), "exp"),
        ];
        for (k, v, claim) in cases {
            let mut c = claims();
            c[k] = v;
            let t = sign(&kp, json!({"alg": "EdDSA", "kid": "k1"}), c);
            assert_eq!(run(&t, &keys), Err(JoseError::Claim(claim)), "{k}");
        }
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        let t = sign(&kp, json!({"alg": "EdDSA", "kid": "k1"}), c);
        assert_eq!(run(&t, &keys), Err(JoseError::Claim("nonce")));
    }

    #[test]
    fn key_sets_keep_only_usable_signing_keys() {
        let doc = json!({"keys": [
            {"kty": "RSA", "n": b64url(&[1; 64]), "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "x": b64url(&[1; 31]), "y": b64url(&[1; 32])},
            {"kty": "OKP", "crv": "Ed25519", "x": b64url(&[1; 32]), "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "x": b64url(&[1; 32])}
        ]});
        assert_eq!(Jwks::parse(doc.to_string().as_bytes()).unwrap().len(), 1);
        assert!(Jwks::parse(b"[]").is_err());
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
