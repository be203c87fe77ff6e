//! Access rules (issue 25): forward-auth decides from the original request, first match
//! wins; step-up to a second factor; the refusal page; OpenID Connect clients'
//! `allowed_groups` and `require_mfa`; `latchkey access check`; config errors naming the
//! rule. (nginx and Chromium drive the same in `browser.rs`.)

use http::Method;
use serde_json::{json, Value};

use crate::oidc::{authorize, exchange, query_of, s256};
use crate::portal::{csrf_of, Browser};
use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";
const SECRET: &str = "app-secret-0123456789";

/// The home lab of docs/guide/09, as printed there: a public status page, photos for
/// the family, Grafana for everyone signed in but its admin pages for admins with two
/// factors, nothing else.
pub(crate) fn rules() -> String {
    let guide = include_str!("../../docs/guide/09-access-rules.md");
    let start = guide.find("```toml\n[access]").expect("the guide's rules") + 8;
    let len = guide[start..].find("```").unwrap();
    guide[start..start + len].to_string()
}

async fn start(smtp: &Smtp) -> Server {
    let port = free_port();
    // The apps live under lab.test, and so does latchkey: one sign-in for all of them.
    let base = format!("http://auth.lab.test:{port}");
    Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n\
         [portal]\ncookie_domain = \"lab.test\"\n\
         [tokens]\nissuer = \"{base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n\
         [[oidc.clients]]\nid = \"app\"\nsecret = \"{SECRET}\"\n\
         redirect_uris = [\"http://127.0.0.1:9/cb\"]\nallowed_groups = [\"Family\"]\n\
         [[oidc.clients]]\nid = \"ops\"\nsecret = \"{SECRET}\"\n\
         redirect_uris = [\"http://127.0.0.1:9/cb\"]\nrequire_mfa = true\n{}{}",
        smtp.config("none"),
        rules()
    ))
    .await
}

async fn join(s: &Server, group: &str, user: &str) {
    let r = s
        .admin_req_json(
            Method::POST,
            "/admin/groups",
            ADMIN,
            &json!({"name": group}),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 201 | 409));
    let path = format!("/admin/groups/{group}/members/{user}");
    assert_eq!(
        s.admin_req(Method::PUT, &path, Some(ADMIN)).await.status,
        204
    );
}

/// Forward-auth for `host` + `uri`, as nginx asks it.
async fn forward(s: &Server, host: &str, uri: &str, extra: &[(&str, &str)]) -> Resp {
    let mut h = vec![
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", host),
        ("x-forwarded-uri", uri),
        ("x-forwarded-method", "GET"),
    ];
    h.extend_from_slice(extra);
    s.get("/auth/forward", &h).await
}

async fn token(s: &Server, name: &str) -> String {
    let t = oauth_login(s, name, PW).await.expect(200);
    bearer(t["access_token"].as_str().unwrap())
}

fn body(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

#[tokio::test]
async fn forward_auth_decides_by_the_first_matching_rule() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp).await;
    for n in ["ann", "bob", "cat"] {
        oauth_signup(&s, n, PW).await;
    }
    join(&s, "family", "bob").await;
    join(&s, "family", "ann").await;
    join(&s, "admins", "ann").await;
    let (ann, bob, cat) = (
        token(&s, "ann").await,
        token(&s, "bob").await,
        token(&s, "cat").await,
    );
    let html = ("accept", "text/html,application/xhtml+xml");

    // Bypass: anyone, with nobody's headers.
    let r = forward(&s, "status.lab.test", "/", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("remote-user").is_none());
    // Signed out: sign in first (a browser is sent to the login page and back).
    assert_eq!(
        forward(&s, "grafana.lab.test", "/d/home", &[]).await.status,
        401
    );
    let r = forward(&s, "grafana.lab.test", "/d/home", &[html]).await;
    assert_eq!(r.status, 302);
    let to = r.header("location").unwrap();
    assert!(
        to.contains("/ui/login?rd=https%3A%2F%2Fgrafana.lab.test%2Fd%2Fhome"),
        "{to}"
    );
    // A subject rule below, which might match once signed in: sign in, not 403.
    assert_eq!(forward(&s, "photos.lab.test", "/", &[]).await.status, 401);
    // Family in photos, the others not: 403 (a deny after the sign-in).
    let r = forward(&s, "photos.lab.test", "/album", &[("authorization", &bob)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("remote-groups"), Some("family"));
    let r = forward(&s, "photos.lab.test:8443", "/", &[("authorization", &cat)]).await;
    assert_eq!(r.expect(403)["error"], "access_denied");
    // Grafana: everyone signed in; its admin pages: admins with two factors. A bearer
    // token of one factor: RFC 9470.
    let r = forward(
        &s,
        "Grafana.Lab.Test",
        "/d/home",
        &[("authorization", &cat)],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = forward(
        &s,
        "grafana.lab.test",
        "/admin/users",
        &[("authorization", &ann)],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_user_authentication", acr_values="mfa""#)
    );
    let r = forward(&s, "grafana.lab.test", "/admin", &[("authorization", &bob)]).await;
    assert_eq!(r.status, 403);
    // X-Original-URL works as well as the X-Forwarded-* set.
    let r = s
        .get(
            "/auth/forward",
            &[
                ("x-original-url", "https://grafana.lab.test/admin?x=1"),
                ("x-original-method", "GET"),
                ("authorization", &bob),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // Every decision is counted.
    let m = body(&s.admin_req(Method::GET, "/metrics", Some(ADMIN)).await);
    assert!(
        m.contains(r#"latchkey_access_decisions_total{policy="deny",decision="deny"} "#),
        "{m}"
    );
    assert!(
        m.contains(r#"latchkey_access_decisions_total{policy="two_factor",decision="step_up"} 1"#),
        "{m}"
    );

    // `access check`: the same decisions, and why.
    let (code, out, err) = s.cli(&[
        "access",
        "check",
        "--user",
        "bob",
        "--url",
        "https://grafana.lab.test/admin",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("deny by rule 3 (domain grafana.lab.test; policy deny)"),
        "{err}"
    );
    assert!(
        err.contains("rule 1 did not match: host grafana.lab.test is not in domain"),
        "{err}"
    );
    assert!(
        err.contains("rule 2 did not match: the user is none of its subjects"),
        "{err}"
    );
    let (code, out, _) = s.cli(&[
        "access",
        "check",
        "--user",
        "ann",
        "--url",
        "https://grafana.lab.test/admin",
        "--factors",
        "2",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("allow by rule 2"), "{out}");
    let (code, _, err) = s.cli(&["access", "check", "--user", "cat", "--client", "app"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a member of family"), "{err}");
    let (code, out, _) = s.cli(&["access", "check", "--user", "bob", "--client", "app"]);
    assert_eq!((code, out.starts_with("allow")), (0, true), "{out}");
    // A group the rules name that the store lacks: a warning of `config check`, no error.
    let (_, out, _) = s.cli(&["config", "check"]);
    assert!(!out.contains("no group"), "{out}");
    let gone = s
        .admin_req(Method::DELETE, "/admin/groups/admins", Some(ADMIN))
        .await;
    assert_eq!(gone.status, 204);
    let (code, out, _) = s.cli(&["config", "check"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("# warning: access.rules[1].subject: no group `admins` in the store"),
        "{out}"
    );
}

#[tokio::test]
async fn a_one_factor_session_steps_up_and_a_refused_browser_is_told_why() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp).await;
    oauth_signup(&s, "dee", PW).await;
    oauth_signup(&s, "eli", PW).await;
    join(&s, "admins", "dee").await;
    join(&s, "admins", "eli").await;
    join(&s, "family", "eli").await;
    // Dee signs in on the portal with a password, then sets up an authenticator: the
    // session counts one factor.
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("dee", PW, "").await.status, 303);
    let auth = token(&s, "dee").await;
    let now = now_ms();
    let (secret, _) = crate::policy::enroll_totp(&s, &auth).await;
    let cookie = b.jar.header();
    let html = ("accept", "text/html");
    let r = forward(
        &s,
        "grafana.lab.test",
        "/admin",
        &[("cookie", &cookie), html],
    )
    .await;
    assert_eq!(r.status, 302);
    let to = r.header("location").unwrap().to_string();
    assert!(
        to.contains("/ui/stepup?rd=https%3A%2F%2Fgrafana.lab.test%2Fadmin"),
        "{to}"
    );
    // nginx's auth_request: a 401 that carries it.
    let r = s
        .get(
            "/auth/forward?redirect=401",
            &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "grafana.lab.test"),
                ("x-forwarded-uri", "/admin"),
                ("cookie", &cookie),
                html,
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.header("location").is_some()),
        (401, true)
    );
    // The step-up page asks for the second factor only; a wrong code is refused.
    let page_path = to
        .split_once("/ui/")
        .map(|(_, p)| format!("/ui/{p}"))
        .unwrap();
    let page = body(&b.get(&page_path).await);
    assert!(
        page.contains("name=\"mfa_code\"") && !page.contains("type=\"password\""),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let rd = "https://grafana.lab.test/admin";
    let r = b
        .post(
            "/ui/stepup",
            &[("csrf", &csrf), ("mfa_code", "000000"), ("rd", rd)],
        )
        .await;
    assert_eq!(r.status, 401);
    let code = totp_at(&secret, now + 30_000);
    let r = b
        .post(
            "/ui/stepup",
            &[("csrf", &csrf), ("mfa_code", &code), ("rd", rd)],
        )
        .await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, Some(rd)));
    let r = forward(
        &s,
        "grafana.lab.test",
        "/admin",
        &[("cookie", &b.jar.header())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", body(&r));
    // The same code twice is no second factor: refused.
    let r = b
        .post(
            "/ui/stepup",
            &[("csrf", &csrf), ("mfa_code", &code), ("rd", rd)],
        )
        .await;
    assert_eq!(r.status, 303, "two factors already: on to rd");

    // Eli has no second factor: the page says how to add one; access stays refused.
    let mut e = Browser::new(&s);
    e.sign_in("eli", PW, "").await;
    let page = e
        .get("/ui/stepup?rd=https%3A%2F%2Fgrafana.lab.test%2Fadmin")
        .await;
    assert_eq!(page.status, 403);
    assert!(
        body(&page).contains("href=\"/ui/account\""),
        "{}",
        body(&page)
    );
    // With a passkey, the step-up page offers it: signing in with one counts two factors.
    let port = s.base.rsplit(':').next().unwrap();
    let mut key = crate::softkey::SoftKey::new(&format!("http://auth.lab.test:{port}"));
    let faults = crate::softkey::Faults::default();
    let access = token(&s, "eli").await;
    let access = access.trim_start_matches("Bearer ");
    crate::passkeys::register(&s, access, &mut key, &faults)
        .await
        .expect(201);
    let page = e
        .get("/ui/stepup?rd=https%3A%2F%2Fgrafana.lab.test%2Fadmin")
        .await;
    assert_eq!(page.status, 200);
    let step = body(&page);
    assert!(
        step.contains("data-start=\"/ui/passkey/login/start\""),
        "{step}"
    );
    let pre = step
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let jar = e.jar.header();
    let h = [("cookie", jar.as_str())];
    let start = s
        .post_json("/ui/passkey/login/start", &h, &json!({"csrf": pre}))
        .await
        .expect(200);
    let answer = key.assert(&start["publicKey"], &faults);
    let rd = "https://grafana.lab.test/admin";
    let finish =
        json!({"csrf": pre, "ceremony": start["ceremony"], "credential": answer, "rd": rd});
    let r = s.post_json("/ui/passkey/login/finish", &h, &finish).await;
    e.jar.take(&r);
    assert_eq!(r.json()["location"], rd, "{}", body(&r));
    let r = forward(
        &s,
        "grafana.lab.test",
        "/admin",
        &[("cookie", &e.jar.header())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", body(&r));
    // A refused browser learns which app and who is signed in, and can sign out.
    oauth_signup(&s, "fay", PW).await;
    let mut f = Browser::new(&s);
    f.sign_in("fay", PW, "").await;
    let r = forward(
        &s,
        "photos.lab.test",
        "/",
        &[("cookie", &f.jar.header()), html],
    )
    .await;
    assert_eq!(r.status, 403);
    let page = body(&r);
    assert!(
        page.contains("fay@example.com may not use photos.lab.test."),
        "{page}"
    );
    assert!(page.contains("action=\"/ui/logout\""), "{page}");
}

#[tokio::test]
async fn openid_connect_clients_admit_their_groups_after_the_sign_in() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp).await;
    oauth_signup(&s, "gus", PW).await;
    oauth_signup(&s, "hal", PW).await;
    join(&s, "family", "hal").await;
    let v = "v".repeat(50);
    let query = |client: &str| {
        format!(
            "response_type=code&client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
             &scope=openid%20offline_access&state=S7&code_challenge={}&code_challenge_method=S256",
            s256(&v)
        )
    };
    // Not signed in: the login page, whoever it may be (a stranger learns nothing).
    let mut g = Browser::new(&s);
    let (status, loc) = authorize(&mut g, &query("app")).await;
    assert_eq!(status, 303, "{loc}");
    assert!(loc.contains("/ui/login"), "{loc}");
    // Signed in, not a member: back to the app with access_denied and its state.
    g.sign_in("gus", PW, "").await;
    let (_, loc) = authorize(&mut g, &query("app")).await;
    let q = query_of(&loc);
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "S7"),
        "{loc}"
    );
    // A member gets a code; removed from the group, its refresh token is refused.
    let mut h = Browser::new(&s);
    h.sign_in("hal", PW, "").await;
    let (_, loc) = authorize(&mut h, &query("app")).await;
    let code = query_of(&loc)["code"].clone();
    let body = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", v.as_str()),
    ];
    let t: Value = exchange(&s, &body, Some(("app", SECRET))).await.expect(200);
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let path = "/admin/groups/family/members/hal";
    assert_eq!(
        s.admin_req(Method::DELETE, path, Some(ADMIN)).await.status,
        204
    );
    let r = exchange(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        Some(("app", SECRET)),
    )
    .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    // require_mfa: a one-factor session steps up (prompt=none: interaction_required).
    let (status, loc) = authorize(&mut h, &query("ops")).await;
    assert_eq!(status, 303);
    assert!(
        loc.starts_with("/ui/stepup?rd=%2Foidc%2Fauthorize%3F"),
        "{loc}"
    );
    let (_, loc) = authorize(&mut h, &format!("{}&prompt=none", query("ops"))).await;
    assert_eq!(query_of(&loc)["error"], "interaction_required", "{loc}");
}

#[test]
fn config_errors_name_the_rule_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    for (rule, key, why) in [
        (
            "resources = [\"^/(admin\"]",
            "access.rules[0].resources[0]",
            "rule 1: not a regex",
        ),
        (
            "subject = [\"group:x\"]\npolicy = \"bypass\"",
            "access.rules[0].subject",
            "cannot name subjects",
        ),
        (
            "networks = [\"10.0.0.0/33\"]",
            "access.rules[0].networks[0]",
            "rule 1: `10.0.0.0/33`",
        ),
        ("domain = []", "access.rules[0].domain", "an empty list"),
        (
            "subject = [\"team:x\"]",
            "access.rules[0].subject[0]",
            "group:NAME or user:",
        ),
        (
            "policy = \"2fa\"",
            "access.rules[0].policy",
            "rule 1: must be bypass",
        ),
    ] {
        let policy = if rule.contains("policy") {
            ""
        } else {
            "policy = \"deny\"\n"
        };
        let text = format!("[access]\n\n[[access.rules]]\n{policy}{rule}\n");
        let path = dir.path().join("auth.toml");
        std::fs::write(&path, &text).unwrap();
        let e = latchkey::config::load(Some(&path)).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(why), "{rule}: {e}");
        assert!(e.starts_with(&format!("{}:", path.display())), "{e}");
        let line = text
            .lines()
            .position(|l| l.starts_with(key.rsplit('.').next().unwrap().split('[').next().unwrap()))
            .unwrap()
            + 1;
        assert!(e.contains(&format!(":{line}: ")), "line {line}: {e}");
    }
}

/// Forward-auth with a portal session answers from what a redb server read of the
/// session until the store's next commit (src/service/visits.rs): every change below is
/// a commit, and each counts at the very next request, after requests that were answered
/// from that memory.
#[tokio::test]
async fn a_portal_session_s_answer_follows_every_change_at_the_next_request() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp).await;
    oauth_signup(&s, "fay", PW).await;
    join(&s, "family", "fay").await;
    join(&s, "admins", "fay").await;
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("fay", PW, "").await.status, 303);
    let cookie = b.jar.header();
    let photos = || async { forward(&s, "photos.lab.test", "/", &[("cookie", &cookie)]).await };
    let groups = |r: &Resp| r.header("remote-groups").map(str::to_owned);
    for _ in 0..3 {
        let r = photos().await;
        assert_eq!(r.status, 200);
        assert_eq!(groups(&r).as_deref(), Some("admins,family"));
    }
    // A membership removed, then given back.
    let member = "/admin/groups/family/members/fay";
    assert_eq!(
        s.admin_req(Method::DELETE, member, Some(ADMIN))
            .await
            .status,
        204
    );
    assert_eq!(photos().await.status, 403);
    assert_eq!(
        s.admin_req(Method::PUT, member, Some(ADMIN)).await.status,
        204
    );
    let r = photos().await;
    assert_eq!(groups(&r).as_deref(), Some("admins,family"));
    // A group deleted.
    assert_eq!(
        s.admin_req(Method::DELETE, "/admin/groups/admins", Some(ADMIN))
            .await
            .status,
        204
    );
    let r = photos().await;
    assert_eq!(groups(&r).as_deref(), Some("family"));
    // The account disabled, then enabled: its sessions ended with it.
    for (action, status) in [("disable", 401), ("enable", 401)] {
        let path = format!("/admin/users/fay/{action}");
        assert_eq!(
            s.admin_req(Method::POST, &path, Some(ADMIN)).await.status,
            200
        );
        assert_eq!(photos().await.status, status, "{action}");
    }
    // A new session, warm, then signed out everywhere.
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("fay", PW, "").await.status, 303);
    let cookie = b.jar.header();
    let again = || async { forward(&s, "photos.lab.test", "/", &[("cookie", &cookie)]).await };
    assert_eq!(again().await.status, 200);
    assert_eq!(again().await.status, 200);
    let path = "/admin/users/fay/revoke-sessions";
    assert!(s
        .admin_req(Method::POST, path, Some(ADMIN))
        .await
        .status
        .is_success());
    assert_eq!(again().await.status, 401);
}

/// The time still counts for a session answered from memory: its end, and its renewal
/// (a commit), with no other write in between.
#[tokio::test]
async fn a_remembered_portal_session_still_ends_on_time() {
    let p = InProcess::new(|c| c.portal.session_ttl = 1_200);
    p.sign_up("gus", PW).await;
    let op = protocol::Operation::PasswordSignIn {
        login: "gus".into(),
        password: protocol::Secret(PW.into()),
        client: None,
        activate: false,
        second: protocol::SecondFactor::Inline(None),
    };
    let cookie = match p
        .svc
        .sign_in_browser(op, latchkey::limits::Source::LOCAL)
        .await
    {
        Ok(protocol::Outcome::Session { token, .. }) => token,
        other => panic!("{other:?}"),
    };
    let v = p.svc.portal_visitor(&cookie).await.unwrap();
    assert_eq!(
        (v.user().username.as_deref(), v.renewed),
        (Some("gus"), None)
    );
    // A visit, and the renewal it made if any.
    let renewal = || async { p.svc.portal_visitor(&cookie).await.unwrap().renewed };
    // Within a twelfth of its life (100 s): answered as it was, not renewed.
    p.advance(50.0);
    assert!(renewal().await.is_none());
    // Past it: renewed to now + 1,200 s.
    p.advance(60.0);
    assert_eq!(
        renewal().await.map(|t| t.millis()),
        Some(p.now_ms() + 1_200_000)
    );
    // The renewal was a commit: the next visit reads the session again and is kept;
    // then, unused past its end with nothing written since, it is over.
    assert!(renewal().await.is_none());
    p.advance(1_201.0);
    assert!(p.svc.portal_visitor(&cookie).await.is_err());
}
