//! Family `session` against the real binary and a real SMTP server: the mail arrives, the
//! code is read from it, the flow completes; every error path of the seed's diagrams;
//! TOTP with an authenticator-style generator (pyotp) reading the otpauth URL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";

async fn start(smtp: &Smtp, extra: &str) -> Server {
    Server::start(&format!(
        "{}[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{extra}",
        smtp.config("none")
    ))
    .await
}

async fn login(s: &Server, email: &str) -> Resp {
    s.post_json("/session/login", &[], &json!({"email": email}))
        .await
}

async fn verify(s: &Server, code: &str, mfa: Option<&str>) -> Resp {
    let body = match mfa {
        Some(m) => json!({"session_code": code, "mfa_code": m}),
        None => json!({"session_code": code}),
    };
    s.post_json("/session/verify", &[], &body).await
}

async fn stats(s: &Server) -> Value {
    s.admin_req(http::Method::GET, "/admin/stats", Some(ADMIN))
        .await
        .expect(200)
}

/// Mails a code to `email` and reads it from the `n`-th message that arrives there.
async fn mailed_code(s: &Server, smtp: &Smtp, email: &str, n: usize) -> String {
    assert_eq!(
        login(s, email).await.expect(202),
        json!({"status": "code_sent"})
    );
    session_code_of(&smtp.wait_mail(email, n).await)
}

/// Signs in by code (no MFA) and returns (refresh token, access token).
async fn signed_in(s: &Server, smtp: &Smtp, email: &str, n: usize) -> (String, String) {
    let code = mailed_code(s, smtp, email, n).await;
    let v = verify(s, &code, None).await.expect(200);
    assert_eq!(v["status"], "authenticated");
    let t = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": v["refresh_token"]}),
        )
        .await
        .expect(200);
    (
        t["refresh_token"].as_str().unwrap().into(),
        t["access_token"].as_str().unwrap().into(),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The current TOTP step. A test that uses the codes of this step and the next one
/// stays within the server's one step of skew for at least 30 s, wherever in the step it
/// starts: no waiting for a fresh step. (The step rules themselves are tested with a fake
/// clock in `rules.rs`.)
fn current_step() -> u64 {
    now() / 30
}

fn totp_at(url: &str, step: u64) -> String {
    py("totp_code.py", &[url, &(step * 30).to_string()])
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey::primitives::b64url_decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn whole_flow_over_real_smtp() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp, "").await;
    let code = mailed_code(&s, &smtp, "sue@example.com", 1).await;
    // A real, readable email.
    let mail = smtp.wait_mail("sue@example.com", 1).await;
    assert_eq!(mail["from"], "latchkey test <auth@latchkey.test>");
    assert!(mail["subject"].as_str().unwrap().contains(&code));
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("expires in 10 minutes"), "{text}");
    assert!(mail["html"].as_str().unwrap().contains(&code));
    assert!(!mail["date"].as_str().unwrap().is_empty());
    assert_eq!(code.len(), 14);

    let v = verify(&s, &code, None).await;
    assert_eq!(v.header("cache-control"), Some("no-store"));
    let v = v.expect(200);
    assert_eq!(v["status"], "authenticated");
    assert_eq!(v["user_id"].as_str().unwrap().len(), 32);
    // Single use.
    assert_eq!(
        verify(&s, &code, None).await.expect(400),
        json!({"error": "invalid_session_code"})
    );

    let t = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": v["refresh_token"]}),
        )
        .await;
    assert_eq!(t.header("cache-control"), Some("no-store"));
    let t = t.expect(200);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 1800);
    assert_ne!(t["refresh_token"], v["refresh_token"], "rotated");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["amr"],
        json!(["otp"])
    );
    let access = t["access_token"].as_str().unwrap();
    let me = s
        .get("/session/me", &[("authorization", &bearer(access))])
        .await
        .expect(200);
    assert_eq!(me["id"], v["user_id"]);
    assert_eq!(me["email"], "sue@example.com");
    assert_eq!(me["mfa_enabled"], false);
    assert_eq!(
        me["email_verified"], true,
        "a redeemed code proves the address"
    );
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(me.as_object().unwrap().len(), 5);

    // Logout ends the family: its refresh and access tokens stop working.
    s.post_json(
        "/session/logout",
        &[],
        &json!({"refresh_token": t["refresh_token"]}),
    )
    .await
    .expect(204);
    let r = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": t["refresh_token"]}),
        )
        .await;
    assert_eq!(r.expect(401), json!({"error": "invalid_token"}));
    s.get("/session/me", &[("authorization", &bearer(access))])
        .await
        .expect(401);

    // The next sign-in finds the same account; it works in the other families' routes too.
    let (_, access2) = signed_in(&s, &smtp, "sue@example.com", 2).await;
    let me2 = s
        .get("/session/me", &[("authorization", &bearer(&access2))])
        .await
        .expect(200);
    assert_eq!(me2["id"], me["id"]);
    s.post_json(
        "/api/auth/accounts:lookup",
        &[],
        &json!({"idToken": access2}),
    )
    .await
    .expect(200);
    assert_eq!(stats(&s).await["users"], 1);
}

#[tokio::test]
async fn error_paths_of_the_seed() {
    let mut smtp = Smtp::start(&[]);
    let s = start(&smtp, "").await;
    let invalid_email =
        json!({"error": "invalid_email", "error_description": "invalid email... try again !"});
    // Wrong email: malformed, or refused by the mail server (550 on RCPT).
    assert_eq!(login(&s, "not-an-email").await.expect(400), invalid_email);
    assert_eq!(
        s.post_json("/session/login", &[], &json!({}))
            .await
            .expect(400),
        invalid_email
    );
    assert_eq!(
        login(&s, "bob@refused.example").await.expect(400),
        invalid_email
    );
    assert_eq!(smtp.count_to("bob@refused.example"), 0);
    assert_eq!(
        stats(&s).await["session_codes"],
        0,
        "no code left for a refused address"
    );

    // Invalid session code: unknown, malformed, missing.
    assert_eq!(
        verify(&s, "ABCD-EFGH-JKMN", None).await.expect(400),
        json!({"error": "invalid_session_code"})
    );
    assert_eq!(
        verify(&s, "not a code", None).await.expect(400)["error"],
        "invalid_session_code"
    );
    assert_eq!(
        s.post_json("/session/verify", &[], &json!({}))
            .await
            .expect(400)["error"],
        "invalid_session_code"
    );

    // Missing / invalid refresh token.
    assert_eq!(
        s.post_json("/session/token", &[], &json!({}))
            .await
            .expect(400),
        json!({"error": "invalid_request"})
    );
    assert_eq!(
        s.post_json("/session/token", &[], &json!({"refresh_token": ""}))
            .await
            .expect(400)["error"],
        "invalid_request"
    );
    assert_eq!(
        s.send(
            http::Method::POST,
            "/session/token",
            &[("content-type", "application/json")],
            "{"
        )
        .await
        .expect(400)["error"],
        "invalid_request"
    );
    assert_eq!(
        s.post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": "A".repeat(43)})
        )
        .await
        .expect(401),
        json!({"error": "invalid_token"})
    );

    // Missing / invalid access token, with RFC 6750 challenges.
    let r = s.get("/session/me", &[]).await;
    assert_eq!(r.expect(401), json!({"error": "missing_token"}));
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="latchkey""#)
    );
    let r = s
        .get("/session/me", &[("authorization", "Bearer not-a-token")])
        .await;
    assert_eq!(r.expect(401), json!({"error": "invalid_token"}));
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="latchkey", error="invalid_token""#)
    );

    // The mail server goes down: 503, and no usable code is left.
    smtp.stop();
    let r = login(&s, "sue@example.com").await;
    assert_eq!(r.expect(503), json!({"error": "mail_unavailable"}));
    assert_eq!(stats(&s).await["session_codes"], 0);
}

#[tokio::test]
async fn totp_enrol_login_replay_and_disable() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp, "").await;
    let (_, access) = signed_in(&s, &smtp, "mia@example.com", 1).await;
    let auth = bearer(&access);

    let e = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(e.header("cache-control"), Some("no-store"));
    let e = e.expect(200);
    let secret = e["secret"].as_str().unwrap().to_string();
    let url = e["otpauth_url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!("otpauth://totp/latchkey:mia%40example.com?secret={secret}&issuer=latchkey")
    );
    s.send(
        http::Method::POST,
        "/session/mfa/totp/confirm",
        &[("authorization", &auth)],
        "",
    )
    .await
    .expect(400);

    let t = current_step();
    // Codes come from pyotp reading the otpauth URL, as an authenticator app would.
    let (cur, next) = (totp_at(&url, t), totp_at(&url, t + 1));
    let wrong = ["000000", "111111", "222222"]
        .into_iter()
        .find(|c| {
            (t - 1..=t + 2)
                .map(|st| totp_at(&url, st))
                .all(|valid| valid != *c)
        })
        .unwrap();
    let confirm = |code: String| {
        let (s, auth) = (&s, auth.clone());
        async move {
            s.post_json(
                "/session/mfa/totp/confirm",
                &[("authorization", &auth)],
                &json!({"code": code}),
            )
            .await
        }
    };
    assert_eq!(
        confirm(wrong.to_string()).await.expect(400),
        json!({"error": "invalid_mfa_code"})
    );
    let confirmed = confirm(cur.clone()).await.expect(200);
    assert_eq!(confirmed["mfa_enabled"], true);
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    let again = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(again.expect(409)["error"], "mfa_already_enabled");
    assert_eq!(
        s.get("/session/me", &[("authorization", &auth)])
            .await
            .expect(200)["mfa_enabled"],
        true
    );

    // Login: mfa_required, the code stays valid; a wrong code loops back to mfa_required.
    let code = mailed_code(&s, &smtp, "mia@example.com", 2).await;
    assert_eq!(
        verify(&s, &code, None).await.expect(200),
        json!({"status": "mfa_required"})
    );
    let looped = json!({"status": "mfa_required", "error": "invalid_mfa_code"});
    assert_eq!(verify(&s, &code, Some(wrong)).await.expect(401), looped);
    // The confirmation's code is spent: replay refused on the login path.
    assert_eq!(verify(&s, &code, Some(&cur)).await.expect(401), looped);
    let ok = verify(&s, &code, Some(&next)).await.expect(200);
    assert_eq!(ok["status"], "authenticated");
    let t2 = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": ok["refresh_token"]}),
        )
        .await
        .expect(200);
    assert_eq!(
        claims(t2["access_token"].as_str().unwrap())["amr"],
        json!(["otp", "mfa"])
    );

    // Disable: the login's code is spent there too; a recovery code works.
    let disable = |code: String| {
        let (s, auth) = (&s, auth.clone());
        async move {
            s.send(
                http::Method::DELETE,
                "/session/mfa/totp",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                json!({"code": code}).to_string(),
            )
            .await
        }
    };
    assert_eq!(
        disable(next.clone()).await.expect(400),
        json!({"error": "invalid_mfa_code"})
    );
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_string();
    disable(recovery).await.expect(204);
    assert_eq!(
        s.get("/session/me", &[("authorization", &auth)])
            .await
            .expect(200)["mfa_enabled"],
        false
    );
    assert_eq!(
        disable("123456".into()).await.expect(409)["error"],
        "mfa_not_enabled"
    );
    // Without MFA the next login is one step again.
    let code = mailed_code(&s, &smtp, "mia@example.com", 3).await;
    assert_eq!(
        verify(&s, &code, None).await.expect(200)["status"],
        "authenticated"
    );
}

#[tokio::test]
async fn five_wrong_mfa_codes_spend_the_session_code() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp, "").await;
    let (_, access) = signed_in(&s, &smtp, "kit@example.com", 1).await;
    let auth = bearer(&access);
    let url = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &auth)],
            "",
        )
        .await
        .expect(200)["otpauth_url"]
        .as_str()
        .unwrap()
        .to_string();
    let t = current_step();
    s.post_json(
        "/session/mfa/totp/confirm",
        &[("authorization", &auth)],
        &json!({"code": totp_at(&url, t)}),
    )
    .await
    .expect(200);
    let good = totp_at(&url, t + 1);
    let valid: Vec<String> = (t - 1..=t + 2).map(|st| totp_at(&url, st)).collect();
    let wrongs: Vec<String> = (0..10)
        .map(|i| format!("{:06}", 100_000 + i * 7919))
        .filter(|c| !valid.contains(c))
        .take(5)
        .collect();
    let code = mailed_code(&s, &smtp, "kit@example.com", 2).await;
    for w in &wrongs {
        verify(&s, &code, Some(w)).await.expect(401);
    }
    // Spent after five failures, even with the right TOTP code now.
    assert_eq!(
        verify(&s, &code, Some(&good)).await.expect(400),
        json!({"error": "invalid_session_code"})
    );
}

#[tokio::test]
async fn codes_say_when_they_expire_and_mail_is_rate_limited() {
    let smtp = Smtp::start(&[]);
    let s = start(
        &smtp,
        "[session]\ncode_ttl = 1\n[limits]\nmails_per_hour = 2\n",
    )
    .await;
    // (Expiry itself is tested with a fake clock in `rules.rs`.)
    mailed_code(&s, &smtp, "exp@example.com", 1).await;
    let mail = smtp.wait_mail("exp@example.com", 1).await;
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains("expires in 1 minute"));
    login(&s, "exp@example.com").await.expect(202);
    // No mail bomb: the third message to one address within the hour is refused.
    let r = login(&s, "EXP@example.com").await;
    assert_eq!(r.expect(429), json!({"error": "rate_limited"}));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 3000, "{retry}");
    assert_eq!(smtp.count_to("exp@example.com"), 2);
    login(&s, "other@example.com").await.expect(202);
}

#[tokio::test]
async fn a_new_code_leaves_earlier_ones_unless_configured() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp, "").await;
    let a = mailed_code(&s, &smtp, "two@example.com", 1).await;
    let b = mailed_code(&s, &smtp, "two@example.com", 2).await;
    verify(&s, &a, None).await.expect(200);
    verify(&s, &b, None).await.expect(200);

    let smtp2 = Smtp::start(&[]);
    let s2 = start(&smtp2, "[session]\ninvalidate_previous = true\n").await;
    let a = mailed_code(&s2, &smtp2, "two@example.com", 1).await;
    let b = mailed_code(&s2, &smtp2, "two@example.com", 2).await;
    verify(&s2, &a, None).await.expect(400);
    verify(&s2, &b, None).await.expect(200);
}

#[tokio::test]
async fn without_signup_unknown_addresses_get_a_notice_not_a_code() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp, "[session]\nallow_signup = false\n").await;
    // Same answer as for a known address.
    assert_eq!(
        login(&s, "stranger@example.com").await.expect(202),
        json!({"status": "code_sent"})
    );
    let mail = smtp.wait_mail("stranger@example.com", 1).await;
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("there is no account"),
        "{mail}"
    );
    // The same work as for a known address (one code written), but none was mailed.
    assert_eq!(stats(&s).await["session_codes"], 1);
    // A known account (made in another family) signs in by code.
    oauth_signup(&s, "known", "correct horse battery").await;
    let code = mailed_code(&s, &smtp, "known@example.com", 1).await;
    assert_eq!(
        verify(&s, &code, None).await.expect(200)["status"],
        "authenticated"
    );
    assert_eq!(stats(&s).await["users"], 1);
}

#[tokio::test]
async fn the_store_file_alone_holds_no_code_and_no_totp_secret() {
    let smtp = Smtp::start(&[]);
    let mut s = start(&smtp, &redb("")).await;
    let (_, access) = signed_in(&s, &smtp, "vault@example.com", 1).await;
    let e = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &bearer(&access))],
            "",
        )
        .await
        .expect(200);
    let secret_b32 = e["secret"].as_str().unwrap().to_string();
    let code = mailed_code(&s, &smtp, "vault@example.com", 2).await;
    s.stop();
    let store = std::fs::read(s.dir.path().join("store.redb")).unwrap();
    let contains = |needle: &[u8]| store.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(code.as_bytes()) && !contains(code.replace('-', "").as_bytes()),
        "session code in clear"
    );
    assert!(
        !contains(secret_b32.as_bytes()),
        "TOTP secret (base32) in clear"
    );
    let raw = py("totp_code.py", &["--raw", &secret_b32]);
    assert!(!contains(&hex_decode(&raw)), "TOTP secret (raw) in clear");
    // The key that protects them lives beside the store, readable by its owner only.
    let key = s.dir.path().join("store.redb.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A CA and a server certificate for 127.0.0.1, made fresh.
fn certificates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    py("make_cert.py", &[dir.path().to_str().unwrap()]);
    dir
}

async fn tls_round_trip(mode: &str, sink_flag: &str) {
    let certs = certificates();
    let p = |f: &str| certs.path().join(f).to_str().unwrap().to_string();
    let smtp = Smtp::start(&[
        sink_flag,
        &p("server.pem"),
        &p("server.key"),
        "--auth",
        "mailer",
        "s3cret-pw",
    ]);
    let config = format!(
        "[mail]\ntransport = \"smtp\"\nsmtp = {{ host = \"127.0.0.1\", port = {}, tls = \"{mode}\", username = \"mailer\", password = \"s3cret-pw\" }}\n",
        smtp.port
    );
    // The test CA is trusted the way an operator trusts a private CA: through the system's
    // trust store settings (SSL_CERT_FILE), not by switching verification off.
    let ca = p("ca.pem");
    let s = Server::start_with_env(&config, &[("SSL_CERT_FILE", &ca)]).await;
    login(&s, "tls@example.com").await.expect(202);
    let mail = smtp.wait_mail("tls@example.com", 1).await;
    assert_eq!(mail["envelope"]["tls"], true, "{mode}: delivered over TLS");
    assert_eq!(mail["envelope"]["auth"], true, "{mode}: authenticated");
    let code = session_code_of(&mail);
    assert_eq!(
        verify(&s, &code, None).await.expect(200)["status"],
        "authenticated"
    );

    // Without trusting the CA, the certificate is refused: no mail, 503, no code left.
    let untrusted = Server::start_with_env(
        &format!("{config}[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"),
        &[
            ("SSL_CERT_FILE", "/nonexistent.pem"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    )
    .await;
    assert_eq!(
        login(&untrusted, "tls2@example.com").await.expect(503)["error"],
        "mail_unavailable"
    );
    assert_eq!(stats(&untrusted).await["session_codes"], 0);
    assert_eq!(smtp.count_to("tls2@example.com"), 0);
}

#[tokio::test]
async fn starttls_with_authentication() {
    tls_round_trip("starttls", "--starttls").await;
}

#[tokio::test]
async fn implicit_tls_with_authentication() {
    tls_round_trip("implicit", "--implicit").await;
}

#[tokio::test]
async fn wrong_smtp_password_is_mail_unavailable() {
    let certs = certificates();
    let p = |f: &str| certs.path().join(f).to_str().unwrap().to_string();
    let smtp = Smtp::start(&[
        "--starttls",
        &p("server.pem"),
        &p("server.key"),
        "--auth",
        "mailer",
        "s3cret-pw",
    ]);
    let config = format!(
        "[mail]\ntransport = \"smtp\"\nsmtp = {{ host = \"127.0.0.1\", port = {}, tls = \"starttls\", username = \"mailer\", password = \"wrong\" }}\n",
        smtp.port
    );
    let s = Server::start_with_env(&config, &[("SSL_CERT_FILE", &p("ca.pem"))]).await;
    assert_eq!(
        login(&s, "pw@example.com").await.expect(503)["error"],
        "mail_unavailable"
    );
}

#[tokio::test]
async fn a_silent_mail_server_delays_only_its_own_request() {
    // Accepts connections, never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        loop {
            if let Ok((c, _)) = silent.accept().await {
                conns.push(c);
            }
        }
    });
    let config = format!(
        "[mail]\ntransport = \"smtp\"\ntimeout = 2\nsmtp = {{ host = \"127.0.0.1\", port = {port} }}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    );
    let s = std::sync::Arc::new(Server::start(&config).await);
    let started = std::time::Instant::now();
    let pending = {
        let s = s.clone();
        tokio::spawn(async move { login(&s, "slow@example.com").await.status.as_u16() })
    };
    // Meanwhile the server answers everything else at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        s.get("/healthz", &[]).await.expect(200);
        oauth_login(&s, "nobody", "correct horse battery")
            .await
            .expect(400);
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "blocked behind the mail server"
        );
    }
    assert_eq!(pending.await.unwrap(), 503);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(stats(&s).await["session_codes"], 0);
    held.abort();
}

#[tokio::test]
async fn recovery_codes_replace_a_lost_device() {
    let smtp = Smtp::start(&[]);
    let mut s = start(&smtp, &redb("")).await;
    let (_, access) = signed_in(&s, &smtp, "rec@example.com", 1).await;
    let auth = bearer(&access);
    let url = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &auth)],
            "",
        )
        .await
        .expect(200)["otpauth_url"]
        .as_str()
        .unwrap()
        .to_string();
    let t = current_step();
    let c = s
        .post_json(
            "/session/mfa/totp/confirm",
            &[("authorization", &auth)],
            &json!({"code": totp_at(&url, t)}),
        )
        .await;
    assert_eq!(c.header("cache-control"), Some("no-store"));
    let codes: Vec<String> = c.expect(200)["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(codes
        .iter()
        .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));

    // The device is lost: a recovery code signs in, once.
    let code = mailed_code(&s, &smtp, "rec@example.com", 2).await;
    let ok = verify(&s, &code, Some(&codes[0])).await.expect(200);
    assert_eq!(ok["status"], "authenticated");
    let code = mailed_code(&s, &smtp, "rec@example.com", 3).await;
    assert_eq!(
        verify(&s, &code, Some(&codes[0])).await.expect(401)["error"],
        "invalid_mfa_code"
    );
    // Typed loosely, another one works.
    assert_eq!(
        verify(&s, &code, Some(&codes[1].to_lowercase().replace('-', " ")))
            .await
            .expect(200)["status"],
        "authenticated"
    );

    // Regenerating (proven by a recovery code here) voids the old set.
    let r = s
        .post_json(
            "/session/mfa/recovery-codes",
            &[("authorization", &auth)],
            &json!({"code": codes[2]}),
        )
        .await
        .expect(200);
    let fresh: Vec<String> = r["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    let code = mailed_code(&s, &smtp, "rec@example.com", 4).await;
    assert_eq!(
        verify(&s, &code, Some(&codes[3])).await.expect(401)["error"],
        "invalid_mfa_code"
    );
    // A recovery code can switch TOTP off.
    s.send(
        http::Method::DELETE,
        "/session/mfa/totp",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        json!({"code": fresh[0]}).to_string(),
    )
    .await
    .expect(204);
    // Stored only as keyed hashes.
    s.stop();
    let store = std::fs::read(s.dir.path().join("store.redb")).unwrap();
    for c in fresh.iter().chain(codes.iter()) {
        let plain = c.replace('-', "");
        assert!(
            !store.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "recovery code in clear"
        );
    }
}
