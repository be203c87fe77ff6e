//! The portal's pages over HTTP, as a browser would use them (a cookie jar, forms): the
//! session cookie, the second step, CSRF and open-redirect refusals, forward-auth with
//! the cookie and its redirect. (The same pages in a real Chromium: `browser.rs`.)

use std::collections::BTreeMap;

use crate::policy::{account_with_totp, PW};
use crate::support::*;
use serde_json::json;

const ADMIN: &str = "admin-token-0123456789abcdef";

/// A browser's cookies, as far as these tests need them (one host).
#[derive(Default, Clone)]
pub(crate) struct Jar(BTreeMap<String, String>);

impl Jar {
    pub(crate) fn take(&mut self, r: &Resp) {
        for v in r.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || attrs.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_string(), val.to_string());
            }
        }
    }

    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("no csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

fn body(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A browser on the portal of `s`.
pub(crate) struct Browser<'a> {
    pub s: &'a Server,
    pub jar: Jar,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(s: &'a Server) -> Browser<'a> {
        Browser {
            s,
            jar: Jar::default(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Resp {
        self.get_with(path, &[]).await
    }

    pub(crate) async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let cookie = self.jar.header();
        let mut h = vec![("cookie", cookie.as_str())];
        h.extend_from_slice(headers);
        let r = self.s.get(path, &h).await;
        self.jar.take(&r);
        r
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_with(path, fields, &[]).await
    }

    pub(crate) async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let cookie = self.jar.header();
        let mut h = vec![("cookie", cookie.as_str())];
        h.extend_from_slice(headers);
        let r = self.s.post_form(path, &h, &form(fields)).await;
        self.jar.take(&r);
        r
    }

    /// The csrf field of the page at `path`.
    pub(crate) async fn csrf(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{}", body(&r));
        csrf_of(&body(&r))
    }

    /// Signs in with a password; the answer to the form.
    pub(crate) async fn sign_in(&mut self, login: &str, password: &str, rd: &str) -> Resp {
        let csrf = self.csrf("/ui/login").await;
        self.post(
            "/ui/login",
            &[
                ("csrf", &csrf),
                ("username", login),
                ("password", password),
                ("rd", rd),
            ],
        )
        .await
    }

    pub(crate) async fn forward(&self) -> Resp {
        self.s
            .get("/auth/forward", &[("cookie", &self.jar.header())])
            .await
    }
}

fn location(r: &Resp) -> &str {
    r.header("location").unwrap_or("")
}

#[tokio::test]
async fn a_password_sign_in_gives_a_session_cookie_that_forward_auth_accepts() {
    let s = Server::start("").await;
    let u = oauth_signup(&s, "pia", PW).await;
    let mut b = Browser::new(&s);
    let r = b.sign_in("pia", PW, "/somewhere?x=1").await;
    assert_eq!(r.status, 303, "{}", body(&r));
    assert_eq!(location(&r), "/somewhere?x=1");
    let set: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|c| c.starts_with("latchkey_session="))
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let c = set[0];
    let value = c
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("latchkey_session=");
    assert_eq!(value.len(), 43, "256 bits, base64url: {c}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=4319"] {
        assert!(c.contains(attr), "{attr} missing: {c}");
    }
    assert!(!c.contains("Secure"), "http public URL: no Secure: {c}");
    assert!(!c.contains("Domain"), "{c}");
    // The store keeps no cookie: only a hash of it.
    let dump = std::fs::read(s.dir.path().join("store.redb")).unwrap_or_default();
    assert!(
        !dump.windows(value.len()).any(|w| w == value.as_bytes()),
        "the cookie is in the store file"
    );

    // Forward-auth knows the browser.
    let f = b.forward().await;
    assert_eq!(f.status, 200);
    assert_eq!(f.header("x-auth-user"), u["id"].as_str());
    assert_eq!(f.header("x-auth-username"), Some("pia"));

    // The account page, and its headers.
    let r = b.get("/ui/account").await;
    assert_eq!(r.status, 200);
    let html = body(&r);
    assert!(html.contains("pia@example.com"), "{html}");
    assert!(html.contains("this browser"), "{html}");
    assert!(html.contains(r#"<meta name="viewport""#));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let css = b.get("/ui/style.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));

    // Signed in: the login page goes on to rd.
    let r = b.get("/ui/login?rd=/next").await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/next"));

    // Sign out: the cookie is cleared, and the old one is worth nothing.
    let old = b.jar.clone();
    let csrf = csrf_of(&body(&b.get("/ui/account").await));
    let r = b.post("/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/login"));
    assert!(b.jar.get("latchkey_session").is_none());
    let stale = s.get("/auth/forward", &[("cookie", &old.header())]).await;
    assert_eq!(stale.status, 401);
    let r = s.get("/ui/account", &[("cookie", &old.header())]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/login"));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_accounts_read_alike_and_states_apply() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
    .await;
    oauth_signup(&s, "rob", PW).await;
    let mut b = Browser::new(&s);
    let wrong = b.sign_in("rob", "not the password", "").await;
    let unknown = b.sign_in("nobody", "not the password", "").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let msg = |r: &Resp| {
        let h = body(r);
        let at = h.find(r#"id="error">"#).unwrap() + 11;
        h[at..].split('<').next().unwrap().to_string()
    };
    assert_eq!(msg(&wrong), msg(&unknown));
    assert!(b.jar.get("latchkey_session").is_none());
    // A disabled account is told so only with the right password; its session ends.
    let r = b.sign_in("rob", PW, "").await;
    assert_eq!(r.status, 303);
    assert_eq!(b.forward().await.status, 200);
    s.admin_req(http::Method::POST, "/admin/users/rob/disable", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(b.forward().await.status, 401);
    let r = b.sign_in("rob", PW, "").await;
    assert_eq!(r.status, 403);
    assert!(body(&r).contains("disabled"));
}

#[tokio::test]
async fn forms_from_other_sites_or_without_their_token_are_refused() {
    let s = Server::start("").await;
    oauth_signup(&s, "cat", PW).await;
    let mut b = Browser::new(&s);
    let csrf = b.csrf("/ui/login").await;
    let creds = |t: &str| -> Vec<(String, String)> {
        vec![
            ("csrf".into(), t.into()),
            ("username".into(), "cat".into()),
            ("password".into(), PW.into()),
        ]
    };
    fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
    }
    // No token, a token of another browser, a cross-site Origin or fetch: 403.
    let mut other = Browser::new(&s);
    let foreign = other.csrf("/ui/login").await;
    for (fields, headers) in [
        (creds(""), vec![]),
        (creds(&foreign), vec![]),
        (creds(&csrf), vec![("origin", "https://evil.example")]),
        (creds(&csrf), vec![("sec-fetch-site", "cross-site")]),
        (creds(&csrf), vec![("origin", "null")]),
    ] {
        let r = b.post_with("/ui/login", &as_refs(&fields), &headers).await;
        assert_eq!(r.status, 403, "{headers:?}: {}", body(&r));
        assert!(b.jar.get("latchkey_session").is_none());
    }
    // Without the pre-login cookie the token is worthless too.
    let r = s
        .post_form("/ui/login", &[], &form(&as_refs(&creds(&csrf))))
        .await;
    assert_eq!(r.status, 403);
    // Same origin (Origin: null with Sec-Fetch-Site: same-origin, as a no-referrer page
    // sends it) passes.
    let origin = s.base.clone();
    let r = b
        .post_with(
            "/ui/login",
            &as_refs(&creds(&csrf)),
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", body(&r));
    // Signed in: the account's forms take the session's token, not the pre-login one.
    let r = b
        .post_with("/ui/logout", &[("csrf", &csrf)], &[("origin", &origin)])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(b.forward().await.status, 200, "still signed in");
    let token = csrf_of(&body(&b.get("/ui/account").await));
    let r = b
        .post_with(
            "/ui/logout",
            &[("csrf", &token)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    // Sign-out by a link with the token works too.
    let r = b.get(&format!("/ui/logout?csrf={token}")).await;
    assert_eq!(r.status, 303);
    assert_eq!(b.forward().await.status, 401);
}

#[tokio::test]
async fn rd_is_followed_only_to_this_server_or_its_cookie_domain() {
    let s = Server::start(
        "[server]\npublic_url = \"https://auth.lk.test\"\n[portal]\ncookie_domain = \"lk.test\"\n",
    )
    .await;
    oauth_signup(&s, "dan", PW).await;
    let mut b = Browser::new(&s);
    for (rd, to) in [
        ("//evil.com/x", "/ui/account"),
        ("https://evil.com/", "/ui/account"),
        ("https://lk.test.evil.com/", "/ui/account"),
        ("https://evillk.test/", "/ui/account"),
        ("https://auth.lk.test@evil.com/", "/ui/account"),
        ("javascript:alert(1)", "/ui/account"),
        ("/\\evil.com", "/ui/account"),
        ("http:\\\\evil.com", "/ui/account"),
        ("/app/page?a=1", "/app/page?a=1"),
        ("https://auth.lk.test/x", "https://auth.lk.test/x"),
        (
            "https://grafana.lk.test:3000/d?x=1",
            "https://grafana.lk.test:3000/d?x=1",
        ),
        ("http://lk.test/", "http://lk.test/"),
    ] {
        let r = b.sign_in("dan", PW, rd).await;
        assert_eq!((r.status.as_u16(), location(&r)), (303, to), "{rd}");
        // And the same for sign-out's rd.
        let token = csrf_of(&body(&b.get("/ui/account").await));
        let r = b.post("/ui/logout", &[("csrf", &token), ("rd", rd)]).await;
        let out = if to == "/ui/account" { "/ui/login" } else { to };
        assert_eq!((r.status.as_u16(), location(&r)), (303, out), "{rd}");
    }
}

#[tokio::test]
async fn an_account_with_totp_signs_in_with_a_second_step() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let (_, secret, recovery) = account_with_totp(&s, &smtp, "tia").await;
    let mut b = Browser::new(&s);
    let r = b.sign_in("tia", PW, "/after").await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/ui/mfa?rd=%2Fafter")
    );
    assert!(
        b.jar.get("latchkey_session").is_none(),
        "no session before the code"
    );
    assert!(b.jar.get("latchkey_mfa").is_some());
    let page = b.get("/ui/mfa?rd=%2Fafter").await;
    let html = body(&page);
    assert!(html.contains(r#"name="mfa_code""#), "{html}");
    // Recovery codes have letters: no digits-only keypad on phones (issue 28, item 3).
    let field = html
        .split(r#"id="mfa_code""#)
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap();
    assert!(field.contains(r#"inputmode="text""#), "{field}");
    let csrf = csrf_of(&html);
    let r = b
        .post(
            "/ui/mfa",
            &[("csrf", &csrf), ("mfa_code", "000000"), ("rd", "/after")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(body(&r).contains("wrong"));
    // (The enrolment spent this step's code.)
    let code = totp_at(&secret, now_ms() + 30_000);
    let r = b
        .post(
            "/ui/mfa",
            &[("csrf", &csrf), ("mfa_code", &code), ("rd", "/after")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/after"),
        "{}",
        body(&r)
    );
    assert!(b.jar.get("latchkey_mfa").is_none());
    assert_eq!(b.forward().await.status, 200);
    // The same code again (a replay, in another browser) is refused; a recovery code works.
    let mut c = Browser::new(&s);
    c.sign_in("tia", PW, "").await;
    let csrf = c.csrf("/ui/mfa").await;
    let r = c
        .post("/ui/mfa", &[("csrf", &csrf), ("mfa_code", &code)])
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post("/ui/mfa", &[("csrf", &csrf), ("mfa_code", &recovery[0])])
        .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/account"));
    // The account page lists both browsers' sessions, with the methods.
    let html = body(&c.get("/ui/account").await);
    assert_eq!(
        html.matches("with password + authenticator app or recovery code")
            .count(),
        2,
        "{html}"
    );
    // One ends the other's session.
    let token = csrf_of(&html);
    let at = html.find(r#"name="id" value=""#).unwrap() + 17;
    let other = html[at..].split('"').next().unwrap().to_string();
    let r = c
        .post("/ui/sessions/end", &[("csrf", &token), ("id", &other)])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(b.forward().await.status, 401);
    assert_eq!(c.forward().await.status, 200);
}

#[tokio::test]
async fn the_account_page_sets_up_totp_and_changes_the_password() {
    let s = Server::start("").await;
    oauth_signup(&s, "eve", PW).await;
    let mut b = Browser::new(&s);
    let mut other = Browser::new(&s);
    b.sign_in("eve", PW, "").await;
    other.sign_in("eve", PW, "").await;
    let token = csrf_of(&body(&b.get("/ui/account").await));
    let r = b.post("/ui/totp/enroll", &[("csrf", &token)]).await;
    assert_eq!(r.status, 200);
    let html = body(&r);
    assert!(html.contains("<svg"), "a QR code");
    let at = html.find("otpauth://").unwrap();
    let url = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    let secret = url
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let r = b
        .post(
            "/ui/totp/confirm",
            &[("csrf", &token), ("code", &totp_at(&secret, now_ms()))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(body(&r).contains("recovery codes"), "{}", body(&r));
    assert!(body(&b.get("/ui/account").await).contains("on (authenticator app)"));

    // A wrong current password changes nothing.
    let r = b
        .post(
            "/ui/password",
            &[
                ("csrf", &token),
                ("current_password", "wrong one"),
                ("new_password", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = b
        .post(
            "/ui/password",
            &[
                ("csrf", &token),
                ("current_password", PW),
                ("new_password", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/ui/account?done=password")
    );
    // This browser stays signed in, the other is signed out; the new password works.
    assert_eq!(b.forward().await.status, 200);
    assert_eq!(other.forward().await.status, 401);
    assert!(body(&b.get("/ui/account?done=password").await).contains("was changed"));
    let t = oauth_login(&s, "eve", "a new long passphrase").await;
    assert_eq!(
        t.status, 401,
        "TOTP is on: the password alone is not enough"
    );
    assert_eq!(t.json()["error"], "mfa_required");
}

#[tokio::test]
async fn a_mailed_code_signs_in_on_the_page() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let mut b = Browser::new(&s);
    let csrf = b.csrf("/ui/login").await;
    let r = b
        .post(
            "/ui/code",
            &[("csrf", &csrf), ("email", "zoe@example.com"), ("rd", "/x")],
        )
        .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/code?rd=%2Fx"));
    let code = session_code_of(&smtp.wait_mail("zoe@example.com", 1).await);
    let csrf = b.csrf("/ui/code?rd=%2Fx").await;
    let r = b
        .post(
            "/ui/code/verify",
            &[("csrf", &csrf), ("code", "AAAA-BBBB-CCCC"), ("rd", "/x")],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = b
        .post(
            "/ui/code/verify",
            &[("csrf", &csrf), ("code", &code), ("rd", "/x")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/x"),
        "{}",
        body(&r)
    );
    let f = b.forward().await;
    assert_eq!(f.status, 200);
    assert_eq!(f.header("x-auth-email"), Some("zoe@example.com"));
}

#[tokio::test]
async fn forward_auth_sends_browsers_to_the_login_page() {
    let s = Server::start("").await;
    let html = [("accept", "text/html,application/xhtml+xml")];
    let fwd = |uri: &'static str| {
        vec![
            ("accept", "text/html"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "localhost:7000"),
            ("x-forwarded-uri", uri),
        ]
    };
    // A browser navigation with the original URL: 302 to the portal, rd = that URL.
    let r = s.get("/auth/forward", &fwd("/app?a=1&b=2")).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        location(&r),
        "http://localhost:8080/ui/login?rd=http%3A%2F%2Flocalhost%3A7000%2Fapp%3Fa%3D1%26b%3D2"
    );
    // nginx's form: X-Original-URL, and a 401 that carries the Location.
    let r = s
        .get(
            "/auth/forward?redirect=401",
            &[
                ("accept", "text/html"),
                ("x-original-url", "http://localhost/x"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        location(&r),
        "http://localhost:8080/ui/login?rd=http%3A%2F%2Flocalhost%2Fx"
    );
    // An original URL on another host: the login page without rd.
    let r = s
        .get(
            "/auth/forward",
            &[
                ("accept", "text/html"),
                ("x-original-url", "https://evil.com/"),
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (302, "http://localhost:8080/ui/login")
    );
    // Not a browser, or no original URL: 401 as before.
    let mut api = fwd("/app");
    api[0] = ("accept", "application/json");
    assert_eq!(s.get("/auth/forward", &api).await.status, 401);
    assert_eq!(s.get("/auth/forward", &html).await.status, 401);
    // A garbage or stale session cookie is no credential.
    let mut with_cookie = fwd("/app");
    with_cookie.push((
        "cookie",
        "latchkey_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ));
    assert_eq!(s.get("/auth/forward", &with_cookie).await.status, 302);
}

#[tokio::test]
async fn the_portal_can_be_switched_off_and_keeps_its_cookie_to_its_domain() {
    let s = Server::start("[portal]\npath = false\n").await;
    assert_eq!(s.get("/ui/login", &[]).await.status, 404);
    let r = s
        .get(
            "/auth/forward",
            &[
                ("accept", "text/html"),
                ("x-original-url", "http://localhost/x"),
            ],
        )
        .await;
    assert_eq!(r.status, 401, "no portal: no redirect");
    drop(s);

    let s = Server::start(
        "[server]\npublic_url = \"https://auth.example.com\"\n[portal]\npath = \"/sso\"\ncookie_domain = \"example.com\"\ntitle = \"Example SSO\"\n",
    )
    .await;
    oauth_signup(&s, "ida", PW).await;
    let mut b = Browser::new(&s);
    let r = b.get("/sso/login").await;
    assert!(body(&r).contains("Example SSO"));
    let r = b
        .sign_in_at("/sso", "ida", PW, "https://grafana.example.com/d/1")
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "https://grafana.example.com/d/1")
    );
    let set: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with("latchkey_session="))
        .collect();
    // First a host-only cookie of that name is cleared (one left from before
    // cookie_domain would make two session cookies, which are none), then the session.
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set[0].starts_with("latchkey_session=;") && set[0].contains("Max-Age=0"));
    assert!(!set[0].contains("Domain="), "{}", set[0]);
    let c = &set[1];
    assert!(c.contains("; Domain=example.com"), "{c}");
    assert!(c.contains("; Secure"), "{c}");
    // Bad settings are refused at start, naming the key.
    let (code, _, err) = s.cli(&["config", "check"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("auth.toml");
    std::fs::write(
        &cfg,
        config_text(
            dir.path(),
            "[server]\npublic_url = \"https://auth.example.com\"\n[portal]\ncookie_domain = \"other.org\"\n",
        ),
    )
    .unwrap();
    let (code, _, err) = cli_with_input(&cfg, &["config", "check"], "");
    assert_ne!(code, 0);
    assert!(err.contains("portal.cookie_domain"), "{err}");
}

impl Browser<'_> {
    async fn sign_in_at(&mut self, path: &str, login: &str, password: &str, rd: &str) -> Resp {
        let csrf = self.csrf(&format!("{path}/login")).await;
        self.post(
            &format!("{path}/login"),
            &[
                ("csrf", &csrf),
                ("username", login),
                ("password", password),
                ("rd", rd),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn a_locked_out_browser_is_told_when_to_come_back() {
    let s = Server::start("[limits]\nlockout_failures = 2\n").await;
    oauth_signup(&s, "lou", PW).await;
    let mut b = Browser::new(&s);
    for _ in 0..2 {
        assert_eq!(b.sign_in("lou", "wrong password", "").await.status, 401);
    }
    let r = b.sign_in("lou", PW, "").await;
    assert_eq!(r.status, 429);
    // Like the API's refusals: a Retry-After (and the server holds the answer for up to
    // a second, so a client retrying at once is slowed down).
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(secs >= 1, "{secs}");
    assert!(body(&r).contains("Too many attempts"));
    assert!(b.jar.get("latchkey_session").is_none());
}

/// A person who types the server's address is sent to the sign-in page; an API client
/// at `/` still gets the JSON 404 (issue 28, item 7).
#[tokio::test]
async fn a_browser_at_the_root_lands_on_the_sign_in_page() {
    let s = Server::start("").await;
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = s.get("/", &[("accept", html)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/login"));
    assert_eq!(s.get("/", &[]).await.expect(404)["error"], "not_found");
    assert_eq!(
        s.get("/", &[("accept", "application/json")]).await.status,
        404
    );
    drop(s);
    let s = Server::start("[portal]\npath = false\n").await;
    assert_eq!(s.get("/", &[("accept", html)]).await.status, 404);
}

/// After a password reset on the pages the person lands on the sign-in page that says
/// what happened (issue 28, item 2: the `done=reset` flag was never shown).
#[tokio::test]
async fn a_reset_on_the_pages_says_so_on_the_sign_in_page() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    oauth_signup(&s, "rae", PW).await;
    let email = "rae@example.com";
    let mut b = Browser::new(&s);
    let csrf = b.csrf("/ui/forgot").await;
    let r = b
        .post("/ui/forgot", &[("csrf", &csrf), ("email", email)])
        .await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let csrf = csrf_of(&body(&r));
    let code = session_code_of(&smtp.wait_mail(email, 1).await);
    let new_pw = "a brand new passphrase";
    let r = b
        .post(
            "/ui/reset",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("code", &code),
                ("new_password", new_pw),
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/ui/login?done=reset")
    );
    let page = body(&b.get("/ui/login?done=reset").await);
    assert!(page.contains("Your password was reset"), "{page}");
    assert!(page.contains(r#"role="status""#), "{page}");
    // Without the flag, no such line.
    assert!(!body(&b.get("/ui/login").await).contains("was reset"));
    assert_eq!(b.sign_in("rae", new_pw, "/ui/account").await.status, 303);
}

/// The sign-up page (issue 28, item 1): a weak password is refused with the reason; any
/// address gets "check your email" alike; the mailed code makes the account (its address
/// proven) with the password chosen, and the account page says so. A taken address signs
/// its owner in and keeps its password. Off with `[portal] signup = false`, and with
/// `session.allow_signup = false`.
#[tokio::test]
async fn the_sign_up_page_makes_an_account_with_a_proven_address() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let mut b = Browser::new(&s);
    let login = body(&b.get("/ui/login").await);
    assert!(
        login.contains("/ui/signup\"") && login.contains("Create an account"),
        "{login}"
    );
    let csrf = b.csrf("/ui/signup").await;
    // A weak password: refused before anything is mailed, with what would do.
    let r = b
        .post(
            "/ui/signup",
            &[
                ("csrf", &csrf),
                ("email", "nia@example.com"),
                ("password", "password"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(body(&r).contains("too weak"), "{}", body(&r));
    // A good one: "check your email", whatever the address.
    let r = b
        .post(
            "/ui/signup",
            &[
                ("csrf", &csrf),
                ("email", "nia@example.com"),
                ("password", "a long pass phrase"),
            ],
        )
        .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/code"));
    let code = session_code_of(&smtp.wait_mail("nia@example.com", 1).await);
    let csrf = b.csrf("/ui/code").await;
    let r = b
        .post("/ui/code/verify", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/ui/account?done=signup"),
        "{}",
        body(&r)
    );
    let page = body(&b.get("/ui/account?done=signup").await);
    assert!(
        page.contains("Your account is ready, with the password you chose."),
        "{page}"
    );
    assert!(
        page.contains("Change password") && !page.contains("Set a password"),
        "{page}"
    );
    // The password works through the API, and the address is proven.
    let t = oauth_login(&s, "nia@example.com", "a long pass phrase").await;
    assert_eq!(t.status, 200, "{}", body(&t));
    // The same address again, from another browser: the same answer, and the owner's
    // password stays.
    let mut other = Browser::new(&s);
    let csrf = other.csrf("/ui/signup").await;
    let r = other
        .post(
            "/ui/signup",
            &[
                ("csrf", &csrf),
                ("email", "nia@example.com"),
                ("password", "another long phrase"),
            ],
        )
        .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/ui/code"));
    let code = session_code_of(&smtp.wait_mail("nia@example.com", 2).await);
    let csrf = other.csrf("/ui/code").await;
    let r = other
        .post("/ui/code/verify", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/ui/account?done=signup-existing");
    assert_eq!(
        oauth_login(&s, "nia@example.com", "a long pass phrase")
            .await
            .status,
        200
    );
    // Without a password: signed in by the code, and the page offers to set one.
    let mut third = Browser::new(&s);
    let csrf = third.csrf("/ui/signup").await;
    third
        .post(
            "/ui/signup",
            &[("csrf", &csrf), ("email", "ode@example.com")],
        )
        .await;
    let code = session_code_of(&smtp.wait_mail("ode@example.com", 1).await);
    let csrf = third.csrf("/ui/code").await;
    let r = third
        .post("/ui/code/verify", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/ui/account");
    let page = body(&third.get("/ui/account").await);
    assert!(
        page.contains("Set a password") && page.contains("Set password"),
        "{page}"
    );
    // Off: no link, no page.
    for extra in [
        "[portal]\nsignup = false\n",
        "[session]\nallow_signup = false\n",
    ] {
        let off = Server::start(extra).await;
        let mut b = Browser::new(&off);
        assert!(!body(&b.get("/ui/login").await).contains("/ui/signup"));
        assert_eq!(b.get("/ui/signup").await.status, 404);
    }
}

/// Branding (issue 28, item 4): the title on every page and in the mails' subjects, a
/// logo file latchkey serves, an accent colour (refused when white text on it would not
/// read), a footer link; the branded page still passes the accessibility check.
#[tokio::test]
async fn the_pages_and_mails_carry_the_brand() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.png");
    let png = b"\x89PNG\r\n\x1a\nnot really a picture";
    std::fs::write(&logo, png).unwrap();
    let smtp = Smtp::start(&[]);
    let brand = format!(
        "{}\n[portal]\ntitle = \"Example Co\"\nlogo = \"{}\"\naccent_color = \"#0F766E\"\n\
         footer_text = \"Privacy\"\nfooter_url = \"https://example.com/privacy\"\n",
        smtp.config("none"),
        logo.display()
    );
    let s = Server::start(&brand).await;
    let mut b = Browser::new(&s);
    let page = body(&b.get("/ui/login").await);
    assert!(
        page.contains("<title>Sign in · Example Co</title>"),
        "{page}"
    );
    assert!(page.contains("src=\"/ui/logo\""), "{page}");
    assert!(page.contains("href=\"/ui/theme.css\""), "{page}");
    assert!(
        page.contains("<a href=\"https://example.com/privacy\">Privacy</a></footer>"),
        "{page}"
    );
    let r = s.get("/ui/logo", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.body, png.to_vec());
    let css = s.get("/ui/theme.css", &[]).await;
    assert!(body(&css).contains("--accent: #0f766e;"), "{}", body(&css));
    // The mails say whose they are.
    let csrf = b.csrf("/ui/login").await;
    b.post("/ui/code", &[("csrf", &csrf), ("email", "ivy@example.com")])
        .await;
    let mail = smtp.wait_mail("ivy@example.com", 1).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("Example Co"),
        "{mail}"
    );
    // Without a brand: no logo, no theme.
    let plain = Server::start("").await;
    assert_eq!(plain.get("/ui/logo", &[]).await.status, 404);
    assert_eq!(plain.get("/ui/theme.css", &[]).await.status, 404);
    // What cannot be: each refused with its key and the reason.
    for (extra, key, why) in [
        (
            "accent_color = \"#f59e0b\"",
            "portal.accent_color",
            "under WCAG's 4.5:1",
        ),
        ("accent_color = \"blue\"", "portal.accent_color", "#rrggbb"),
        ("footer_text = \"Privacy\"", "portal.footer_text", "both"),
        ("logo = \"/etc/hostname\"", "portal.logo", ".png, .svg"),
        (
            "footer_text = \"x\"\nfooter_url = \"javascript:alert(1)\"",
            "portal.footer_url",
            "https URL or a path",
        ),
    ] {
        let mut c = latchkey::config::Config::default();
        let text = format!("[portal]\n{extra}\n");
        c.portal = toml::from_str::<toml::Table>(&text)
            .ok()
            .and_then(|t| t.get("portal").cloned())
            .and_then(|p| p.try_into().ok())
            .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(why), "{extra}: {e}");
    }
}

/// A deployment that named only its TOTP issuer keeps it in its mails' subjects.
#[tokio::test]
async fn without_a_title_mails_carry_the_issuer() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}\n[mfa]\nissuer = \"Acme\"\n",
        smtp.config("none")
    ))
    .await;
    let mut b = Browser::new(&s);
    let csrf = b.csrf("/ui/login").await;
    b.post("/ui/code", &[("csrf", &csrf), ("email", "jo@example.com")])
        .await;
    let mail = smtp.wait_mail("jo@example.com", 1).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("Acme"),
        "{mail}"
    );
}

/// Issue 28, item 5: pages and mails in the reader's language — the browser's
/// `Accept-Language`, the pages' switch (a cookie, no script), `portal.default_language`.
#[tokio::test]
async fn pages_and_mails_speak_the_readers_language() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let mut b = Browser::new(&s);
    let german = [("accept-language", "de-AT,de;q=0.9,en;q=0.5")];
    let page = body(&b.get_with("/ui/login", &german).await);
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(
        page.contains("<title>Anmelden · latchkey</title>"),
        "{page}"
    );
    assert!(page.contains("Passwort vergessen?"), "{page}");
    // The switch names the other languages in themselves, and brings the page back.
    assert!(
        page.contains("href=\"/ui/lang?to=fr&amp;back=%2Fui%2Flogin\" lang=\"fr\" hreflang=\"fr\">Français</a>"),
        "{page}"
    );
    assert!(
        page.contains(">English</a>") && !page.contains(">Deutsch</a>"),
        "{page}"
    );
    // A code asked for on a German page comes in German.
    let csrf = csrf_of(&page);
    b.post_with(
        "/ui/code",
        &[("csrf", &csrf), ("email", "ida@example.com")],
        &german,
    )
    .await;
    let mail = smtp.wait_mail("ida@example.com", 1).await;
    let subject = mail["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("Ihr Anmeldecode für latchkey: "),
        "{mail}"
    );
    let code = session_code_of(&mail);
    assert!(subject.ends_with(&code), "{mail}");
    // A wrong code is refused in German, too.
    let csrf = csrf_of(&body(&b.get_with("/ui/code", &german).await));
    let r = b
        .post_with(
            "/ui/code/verify",
            &[("csrf", &csrf), ("code", "AAAA-BBBB-CCCC")],
            &german,
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(body(&r).contains("Dieser Code ist falsch"), "{}", body(&r));

    // The switch: a cookie for a year, then back to the page; it outranks the header.
    let r = b
        .get("/ui/lang?to=fr&back=%2Fui%2Flogin%3Frd%3D%252Fx")
        .await;
    assert_eq!(
        (r.status.as_u16(), location(&r)),
        (303, "/ui/login?rd=%2Fx")
    );
    let cookie = r.header("set-cookie").unwrap_or_default();
    assert!(
        cookie.starts_with("latchkey_lang=fr;") && cookie.contains("Max-Age=31536000"),
        "{cookie}"
    );
    let page = body(&b.get_with("/ui/login?rd=%2Fx", &german).await);
    assert!(
        page.contains("<html lang=\"fr\">") && page.contains("Se connecter"),
        "{page}"
    );
    // Signed in, the account page follows the choice.
    let csrf = csrf_of(&page);
    let r = b
        .post(
            "/ui/code/verify",
            &[("csrf", &csrf), ("code", &code), ("rd", "/x")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", body(&r));
    let page = body(&b.get("/ui/account").await);
    assert!(
        page.contains("Votre compte") && page.contains("code par e-mail"),
        "{page}"
    );
    // The switch goes back only to this server, and only to a language it has.
    for back in [
        "%2F%2Fevil.example%2F",
        "https%3A%2F%2Fevil.example%2F",
        "%2F%5Cevil.example",
    ] {
        let r = b.get(&format!("/ui/lang?to=de&back={back}")).await;
        assert_eq!(
            (r.status.as_u16(), location(&r)),
            (303, "/ui/login"),
            "{back}"
        );
    }
    assert_eq!(b.get("/ui/lang?to=xx&back=%2Fui%2Flogin").await.status, 404);
    assert_eq!(b.post("/ui/lang?to=de", &[]).await.status, 405);

    // An API call's mail follows its Accept-Language.
    s.post_json(
        "/session/login",
        &[("accept-language", "fr-CA")],
        &json!({"email": "ida@example.com"}),
    )
    .await
    .expect(202);
    let mail = smtp.wait_mail("ida@example.com", 2).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Votre code de connexion latchkey : "),
        "{mail}"
    );
    assert!(
        mail["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Il expire dans"),
        "{mail}"
    );

    // The default language: what a browser gets that asks for none of the catalogs'.
    let fr = Server::start(&format!(
        "{}\n[portal]\ndefault_language = \"fr\"\n",
        smtp.config("none")
    ))
    .await;
    for (accept, lang) in [
        (None, "fr"),
        (Some("ja, zh;q=0.8"), "fr"),
        (Some("en-GB"), "en"),
    ] {
        let h: Vec<(&str, &str)> = accept.map(|a| ("accept-language", a)).into_iter().collect();
        let page = body(&fr.get("/ui/login", &h).await);
        assert!(
            page.contains(&format!("<html lang=\"{lang}\">")),
            "{accept:?}: {page}"
        );
    }
    // Mails without a reader's language: the default one.
    fr.post_json("/session/login", &[], &json!({"email": "ida@example.com"}))
        .await
        .expect(202);
    let mail = smtp.wait_mail("ida@example.com", 3).await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Votre code"),
        "{mail}"
    );
    let mut c = latchkey::config::Config::default();
    c.portal.default_language = "xx".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("portal.default_language") && e.contains("en, de, fr"),
        "{e}"
    );
}
