//! One suite for every signer (the same properties must hold for each algorithm), then
//! the RFC vectors of the JWS codec.

use super::jwt::{self, EdDsa, Es256, Hs256, JwsKey};
use super::keys;
use super::*;
use crate::primitives::{b64url, b64url_decode};
use storage::SigningKeyRecord;

const ALL: [TokenAlg; 5] = TokenAlg::ALL;

fn record(alg: TokenAlg, created: i64, retired: Option<i64>) -> SigningKeyRecord {
    let (kid, secret) = keys::generate(alg).unwrap();
    SigningKeyRecord {
        kid,
        alg: alg.id().into(),
        secret,
        created_at: UnixMillis::from_millis(created),
        retired_at: retired.map(UnixMillis::from_millis),
    }
}

fn claims(now: i64) -> Claims {
    Claims {
        iss: "https://issuer.test".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        iat: now,
        exp: now + 600,
        nbf: None,
        jti: "j1".into(),
        sid: "s1".into(),
        role: "user".into(),
        amr: vec!["pwd".into()],
    }
}

const NOW: i64 = 1_800_000_000;

#[test]
fn every_signer_round_trips_and_refuses_tampering() {
    for alg in ALL {
        let s = keys::build(alg, &[record(alg, 0, None)], 600).unwrap();
        let c = claims(NOW);
        let t = s.sign(&c).unwrap();
        let rules = Rules::new("https://issuer.test", UnixMillis::from_secs(NOW));
        assert_eq!(s.verify(&t, &rules).unwrap(), c, "{alg:?}");

        // Any flipped character is refused.
        for i in [0, t.len() / 2, t.len() - 2] {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(b).unwrap();
            assert!(
                s.verify_signature(&bad, NOW).is_err(),
                "{alg:?} flipped at {i}"
            );
        }
        // Truncated, emptied, oversized.
        assert!(s
            .verify_signature(t.get(..t.len() - 4).unwrap(), NOW)
            .is_err());
        assert!(s.verify_signature("", NOW).is_err());
        assert_eq!(
            s.verify_signature(&"a".repeat(MAX_TOKEN_LEN + 1), NOW),
            Err(VerifyError::TooLarge)
        );

        // Another key of the same algorithm (same kid impossible; the key is unknown).
        let other = keys::build(alg, &[record(alg, 0, None)], 600).unwrap();
        assert!(
            matches!(
                other.verify_signature(&t, NOW),
                Err(VerifyError::UnknownKey(_))
            ),
            "{alg:?}"
        );

        // A token of every other algorithm is refused.
        for alg2 in ALL.into_iter().filter(|a| *a != alg) {
            let s2 = keys::build(alg2, &[record(alg2, 0, None)], 600).unwrap();
            let t2 = s2.sign(&c).unwrap();
            assert!(
                s.verify_signature(&t2, NOW).is_err(),
                "{alg:?} accepted a {alg2:?} token"
            );
        }
    }
}

#[test]
fn retired_keys_verify_until_their_tokens_expire() {
    for alg in ALL {
        let old = record(alg, 0, None);
        let s_old = keys::build(alg, std::slice::from_ref(&old), 600).unwrap();
        let t = s_old.sign(&claims(NOW)).unwrap();
        let mut retired = old.clone();
        retired.retired_at = Some(UnixMillis::from_secs(NOW));
        let s = keys::build(alg, &[retired, record(alg, 1, None)], 600).unwrap();
        assert!(s.verify_signature(&t, NOW + 599).is_ok(), "{alg:?}");
        assert!(
            matches!(
                s.verify_signature(&t, NOW + 601),
                Err(VerifyError::UnknownKey(_))
            ),
            "{alg:?}"
        );
        // New tokens come from the new key.
        let t2 = s.sign(&claims(NOW)).unwrap();
        assert!(s_old.verify_signature(&t2, NOW).is_err());
    }
}

#[test]
fn claim_rules() {
    let check = |c: &Claims, rules: Rules<'_>| Unchecked(c.clone()).check(&rules);
    let iss = "https://issuer.test";
    let c = claims(NOW);
    assert_eq!(
        check(&c, Rules::new(iss, UnixMillis::from_secs(NOW))),
        Ok(c.clone())
    );
    assert_eq!(
        check(&c, Rules::new("https://other", UnixMillis::from_secs(NOW))),
        Err(VerifyError::Issuer(iss.into()))
    );
    assert_eq!(
        check(&c, Rules::new(iss, UnixMillis::from_secs(NOW + 600))),
        Err(VerifyError::Expired)
    );
    // Only revocation may relax expiry, and nothing else.
    assert_eq!(
        check(
            &c,
            Rules::allowing_expired(iss, UnixMillis::from_secs(NOW + 600))
        ),
        Ok(c.clone())
    );
    assert_eq!(
        check(
            &c,
            Rules::allowing_expired("https://other", UnixMillis::from_secs(NOW + 600))
        ),
        Err(VerifyError::Issuer(iss.into()))
    );
    assert_eq!(
        check(
            &c,
            Rules::new(iss, UnixMillis::from_secs(NOW - SKEW_SECS - 1))
        ),
        Err(VerifyError::IssuedInFuture)
    );
    let mut n = claims(NOW);
    n.nbf = Some(NOW + SKEW_SECS + 1);
    assert_eq!(
        check(&n, Rules::new(iss, UnixMillis::from_secs(NOW))),
        Err(VerifyError::NotYetValid)
    );
    let mut e = claims(NOW);
    e.sid = String::new();
    assert!(matches!(
        check(&e, Rules::new(iss, UnixMillis::from_secs(NOW))),
        Err(VerifyError::Claims(_))
    ));
}

fn forge(header: &str, payload: &Claims, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(&serde_json::to_vec(payload).unwrap()),
        b64url(sig)
    )
}

#[test]
fn jwt_header_attacks() {
    let rec = record(TokenAlg::JwtEdDsa, 0, None);
    let kid = rec.kid.clone();
    let s = keys::build(TokenAlg::JwtEdDsa, std::slice::from_ref(&rec), 600).unwrap();
    let c = claims(NOW);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = forge(&format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#), &c, b"");
        assert!(s.verify_signature(&t, NOW).is_err(), "{alg}");
        let t = format!("{}.", t.get(..t.len() - 1).unwrap());
        assert!(
            s.verify_signature(&t, NOW).is_err(),
            "{alg} with empty signature"
        );
    }
    // HS256 with the public key as HMAC secret (algorithm confusion).
    let ed = EdDsa::load(&rec.secret).unwrap();
    let jwk = ed.jwk(&kid).unwrap();
    let pk = b64url_decode(jwk["x"].as_str().unwrap()).unwrap();
    let input = format!(
        "{}.{}",
        b64url(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#).as_bytes()),
        b64url(&serde_json::to_vec(&c).unwrap())
    );
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &pk),
        input.as_bytes(),
    );
    let t = format!("{input}.{}", b64url(mac.as_ref()));
    assert!(matches!(
        s.verify_signature(&t, NOW),
        Err(VerifyError::Algorithm(_))
    ));
    // A valid signature but `crit`, `b64` or a foreign `typ`: refused.
    for header in [
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["exp"],"exp":1}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":false,"crit":["b64"]}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"secevent+jwt"}}"#),
        format!(r#"{{"alg":"EdDSA","kid":"{kid}","alg":"EdDSA"}}"#),
        r#"{"alg":"EdDSA"}"#.to_string(),
    ] {
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(&serde_json::to_vec(&c).unwrap())
        );
        let t = format!("{input}.{}", b64url(&ed.sign(input.as_bytes()).unwrap()));
        assert!(s.verify_signature(&t, NOW).is_err(), "{header}");
    }
    // jku/jwk/x5u are ignored: the token still verifies with our key, nothing is fetched.
    let header = format!(
        r#"{{"alg":"EdDSA","kid":"{kid}","jku":"http://127.0.0.1:1/x","x5u":"http://127.0.0.1:1/y"}}"#
    );
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(&serde_json::to_vec(&c).unwrap())
    );
    let t = format!("{input}.{}", b64url(&ed.sign(input.as_bytes()).unwrap()));
    assert!(s.verify_signature(&t, NOW).is_ok());
    // Padding and non-canonical base64 are refused.
    let good = s.sign(&c).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    assert!(s
        .verify_signature(&format!("{}=.{}.{}", parts[0], parts[1], parts[2]), NOW)
        .is_err());
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    // The last character of a 64-byte signature carries 4 spare bits; setting one keeps
    // the bytes but breaks canonical form.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let noncanon = alphabet.chars().nth(idx | 1).unwrap();
    if noncanon != last {
        let t = format!(
            "{}.{}.{}{}",
            parts[0],
            parts[1],
            sig.get(..sig.len() - 1).unwrap(),
            noncanon
        );
        assert!(s.verify_signature(&t, NOW).is_err());
    }
}

#[test]
fn es256_zero_signature_is_refused() {
    let rec = record(TokenAlg::JwtEs256, 0, None);
    let s = keys::build(TokenAlg::JwtEs256, std::slice::from_ref(&rec), 600).unwrap();
    let header = format!(r#"{{"alg":"ES256","kid":"{}"}}"#, rec.kid);
    assert!(s
        .verify_signature(&forge(&header, &claims(NOW), &[0u8; 64]), NOW)
        .is_err());
    let mut r_only = [0u8; 64];
    r_only[..32].fill(0xff);
    assert!(s
        .verify_signature(&forge(&header, &claims(NOW), &r_only), NOW)
        .is_err());
}

// ---- RFC vectors -----------------------------------------------------------------------

fn fixture(name: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/jws")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn rfc8037_ed25519_vector() {
    let v = fixture("rfc8037-a4.json");
    let d = b64url_decode(v["d"].as_str().unwrap()).unwrap();
    let x = b64url_decode(v["x"].as_str().unwrap()).unwrap();
    // The RFC's key as a PKCS#8 v2 document, loaded by latchkey's own key type.
    let mut pkcs8 = hex_bytes("3053020101300506032b657004220420");
    pkcs8.extend_from_slice(&d);
    pkcs8.extend_from_slice(&hex_bytes("a123032100"));
    pkcs8.extend_from_slice(&x);
    let key = EdDsa::load(&pkcs8).unwrap();
    let input = v["signing_input"].as_str().unwrap();
    assert_eq!(
        b64url(&key.sign(input.as_bytes()).unwrap()),
        v["signature"].as_str().unwrap()
    );
    // RFC 8037 A.3: the thumbprint of that key.
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        v["x"].as_str().unwrap()
    );
    assert_eq!(
        jwt::thumbprint(&canonical),
        v["thumbprint"].as_str().unwrap()
    );
    // latchkey's codec and key type verify the RFC's token, and refuse it altered.
    let token = format!("{input}.{}", v["signature"].as_str().unwrap());
    let payload = jwt::parse(&token).unwrap().verify_with(&key).unwrap();
    assert_eq!(payload, b"Example of Ed25519 signing");
    let other = EdDsa::load(&keys::generate(TokenAlg::JwtEdDsa).unwrap().1).unwrap();
    assert_eq!(
        jwt::parse(&token).unwrap().verify_with(&other),
        Err(VerifyError::Signature)
    );
}

fn hex_bytes(h: &str) -> Vec<u8> {
    crate::primitives::hex_decode(h).unwrap()
}

#[test]
fn rfc7515_hs256_vector() {
    let v = fixture("rfc7515-a1.json");
    let k = b64url_decode(v["k"].as_str().unwrap()).unwrap();
    let key = Hs256::load(&k).unwrap();
    let token = v["token"].as_str().unwrap();
    let u = jwt::parse(token).unwrap();
    let payload = u.verify_with(&key).unwrap();
    assert!(String::from_utf8(payload)
        .unwrap()
        .contains("\"iss\":\"joe\""));
    // The same token checked as ES256 or EdDSA: the key type refuses the header's alg.
    let es = Es256::load(&keys::generate(TokenAlg::JwtEs256).unwrap().1).unwrap();
    assert!(matches!(
        jwt::parse(token).unwrap().verify_with(&es),
        Err(VerifyError::Algorithm(_))
    ));
}

#[test]
fn rfc7515_es256_vector() {
    let v = fixture("rfc7515-a3.json");
    let x = b64url_decode(v["x"].as_str().unwrap()).unwrap();
    let y = b64url_decode(v["y"].as_str().unwrap()).unwrap();
    let mut point = vec![4u8];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    // The RFC's key (RFC 7515 A.3.1) as a PKCS#8 document, loaded by latchkey's own key
    // type; its codec verifies the RFC's token (ECDSA signatures are randomized, so the
    // vector is checked by verification).
    let d = b64url_decode(v["d"].as_str().unwrap()).unwrap();
    let mut pkcs8 =
        hex_bytes("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420");
    pkcs8.extend_from_slice(&d);
    pkcs8.extend_from_slice(&hex_bytes("a144034200"));
    pkcs8.extend_from_slice(&point);
    let key = Es256::load(&pkcs8).unwrap();
    let token = v["token"].as_str().unwrap();
    let payload = jwt::parse(token).unwrap().verify_with(&key).unwrap();
    assert!(String::from_utf8(payload)
        .unwrap()
        .contains("\"iss\":\"joe\""));
    let mut tampered = token.to_string();
    tampered.insert(token.find('.').unwrap() + 1, 'e');
    assert!(jwt::parse(&tampered)
        .and_then(|u| u.verify_with(&key))
        .is_err());
    // Signing with it round-trips through the same codec.
    let t = jwt::sign_compact(&key, "k", b"{}").unwrap();
    assert_eq!(jwt::parse(&t).unwrap().verify_with(&key).unwrap(), b"{}");
}
