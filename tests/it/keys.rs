//! Signing keys against the running server: a revoked key fails at once, cached
//! verifications included; a rotated-out key dies with its last token; old tokens keep
//! verifying after `tokens.algorithm` changes; `token inspect` names the algorithm it
//! refuses.

use serde_json::Value;

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&latchkey::primitives::b64url_decode(h).unwrap()).unwrap()
}

async fn me(s: &Server, access: &str) -> u16 {
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn a_revoked_key_fails_at_once_even_for_a_cached_token() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
    .await;
    oauth_signup(&s, "kev", PW).await;
    let t = oauth_login(&s, "kev", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();
    // Seen (and cached) before the revocation.
    assert_eq!(me(&s, &access).await, 200);
    assert_eq!(me(&s, &access).await, 200);
    let kid = header(&access)["kid"].as_str().unwrap().to_string();
    let (code, out, err) = s.cli(&["keys", "revoke", &kid]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&kid), "{out}");
    // On redb the command goes through the server's admin API: at once. On PostgreSQL it
    // writes the database, and the server hears of it (a notice): within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while on_postgres() && me(&s, &access).await == 200 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(me(&s, &access).await, 401, "the cache forgot it");
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    assert!(!jwks.to_string().contains(&kid), "{jwks}");
    // A new key signs; sign-in works on.
    let t2 = oauth_login(&s, "kev", PW).await.expect(200);
    let access2 = t2["access_token"].as_str().unwrap();
    assert_ne!(header(access2)["kid"], kid.as_str());
    assert_eq!(me(&s, access2).await, 200);
    // Revoking what is not there says so.
    let (code, _, err) = s.cli(&["keys", "revoke", "no-such-kid"]);
    assert_ne!(code, 0);
    assert!(err.contains("no signing key"), "{err}");
}

#[tokio::test]
async fn a_rotated_out_key_stops_when_its_tokens_expire_cache_or_not() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n[tokens]\naccess_ttl = 2\n"
    ))
    .await;
    oauth_signup(&s, "rho", PW).await;
    let t = oauth_login(&s, "rho", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(me(&s, &access).await, 200);
    // Rotated: the old key still verifies its live tokens.
    s.cli(&["keys", "rotate"]);
    assert_eq!(me(&s, &access).await, 200);
    // Its token expired: refused, however often it was seen.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(me(&s, &access).await, 401);
}

#[tokio::test]
async fn old_tokens_keep_verifying_after_the_algorithm_changes() {
    let mut s = Server::start("").await;
    oauth_signup(&s, "alg", PW).await;
    let t = oauth_login(&s, "alg", PW).await.expect(200);
    let old = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(header(&old)["alg"], "EdDSA");
    // The operator switches to ES256 and restarts.
    let cfg = std::fs::read_to_string(s.config_path()).unwrap();
    std::fs::write(
        s.config_path(),
        format!("{cfg}\n[tokens]\nformat = \"jwt\"\nalgorithm = \"ES256\"\n"),
    )
    .unwrap();
    s.restart();
    assert_eq!(me(&s, &old).await, 200, "the EdDSA token still verifies");
    let t2 = oauth_login(&s, "alg", PW).await.expect(200);
    let new = t2["access_token"].as_str().unwrap();
    assert_eq!(header(new)["alg"], "ES256");
    assert_eq!(me(&s, new).await, 200);
    // Both keys are published while both verify.
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(
        algs.contains(&"EdDSA") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    // The refresh token of the old sign-in rotates into an ES256 access token.
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &serde_json::json!({"refresh_token": t["refresh_token"]}),
        )
        .await
        .expect(200);
    assert_eq!(header(r["access_token"].as_str().unwrap())["alg"], "ES256");
}

#[tokio::test]
async fn inspect_names_the_algorithm_of_an_unsigned_token() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
    .await;
    oauth_signup(&s, "nan", PW).await;
    let t = oauth_login(&s, "nan", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{payload}.",
        latchkey::primitives::b64url(br#"{"alg":"none","typ":"JWT"}"#)
    );
    let (code, _, err) = s.cli(&["token", "inspect", &none]);
    assert_ne!(code, 0);
    assert!(err.contains("`none`"), "{err}");
    assert_eq!(me(&s, &none).await, 401);
}
