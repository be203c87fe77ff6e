//! Issue 23: what an attack on the running server and two relying-party libraries found.
//! Each test here failed before its fix.

use crate::oidc::{authorize, provider, query_of, s256};
use crate::policy::PW;
use crate::portal::Browser;
use crate::support::*;

const CB: &str = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";

fn request(state: &str) -> String {
    format!(
        "response_type=code&client_id=app&redirect_uri={CB}&scope=openid&state={state}&nonce=N&code_challenge={}&code_challenge_method=S256",
        s256(&"v".repeat(50))
    )
}

/// `login_after` is the server's own stamp, sealed to the request it was made for: a
/// browser that writes one (any time, any form) or lifts one from another request does
/// not skip `prompt=login` or `max_age`; the stamp the server made still works.
#[tokio::test]
async fn prompt_login_and_max_age_are_not_skipped_with_a_forged_stamp() {
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    oauth_signup(&s, "ned", PW).await;
    let mut b = Browser::new(&s);
    let before_secs = now_ms() / 1000 - 60;
    let before_ms = now_ms() - 60_000;
    assert_eq!(b.sign_in("ned", PW, "/ui/account").await.status, 303);

    // A stamp the server made for another request (state S0).
    let (status, loc) = authorize(&mut b, &format!("{}&prompt=login", request("S0"))).await;
    assert_eq!(status, 303);
    let rd = query_of(&format!("http://x{loc}"))["rd"].clone();
    let borrowed = query_of(&format!("http://x{rd}"))["login_after"].clone();

    for extra in ["&prompt=login", "&max_age=0"] {
        for forged in [
            before_secs.to_string(),
            before_ms.to_string(),
            format!("{before_ms}.AAAA"),
            borrowed.clone(),
        ] {
            let q = format!("{}{extra}&login_after={forged}", request("S1"));
            let (status, loc) = authorize(&mut b, &q).await;
            assert_eq!(status, 303, "{extra} with login_after={forged}: {loc}");
            assert!(loc.starts_with("/ui/login?prompt=login&rd="), "{loc}");
        }
        // The server's own way round: the login page, a new sign-in, and back.
        let (_, loc) = authorize(&mut b, &format!("{}{extra}", request("S2"))).await;
        let rd = query_of(&format!("http://x{loc}"))["rd"].clone();
        let csrf = b.csrf("/ui/login?prompt=login").await;
        let r = b
            .post(
                "/ui/login",
                &[
                    ("csrf", &csrf),
                    ("username", "ned"),
                    ("password", PW),
                    ("rd", &rd),
                ],
            )
            .await;
        let back = r.header("location").unwrap().to_string();
        let (status, loc) = authorize(&mut b, back.trim_start_matches("/oidc/authorize?")).await;
        assert_eq!(status, 302, "{extra}: {loc}");
        let q = query_of(&loc);
        assert!(q.contains_key("code"), "{extra}: {loc}");
        assert_eq!(q["state"], "S2");
    }
}

/// RFC 6749 §4.1.2.1: `state` goes back exactly, even when its length is the refusal.
#[tokio::test]
async fn an_overlong_state_is_echoed_in_the_error() {
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let mut b = Browser::new(&s);
    let long = "s".repeat(600);
    let (status, loc) = authorize(&mut b, &request(&long)).await;
    assert_eq!(status, 302);
    let q = query_of(&loc);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], long);
}

/// Cookie tossing: a sibling subdomain can add a session cookie of its own beside the
/// victim's. Two session cookies are none (signed out), never the first live one; and
/// where the deployment allows it (https, no `cookie_domain`) the cookie is
/// `__Host-latchkey_session`, which no sibling can set.
#[tokio::test]
async fn several_session_cookies_are_no_session_and_https_uses_the_host_prefix() {
    let s = Server::start("").await;
    oauth_signup(&s, "ned", PW).await;
    oauth_signup(&s, "eve", PW).await;
    let mut victim = Browser::new(&s);
    let mut attacker = Browser::new(&s);
    assert_eq!(victim.sign_in("ned", PW, "/ui/account").await.status, 303);
    assert_eq!(attacker.sign_in("eve", PW, "/ui/account").await.status, 303);
    let mine = victim.jar.get("latchkey_session").unwrap().to_string();
    let tossed = attacker.jar.get("latchkey_session").unwrap().to_string();
    for cookie in [
        format!("latchkey_session={tossed}; latchkey_session={mine}"),
        format!("latchkey_session={mine}; latchkey_session={tossed}"),
        format!("latchkey_session={mine}; latchkey_session=x"),
    ] {
        let r = s.get("/auth/forward", &[("cookie", &cookie)]).await;
        assert_eq!(r.status, 401, "{cookie}");
        let r = s.get("/ui/account", &[("cookie", &cookie)]).await;
        assert_eq!(r.status, 303, "{cookie}");
        assert!(r.header("location").unwrap().ends_with("/ui/login"));
    }
    let r = s
        .get(
            "/auth/forward",
            &[("cookie", &format!("latchkey_session={mine}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-username"), Some("ned"));

    // Behind https without cookie_domain: the __Host- prefix, and only it is read.
    let s = Server::start(
        "[server]\npublic_url = \"https://auth.example.test\"\n[tokens]\nissuer = \"https://auth.example.test\"",
    )
    .await;
    oauth_signup(&s, "ned", PW).await;
    let mut b = Browser::new(&s);
    let r = b.sign_in("ned", PW, "/ui/account").await;
    assert_eq!(r.status, 303);
    let set: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|v| v.contains("latchkey_session="))
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let c = set[0];
    assert!(c.starts_with("__Host-latchkey_session="), "{c}");
    assert!(
        c.contains("; Secure") && c.contains("; Path=/") && !c.contains("Domain="),
        "{c}"
    );
    let value = b.jar.get("__Host-latchkey_session").unwrap().to_string();
    let r = s
        .get(
            "/auth/forward",
            &[("cookie", &format!("__Host-latchkey_session={value}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .get(
            "/auth/forward",
            &[("cookie", &format!("latchkey_session={value}"))],
        )
        .await;
    assert_eq!(
        r.status, 401,
        "the unprefixed name is not read behind https"
    );
}

/// Wrong email-verification codes count toward the account's lockout like every other
/// wrong code: after `lockout_failures` of them, the source is locked out of the account
/// (the password too) and told when to come back.
#[tokio::test]
async fn wrong_email_verification_codes_count_toward_the_lockout() {
    use serde_json::json;
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}\n[limits]\nlockout_failures = 3",
        smtp.config("none")
    ))
    .await;
    oauth_signup(&s, "vic", PW).await;
    let t = oauth_login(&s, "vic", PW).await.expect(200);
    let auth = bearer(t["access_token"].as_str().unwrap());
    s.post_json(
        "/session/email/verify/start",
        &[("authorization", &auth)],
        &json!({}),
    )
    .await
    .expect(202);
    for _ in 0..3 {
        let r = s
            .post_json(
                "/session/email/verify",
                &[("authorization", &auth)],
                &json!({"code": "AAAA-BBBB"}),
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.json());
    }
    let r = s
        .post_json(
            "/session/email/verify",
            &[("authorization", &auth)],
            &json!({"code": "AAAA-BBBB"}),
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.json());
    assert!(r.header("retry-after").is_some());
    // The lockout is the account's: the right password from this source waits too.
    assert_eq!(oauth_login(&s, "vic", PW).await.status, 429);
}

/// `name` signed up, and a browser signed in as them on the portal.
async fn signed_in<'a>(s: &'a Server, name: &str) -> Browser<'a> {
    oauth_signup(s, name, PW).await;
    let mut b = Browser::new(s);
    assert_eq!(b.sign_in(name, PW, "/ui/account").await.status, 303);
    b
}

/// The tokens client `app` gets for the person signed in in `b` (code + PKCE, then the
/// exchange with its secret).
async fn app_tokens(s: &Server, b: &mut Browser<'_>) -> serde_json::Value {
    let cb = "http://127.0.0.1:9/cb";
    let code = code_for(b, "app", cb, "").await;
    crate::oidc::exchange(
        s,
        &grant(&code, cb, &"v".repeat(50)),
        Some(("app", crate::oidc::SECRET)),
    )
    .await
    .expect(200)
}

/// A code for `client` (on `redirect`) in signed-in browser `b`, with `v`'s challenge.
async fn code_for(b: &mut Browser<'_>, client: &str, redirect: &str, extra: &str) -> String {
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope=openid%20email&state=S&code_challenge={}&code_challenge_method=S256{extra}",
        form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        s256(&"v".repeat(50))
    );
    let (status, loc) = authorize(b, &q).await;
    assert_eq!(status, 302, "{loc}");
    query_of(&loc)
        .get("code")
        .unwrap_or_else(|| panic!("no code: {loc}"))
        .clone()
}

fn grant<'a>(code: &'a str, redirect: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

/// OIDC Core §3.1.2.1: `id_token_hint` names whom the client expects. Signed in as B
/// with A's hint, `prompt=none` is `login_required` (never a code for B); a hint this
/// server did not sign is `invalid_request`; B's own hint gets B's code.
#[tokio::test]
async fn id_token_hint_is_honoured() {
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let mut id_token = std::collections::BTreeMap::new();
    for name in ["amy", "bob"] {
        let mut b = signed_in(&s, name).await;
        let t = app_tokens(&s, &mut b).await;
        id_token.insert(name, t["id_token"].as_str().unwrap().to_string());
    }
    let mut b = Browser::new(&s);
    b.sign_in("bob", PW, "/ui/account").await;
    let (status, loc) = authorize(
        &mut b,
        &format!(
            "{}&prompt=none&id_token_hint={}",
            request("H"),
            id_token["amy"]
        ),
    )
    .await;
    assert_eq!(status, 302);
    let q = query_of(&loc);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("login_required"),
        "{loc}"
    );
    assert!(!q.contains_key("code"));
    // Without prompt=none: the login page, not a code for the wrong person.
    let (status, loc) = authorize(
        &mut b,
        &format!("{}&id_token_hint={}", request("H"), id_token["amy"]),
    )
    .await;
    assert_eq!(status, 303, "{loc}");
    // A hint with a broken signature.
    // (a character in the middle of the signature: the last one may hold unused bits)
    let mut forged = id_token["amy"].clone();
    let at = forged.len() - 20;
    let flipped = if &forged[at..=at] == "A" { "B" } else { "A" };
    forged.replace_range(at..=at, flipped);
    let (_, loc) = authorize(
        &mut b,
        &format!("{}&prompt=none&id_token_hint={forged}", request("H")),
    )
    .await;
    assert_eq!(query_of(&loc)["error"], "invalid_request");
    // Bob's own hint: a code.
    let (status, loc) = authorize(
        &mut b,
        &format!(
            "{}&prompt=none&id_token_hint={}",
            request("H"),
            id_token["bob"]
        ),
    )
    .await;
    assert_eq!(status, 302);
    assert!(query_of(&loc).contains_key("code"), "{loc}");
}

/// Userinfo takes the access token in a form-encoded POST body too (RFC 6750 §2.2,
/// pyoidc's default), never in both places at once.
#[tokio::test]
async fn userinfo_takes_the_token_in_a_form_body() {
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let mut b = signed_in(&s, "uma").await;
    let t = app_tokens(&s, &mut b).await;
    let access = t["access_token"].as_str().unwrap();
    let body = format!("access_token={access}");
    let r = s.post_form("/oidc/userinfo", &[], &body).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(r.json()["sub"].is_string());
    let r = s
        .post_form(
            "/oidc/userinfo",
            &[("authorization", &bearer(access))],
            &body,
        )
        .await;
    assert_eq!(r.status, 401, "a token offered twice");
    let r = s
        .post_form("/oidc/userinfo", &[("authorization", &bearer(access))], "")
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .post_form("/oidc/userinfo", &[], "access_token=nope")
        .await;
    assert_eq!(r.status, 401);
}

/// Client authentication as real clients send it: a secret with `+` or `%` in HTTP
/// Basic without form-encoding (requests-oauthlib, hand-written clients) or with it
/// (RFC 6749 §2.3.1); a public client sending Basic with an empty password is `none`
/// authentication with PKCE.
#[tokio::test]
async fn client_secrets_raw_or_encoded_and_public_clients_with_an_empty_basic_password() {
    use crate::oidc::{exchange, PLUS_SECRET};
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let mut b = signed_in(&s, "cal").await;
    let cb = "http://127.0.0.1:9/plus";
    let v = "v".repeat(50);
    let encoded: String = form_urlencoded::byte_serialize(PLUS_SECRET.as_bytes()).collect();
    for (secret, ok) in [
        (PLUS_SECRET, true),
        (encoded.as_str(), true),
        ("a b/c-0123456789", false),
        ("a+b%2F/c-012345678", false),
    ] {
        let code = code_for(&mut b, "plus", cb, "").await;
        let r = exchange(&s, &grant(&code, cb, &v), Some(("plus", secret))).await;
        assert_eq!(
            r.status,
            if ok { 200 } else { 401 },
            "{secret}: {:?}",
            r.json()
        );
    }
    // The public client, Basic with an empty password.
    let spa = "http://localhost:9/spa";
    let code = code_for(&mut b, "spa", spa, "").await;
    let r = exchange(&s, &grant(&code, spa, &v), Some(("spa", ""))).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    // ... and a password there is no public client.
    let code = code_for(&mut b, "spa", spa, "").await;
    let r = exchange(&s, &grant(&code, spa, &v), Some(("spa", "x"))).await;
    assert_eq!(r.status, 401);
}

/// `user import` makes the checks of every other way in: look-alike usernames (in the
/// file and against the store), roles that cannot travel in a header, names with
/// controls, bidi overrides or a megabyte of text. Each refusal names its line and field;
/// nothing is imported.
#[tokio::test]
async fn user_import_checks_every_field_like_every_other_way_in() {
    use serde_json::json;
    let mut s = Server::start("").await;
    oauth_signup(&s, "paypal", PW).await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    let lines = [
        json!({"email": "ok@example.com", "username": "ok"}),
        json!({"username": "p\u{0430}ypal"}),
        json!({"email": "r@example.com", "role": "admin\r\nX-Auth-Role: root"}),
        json!({"email": "s@example.com", "role": "two words"}),
        json!({"email": "d@example.com", "display_name": "x".repeat(1 << 20)}),
        json!({"email": "b@example.com", "display_name": "invoice\u{202e}fdp.exe"}),
        json!({"username": "alice"}),
        json!({"username": "\u{0430}lice"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let (code, _, err) = s.cli(&["user", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    for want in [
        "line 2: username already taken",
        "line 3: role: must be",
        "line 4: role: must be",
        "line 5: display_name: must be",
        "line 6: display_name: must be",
        "line 8: username repeated in the file",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(err.contains("nothing was imported"), "{err}");
    let store = s.open_store();
    assert_eq!(store.read(|r| r.user_count()).unwrap(), 1);
    drop(store);

    // The same rules at the other doors: the admin API's role, toolkit's display name.
    s.start_again();
    let r = s
        .post_json(
            "/api/auth/accounts:signUp",
            &[],
            &json!({"username": "dan", "password": PW, "displayName": "a\u{202e}b"}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
}

/// Registration refuses what WebAuthn and the docs refuse: a credential id over 1023
/// bytes, a name holding bidi overrides or invisible characters, an origin that is not
/// exactly the relying party's, a cross-origin ceremony.
#[tokio::test]
async fn passkey_registration_refuses_long_ids_hidden_characters_and_loose_origins() {
    use crate::passkeys::{register, ORIGIN};
    use crate::softkey::{Faults, SoftKey};
    use serde_json::json;
    let s = Server::start("").await;
    oauth_signup(&s, "kay", PW).await;
    let t = oauth_login(&s, "kay", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap();
    let refused = |r: &Resp, what: &str| {
        assert_eq!(
            (r.status.as_u16(), r.json()["error"].as_str()),
            (400, Some("invalid_passkey")),
            "{what}"
        )
    };
    let mut long = SoftKey::new(ORIGIN);
    long.id = vec![7; 1024];
    refused(
        &register(&s, access, &mut long, &Faults::default()).await,
        "1024-byte id",
    );
    for (what, f) in [
        (
            "upper-case origin",
            Faults {
                origin: Some(ORIGIN.to_uppercase()),
                ..Faults::default()
            },
        ),
        (
            "trailing slash",
            Faults {
                origin: Some(format!("{ORIGIN}/")),
                ..Faults::default()
            },
        ),
        (
            "cross-origin",
            Faults {
                cross_origin: true,
                ..Faults::default()
            },
        ),
    ] {
        refused(
            &register(&s, access, &mut SoftKey::new(ORIGIN), &f).await,
            what,
        );
    }
    for name in ["lap\u{202e}pot", "a\u{200b}", "\u{2066}x"] {
        let mut key = SoftKey::new(ORIGIN);
        let start = s
            .post_bearer("/session/passkeys/register/start", access, &json!({}))
            .await
            .expect(200);
        let answer = key.register(&start["publicKey"], &Faults::default());
        let r = s
            .post_bearer(
                "/session/passkeys/register/finish",
                access,
                &json!({"ceremony": start["ceremony"], "name": name, "credential": answer}),
            )
            .await;
        refused(&r, name);
    }
    // A 1023-byte id and a plain name are fine.
    let mut ok = SoftKey::new(ORIGIN);
    ok.id = vec![7; 1023];
    register(&s, access, &mut ok, &Faults::default())
        .await
        .expect(201);
}

/// RP-initiated logout signs out without asking only for the app's own fresh id token
/// on a request from this site. A cross-site GET (any page can make one, with an id
/// token it once saw) or one without `Sec-Fetch-Site` gets the confirmation page and the
/// session stays.
#[tokio::test]
async fn a_cross_site_logout_with_an_id_token_hint_asks_first() {
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let mut b = signed_in(&s, "lou").await;
    let t = app_tokens(&s, &mut b).await;
    let hint = t["id_token"].as_str().unwrap();
    let path = format!("/oidc/logout?id_token_hint={hint}");
    for headers in [vec![("sec-fetch-site", "cross-site")], vec![]] {
        let r = b.get_with(&path, &headers).await;
        assert_eq!(r.status, 200, "{headers:?}: a confirmation page");
        assert!(String::from_utf8_lossy(&r.body).contains("Sign out?"));
        assert_eq!(
            b.forward().await.status,
            200,
            "{headers:?}: still signed in"
        );
    }
    let r = b.get_with(&path, &[("sec-fetch-site", "same-site")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(b.forward().await.status, 401);
}

/// A trusted proxy's `X-Forwarded-For` that cannot be read is an unknown client, never
/// the proxy: failures sent that way do not lock the proxy's own address (every client
/// behind it) out of the account.
#[tokio::test]
async fn a_malformed_forwarded_for_is_not_the_proxy() {
    use serde_json::json;
    let s = Server::start(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[limits]\nlockout_failures = 2",
    )
    .await;
    oauth_signup(&s, "pam", PW).await;
    let login = |xff: Option<&'static str>, pw: &'static str| {
        let s = &s;
        async move {
            let mut h = vec![("authorization", WEB_CLIENT)];
            if let Some(x) = xff {
                h.push(("x-forwarded-for", x));
            }
            s.post_json(
                "/auth/token",
                &h,
                &json!({"grant_type": "password", "user_name": "pam", "password": pw}),
            )
            .await
            .status
        }
    };
    for _ in 0..2 {
        assert_eq!(login(Some("not-an-address"), "wrong password!").await, 400);
    }
    assert_eq!(
        login(Some("203.0.113.7:443"), PW).await,
        429,
        "the unknown client is locked"
    );
    // The proxy's own address (no header) and a readable client are not.
    assert_eq!(login(None, PW).await, 200);
    assert_eq!(login(Some("198.51.100.4"), PW).await, 200);
}

/// The hidden fields of a form_post page, and where its form goes.
pub(crate) fn form_post_fields(html: &str) -> (String, std::collections::BTreeMap<String, String>) {
    let action = html
        .split(r#"<form id="form-post" method="post" action=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("no form_post form")
        .replace("&amp;", "&");
    (action, hidden_fields(html))
}

/// The hidden fields of a page's forms, by name.
pub(crate) fn hidden_fields(html: &str) -> std::collections::BTreeMap<String, String> {
    let mut fields = std::collections::BTreeMap::new();
    for part in html.split(r#"<input type="hidden" name=""#).skip(1) {
        let name = part.split('"').next().unwrap().to_string();
        let value = part
            .split(r#"value=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .replace("&amp;", "&")
            .replace("&quot;", "\"");
        fields.insert(name, value);
    }
    fields
}

/// `response_mode=form_post` (OAuth 2.0 Form Post Response Mode; the default of ASP.NET
/// Core and several SDKs): the answer, success or error, comes as a page whose form
/// posts `code` (or `error`), `state` and `iss` to the redirect URI, sent by the portal's
/// own script (the CSP allows no inline one) or its button. Discovery lists it.
#[tokio::test]
async fn form_post_answers_with_a_page_that_posts_to_the_app() {
    use crate::oidc::{exchange, SECRET};
    let smtp = Smtp::start(&[]);
    let (s, base) = provider(&smtp).await;
    let d = s
        .get("/.well-known/openid-configuration", &[])
        .await
        .expect(200);
    assert_eq!(
        d["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
    let mut b = signed_in(&s, "fay").await;
    let r = b
        .get(&format!(
            "/oidc/authorize?{}&response_mode=form_post",
            request("FP")
        ))
        .await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        html.contains(r#"<script src="/ui/form_post.js">"#),
        "{html}"
    );
    assert!(!html.contains("<script>"), "no inline script");
    let (action, fields) = form_post_fields(&html);
    assert_eq!(action, "http://127.0.0.1:9/cb");
    assert_eq!(fields["state"], "FP");
    assert_eq!(fields["iss"], base);
    let t = exchange(
        &s,
        &grant(&fields["code"], "http://127.0.0.1:9/cb", &"v".repeat(50)),
        Some(("app", SECRET)),
    )
    .await;
    t.expect(200);
    // The script is served with the page's policy in mind.
    let js = s.get("/ui/form_post.js", &[]).await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    // An error goes back the same way.
    let r = b
        .get(&format!(
            "/oidc/authorize?{}&response_mode=form_post&prompt=bogus",
            request("FE")
        ))
        .await;
    let (_, fields) = form_post_fields(&String::from_utf8_lossy(&r.body));
    assert_eq!(fields["error"], "invalid_request");
    assert_eq!(fields["state"], "FE");
    assert!(!fields.contains_key("code"));
    // An unknown mode is refused (in the query).
    let (status, loc) =
        authorize(&mut b, &format!("{}&response_mode=fragment", request("FX"))).await;
    assert_eq!(status, 302);
    assert_eq!(query_of(&loc)["error"], "invalid_request");
}

/// CORS for browser-only apps: discovery and the key set answer any origin; the token,
/// userinfo and revocation endpoints answer the origins of the clients' redirect URIs
/// (and `allowed_origins`), preflight included; never with credentials.
#[tokio::test]
async fn browser_apps_on_their_own_origin_may_call_the_endpoints_they_need() {
    use crate::oidc::{exchange, SECRET};
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let spa = "http://localhost:9";
    let evil = "https://evil.example";
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let r = s.get(path, &[("origin", evil)]).await;
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
    }
    let preflight = |path: &'static str, origin: &'static str| {
        let s = &s;
        async move {
            s.send(
                http::Method::OPTIONS,
                path,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ],
                "",
            )
            .await
        }
    };
    for path in ["/oidc/token", "/oidc/userinfo", "/oauth/revoke"] {
        let r = preflight(path, spa).await;
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some(spa), "{path}");
        assert!(r
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        assert!(r
            .header("access-control-allow-headers")
            .unwrap()
            .contains("authorization"));
        assert_eq!(r.header("access-control-allow-credentials"), None);
        let r = preflight(path, evil).await;
        assert_eq!(
            r.header("access-control-allow-origin"),
            None,
            "{path}: {evil}"
        );
    }
    // The real requests of a public client on its own origin.
    let mut b = signed_in(&s, "spa").await;
    let code = code_for(&mut b, "spa", "http://localhost:9/spa", "").await;
    let mut body = grant(&code, "http://localhost:9/spa", "");
    let v = "v".repeat(50);
    body[3] = ("code_verifier", &v);
    body.push(("client_id", "spa"));
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&body)
        .finish();
    let r = s.post_form("/oidc/token", &[("origin", spa)], &form).await;
    assert_eq!(r.header("access-control-allow-origin"), Some(spa));
    let t = r.expect(200);
    let access = t["access_token"].as_str().unwrap();
    let r = s
        .get(
            "/oidc/userinfo",
            &[("origin", spa), ("authorization", &bearer(access))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(spa));
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = s
        .get(
            "/oidc/userinfo",
            &[("origin", evil), ("authorization", &bearer(access))],
        )
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // A confidential client's origin counts too (its redirect URI's).
    let code = code_for(&mut b, "app", "http://127.0.0.1:9/cb", "").await;
    let r = exchange(
        &s,
        &grant(&code, "http://127.0.0.1:9/cb", &v),
        Some(("app", SECRET)),
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );
}

/// `allowed_origins` must be origins as browsers send them.
#[tokio::test]
async fn allowed_origins_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("auth.toml");
    for (origin, ok) in [
        ("https://spa.example", true),
        ("https://spa.example/", false),
        ("https://SPA.example", false),
        ("spa.example", false),
    ] {
        std::fs::write(
            &cfg,
            config_text(
                dir.path(),
                &format!("[[oidc.clients]]\nid = \"x\"\nredirect_uris = [\"https://app.example/cb\"]\nallowed_origins = [\"{origin}\"]\n"),
            ),
        )
        .unwrap();
        let (code, _, err) = cli_with_input(&cfg, &["config", "check"], "");
        assert_eq!(code == 0, ok, "{origin}: {err}");
        if !ok {
            assert!(err.contains("oidc.clients[0].allowed_origins[0]"), "{err}");
        }
    }
}

fn id_claims(id_token: &str) -> serde_json::Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey::primitives::b64url_decode(payload).unwrap()).unwrap()
}

/// `acr` (one value per count of factors, in discovery) and the `claims` request
/// parameter for the claims latchkey has: asked-for claims come without their scope; an
/// essential `acr` a sign-in does not meet is a failed authentication.
#[tokio::test]
async fn acr_and_the_claims_parameter() {
    use crate::oidc::{exchange, SECRET};
    let smtp = Smtp::start(&[]);
    let (s, _) = provider(&smtp).await;
    let d = s
        .get("/.well-known/openid-configuration", &[])
        .await
        .expect(200);
    assert_eq!(d["claims_parameter_supported"], true);
    assert_eq!(
        d["acr_values_supported"],
        serde_json::json!(["urn:latchkey:loa:1", "urn:latchkey:loa:2"])
    );
    let mut b = signed_in(&s, "ace").await;
    let cb = "http://127.0.0.1:9/cb";
    let v = "v".repeat(50);
    let claims: String = form_urlencoded::byte_serialize(
        br#"{"id_token":{"email":null,"acr":{"values":["urn:latchkey:loa:1"]}},"userinfo":{"preferred_username":{"essential":true}}}"#,
    )
    .collect();
    let q = format!(
        "response_type=code&client_id=app&redirect_uri={CB}&scope=openid&state=C&code_challenge={}&code_challenge_method=S256&claims={claims}",
        s256(&v)
    );
    let (status, loc) = authorize(&mut b, &q).await;
    assert_eq!(status, 302, "{loc}");
    let code = query_of(&loc)["code"].clone();
    let t = exchange(&s, &grant(&code, cb, &v), Some(("app", SECRET)))
        .await
        .expect(200);
    let c = id_claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["acr"], "urn:latchkey:loa:1");
    assert_eq!(c["email"], "ace@example.com");
    assert_eq!(c["preferred_username"], "ace");
    // An essential acr of two factors, after a password alone: access_denied.
    let two: String = form_urlencoded::byte_serialize(
        br#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:loa:2"]}}}"#,
    )
    .collect();
    let (_, loc) = authorize(&mut b, &format!("{}&claims={two}", request("A2"))).await;
    let q = query_of(&loc);
    assert_eq!(q["error"], "access_denied", "{loc}");
    assert_eq!(q["state"], "A2");
    // Not the parameter's shape: invalid_request.
    for bad in [
        "[1]",
        "{\"id_token\":[]}",
        "{\"id_token\":{\"acr\":{\"values\":[1]}}}",
        "nope",
    ] {
        let enc: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let (_, loc) = authorize(&mut b, &format!("{}&claims={enc}", request("B"))).await;
        assert_eq!(query_of(&loc)["error"], "invalid_request", "{bad}");
    }
}

/// A browser-only app on an origin of its own (a page served by Python's http.server on
/// `localhost`, latchkey on `127.0.0.1`) signs a person in with a public client in real
/// Chromium: discovery, the code flow with PKCE, then token, userinfo and refresh
/// called by the page itself across origins (CORS, preflight included).
#[tokio::test]
async fn a_single_page_app_on_another_origin_signs_in_in_chromium() {
    use crate::browser::Chrome;
    let spa_port = free_port();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/spa");
    let mut spa_server = std::process::Command::new(python())
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &spa_port.to_string(),
            "--directory",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let s = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n[tokens]\nissuer = \"{base}\"\n\
         [[oidc.clients]]\nid = \"spa\"\nredirect_uris = [\"http://localhost:{spa_port}/spa.html\"]\n"
    ))
    .await;
    oauth_signup(&s, "sue", PW).await;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", spa_port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let b = Chrome::start(1280, 900).await;
    b.c.goto(&format!(
        "http://localhost:{spa_port}/spa.html?issuer={base}"
    ))
    .await
    .unwrap();
    b.until(fantoccini::Locator::Id("username")).await.unwrap();
    b.type_keys(&format!(
        "sue{}{PW}{}",
        fantoccini::key::Key::Tab,
        fantoccini::key::Key::Enter
    ))
    .await;
    let mut text = String::new();
    for _ in 0..200 {
        if b.url()
            .await
            .starts_with(&format!("http://localhost:{spa_port}/"))
        {
            text = b
                .js("return document.getElementById('result').textContent")
                .await
                .as_str()
                .unwrap_or_default()
                .to_string();
            if text != "waiting" {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.close().await;
    let _ = spa_server.kill();
    let _ = spa_server.wait();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|_| panic!("{text}")),
        serde_json::json!({"email": "sue@example.com", "refreshed": true})
    );
}
