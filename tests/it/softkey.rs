//! A software passkey for the tests: a discoverable P-256 credential (ring) that answers
//! WebAuthn options as a browser and an authenticator together would, in the Level 3
//! JSON encoding, and can be told to misbehave (wrong origin or relying party, no user
//! verification, a tampered signature, a counter that goes backwards) so that every
//! refusal of the server is tested against a real signature check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ciborium::Value as Cbor;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

/// What the authenticator gets wrong on purpose.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The origin the "browser" writes into the client data.
    pub origin: Option<String>,
    /// The relying party id whose hash goes into the authenticator data.
    pub rp_id: Option<String>,
    /// Leave the user-verified flag off.
    pub no_uv: bool,
    /// Flip a bit of the signature.
    pub tamper: bool,
    /// The signature counter to send (instead of the next one).
    pub counter: Option<u32>,
    /// The user handle to send (instead of the one registered).
    pub user_handle: Option<Vec<u8>>,
    /// Say the ceremony ran in a frame of another origin (`crossOrigin: true`).
    pub cross_origin: bool,
}

/// One discoverable credential.
pub struct SoftKey {
    pub id: Vec<u8>,
    key: EcdsaKeyPair,
    pub user_handle: Vec<u8>,
    pub counter: u32,
    pub origin: String,
    pub rp_id: String,
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

fn cbor(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

impl SoftKey {
    /// A new key for `origin`, whose relying party id is its host.
    pub fn new(origin: &str) -> SoftKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut id = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&rng, &mut id).unwrap();
        let host = url::Url::parse(origin)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned();
        SoftKey {
            id,
            key,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.trim_end_matches('/').to_owned(),
            rp_id: host,
        }
    }

    /// This credential's `PublicKeyCredential` JSON around `response`.
    fn credential(&self, response: Value) -> Value {
        json!({
            "id": B64.encode(&self.id),
            "rawId": B64.encode(&self.id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        })
    }

    fn client_data(&self, kind: &str, challenge: &str, f: &Faults) -> Vec<u8> {
        let origin = f.origin.clone().unwrap_or_else(|| self.origin.clone());
        json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": f.cross_origin})
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, f: &Faults, flags: u8, counter: u32) -> Vec<u8> {
        let rp = f.rp_id.clone().unwrap_or_else(|| self.rp_id.clone());
        let mut flags = flags | 0x01 | 0x04; // user present, user verified
        if f.no_uv {
            flags &= !0x04;
        }
        let mut d = sha256(rp.as_bytes());
        d.push(flags);
        d.extend_from_slice(&counter.to_be_bytes());
        d
    }

    /// Answers `PublicKeyCredentialCreationOptionsJSON` (the `publicKey` member): a
    /// `RegistrationResponseJSON`. The key keeps the user handle it was given.
    pub fn register(&mut self, options: &Value, f: &Faults) -> Value {
        let challenge = options["challenge"].as_str().unwrap();
        self.user_handle = B64.decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let point = self.key.public_key().as_ref();
        let cose = Cbor::Map(vec![
            (Cbor::from(1), Cbor::from(2)),  // kty: EC2
            (Cbor::from(3), Cbor::from(-7)), // alg: ES256
            (Cbor::from(-1), Cbor::from(1)), // crv: P-256
            (Cbor::from(-2), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::from(-3), Cbor::Bytes(point[33..65].to_vec())),
        ]);
        let mut auth = self.auth_data(f, 0x40, 0); // attested credential data
        auth.extend_from_slice(&[0u8; 16]); // AAGUID
        auth.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
        auth.extend_from_slice(&self.id);
        auth.extend_from_slice(&cbor(&cose));
        let att = Cbor::Map(vec![
            (Cbor::from("fmt"), Cbor::from("none")),
            (Cbor::from("attStmt"), Cbor::Map(vec![])),
            (Cbor::from("authData"), Cbor::Bytes(auth)),
        ]);
        let cd = self.client_data("webauthn.create", challenge, f);
        self.credential(json!({
            "clientDataJSON": B64.encode(&cd),
            "attestationObject": B64.encode(cbor(&att)),
            "transports": ["internal"],
        }))
    }

    /// Answers `PublicKeyCredentialRequestOptionsJSON`: an `AuthenticationResponseJSON`
    /// with this credential, as a discoverable one (user handle included).
    pub fn assert(&mut self, options: &Value, f: &Faults) -> Value {
        let challenge = options["challenge"].as_str().unwrap();
        self.counter += 1;
        let counter = f.counter.unwrap_or(self.counter);
        let auth = self.auth_data(f, 0, counter);
        let cd = self.client_data("webauthn.get", challenge, f);
        let mut signed = auth.clone();
        signed.extend_from_slice(&sha256(&cd));
        let mut sig = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        if f.tamper {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        let handle = f
            .user_handle
            .clone()
            .unwrap_or_else(|| self.user_handle.clone());
        self.credential(json!({
            "clientDataJSON": B64.encode(&cd),
            "authenticatorData": B64.encode(&auth),
            "signature": B64.encode(&sig),
            "userHandle": B64.encode(&handle),
        }))
    }
}
