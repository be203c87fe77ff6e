//! Entry points for the fuzz targets in `fuzz/` — one per parser of untrusted input —
//! and for the normal test that replays the committed corpus through the same code.
//! Each asserts properties beyond "does not panic".
//!
//! The keys are fixed (`fixtures/fuzz/keys.json`), so the seed corpus can hold real tokens
//! that verify.
#![doc(hidden)]
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderValue, Method};
use protocol::families::FAMILIES;
use protocol::table::Family;
use protocol::Transport;
use protocol::{Bearer, Ctx, Failure, Outcome, Request};
use storage::SigningKeyRecord;

use crate::signer::TokenAlg;
use crate::signer::{keys, Claims, Rules, Signer, VerifyError, MAX_TOKEN_LEN};

/// The fixed time the fuzz targets verify at (tokens in the corpus are valid then).
pub const NOW: i64 = 1_800_000_000;
/// Issuer of the corpus tokens.
pub const ISSUER: &str = "https://fuzz.latchkey.test";

const ALL: [TokenAlg; 5] = TokenAlg::ALL;

/// The fixed fuzzing keys, one signer per algorithm.
pub fn signers() -> &'static [(TokenAlg, Arc<dyn Signer>)] {
    static S: OnceLock<Vec<(TokenAlg, Arc<dyn Signer>)>> = OnceLock::new();
    S.get_or_init(|| {
        let records: Vec<SigningKeyRecord> =
            serde_json::from_str(include_str!("../fixtures/fuzz/keys.json")).expect("fuzz keys");
        ALL.iter()
            .map(|a| (*a, keys::build(*a, &records, 3600).expect("fuzz signer")))
            .collect()
    })
}

fn signer(alg: TokenAlg) -> &'static Arc<dyn Signer> {
    &signers().iter().find(|(a, _)| *a == alg).expect("signer").1
}

fn verify_with(alg: TokenAlg, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let r = signer(alg).verify_signature(text, NOW);
    if text.len() > MAX_TOKEN_LEN {
        assert_eq!(r, Err(VerifyError::TooLarge));
    }
    if let Ok(unchecked) = r {
        // What verifies is a token of exactly this algorithm, made by our key: every other
        // signer refuses it, and the rules decide on its claims exactly as written.
        for (other, s) in signers() {
            if *other != alg {
                assert!(
                    s.verify_signature(text, NOW).is_err(),
                    "{other:?} accepted a {alg:?} token"
                );
            }
        }
        let c = unchecked.for_display().clone();
        let skew = crate::signer::SKEW_SECS;
        let acceptable = c.iss == ISSUER
            && NOW < c.exp
            && c.nbf.is_none_or(|n| n <= NOW + skew)
            && c.iat <= NOW + skew
            && !(c.sub.is_empty() || c.sid.is_empty() || c.jti.is_empty());
        let checked = unchecked.check(&Rules::new(
            ISSUER,
            crate::clock::UnixMillis::from_secs(NOW),
        ));
        assert_eq!(checked.is_ok(), acceptable, "{checked:?} for {c:?}");
        if let Ok(claims) = checked {
            assert_eq!(claims, c);
        }
    }
}

/// JWT compact parsing and verification, for each JWT algorithm.
pub fn jwt(data: &[u8]) {
    for alg in [TokenAlg::JwtEdDsa, TokenAlg::JwtEs256, TokenAlg::JwtHs256] {
        verify_with(alg, data);
    }
}

/// PASETO parsing and verification, v4.public and v4.local.
pub fn paseto(data: &[u8]) {
    for alg in [TokenAlg::PasetoV4Public, TokenAlg::PasetoV4Local] {
        verify_with(alg, data);
    }
}

/// Refresh-token parsing: what is accepted is canonical unpadded base64url of 32 bytes.
pub fn refresh_token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(bytes) = crate::service::parse_refresh_token(text) {
        assert_eq!(crate::primitives::b64url(&bytes), text);
    }
}

/// Session-code parsing: what is accepted normalizes to 12 characters, idempotently.
pub fn session_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(n) = crate::service::normalize_code(text) {
        assert_eq!(n.len(), crate::service::CODE_LEN);
        assert_eq!(
            crate::service::normalize_code(&n).as_deref(),
            Some(n.as_str())
        );
    }
}

/// `Authorization` header parsing: Bearer, Basic (OAuth client) and Basic (RFC 7617).
pub fn authorization(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut h = HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, value);
    if let Bearer::Token(t) = protocol::input::parse_bearer(&h) {
        assert!(!t.is_empty() && t.len() <= protocol::input::MAX_TOKEN_LEN);
        assert!(!t.contains(' '));
    }
    if let Some(c) = protocol::input::parse_basic(&h) {
        // The raw secret goes along only when it differs from the decoded one.
        assert!(c.raw_secret.as_ref() != Some(&c.secret));
    }
    // The same bytes as a form body beside the header (userinfo, RFC 6750 §2.2): a token
    // offered twice is never taken.
    let both = protocol::input::parse_bearer_or_form(&h, Some(data));
    if let Bearer::Token(t) = &both {
        assert!(t.len() <= protocol::input::MAX_TOKEN_LEN && !t.contains(' '));
    }
    if let Some((user, _)) = protocol::input::parse_basic_raw(&h) {
        assert!(!user.contains(':'));
    }
}

fn family(name: &str) -> &'static Family {
    FAMILIES.iter().find(|f| f.name == name).expect("family")
}

/// A family's request decoding (JSON, form, query, headers) and rendering. The first
/// bytes choose the route, the content type and the `Authorization` header; the rest is
/// split at the first 0xff into query string and body.
pub fn family_request(name: &str, data: &[u8]) {
    let fam = family(name);
    let (Some(&r), Some(&ct), Some(&auth)) = (data.first(), data.get(1), data.get(2)) else {
        return;
    };
    let rest = &data[3..];
    let route = &fam.routes[usize::from(r) % fam.routes.len()];
    let (query, body) = match rest.iter().position(|b| *b == 0xff) {
        Some(i) => (std::str::from_utf8(&rest[..i]).ok(), &rest[i + 1..]),
        None => (None, rest),
    };
    let mut headers = HeaderMap::new();
    let content_type = match ct % 4 {
        0 => Some("application/json"),
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("text/plain; charset=utf-8"),
        _ => None,
    };
    if let Some(c) = content_type {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(c));
    }
    match auth % 4 {
        0 => {}
        1 => {
            headers.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_static("Basic d2ViOmNoYW5nZS1tZQ=="),
            );
        }
        2 => {
            headers.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer abc.def.ghi"),
            );
        }
        _ => {
            if let Ok(v) = HeaderValue::from_bytes(body) {
                headers.insert(http::header::AUTHORIZATION, v);
            }
        }
    }
    let ctx = Ctx {
        base_url: "http://localhost:8080/x".into(),
        min_password_length: 8,
    };
    let method: &Method = &route.method;
    let req = Request {
        ctx: &ctx,
        method,
        path: route.path,
        query,
        headers: &headers,
        body,
    };
    match (route.decode)(&req) {
        Ok(call) => {
            // Every way the service can answer renders without panicking, in this route's
            // shape.
            for f in [
                Failure::InvalidCredentials,
                Failure::TokenInvalid,
                Failure::MissingToken,
                Failure::Transport(Transport::Internal),
                Failure::Transport(Transport::RateLimited { retry_after: 3 }),
            ] {
                let reply = call.answer.reply(fam, &ctx, Err(f));
                assert!(reply.status.is_client_error() || reply.status.is_server_error());
            }
            let _ = call.answer.reply(fam, &ctx, Ok(Outcome::Done));
        }
        Err(reply) => {
            assert!(
                reply.status.is_client_error(),
                "{name}/{}: {}",
                route.name,
                reply.status
            );
            assert!(
                serde_json::from_slice::<serde_json::Value>(&reply.body).is_ok(),
                "error body is JSON"
            );
        }
    }
}

/// Sign arbitrary claims with every signer, verify, get the same claims back.
pub fn roundtrip(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let mut field = || parts.next().unwrap_or("").to_string();
    let num = |s: &str| {
        s.bytes().fold(0i64, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(i64::from(b))
        })
    };
    let iat_raw = field();
    let claims = Claims {
        iss: ISSUER.to_string(),
        sub: field(),
        iat: NOW + num(&iat_raw) % 1000,
        exp: NOW + 1 + num(&field()).rem_euclid(1_000_000),
        nbf: None,
        jti: field(),
        sid: field(),
        role: field(),
        amr: field().split(',').map(str::to_string).collect(),
    };
    for (alg, s) in signers() {
        let Ok(token) = s.sign(&claims) else {
            panic!("{alg:?} could not sign {claims:?}");
        };
        if token.len() > MAX_TOKEN_LEN {
            assert_eq!(s.verify_signature(&token, NOW), Err(VerifyError::TooLarge));
            continue;
        }
        let back = s.verify_signature(&token, NOW);
        assert_eq!(
            back.as_ref().map(|u| u.for_display()),
            Ok(&claims),
            "{alg:?}"
        );
    }
}

/// Stored password hashes (imported ones): a hash `check` accepts is within the limits and
/// verifies without panicking; one it refuses is refused by `verify` too. The limits are
/// tiny so that what is accepted is cheap to compute.
pub fn password_hash(data: &[u8]) {
    use crate::password::imported;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tiny = crate::config::ImportLimits {
        memory_kib: 1024,
        argon2_passes: 2,
        parallelism: 1,
        bcrypt_cost: 4,
        pbkdf2_rounds: 1000,
    };
    match imported::check(text, &tiny) {
        Ok(_) => {
            let _ = imported::verify(b"password", text, &tiny).unwrap();
        }
        Err(_) => assert!(imported::verify(b"password", text, &tiny).is_err()),
    }
}

/// A line of `user import`'s JSON-lines format: a user it makes has what the line said
/// (an email or a username) and a hash `check` accepts.
pub fn import_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = crate::config::ImportLimits::default();
    if let Ok(u) = crate::import::from_line(text, &limits, crate::clock::UnixMillis::from_secs(NOW))
    {
        assert!(u.email.is_some() || u.username.is_some());
        if let Some(h) = &u.password_hash {
            assert!(crate::password::imported::check(h, &limits).is_ok());
        }
    }
}

/// The clients the `oidc_authorize` target checks requests against: a confidential one
/// and a public one.
fn oidc_clients() -> &'static [crate::config::OidcClientSettings] {
    static C: OnceLock<Vec<crate::config::OidcClientSettings>> = OnceLock::new();
    C.get_or_init(|| {
        let client = |id: &str, secret: bool, uri: &str| crate::config::OidcClientSettings {
            id: id.into(),
            secret_hash: secret.then(|| crate::primitives::sha256(b"secret")),
            redirect_uris: vec![uri.into()],
            name: id.into(),
            consent: false,
            id_token_alg: crate::signer::idtoken::IdAlg::Rs256,
            post_logout_redirect_uris: Vec::new(),
            origins: Vec::new(),
            allowed_groups: None,
            require_mfa: false,
        };
        vec![
            client("app", true, "https://app.example/cb"),
            client("spa", false, "http://localhost:3000/cb"),
        ]
    })
}

/// An authorization request's query: whatever is accepted names a registered redirect
/// URI, scopes of the known set with `openid` first, a 43-character S256 challenge (always
/// for a public client), and bounded `state` and `nonce`; a refusal sent back goes only
/// to a redirect URI registered for the client the request names.
pub fn oidc_authorize(data: &[u8]) {
    use protocol::oidc::{check_authorize, Refusal};
    let Ok(p) = protocol::input::parse_form(data) else {
        return;
    };
    let clients = oidc_clients();
    let named = p
        .get("client_id")
        .and_then(|id| clients.iter().find(|c| &c.id == id));
    match check_authorize(&p, clients) {
        Ok(a) => {
            assert!(a.client.redirect_uris.contains(&a.redirect_uri));
            assert!(a.scope == "openid" || a.scope.starts_with("openid "));
            for s in a.scope.split(' ') {
                assert!(["openid", "profile", "email", "offline_access"].contains(&s));
            }
            if a.client.secret_hash.is_none() {
                assert!(a.challenge.is_some());
            }
            if let Some(c) = &a.challenge {
                assert_eq!(c.len(), 43);
            }
            assert!(a.state.as_ref().is_none_or(|s| s.len() <= 512));
            assert!(a.nonce.as_ref().is_none_or(|s| s.len() <= 512));
        }
        Err(Refusal::Back {
            redirect_uri,
            state,
            ..
        }) => {
            let c = named.expect("a refusal sent back names a known client");
            assert!(c.redirect_uris.contains(&redirect_uri));
            assert!(state.is_none_or(|s| s.len() <= 512));
        }
        Err(Refusal::Page(_)) => {
            assert!(named.is_none_or(|c| p
                .get("redirect_uri")
                .is_none_or(|r| !c.redirect_uris.contains(r))));
        }
    }
}

/// A redirect target (`rd`): what is followed stays on the public host or under the
/// cookie domain, as a browser reads it, and is followed again unchanged.
pub fn rd(data: &[u8]) {
    use crate::portal::rd::{safe_rd, Targets};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let t = Targets {
        public_host: "auth.example.com",
        cookie_domain: Some("example.com"),
    };
    let Some(out) = safe_rd(text, &t) else {
        return;
    };
    assert_eq!(safe_rd(&out, &t).as_deref(), Some(out.as_str()));
    let base = url::Url::parse("https://auth.example.com/x/").unwrap();
    let u = base.join(&out).unwrap();
    let host = u.host_str().unwrap();
    assert!(
        host == "auth.example.com" || host == "example.com" || host.ends_with(".example.com"),
        "{text:?} -> {out:?} goes to {host}"
    );
    assert!(matches!(u.scheme(), "http" | "https"));
    assert!(u.username().is_empty() && u.password().is_none());
    if out.starts_with('/') {
        assert_eq!(host, "auth.example.com", "a path stays on this host");
    }
}

/// The authenticator's JSON answer to a passkey ceremony, read as the server reads it
/// (`credential` of the finish requests). Whatever parses is checked against a ceremony
/// just started, whose challenge the input cannot know, and against a real passkey: it
/// is refused, never a panic.
pub fn passkey_credential(data: &[u8]) {
    use crate::service::passkeys::{parse_assertion, parse_registration, relying_party};
    use webauthn_rs::prelude::{Passkey, Uuid};
    static RP: OnceLock<webauthn_rs::Webauthn> = OnceLock::new();
    let rp = RP.get_or_init(|| {
        relying_party(&crate::config::PasskeySettings {
            rp_id: "localhost".into(),
            origins: vec![url::Url::parse("http://localhost:8080").unwrap()],
            rp_name: "fuzz".into(),
        })
        .unwrap()
    });
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    // The exact origin check: only the one origin, as written, passes.
    let origins = ["http://localhost:8080".to_owned()];
    if crate::service::passkeys::client_data_ok(&v, &origins).is_ok() {
        let cd = v
            .pointer("/response/clientDataJSON")
            .and_then(serde_json::Value::as_str)
            .and_then(crate::primitives::b64url_decode)
            .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok());
        assert_eq!(
            cd.as_ref()
                .and_then(|c| c.get("origin"))
                .and_then(|o| o.as_str()),
            Some("http://localhost:8080")
        );
    }
    if let Some(reg) = parse_registration(&v) {
        let (_, state) = rp
            .start_passkey_registration(Uuid::nil(), "fuzz", "fuzz", None)
            .unwrap();
        assert!(rp.finish_passkey_registration(&reg, &state).is_err());
    }
    if let Some(a) = parse_assertion(&v) {
        let _ = rp.identify_discoverable_authentication(&a);
        let passkey: Passkey =
            serde_json::from_str(include_str!("../fixtures/fuzz/passkey.json")).unwrap();
        let (_, state) = rp.start_discoverable_authentication().unwrap();
        assert!(rp
            .finish_discoverable_authentication_v2(&a, state, &passkey)
            .is_err());
    }
}

/// The fixed Ed25519 key of the upstream fuzz target (its seed: 32 sevens), kid `k1`.
pub fn upstream_key() -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap()
}

/// An upstream's id token and key set, as the callback reads them. The first byte
/// chooses: a key set document (`j`: parsed, never more than the bound of keys), or an id
/// token checked against the fixed key's set. What passes verified with the fixed key,
/// named by its `kid`, with an asymmetric algorithm; its claims pass only as written.
pub fn upstream_jose(data: &[u8]) {
    use crate::upstream::jose::{check_claims, parse, Expect, Jwks, MAX_KEYS};
    use ring::signature::KeyPair as _;
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if *mode == b'j' {
        if let Ok(set) = Jwks::parse(rest) {
            assert!(set.len() <= MAX_KEYS);
        }
        return;
    }
    let Ok(token) = std::str::from_utf8(rest) else {
        return;
    };
    static SET: OnceLock<Jwks> = OnceLock::new();
    let set = SET.get_or_init(|| {
        let doc = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
            "x": crate::primitives::b64url(upstream_key().public_key().as_ref())}]});
        Jwks::parse(doc.to_string().as_bytes()).unwrap()
    });
    let Ok(jws) = parse(token) else {
        return;
    };
    let Ok(claims) = jws.verify(set) else {
        return;
    };
    // Verified: the header said EdDSA (the only algorithm the key fits) and k1.
    let header: serde_json::Value = serde_json::from_slice(
        &crate::primitives::b64url_decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "k1");
    let want = Expect {
        issuer: "https://up.example",
        client_id: "latchkey",
        nonce: "n-1",
        now: NOW,
    };
    if let Ok(c) = check_claims(claims.clone(), &want) {
        assert_eq!(claims["iss"], "https://up.example");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["sub"], c.sub.as_str());
    }
}

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, Target); 16] = [
    ("jwt", jwt),
    ("paseto", paseto),
    ("refresh_token", refresh_token),
    ("session_code", session_code),
    ("authorization", authorization),
    ("family_session", |d| family_request("session", d)),
    ("family_oauth", |d| family_request("oauth", d)),
    ("family_toolkit", |d| family_request("toolkit", d)),
    ("family_v0", |d| family_request("v0", d)),
    ("roundtrip", roundtrip),
    ("password_hash", password_hash),
    ("import_line", import_line),
    ("oidc_authorize", oidc_authorize),
    ("rd", rd),
    ("passkey_credential", passkey_credential),
    ("upstream_jose", upstream_jose),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn corpus_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
    }

    /// The committed corpus of every target, replayed through the same entry points (so
    /// CI catches regressions without a fuzzer), plus every saved crash in
    /// `fuzz/regressions/<target>/`.
    #[test]
    fn corpus_and_regressions_replay() {
        let mut n = 0;
        for (name, f) in TARGETS {
            for dir in [
                corpus_dir().join(name),
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fuzz/regressions")
                    .join(name),
            ] {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries {
                    let data = std::fs::read(e.unwrap().path()).unwrap();
                    f(&data);
                    n += 1;
                }
            }
            assert!(
                corpus_dir().join(name).is_dir(),
                "no seed corpus for {name}"
            );
        }
        assert!(n >= 35, "only {n} corpus entries");
    }

    /// The upstream target's seeds reach its deepest checks: one id token passes them
    /// all, and the key set seed holds its usable keys.
    #[test]
    fn the_upstream_seeds_reach_every_check() {
        use crate::upstream::jose::{check_claims, parse, Expect, Jwks};
        let dir = corpus_dir().join("upstream_jose");
        let jwks = std::fs::read(dir.join("jwks")).unwrap();
        let set = Jwks::parse(&jwks[1..]).unwrap();
        assert_eq!(set.len(), 3);
        let valid = std::fs::read_to_string(dir.join("valid")).unwrap();
        let token = valid.strip_prefix('t').unwrap();
        let claims = parse(token).unwrap().verify(&set).unwrap();
        let want = Expect {
            issuer: "https://up.example",
            client_id: "latchkey",
            nonce: "n-1",
            now: NOW,
        };
        assert_eq!(check_claims(claims, &want).unwrap().sub, "s1");
    }

    /// Writes the seed corpus from real tokens and requests (run by hand:
    /// `cargo test --lib write_seed_corpus -- --ignored`).
    #[test]
    #[ignore]
    fn write_seed_corpus() {
        let write = |target: &str, name: &str, data: &[u8]| {
            let dir = corpus_dir().join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), data).unwrap();
        };
        let claims = Claims {
            iss: ISSUER.into(),
            sub: "0123456789abcdef0123456789abcdef".into(),
            iat: NOW - 10,
            exp: NOW + 1800,
            nbf: None,
            jti: "j-1".into(),
            sid: "fedcba9876543210fedcba9876543210".into(),
            role: "user".into(),
            amr: vec!["pwd".into()],
        };
        for (alg, s) in signers() {
            let t = s.sign(&claims).unwrap();
            let target = if t.starts_with("v4.") {
                "paseto"
            } else {
                "jwt"
            };
            write(
                target,
                &format!("valid-{}", alg.id().replace([':', '.'], "-")),
                t.as_bytes(),
            );
        }
        write("jwt", "alg-none", b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
        write(
            "jwt",
            "rfc7515-a1",
            include_str!("../fixtures/jws/rfc7515-a1.json")
                .split("\"token\": \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .as_bytes(),
        );
        write(
            "paseto",
            "local-as-public",
            b"v4.public.AAAA.eyJraWQiOiJrNC5waWQueCJ9",
        );
        let (rt, _) = (crate::primitives::b64url(&[7u8; 32]), 0);
        write("refresh_token", "valid", rt.as_bytes());
        write("refresh_token", "padded", format!("{rt}=").as_bytes());
        write("session_code", "shown", b"ABCD-EFGH-JKMN");
        write("session_code", "typed", b"abcd efgh jkmn");
        write("session_code", "ambiguous", b"OIL0-0000-0000");
        for (i, v) in [
            "Bearer abc.def-ghi_jkl~",
            "bearer x==",
            "Basic d2ViOmNoYW5nZS1tZQ==",
            "Basic bXklMjBpZDpwJTNBc3Mrdw==",
            "Basic YStiQHguaW86cCt3",
            "Digest x",
        ]
        .iter()
        .enumerate()
        {
            write("authorization", &format!("seed-{i}"), v.as_bytes());
        }
        let reqs: [(&str, u8, u8, u8, &str, &str); 16] = [
            (
                "oauth",
                0,
                0,
                0,
                "",
                r#"{"email":"jim@example.com","password":"correct horse battery","role":"manager","user_name":"jimcarrey"}"#,
            ),
            (
                "oauth",
                1,
                0,
                1,
                "",
                r#"{"grant_type":"password","user_name":"jimcarrey","password":"correct horse battery"}"#,
            ),
            (
                "oauth",
                1,
                1,
                1,
                "",
                "grant_type=password&username=jim%40example.com&password=correct+horse",
            ),
            (
                "oauth",
                1,
                1,
                1,
                "",
                "grant_type=refresh_token&refresh_token=abc",
            ),
            ("oauth", 2, 1, 0, "", r#"{"refresh_token": "abc"}"#),
            ("oauth", 3, 3, 2, "", ""),
            (
                "toolkit",
                0,
                0,
                0,
                "",
                r#"{"username":"tina","password":"correct horse battery","displayName":"Tina","email":"tina@example.com"}"#,
            ),
            (
                "toolkit",
                1,
                0,
                0,
                "",
                r#"{"username":"tina","password":"correct horse battery"}"#,
            ),
            ("toolkit", 3, 0, 0, "", r#"{"idToken":"abc"}"#),
            (
                "v0",
                0,
                0,
                0,
                "",
                r#"{"email":"john@example.com","first_name":"John","last_name":"Doe","password":"correct horse battery","password_confirmation":"correct horse battery"}"#,
            ),
            (
                "v0",
                1,
                3,
                0,
                "email=john%40example.com&password=correct+horse",
                "",
            ),
            ("v0", 1, 3, 3, "", "Basic am9objpwdw=="),
            ("v0", 2, 0, 0, "", r#"{"refresh_token":"abc"}"#),
            ("session", 0, 0, 0, "", r#"{"email":"sue@example.com"}"#),
            (
                "session",
                1,
                0,
                0,
                "",
                r#"{"session_code":"ABCD-EFGH-JKMN","mfa_code":"123456"}"#,
            ),
            ("session", 6, 0, 2, "", r#"{"code":"123456"}"#),
        ];
        for (i, (fam, route, ct, auth, query, body)) in reqs.iter().enumerate() {
            let mut data = vec![*route, *ct, *auth];
            if !query.is_empty() {
                data.extend_from_slice(query.as_bytes());
                data.push(0xff);
            }
            data.extend_from_slice(body.as_bytes());
            write(&format!("family_{fam}"), &format!("seed-{i}"), &data);
        }
        write(
            "roundtrip",
            "plain",
            "sub\u{1}5\u{1}1800\u{1}jti\u{1}sid\u{1}user\u{1}pwd,otp".as_bytes(),
        );
        write(
            "roundtrip",
            "unicode",
            "ü\u{1}-999\u{1}\u{1}\"quoted\"\u{1}\\\u{1}\u{0}\u{1}".as_bytes(),
        );
    }

    /// Makes `fixtures/fuzz/keys.json` (run by hand once).
    #[test]
    #[ignore]
    fn write_fuzz_keys() {
        let records: Vec<SigningKeyRecord> = ALL
            .iter()
            .map(|a| {
                let (kid, secret) = keys::generate(*a).unwrap();
                SigningKeyRecord {
                    kid,
                    alg: a.id().into(),
                    secret,
                    created_at: crate::clock::UnixMillis::EPOCH,
                    retired_at: None,
                }
            })
            .collect();
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz/keys.json");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_string_pretty(&records).unwrap()).unwrap();
    }
}
