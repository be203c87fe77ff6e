//! The OpenID Connect provider with a real relying-party library (the `openidconnect`
//! crate: discovery, PKCE, the id token checked against the JWKS, userinfo, refresh) and
//! a real Chromium signing in on the portal; then every refusal of the contract over HTTP.

use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde_json::{json, Value};

use crate::browser::Chrome;
use crate::policy::{account_with_totp, PW};
use crate::portal::Browser;
use crate::support::*;

pub(crate) const SECRET: &str = "app-secret-0123456789";
/// A secret with characters that form-encoding changes (`+`, `%`).
pub(crate) const PLUS_SECRET: &str = "a+b%2F/c-0123456789";

/// A server on a known port (its public URL is the issuer) with the portal and three
/// clients: `app` (confidential, RS256), `spa` (public, ES256), `third` (consent, EdDSA).
pub(crate) async fn provider(smtp: &Smtp) -> (Server, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let s = Server::start(&format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "{base}"
[tokens]
issuer = "{base}"
[[oidc.clients]]
id = "app"
secret = "{SECRET}"
redirect_uris = ["http://127.0.0.1:9/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9/bye"]
name = "The App"
[[oidc.clients]]
id = "spa"
redirect_uris = ["http://localhost:9/spa"]
id_token_alg = "ES256"
[[oidc.clients]]
id = "third"
secret = "third-secret-0123456789"
redirect_uris = ["https://third.example/cb"]
consent = true
id_token_alg = "EdDSA"
name = "Third Party"
[[oidc.clients]]
id = "plus"
secret = "{PLUS_SECRET}"
redirect_uris = ["http://127.0.0.1:9/plus"]
{}
"#,
        smtp.config("none")
    ))
    .await;
    (s, base)
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn query_of(url: &str) -> std::collections::BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn an_oidc_library_signs_in_through_chromium_and_checks_everything() {
    let smtp = Smtp::start(&[]);
    let (s, base) = provider(&smtp).await;
    let (_, secret, _) = account_with_totp(&s, &smtp, "olga").await;
    let http = http();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("app".into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:9/cb".into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // A person in Chromium: sent to the portal, password, TOTP, back to the app.
    let b = Chrome::start(1280, 900).await;
    b.c.goto(auth_url.as_str()).await.unwrap();
    b.until(fantoccini::Locator::Id("username")).await.unwrap();
    b.type_keys(&format!(
        "olga{}{PW}{}",
        fantoccini::key::Key::Tab,
        fantoccini::key::Key::Enter
    ))
    .await;
    b.until(fantoccini::Locator::Id("mfa_code")).await.unwrap();
    b.type_keys(&format!(
        "{}{}",
        totp_at(&secret, now_ms() + 30_000),
        fantoccini::key::Key::Enter
    ))
    .await;
    let mut landed = String::new();
    for _ in 0..100 {
        landed = b.url().await;
        if landed.starts_with("http://127.0.0.1:9/cb") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let q = query_of(&landed);
    assert_eq!(q.get("state"), Some(state.secret()), "{landed}");
    assert_eq!(q.get("iss"), Some(&base), "RFC 9207: {landed}");
    let code = q["code"].clone();
    b.close().await;

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an id token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid id token");
    assert_eq!(
        id_token.signing_alg().unwrap(),
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256
    );
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(claims.email().unwrap().as_str(), "olga@example.com");
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.preferred_username().unwrap().as_str(), "olga");
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    assert!(
        amr.contains(&"otp".to_string()) && amr.contains(&"pwd".to_string()),
        "{amr:?}"
    );
    assert!(claims.auth_time().is_some());
    let sub = claims.subject().as_str().to_string();
    // The same subject as every family.
    let me = s.session_me(tokens.access_token().secret()).await;
    assert_eq!(me["id"], json!(sub));

    // userinfo, by the library.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().unwrap().as_str(), "olga@example.com");

    // Refresh (offline_access): a new pair, the old refresh token spent.
    let rt = tokens
        .refresh_token()
        .expect("offline_access gives one")
        .clone();
    let again = client
        .exchange_refresh_token(&rt)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert!(again.id_token().is_some());
    assert_ne!(again.refresh_token().unwrap().secret(), rt.secret());
    // An OIDC refresh token is refused at the API's refresh routes.
    let r = s
        .post_json(
            "/session/refresh",
            &[],
            &json!({"refresh_token": again.refresh_token().unwrap().secret()}),
        )
        .await;
    assert_ne!(r.status, 200);
    // The code again: refused, and what it gave is revoked.
    let reuse = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(reuse.is_err());
    let r = client
        .exchange_refresh_token(&RefreshToken::new(
            again.refresh_token().unwrap().secret().clone(),
        ))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(r.is_err(), "the family of a reused code is revoked");
    let r = s
        .get(
            "/oidc/userinfo",
            &[("authorization", &bearer(again.access_token().secret()))],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
}

/// Follows an authorization request in `b` (a signed-in HTTP browser) to the redirect it
/// ends in: the `Location` and its query.
pub(crate) async fn authorize(b: &mut Browser<'_>, query: &str) -> (u16, String) {
    let r = b.get(&format!("/oidc/authorize?{query}")).await;
    (
        r.status.as_u16(),
        r.header("location").unwrap_or_default().to_string(),
    )
}

pub(crate) fn s256(verifier: &str) -> String {
    latchkey::primitives::b64url(&latchkey::primitives::sha256(verifier.as_bytes()))
}

pub(crate) async fn exchange(
    s: &Server,
    body: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Resp {
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(body)
        .finish();
    let auth;
    let mut h = vec![];
    if let Some((id, secret)) = basic {
        auth = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{id}:{secret}")
            )
        );
        h.push(("authorization", auth.as_str()));
    }
    s.post_form("/oidc/token", &h, &form).await
}

#[tokio::test]
async fn every_refusal_of_the_contract() {
    let smtp = Smtp::start(&[]);
    let (s, base) = provider(&smtp).await;
    oauth_signup(&s, "ned", PW).await;
    let mut b = Browser::new(&s);
    let cb = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";
    let v = "v".repeat(50);
    let ok = format!(
        "response_type=code&client_id=app&redirect_uri={cb}&scope=openid%20email&state=S1&nonce=N1&code_challenge={}&code_challenge_method=S256",
        s256(&v)
    );

    // Discovery says what the contract says.
    let d = s
        .get("/.well-known/openid-configuration", &[])
        .await
        .expect(200);
    assert_eq!(d["issuer"], json!(base));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    for m in ["client_secret_basic", "client_secret_post", "none"] {
        assert!(d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(m)));
    }
    assert!(d["revocation_endpoint"].is_string() && d["introspection_endpoint"].is_string());
    // The JWKS has the id-token keys (RS256, ES256, EdDSA) beside the access-token key.
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    for a in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&a), "{algs:?}");
    }

    // An unknown client, an unregistered redirect_uri: a page, never a redirect.
    for q in [
        ok.replace("client_id=app", "client_id=nope"),
        ok.replace(cb, "https%3A%2F%2Fevil.example%2Fcb"),
        ok.replace(cb, "http%3A%2F%2F127.0.0.1%3A9%2Fcb%2F"),
    ] {
        let (status, loc) = authorize(&mut b, &q).await;
        assert_eq!((status, loc.as_str()), (400, ""), "{q}");
    }
    // prompt=none without a session: back to the client with login_required.
    let (status, loc) = authorize(&mut b, &format!("{ok}&prompt=none")).await;
    assert_eq!(status, 302);
    let q = query_of(&loc);
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "S1");
    assert_eq!(q["iss"], base);
    // Without a session: to the portal's login page, and back after it.
    let (status, loc) = authorize(&mut b, &ok).await;
    assert_eq!(status, 303);
    assert!(
        loc.starts_with("/ui/login?rd=%2Foidc%2Fauthorize%3F"),
        "{loc}"
    );
    let rd = query_of(&format!("http://x{loc}"))["rd"].clone();
    let r = b.sign_in("ned", PW, &rd).await;
    assert_eq!(r.status, 303);
    let back = r.header("location").unwrap().to_string();
    assert!(back.starts_with("/oidc/authorize?"), "{back}");
    let r = b.get(&back).await;
    assert_eq!(r.status, 302);
    let q = query_of(r.header("location").unwrap());
    let code = q["code"].clone();
    assert_eq!(
        (q["state"].as_str(), q["iss"].as_str()),
        ("S1", base.as_str())
    );

    // Refusals that go back to the client, with state and iss.
    for (query, error) in [
        (ok.replace("S256", "plain"), "invalid_request"),
        (
            ok.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (ok.replace("response_type=code", "response_type=token"), "unsupported_response_type"),
        (ok.replace("scope=openid%20email", "scope=email"), "invalid_scope"),
        (format!("{ok}&request=eyJ"), "request_not_supported"),
        (format!("{ok}&prompt=none%20login"), "invalid_request"),
        (
            "response_type=code&client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fspa&scope=openid&state=S1"
                .to_string(),
            "invalid_request",
        ),
    ] {
        let (status, loc) = authorize(&mut b, &query).await;
        assert_eq!(status, 302, "{query}");
        let q = query_of(&loc);
        assert_eq!(q.get("error").map(String::as_str), Some(error), "{query}: {loc}");
        assert_eq!(q["state"], "S1");
        assert_eq!(q["iss"], base);
        assert!(!q.contains_key("code"));
    }

    // The exchange: wrong verifier, wrong redirect_uri, another client: invalid_grant
    // (and the code is gone: each is its last try).
    let (_, loc) = authorize(&mut b, &ok).await;
    let c2 = query_of(&loc)["code"].clone();
    let r = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c2),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &"w".repeat(50)),
        ],
        Some(("app", SECRET)),
    )
    .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    let (_, loc) = authorize(&mut b, &ok).await;
    let c3 = query_of(&loc)["code"].clone();
    let r = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c3),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &v),
        ],
        Some(("app", SECRET)),
    )
    .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    let (_, loc) = authorize(&mut b, &ok).await;
    let c4 = query_of(&loc)["code"].clone();
    let r = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c4),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &v),
        ],
        Some(("third", "third-secret-0123456789")),
    )
    .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    // A wrong secret: invalid_client, with the Basic challenge.
    let r = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &v),
        ],
        Some(("app", "wrong")),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    // The right exchange (client_secret_post), once; no offline_access: no refresh token.
    let body = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", v.as_str()),
        ("client_id", "app"),
        ("client_secret", SECRET),
    ];
    let t = exchange(&s, &body, None).await.expect(200);
    assert_eq!(t["token_type"], "Bearer");
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert_eq!(t["scope"], "openid email");
    let id: Value = serde_json::from_slice(
        &latchkey::primitives::b64url_decode(
            t["id_token"].as_str().unwrap().split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(id["nonce"], "N1");
    assert_eq!(id["aud"], "app");
    assert_eq!(id["email"], "ned@example.com");
    assert!(id.get("preferred_username").is_none(), "no profile scope");
    let access = t["access_token"].as_str().unwrap().to_string();
    // The account page names the app among the sessions.
    let page = String::from_utf8_lossy(&b.get("/ui/account").await.body).to_string();
    assert!(
        page.contains("<strong>The App:</strong> Signed in"),
        "{page}"
    );
    let info = s
        .get("/oidc/userinfo", &[("authorization", &bearer(&access))])
        .await
        .expect(200);
    assert_eq!(info["email"], "ned@example.com");
    // Introspection takes the OIDC client's credentials.
    let r = s
        .post_form(
            "/oauth/introspect",
            &[(
                "authorization",
                &format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        format!("app:{SECRET}")
                    )
                ),
            )],
            &format!("token={access}"),
        )
        .await
        .expect(200);
    assert_eq!(r["active"], true);
    // Twice: refused, and the first exchange's tokens die.
    assert_eq!(
        exchange(&s, &body, None).await.expect(400)["error"],
        "invalid_grant"
    );
    assert_eq!(
        s.get("/oidc/userinfo", &[("authorization", &bearer(&access))])
            .await
            .status,
        401
    );
    // An API access token is not this flow's: userinfo refuses it.
    let api = oauth_login(&s, "ned", PW).await.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.get("/oidc/userinfo", &[("authorization", &bearer(&api))])
            .await
            .status,
        401
    );

    // A consent client: the page; deny -> access_denied; allow -> a code.
    let third = "response_type=code&client_id=third&redirect_uri=https%3A%2F%2Fthird.example%2Fcb&scope=openid%20profile&state=T";
    let r = b.get(&format!("/oidc/authorize?{third}")).await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body).to_string();
    assert!(html.contains("Third Party"), "{html}");
    let csrf = crate::portal::csrf_of(&html);
    let (_, loc) = authorize(&mut b, &format!("{third}&prompt=none")).await;
    assert_eq!(query_of(&loc)["error"], "consent_required");
    let mut fields: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", "third"),
        ("redirect_uri", "https://third.example/cb"),
        ("scope", "openid profile"),
        ("state", "T"),
        ("csrf", &csrf),
    ];
    fields.push(("decision", "deny"));
    let r = b.post("/oidc/authorize", &fields).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        query_of(r.header("location").unwrap())["error"],
        "access_denied"
    );
    fields.pop();
    fields.push(("decision", "allow"));
    let r = b
        .post_with(
            "/oidc/authorize",
            &fields,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(
        r.status, 200,
        "a cross-site allow is not an allow: the page again"
    );
    let r = b.post("/oidc/authorize", &fields).await;
    assert_eq!(r.status, 303);
    assert!(query_of(r.header("location").unwrap()).contains_key("code"));

    // prompt=login and max_age=0: back to the login page, though signed in.
    for extra in ["&prompt=login", "&max_age=0"] {
        let (status, loc) = authorize(&mut b, &format!("{ok}{extra}")).await;
        assert_eq!(status, 303, "{extra}");
        assert!(
            loc.starts_with("/ui/login?prompt=login&rd="),
            "{extra}: {loc}"
        );
    }

    // RP-initiated logout: an unregistered post_logout_redirect_uri is refused; the
    // registered one is followed with state, and the portal session ends.
    let hint = t["id_token"].as_str().unwrap();
    let r = b
        .get(&format!(
            "/oidc/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(b.forward().await.status == 200);
    // (An app of this site: Sec-Fetch-Site same-site; see hardening.rs for the others.)
    let r = b
        .get_with(
            &format!(
                "/oidc/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=L"
            ),
            &[("sec-fetch-site", "same-site")],
        )
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:9/bye?state=L"));
    assert_eq!(b.forward().await.status, 401);
}

#[tokio::test]
async fn a_public_client_with_pkce_gets_an_es256_id_token() {
    let smtp = Smtp::start(&[]);
    let (s, base) = provider(&smtp).await;
    oauth_signup(&s, "pat", PW).await;
    let mut b = Browser::new(&s);
    b.sign_in("pat", PW, "").await;
    let v = "x".repeat(64);
    let (status, loc) = authorize(
        &mut b,
        &format!(
            "response_type=code&client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fspa&scope=openid%20profile%20offline_access&code_challenge={}&code_challenge_method=S256",
            s256(&v)
        ),
    )
    .await;
    assert_eq!(status, 302);
    let q = query_of(&loc);
    assert_eq!(q["iss"], base);
    let body = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", "http://localhost:9/spa"),
        ("code_verifier", v.as_str()),
        ("client_id", "spa"),
    ];
    let t = exchange(&s, &body, None).await.expect(200);
    let header: Value = serde_json::from_slice(
        &latchkey::primitives::b64url_decode(
            t["id_token"].as_str().unwrap().split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert!(t["refresh_token"].as_str().unwrap().starts_with("oidc_"));
    // Without the verifier, a public client's code is worth nothing.
    let (_, loc) = authorize(
        &mut b,
        &format!(
            "response_type=code&client_id=spa&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fspa&scope=openid&code_challenge={}&code_challenge_method=S256",
            s256(&v)
        ),
    )
    .await;
    let code = query_of(&loc)["code"].clone();
    let r = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/spa"),
            ("client_id", "spa"),
        ],
        None,
    )
    .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
}

#[tokio::test]
async fn id_token_keys_rotate_with_the_others_and_the_steps_are_counted() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let s = Server::start(&format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "{base}"
[tokens]
issuer = "{base}"
[admin]
listen = "127.0.0.1:0"
token = "{ADMIN}"
[[oidc.clients]]
id = "app"
secret = "{SECRET}"
redirect_uris = ["http://127.0.0.1:9/cb"]
"#
    ))
    .await;
    oauth_signup(&s, "kim", PW).await;
    let mut b = Browser::new(&s);
    b.sign_in("kim", PW, "").await;
    let v = "k".repeat(43);
    let q = format!(
        "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid&code_challenge={}&code_challenge_method=S256",
        s256(&v)
    );
    let kid_of = |t: &Value| -> String {
        let h: Value = serde_json::from_slice(
            &latchkey::primitives::b64url_decode(
                t["id_token"].as_str().unwrap().split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_string()
    };
    let first = code_and_tokens(&s, &mut b, &q, &v).await;
    let (code, _, err) = s.cli(&["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    let second = code_and_tokens(&s, &mut b, &q, &v).await;
    assert_ne!(kid_of(&first), kid_of(&second), "a new RS256 key signs");
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    let rsa: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        rsa.contains(&kid_of(&first).as_str()) && rsa.contains(&kid_of(&second).as_str()),
        "{rsa:?}"
    );
    // The retired key still vouches for its tokens (a logout hint).
    let r = b
        .get_with(
            &format!(
                "/oidc/logout?id_token_hint={}",
                first["id_token"].as_str().unwrap()
            ),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    // The metrics count the portal sign-in and the OIDC steps.
    let m = s
        .admin_req(http::Method::GET, "/metrics", Some(ADMIN))
        .await;
    let text = String::from_utf8_lossy(&m.body).to_string();
    assert!(
        text.contains("latchkey_portal_sign_ins_total{method=\"pwd\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_oidc_total{step=\"authorization\",result=\"ok\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("latchkey_oidc_total{step=\"authorization_code\",result=\"ok\"} 2"),
        "{text}"
    );
}

/// An authorization (`query`) of the signed-in `b`, and its code exchanged by `app`.
async fn code_and_tokens(s: &Server, b: &mut Browser<'_>, query: &str, verifier: &str) -> Value {
    let (_, loc) = authorize(b, query).await;
    let code = query_of(&loc)["code"].clone();
    exchange(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", verifier),
        ],
        Some(("app", SECRET)),
    )
    .await
    .expect(200)
}
