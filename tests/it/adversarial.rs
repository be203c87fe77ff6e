//! Adversarial token handling against the running binary: every case is refused on every
//! family's authenticated route with that family's exact error, and the admin API's
//! inspect names the exact reason.

use std::sync::Arc;

use latchkey::primitives::{b64url, b64url_decode};
use latchkey::signer::{keys, Claims};
use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn admin_cfg(extra: &str) -> String {
    format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n[tokens]\nissuer = \"https://auth.test\"\n{extra}")
}

/// The token is refused by all four families, each in its own words.
async fn refused_everywhere(s: &Server, token: &str) {
    refused_as(s, token, "INVALID_ID_TOKEN").await;
}

/// Refused everywhere, with `toolkit_message` in the toolkit family.
async fn refused_as(s: &Server, token: &str, toolkit_message: &str) {
    let auth = bearer(token);
    let r = s.get("/users/me", &[("authorization", &auth)]).await;
    assert_eq!(r.expect(401)["error"], "invalid_token", "oauth: {token}");
    let r = s
        .send(
            http::Method::POST,
            "/api/auth/accounts:lookup",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(
        r.expect(401)["error"]["message"],
        toolkit_message,
        "toolkit"
    );
    let r = s.get("/api/v0/user", &[("authorization", &auth)]).await;
    assert_eq!(
        r.expect(401)["error"]["access_token"][0]["error"],
        "ERR_INVALID",
        "v0"
    );
    let r = s.get("/session/me", &[("authorization", &auth)]).await;
    assert_eq!(r.expect(401), json!({"error": "invalid_token"}), "session");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}

/// The exact reason latchkey gives for refusing `token`.
async fn reason(s: &Server, token: &str) -> String {
    let v = s
        .admin_req_json(
            http::Method::POST,
            "/admin/tokens/inspect",
            ADMIN,
            &json!({"token": token}),
        )
        .await
        .expect(200);
    assert_eq!(v["valid"], false, "{token} was accepted: {v}");
    v["reason"].as_str().unwrap().to_string()
}

async fn refused(s: &Server, token: &str, why: &str) {
    refused_everywhere(s, token).await;
    let r = reason(s, token).await;
    assert!(r.contains(why), "expected `{why}`, got `{r}` for {token}");
}

fn parts(t: &str) -> (Value, Value, String) {
    let mut it = t.split('.');
    let h = serde_json::from_slice(&b64url_decode(it.next().unwrap()).unwrap()).unwrap();
    let p = serde_json::from_slice(&b64url_decode(it.next().unwrap()).unwrap()).unwrap();
    (h, p, it.next().unwrap().to_string())
}

fn enc(v: &Value) -> String {
    b64url(v.to_string().as_bytes())
}

fn enc_raw(s: &str) -> String {
    b64url(s.as_bytes())
}

async fn legit(s: &Server, name: &str) -> Value {
    oauth_signup(s, name, PW).await;
    oauth_login(s, name, PW).await.expect(200)
}

#[tokio::test]
async fn jwt_header_and_signature_attacks() {
    // Something that would notice a fetch of jku/x5u.
    let watcher = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let watch_port = watcher.local_addr().unwrap().port();
    let fetched = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f2 = fetched.clone();
    let w = tokio::spawn(async move {
        loop {
            if watcher.accept().await.is_ok() {
                f2.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    let s = Server::start(&admin_cfg("")).await;
    let t = legit(&s, "adv").await;
    let access = t["access_token"].as_str().unwrap().to_string();
    let (h, p, sig) = parts(&access);
    let kid = h["kid"].as_str().unwrap().to_string();
    let (eh, ep) = (enc(&h), enc(&p));

    // alg: none and its case variants, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let hdr = enc(&json!({"alg": alg, "typ": "JWT", "kid": kid}));
        // With an empty signature the algorithm is what is refused (and named).
        refused(
            &s,
            &format!("{hdr}.{ep}."),
            &format!("algorithm refused: token says `{alg}`"),
        )
        .await;
        refused(
            &s,
            &format!("{hdr}.{ep}.{sig}"),
            &format!("token says `{alg}`"),
        )
        .await;
    }
    // HS256 with the server's public key as the HMAC secret (raw, base64url, JWK JSON).
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_string();
    for secret in [
        b64url_decode(&x).unwrap(),
        x.clone().into_bytes(),
        jwks["keys"][0].to_string().into_bytes(),
    ] {
        let hdr = enc(&json!({"alg": "HS256", "typ": "JWT", "kid": kid}));
        let input = format!("{hdr}.{ep}");
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        refused(
            &s,
            &format!("{input}.{}", b64url(mac.as_ref())),
            "token says `HS256`",
        )
        .await;
    }
    // kid unknown, absent.
    refused(
        &s,
        &format!(
            "{}.{ep}.{sig}",
            enc(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "nope"}))
        ),
        "no live signing key with id `nope`",
    )
    .await;
    refused(
        &s,
        &format!("{}.{ep}.{sig}", enc(&json!({"alg": "EdDSA", "typ": "JWT"}))),
        "no live signing key",
    )
    .await;
    // A key of the attacker's own, offered in jwk / jku / x5u: ignored, never fetched.
    let (_, attacker_pkcs8) = keys::generate(latchkey::signer::TokenAlg::JwtEdDsa).unwrap();
    let attacker = ring::signature::Ed25519KeyPair::from_pkcs8(&attacker_pkcs8).unwrap();
    let ax = b64url(ring::signature::KeyPair::public_key(&attacker).as_ref());
    for hdr in [
        json!({"alg": "EdDSA", "kid": kid, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": ax}}),
        json!({"alg": "EdDSA", "kid": kid, "jku": format!("http://127.0.0.1:{watch_port}/jwks.json")}),
        json!({"alg": "EdDSA", "kid": kid, "x5u": format!("http://127.0.0.1:{watch_port}/cert.pem")}),
    ] {
        let input = format!("{}.{ep}", enc(&hdr));
        let forged = format!(
            "{input}.{}",
            b64url(attacker.sign(input.as_bytes()).as_ref())
        );
        refused(&s, &forged, "signature does not verify").await;
    }
    assert!(
        !fetched.load(std::sync::atomic::Ordering::SeqCst),
        "a jku/x5u URL was fetched"
    );
    w.abort();
    // crit, b64, a foreign typ: refused whatever the signature.
    refused(
        &s,
        &format!(
            "{}.{ep}.{sig}",
            enc(&json!({"alg": "EdDSA", "kid": kid, "crit": ["exp"]}))
        ),
        "crit",
    )
    .await;
    refused(
        &s,
        &format!(
            "{}.{ep}.{sig}",
            enc(&json!({"alg": "EdDSA", "kid": kid, "b64": false, "crit": ["b64"]}))
        ),
        "crit",
    )
    .await;
    refused(
        &s,
        &format!(
            "{}.{ep}.{sig}",
            enc(&json!({"alg": "EdDSA", "kid": kid, "typ": "at+jwt"}))
        ),
        "typ must be JWT",
    )
    .await;
    // Duplicate members.
    let dup = enc_raw(&format!(r#"{{"alg":"EdDSA","kid":"{kid}","alg":"none"}}"#));
    refused(&s, &format!("{dup}.{ep}.{sig}"), "duplicate field `alg`").await;
    // Signature stripped, truncated, from another key; payload tampered.
    refused(&s, &format!("{eh}.{ep}."), "signature does not verify").await;
    refused(&s, &format!("{eh}.{ep}"), "exactly three").await;
    refused(
        &s,
        &format!("{eh}.{ep}.{}", &sig[..sig.len() - 4]),
        // 82 characters: non-canonical, unless the 4 spare bits happen to be zero (1 in
        // 16); then it decodes to 61 bytes that do not verify. Refused either way.
        "",
    )
    .await;
    let short = &b64url_decode(&sig).unwrap()[..32];
    refused(
        &s,
        &format!("{eh}.{ep}.{}", b64url(short)),
        "signature does not verify",
    )
    .await;
    let input = format!("{eh}.{ep}");
    refused(
        &s,
        &format!(
            "{input}.{}",
            b64url(attacker.sign(input.as_bytes()).as_ref())
        ),
        "signature does not verify",
    )
    .await;
    let mut tampered = p.clone();
    tampered["role"] = json!("admin");
    refused(
        &s,
        &format!("{eh}.{}.{sig}", enc(&tampered)),
        "signature does not verify",
    )
    .await;
    // Non-canonical base64 and padding.
    refused(
        &s,
        &format!("{eh}=.{ep}.{sig}"),
        "not canonical unpadded base64url",
    )
    .await;
    refused(
        &s,
        &format!("{eh}.{ep}.{sig}=="),
        "not canonical unpadded base64url",
    )
    .await;
    refused(
        &s,
        &format!(
            "{eh}.{}.{sig}",
            ep.replace('_', "/").replace('-', "+") + "+/"
        ),
        "not canonical",
    )
    .await;
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let flipped = alphabet
        .chars()
        .nth(alphabet.find(last).unwrap() ^ 1)
        .unwrap();
    refused(
        &s,
        &format!("{eh}.{ep}.{}{flipped}", &sig[..sig.len() - 1]),
        "",
    )
    .await;
    // Oversize tokens and headers.
    refused_everywhere(&s, &format!("{eh}.{}.{sig}", "A".repeat(9000))).await;
    let big = format!("Bearer {}", "a".repeat(200_000));
    let r = s.get("/users/me", &[("authorization", &big)]).await;
    assert!(
        r.status == 431 || r.status == 400 || r.status == 401,
        "{}",
        r.status
    );
    s.get("/healthz", &[]).await.expect(200);
    // The legit token still works after all that.
    s.get("/users/me", &[("authorization", &bearer(&access))])
        .await
        .expect(200);
}

#[tokio::test]
async fn claims_forged_with_the_real_key() {
    let mut s = Server::start(&admin_cfg("")).await;
    let t = legit(&s, "clm").await;
    let (_, p, _) = parts(t["access_token"].as_str().unwrap());
    let base: Claims = serde_json::from_value(p).unwrap();
    s.stop();
    // The forger has the server's own signing key (read from the store): only the claim
    // checks stand between it and acceptance.
    let store = s.open_store();
    let records = store.read(|r| r.keys()).unwrap();
    drop(store);
    let signer = keys::build(latchkey::signer::TokenAlg::JwtEdDsa, &records, 1800).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = base.clone();
        f(&mut c);
        signer.sign(&c).unwrap()
    };
    s.restart();
    // Control: the forger's token with honest claims verifies (so the key is really the server's).
    let control = with(&|c| c.jti = "control".into());
    s.get("/users/me", &[("authorization", &bearer(&control))])
        .await
        .expect(200);
    let expired = with(&|c| c.exp = now - 1);
    refused_as(&s, &expired, "EXPIRED_ID_TOKEN").await;
    assert!(reason(&s, &expired).await.contains("expired"));
    refused(&s, &with(&|c| c.nbf = Some(now + 3600)), "not valid yet").await;
    refused(&s, &with(&|c| c.iat = now + 3600), "issued in the future").await;
    refused(
        &s,
        &with(&|c| c.iss = "https://evil.test".into()),
        "wrong issuer",
    )
    .await;
    refused(
        &s,
        &with(&|c| c.sid = "00000000000000000000000000000000".into()),
        "refresh family no longer exists",
    )
    .await;
    refused(
        &s,
        &with(&|c| c.sub = "ffffffffffffffffffffffffffffffff".into()),
        "",
    )
    .await;
    // Within the skew, iat a little in the future is fine.
    s.get(
        "/users/me",
        &[("authorization", &bearer(&with(&|c| c.iat = now + 30)))],
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn es256_zero_signatures() {
    let s = Server::start(&admin_cfg("[tokens]\nalgorithm = \"ES256\"\n").replace(
        "[tokens]\nissuer = \"https://auth.test\"\n[tokens]\n",
        "[tokens]\nissuer = \"https://auth.test\"\n",
    ))
    .await;
    let t = legit(&s, "ecd").await;
    let access = t["access_token"].as_str().unwrap();
    let (h, p, sig) = parts(access);
    assert_eq!(h["alg"], "ES256");
    let sig = b64url_decode(&sig).unwrap();
    let (eh, ep) = (enc(&h), enc(&p));
    let mut r_zero = sig.clone();
    r_zero[..32].fill(0);
    let mut s_zero = sig.clone();
    s_zero[32..].fill(0);
    for bad in [
        vec![0u8; 64],
        r_zero,
        s_zero,
        vec![0u8; 63],
        sig[..32].to_vec(),
    ] {
        refused(
            &s,
            &format!("{eh}.{ep}.{}", b64url(&bad)),
            "signature does not verify",
        )
        .await;
    }
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
        .expect(200);
}

#[tokio::test]
async fn paseto_attacks() {
    let s = Server::start(
        &admin_cfg("[tokens]\nformat = \"paseto\"\nalgorithm = \"v4.public\"\n").replace(
            "[tokens]\nissuer = \"https://auth.test\"\n[tokens]\n",
            "[tokens]\nissuer = \"https://auth.test\"\n",
        ),
    )
    .await;
    let t = legit(&s, "pas").await;
    let access = t["access_token"].as_str().unwrap().to_string();
    let segs: Vec<&str> = access.split('.').collect();
    assert_eq!((segs[0], segs[1], segs.len()), ("v4", "public", 4));
    let (body, footer) = (segs[2], segs[3]);
    // Wrong version or purpose.
    for hdr in [
        "v3.public",
        "v2.public",
        "v4.local",
        "V4.public",
        "v4.Public",
    ] {
        refused(&s, &format!("{hdr}.{body}.{footer}"), "algorithm refused").await;
    }
    // A real v4.local token (from another server) offered to this v4.public verifier.
    let local = Server::start("[tokens]\nformat = \"paseto\"\nalgorithm = \"v4.local\"\n").await;
    let lt = legit(&local, "loc").await;
    refused(
        &s,
        lt["access_token"].as_str().unwrap(),
        "algorithm refused",
    )
    .await;
    // Footer tampered: another kid, extra members, not JSON, absent.
    let f: Value = serde_json::from_slice(&b64url_decode(footer).unwrap()).unwrap();
    let kid = f["kid"].as_str().unwrap();
    let other_kid = format!(
        "{}{}",
        &kid[..kid.len() - 1],
        if kid.ends_with('A') { 'B' } else { 'A' }
    );
    refused(
        &s,
        &format!("v4.public.{body}.{}", enc(&json!({"kid": other_kid}))),
        "no live signing key",
    )
    .await;
    refused(
        &s,
        &format!("v4.public.{body}.{}", enc(&json!({"kid": kid, "wpk": "x"}))),
        "footer",
    )
    .await;
    refused(
        &s,
        &format!("v4.public.{body}.{}", enc_raw("not json")),
        "footer",
    )
    .await;
    refused(&s, &format!("v4.public.{body}"), "no live signing key").await;
    // The footer is authenticated: same kid re-encoded with other whitespace fails.
    refused(
        &s,
        &format!(
            "v4.public.{body}.{}",
            enc_raw(&format!("{{ \"kid\": \"{kid}\" }}"))
        ),
        "signature does not verify",
    )
    .await;
    // Payload tampered.
    let mut raw = b64url_decode(body).unwrap();
    raw[5] ^= 1;
    refused(
        &s,
        &format!("v4.public.{}.{footer}", b64url(&raw)),
        "signature does not verify",
    )
    .await;
    s.get("/users/me", &[("authorization", &bearer(&access))])
        .await
        .expect(200);
}

#[tokio::test]
async fn access_and_refresh_tokens_do_not_swap() {
    let s = Server::start(&admin_cfg("")).await;
    let t = legit(&s, "swp").await;
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    // A refresh token is no access token, anywhere.
    refused_everywhere(&s, refresh).await;
    // An access token is no refresh token, anywhere.
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": access}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    let r = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": access}),
        )
        .await;
    assert_eq!(r.expect(401)["error"]["message"], "INVALID_REFRESH_TOKEN");
    let r = s
        .post_json("/api/v0/token", &[], &json!({"refresh_token": access}))
        .await;
    assert_eq!(
        r.expect(401)["error"]["refresh_token"][0]["error"],
        "ERR_INVALID"
    );
    let r = s
        .post_json("/session/token", &[], &json!({"refresh_token": access}))
        .await;
    assert_eq!(r.expect(401), json!({"error": "invalid_token"}));
    // Both still work for what they are.
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
        .expect(200);
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": refresh}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn tokens_of_disabled_and_deleted_users() {
    let s = Server::start(&admin_cfg("")).await;
    let a = legit(&s, "dis").await;
    let b = legit(&s, "del").await;
    s.admin_req(http::Method::POST, "/admin/users/dis/disable", Some(ADMIN))
        .await
        .expect(200);
    s.admin_req(http::Method::DELETE, "/admin/users/del", Some(ADMIN))
        .await
        .expect(200);
    refused(
        &s,
        a["access_token"].as_str().unwrap(),
        "revoked (user_disabled)",
    )
    .await;
    refused(
        &s,
        b["access_token"].as_str().unwrap(),
        "revoked (user_deleted)",
    )
    .await;
}

#[tokio::test]
async fn session_code_brute_force_hits_the_limits() {
    let s = Server::start("[limits]\nper_ip_per_minute = 20\n").await;
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for i in 0..30u32 {
        let guess = format!("{:04}-{:04}-{:04}", i, i * 7 % 10000, i * 13 % 10000);
        let r = s
            .post_json("/session/verify", &[], &json!({"session_code": guess}))
            .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert_eq!(r.json(), json!({"error": "rate_limited"}));
            assert!(r.header("retry-after").is_some());
        }
    }
    // The bucket holds 20 and refills one every 3 s; refusals are held about a second
    // each, so a few more guesses may reach the store, never more than the refill allows.
    let checked = statuses.iter().filter(|c| **c == 400).count();
    let refills = usize::try_from(started.elapsed().as_secs() / 3).unwrap() + 1;
    assert!(statuses[..20].iter().all(|c| *c == 400), "{statuses:?}");
    assert!(checked <= 20 + refills, "{checked} checked in {statuses:?}");
    assert!(
        statuses.iter().filter(|c| **c == 429).count() >= 10 - refills,
        "{statuses:?}"
    );
}
