//! The portal in a real browser: Debian's Chromium, driven through chromedriver
//! (WebDriver, the `fantoccini` client). Sign-in by keyboard alone with the TOTP step,
//! the account page, sign-out, the 360 px layout; and single sign-on through a real
//! nginx whose `auth_request` sends the browser to the portal and back.
//!
//! With `LK_SCREENSHOTS=<dir>` the pages are saved as PNGs there (docs/screenshots is
//! made that way).

use std::process::{Child, Command};
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::policy::{account_with_totp, PW};
use crate::support::*;

/// A chromedriver and one Chromium session of it; both end when dropped.
pub(crate) struct Chrome {
    pub c: Client,
    driver: Child,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // chromedriver and the browsers it started share its process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

impl Chrome {
    /// Chromium, headless, `width` x `height` CSS pixels (a phone's metrics under 600);
    /// names under `.lk.test` and `.lab.test` resolve to 127.0.0.1.
    pub(crate) async fn start(width: u32, height: u32) -> Chrome {
        use std::os::unix::process::CommandExt as _;
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--host-resolver-rules=MAP *.lk.test 127.0.0.1,MAP *.lab.test 127.0.0.1".into(),
        ];
        let mut options = json!({"binary": "/usr/bin/chromium"});
        if width < 600 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}
            });
        } else {
            args.push(format!("--window-size={width},{height}"));
        }
        options["args"] = json!(args);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Chrome { c, driver }
    }

    /// The element `loc` once the page has it (at most 20 s).
    pub(crate) async fn until(
        &self,
        loc: Locator<'_>,
    ) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
        self.c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(loc)
            .await
    }

    /// Clicks the element `css`.
    pub(crate) async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Waits (at most 20 s) until the browser is at `url`; panics with the page's text
    /// when it is not.
    pub(crate) async fn reaches(&self, url: &str) {
        let _ = self
            .c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_url(&url::Url::parse(url).unwrap())
            .await;
        let at = self.url().await;
        assert_eq!(at, url, "{}", self.text("main").await);
    }

    pub(crate) async fn url(&self) -> String {
        self.c.current_url().await.unwrap().to_string()
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.c.execute(script, vec![]).await.unwrap()
    }

    /// Types `text` where the focus is (keys, as a person would).
    pub(crate) async fn type_keys(&self, text: &str) {
        self.c
            .active_element()
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Whether the page fits its width (nothing scrolls sideways).
    pub(crate) async fn fits(&self) -> bool {
        self.js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await
            .as_bool()
            .unwrap()
    }

    /// Saves the page as `<LK_SCREENSHOTS>/<name>.png` when asked to.
    pub(crate) async fn shot(&self, name: &str) {
        if let Ok(dir) = std::env::var("LK_SCREENSHOTS") {
            std::fs::create_dir_all(&dir).unwrap();
            let png = self.c.screenshot().await.unwrap();
            std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
        }
    }

    /// The page's WCAG 2.x level A and AA violations, by axe-core (npm, run in the page
    /// as a WebDriver script: the pages' CSP does not apply to it): one line each, rule,
    /// help and the elements.
    pub(crate) async fn axe(&self) -> Vec<String> {
        let source = std::fs::read_to_string(
            crate::support::node_modules().join("node_modules/axe-core/axe.min.js"),
        )
        .expect("axe-core (tests/interop/package.json)");
        self.c.execute(&source, vec![]).await.unwrap();
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values:
                     ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
                   .then(r => done({passes: r.passes.length, violations: r.violations.map(v =>
                       v.id + ': ' + v.help + ' ['
                       + v.nodes.map(n => n.target.join(' ')).join(', ') + ']')}))
                   .catch(e => done({passes: 0, violations: ['axe did not run: ' + e]}));",
                vec![],
            )
            .await
            .unwrap();
        // It checked something: a run that passes nothing checked nothing.
        assert!(found["passes"].as_u64().unwrap_or(0) > 0, "{found}");
        serde_json::from_value(found["violations"].clone()).unwrap()
    }

    pub(crate) async fn close(self) {
        let _ = self.c.clone().close().await;
    }
}

/// A server whose public URL is where the browser reaches it.
pub(crate) async fn portal_server(extra: &str, smtp: &Smtp) -> (Server, u16) {
    let port = free_port();
    let s = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://auth.lk.test:{port}\"\n{}\n{extra}",
        smtp.config("none")
    ))
    .await;
    (s, port)
}

#[tokio::test]
async fn a_person_signs_in_with_the_keyboard_and_a_totp_code_then_signs_out() {
    let smtp = Smtp::start(&[]);
    let (s, port) = portal_server("", &smtp).await;
    let (_, secret, recovery) = account_with_totp(&s, &smtp, "kay").await;
    let base = format!("http://auth.lk.test:{port}");
    for (width, height, tag) in [(1280, 900, "desktop"), (360, 740, "360px")] {
        let b = Chrome::start(width, height).await;
        b.c.goto(&format!("{base}/ui/login?rd=%2Fui%2Faccount"))
            .await
            .unwrap();
        assert_eq!(b.c.title().await.unwrap(), "Sign in · latchkey");
        assert!(
            b.fits().await,
            "the login page scrolls sideways at {width} px"
        );
        // Every field has its label.
        let unlabelled = b
            .js(
                "return [...document.querySelectorAll('input:not([type=hidden])')]
                   .filter(i => !i.labels || i.labels.length === 0).length",
            )
            .await;
        assert_eq!(unlabelled, json!(0));
        b.shot(&format!("login-{tag}")).await;
        // The focus starts in the username field: type it, Tab, the password, Enter.
        b.type_keys(&format!("kay{}{PW}{}", Key::Tab, Key::Enter))
            .await;
        b.until(Locator::Id("mfa_code")).await.unwrap();
        assert!(b.url().await.contains("/ui/mfa"), "{}", b.url().await);
        // A wrong code first: the page says so, and keeps the step.
        b.type_keys(&format!("000000{}", Key::Enter)).await;
        b.until(Locator::Css("p.error")).await.unwrap();
        assert!(b.text("p.error").await.contains("wrong"));
        assert!(b.fits().await);
        b.shot(&format!("mfa-{tag}")).await;
        // The code of the next step (this one's was spent by the enrolment); the phone
        // round, within the same minute, takes a recovery code.
        let code = if tag == "desktop" {
            totp_at(&secret, now_ms() + 30_000)
        } else {
            recovery[0].clone()
        };
        b.c.find(Locator::Id("mfa_code"))
            .await
            .unwrap()
            .send_keys(&format!("{code}{}", Key::Enter))
            .await
            .unwrap();
        if b.until(Locator::Css("ul.sessions")).await.is_err() {
            panic!("no account page: {}", b.c.source().await.unwrap());
        }
        assert_eq!(b.url().await, format!("{base}/ui/account"));
        assert!(b.text("main").await.contains("kay@example.com"));
        assert!(b.text("main").await.contains("on (authenticator app)"));
        assert!(
            b.fits().await,
            "the account page scrolls sideways at {width} px"
        );
        b.shot(&format!("account-{tag}")).await;
        // The session cookie is not for scripts.
        assert_eq!(b.js("return document.cookie").await, json!(""));
        // Sign out.
        b.c.find(Locator::Css("form[action='/ui/logout'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.until(Locator::Id("username")).await.unwrap();
        assert_eq!(b.url().await, format!("{base}/ui/login"));
        b.c.goto(&format!("{base}/ui/account")).await.unwrap();
        b.until(Locator::Id("username")).await.unwrap();
        b.close().await;
    }
}

#[tokio::test]
async fn nginx_sends_the_browser_to_the_portal_and_back_with_single_sign_on() {
    let smtp = Smtp::start(&[]);
    let (s, port) = portal_server("[portal]\ncookie_domain = \"lk.test\"\n", &smtp).await;
    let u = oauth_signup(&s, "sso", PW).await;
    let up = crate::forward::echo_upstream().await;
    let n = Nginx::start(&nginx_sso(port, up)).await;
    let app = format!("http://app.lk.test:{}/dashboard?tab=2", n.port);

    // An API client (no browser Accept) behind the same set-up: 401, no redirect.
    let (status, body) = crate::forward::through(&n, &[("accept", "application/json")]).await;
    assert_eq!(status, 401, "{body}");
    let b = Chrome::start(1280, 900).await;
    b.c.goto(&app).await.unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    let at = b.url().await;
    assert!(
        at.starts_with(&format!("http://auth.lk.test:{port}/ui/login?rd=")),
        "{at}"
    );
    b.type_keys(&format!("sso{}{PW}{}", Key::Tab, Key::Enter))
        .await;
    b.c.wait()
        .at_most(Duration::from_secs(20))
        .for_url(&url::Url::parse(&app).unwrap())
        .await
        .unwrap();
    let seen = b.text("body").await.to_lowercase();
    assert!(seen.starts_with("get /dashboard?tab=2"), "{seen}");
    assert!(
        seen.contains(&format!("x-auth-user: {}", u["id"].as_str().unwrap())),
        "{seen}"
    );
    assert!(seen.contains("x-auth-email: sso@example.com"), "{seen}");
    // Another app under the cookie domain: signed in already.
    let other = format!("http://wiki.lk.test:{}/page", n.port);
    b.c.goto(&other).await.unwrap();
    assert_eq!(b.url().await, other);
    assert!(b
        .text("body")
        .await
        .to_lowercase()
        .contains("x-auth-username: sso"));
    // Signing out on the portal signs out of the apps.
    b.c.goto(&format!("http://auth.lk.test:{port}/ui/account"))
        .await
        .unwrap();
    b.c.find(Locator::Css("form[action='/ui/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    b.c.goto(&app).await.unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    b.close().await;
}

/// The single sign-on guide's nginx set-up, as printed, with the test's ports for
/// latchkey's (8080) and the app's (3000).
pub(crate) fn nginx_sso(latchkey_port: u16, upstream: u16) -> String {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/guide/04-portal-and-sso.md"
    ))
    .unwrap();
    let section = guide
        .split("### Single sign-on behind a proxy")
        .nth(1)
        .expect("the guide's single sign-on section");
    let block = section
        .split("```nginx\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its nginx block");
    assert!(block.contains("127.0.0.1:8080") && block.contains("127.0.0.1:3000"));
    block
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{latchkey_port}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{upstream}"))
}

/// WebDriver's WebAuthn extension: a virtual authenticator in the browser (a platform
/// passkey store with user verification, that consents by itself).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

#[tokio::test]
async fn a_person_adds_a_passkey_on_the_account_page_and_signs_in_with_it_alone() {
    // http://localhost is a secure context: WebAuthn works there without TLS.
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let s = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n[mfa]\nissuer = \"x\"\n"
    ))
    .await;
    oauth_signup(&s, "pia", PW).await;
    let b = Chrome::start(1280, 900).await;
    b.c.issue_cmd(AddVirtualAuthenticator).await.unwrap();

    // Signed in with the password, the account page adds a passkey.
    b.c.goto(&format!("{base}/ui/login")).await.unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    b.c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(&format!("pia{}{PW}{}", Key::Tab, Key::Enter))
        .await
        .unwrap();
    b.until(Locator::Id("passkey-add-button")).await.unwrap();
    assert!(b.text("main").await.contains("Passkeys"));
    b.c.find(Locator::Id("passkey-name"))
        .await
        .unwrap()
        .send_keys("this laptop")
        .await
        .unwrap();
    b.click("#passkey-add-button").await;
    b.reaches(&format!("{base}/ui/account?done=passkey")).await;
    assert!(b.text("ul.passkeys").await.contains("this laptop"));
    b.js("document.querySelector('h2 + ul.passkeys').previousElementSibling.scrollIntoView(); return null")
        .await;
    b.shot("account-passkeys").await;

    // Signed out, the passkey alone signs in: no username, no password. The login page
    // asks the browser for a passkey suggestion in the username field (conditional
    // mediation), which Chromium's virtual authenticator, consenting by itself, answers
    // at once: the browser lands on the account page signed in with the passkey.
    b.click("form[action='/ui/logout'] button").await;
    b.reaches(&format!("{base}/ui/account")).await;
    let main = b.text("main").await;
    assert!(main.contains("pia@example.com"), "{main}");
    assert!(main.contains("with passkey"), "{main}");
    assert!(b.text("ul.passkeys").await.contains("last used"));

    // Renamed and removed on the page (the password remains a way in).
    let rename =
        b.c.find(Locator::Css(
            "form[action='/ui/passkeys/rename'] input[name=name]",
        ))
        .await
        .unwrap();
    rename.clear().await.unwrap();
    rename
        .send_keys(&format!("old laptop{}", Key::Enter))
        .await
        .unwrap();
    b.until(Locator::Css("p.notice")).await.unwrap();
    assert!(b.text("ul.passkeys").await.contains("old laptop"));
    b.click("form[action='/ui/passkeys/remove'] button").await;
    b.reaches(&format!("{base}/ui/account?done=passkey-removed"))
        .await;
    assert!(!b.text("main").await.contains("old laptop"));
    b.close().await;
}

/// Every page of the portal has no WCAG 2.2 level A or AA violation that axe-core finds
/// in the real Chromium (issue 28, item 6), at a desktop's width and a phone's: the
/// sign-in, sign-up (with an error shown), mailed-code, second-step, reset, account (with
/// an authenticator app being set up), error and not-found pages.
#[tokio::test]
async fn every_page_passes_the_accessibility_check() {
    let smtp = Smtp::start(&[]);
    let (s, port) = portal_server("", &smtp).await;
    account_with_totp(&s, &smtp, "kay").await;
    let base = format!("http://auth.lk.test:{port}");
    for (width, height) in [(1280, 900), (360, 740)] {
        let b = Chrome::start(width, height).await;
        let mut report = Vec::new();
        let mut check = |page: String, found: Vec<String>| {
            for f in found {
                report.push(format!("{page} at {width} px: {f}"));
            }
        };
        let tag = if width < 600 { "360px" } else { "desktop" };
        for page in [
            "/ui/login",
            "/ui/signup",
            "/ui/forgot",
            "/ui/code",
            "/ui/nope",
            "/ui/login?done=reset",
        ] {
            b.c.goto(&format!("{base}{page}")).await.unwrap();
            b.until(Locator::Css("main")).await.unwrap();
            check(page.into(), b.axe().await);
            match page {
                "/ui/signup" => b.shot(&format!("signup-{tag}")).await,
                "/ui/login?done=reset" => b.shot(&format!("reset-done-{tag}")).await,
                _ => {}
            }
        }
        // The pages in German and French, reached through the switch (links: no script).
        b.c.goto(&format!("{base}/ui/login")).await.unwrap();
        b.click("footer a[hreflang='de']").await;
        b.until(Locator::Css("html[lang='de'] #username"))
            .await
            .unwrap();
        assert_eq!(b.text("h1").await, "Anmelden");
        check("/ui/login (de)".into(), b.axe().await);
        b.shot(&format!("login-de-{tag}")).await;
        b.c.goto(&format!("{base}/ui/signup")).await.unwrap();
        b.click("footer a[hreflang='fr']").await;
        b.until(Locator::Css("html[lang='fr'] #email"))
            .await
            .unwrap();
        assert_eq!(b.text("h1").await, "Créer un compte");
        check("/ui/signup (fr)".into(), b.axe().await);
        b.click("footer a[hreflang='en']").await;
        b.until(Locator::Css("html[lang='en'] #email"))
            .await
            .unwrap();
        // A page with an error shown: a weak password on the sign-up page.
        b.c.goto(&format!("{base}/ui/signup")).await.unwrap();
        b.until(Locator::Id("email")).await.unwrap();
        b.type_keys(&format!(
            "ann@example.com{}password{}",
            Key::Tab,
            Key::Enter
        ))
        .await;
        b.until(Locator::Css("p.error")).await.unwrap();
        check("/ui/signup (weak password)".into(), b.axe().await);
        // The reset page, after asking for a code.
        b.c.goto(&format!("{base}/ui/forgot")).await.unwrap();
        b.until(Locator::Id("email")).await.unwrap();
        b.type_keys(&format!("kay@example.com{}", Key::Enter)).await;
        b.until(Locator::Id("new_password")).await.unwrap();
        check("/ui/forgot → reset".into(), b.axe().await);
        // The second step, and the account page with an authenticator being set up.
        b.c.goto(&format!("{base}/ui/login")).await.unwrap();
        b.until(Locator::Id("username")).await.unwrap();
        b.type_keys(&format!("kay{}{PW}{}", Key::Tab, Key::Enter))
            .await;
        b.until(Locator::Id("mfa_code")).await.unwrap();
        check("/ui/mfa".into(), b.axe().await);
        b.close().await;
        assert!(report.is_empty(), "{report:#?}");
    }
    // Signed in (a second account, without TOTP): the account page, and setting up TOTP.
    let b = Chrome::start(1280, 900).await;
    oauth_signup(&s, "lee", PW).await;
    b.c.goto(&format!("{base}/ui/login")).await.unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    b.type_keys(&format!("lee{}{PW}{}", Key::Tab, Key::Enter))
        .await;
    b.until(Locator::Css("ul.sessions")).await.unwrap();
    let mut report2 = b.axe().await;
    b.c.find(Locator::Css("form[action='/ui/totp/enroll'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.until(Locator::Css("form[action='/ui/totp/confirm']"))
        .await
        .unwrap();
    report2.extend(b.axe().await);
    b.close().await;
    assert!(report2.is_empty(), "the account pages: {report2:#?}");
    // A branded portal (an accent colour, a footer link) too.
    let smtp2 = Smtp::start(&[]);
    let (_branded, bport) = portal_server(
        "[portal]\ntitle = \"Example Co\"\naccent_color = \"#0f766e\"\n\
         footer_text = \"Privacy\"\nfooter_url = \"https://example.com/privacy\"\n",
        &smtp2,
    )
    .await;
    let b = Chrome::start(360, 740).await;
    b.c.goto(&format!("http://auth.lk.test:{bport}/ui/login"))
        .await
        .unwrap();
    b.until(Locator::Css("footer a")).await.unwrap();
    let found = b.axe().await;
    b.shot("login-branded-360px").await;
    b.close().await;
    assert!(found.is_empty(), "the branded sign-in page: {found:#?}");
}

const ADMIN: &str = "admin-token-0123456789abcdef";

/// The access guide's home lab (docs/guide/09) behind a real nginx (the guide's snippet):
/// a one-factor session is sent to the step-up page, which says how to add a second
/// factor when there is none and asks only for the code when there is; then the app
/// sees the user and its groups in the trusted headers. The step-up page passes axe.
#[tokio::test]
async fn nginx_and_the_access_rules_step_a_session_up_to_two_factors() {
    let smtp = Smtp::start(&[]);
    let port = free_port();
    let s = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://auth.lab.test:{port}\"\n\
         [portal]\ncookie_domain = \"lab.test\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}\n{}",
        smtp.config("none"),
        crate::access::rules()
    ))
    .await;
    oauth_signup(&s, "dee", PW).await;
    let body = json!({"name": "admins"});
    s.admin_req_json(http::Method::POST, "/admin/groups", ADMIN, &body)
        .await
        .expect(201);
    let add = s
        .admin_req(
            http::Method::PUT,
            "/admin/groups/admins/members/dee",
            Some(ADMIN),
        )
        .await;
    assert_eq!(add.status, 204);
    let up = crate::forward::echo_upstream().await;
    let n = Nginx::start(&nginx_lab(port, up)).await;
    let app = format!("http://grafana.lab.test:{}/admin/users", n.port);

    let b = Chrome::start(1280, 900).await;
    // Signed out, the admin pages are refused by rule 3 (a deny rule answers 403 signed
    // in or not): dee signs in on the portal, which sends her on.
    let mut rd = String::new();
    rd.extend(form_urlencoded::byte_serialize(app.as_bytes()));
    b.c.goto(&format!("http://auth.lab.test:{port}/ui/login?rd={rd}"))
        .await
        .unwrap();
    b.until(Locator::Id("username")).await.unwrap();
    b.type_keys(&format!("dee{}{PW}{}", Key::Tab, Key::Enter))
        .await;
    // One factor, and none enrolled: the page says how to add one.
    b.until(Locator::Css("a[href='/ui/account'].button"))
        .await
        .unwrap();
    assert!(
        b.url().await.contains("/ui/stepup?rd="),
        "{}",
        b.url().await
    );
    let mut report = b.axe().await;
    b.shot("stepup-none-desktop").await;
    // Dee sets up an authenticator app (through the API here); the session still counts one.
    let t = oauth_login(&s, "dee", PW).await.expect(200);
    let auth = bearer(t["access_token"].as_str().unwrap());
    let now = now_ms();
    let (secret, _) = crate::policy::enroll_totp(&s, &auth).await;
    b.c.goto(&app).await.unwrap();
    b.until(Locator::Id("mfa_code")).await.unwrap();
    report.extend(b.axe().await);
    b.shot("stepup-desktop").await;
    assert!(
        b.c.find(Locator::Id("password")).await.is_err(),
        "no password again"
    );
    b.type_keys(&format!("{}{}", totp_at(&secret, now + 30_000), Key::Enter))
        .await;
    b.c.wait()
        .at_most(Duration::from_secs(20))
        .for_url(&url::Url::parse(&app).unwrap())
        .await
        .unwrap();
    let seen = b.text("body").await.to_lowercase();
    assert!(seen.starts_with("get /admin/users"), "{seen}");
    assert!(seen.contains("remote-user: dee"), "{seen}");
    assert!(seen.contains("remote-groups: admins"), "{seen}");
    b.close().await;
    assert!(report.is_empty(), "the step-up pages: {report:#?}");
}

/// The access guide's nginx set-up, as printed, with the test's ports.
fn nginx_lab(latchkey_port: u16, upstream: u16) -> String {
    let guide = include_str!("../../docs/guide/09-access-rules.md");
    let block = guide
        .split("```nginx\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the access guide's nginx block");
    block
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{latchkey_port}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{upstream}"))
}
