//! One account policy through every door: the holes an attack on the running server
//! found, each with its regression test against the real binary (issue 10).

use serde_json::{json, Value};

use crate::support::*;

pub(crate) const PW: &str = "correct horse battery";

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey::primitives::b64url_decode(payload).unwrap()).unwrap()
}

/// An account made through `oauth` with a password (`PW`, `name@example.com`), its email
/// proven through its own session: its access token.
pub(crate) async fn account_with_proven_email(s: &Server, smtp: &Smtp, name: &str) -> String {
    oauth_signup(s, name, PW).await;
    let t = oauth_login(s, name, PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();
    let auth = bearer(&access);
    let email = format!("{name}@example.com");
    s.post_json(
        "/session/email/verify/start",
        &[("authorization", &auth)],
        &json!({}),
    )
    .await
    .expect(202);
    let code = session_code_of(&smtp.wait_mail(&email, 1).await);
    assert_eq!(
        s.post_json(
            "/session/email/verify",
            &[("authorization", &auth)],
            &json!({"code": code})
        )
        .await
        .expect(200),
        json!({"email_verified": true})
    );
    access
}

/// An account made through `oauth` with a password, its email proven through its own
/// session, and TOTP on: (access token, TOTP secret, recovery codes).
pub(crate) async fn account_with_totp(
    s: &Server,
    smtp: &Smtp,
    name: &str,
) -> (String, String, Vec<String>) {
    let access = account_with_proven_email(s, smtp, name).await;
    let auth = bearer(&access);
    let (secret, c) = enroll_totp(s, &auth).await;
    let recovery = c["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (access, secret, recovery)
}

/// Sets up TOTP for the user of `auth` (a bearer header) through the `session` family:
/// the secret, and the confirmation's answer (the recovery codes).
pub(crate) async fn enroll_totp(s: &Server, auth: &str) -> (String, Value) {
    let secret = s
        .post_json("/session/mfa/totp", &[("authorization", auth)], &json!({}))
        .await
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let c = s
        .post_json(
            "/session/mfa/totp/confirm",
            &[("authorization", auth)],
            &json!({"code": totp_at(&secret, now_ms())}),
        )
        .await
        .expect(200);
    (secret, c)
}

#[tokio::test]
async fn every_password_door_asks_for_the_second_factor() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let (_, secret, recovery) = account_with_totp(&s, &smtp, "mia").await;

    // oauth, the seed's JSON: no tokens from the password alone.
    let grant = |extra: Value| {
        let mut body = json!({"grant_type": "password", "user_name": "mia", "password": PW});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &grant(json!({})),
        )
        .await;
    assert_eq!(r.expect(401)["error"], "mfa_required");
    assert!(!String::from_utf8_lossy(&r.body).contains("access_token"));
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &grant(json!({"mfa_code": "000000"})),
        )
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_mfa_code");
    // The next step's code (the confirming one was this step's).
    let next = totp_at(&secret, now_ms() + 30_000);
    let t = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &grant(json!({"mfa_code": next})),
        )
        .await
        .expect(200);
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    // ... and that TOTP code never again, whatever the door.
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &grant(json!({"mfa_code": next})),
        )
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_mfa_code");

    // oauth, RFC 6749 form: a recovery code works where a TOTP code does, once.
    let form =
        |mfa: &str| format!("grant_type=password&username=mia&password=correct+horse+battery{mfa}");
    let r = s
        .post_form("/auth/token", &[("authorization", WEB_CLIENT)], &form(""))
        .await;
    assert_eq!(r.expect(401)["error"], "mfa_required");
    s.post_form(
        "/auth/token",
        &[("authorization", WEB_CLIENT)],
        &form(&format!("&mfa_code={}", recovery[0])),
    )
    .await
    .expect(200);
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &form(&format!("&mfa_code={}", recovery[0])),
        )
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_mfa_code");

    // toolkit: a pending credential and no tokens; then mfaSignIn:finalize.
    let signin = || async {
        s.post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": "mia", "password": PW}),
        )
        .await
    };
    let p = signin().await.expect(200);
    assert!(
        p.get("idToken").is_none() && p.get("refreshToken").is_none(),
        "{p}"
    );
    assert_eq!(p["mfaInfo"][0]["mfaEnrollmentId"], "totp");
    assert!(p["localId"].is_string());
    let pending = p["mfaPendingCredential"].as_str().unwrap().to_string();
    let finalize = |pending: &str, code: &str| {
        let body = json!({"mfaPendingCredential": pending, "totpVerificationInfo": {"verificationCode": code}});
        let s = &s;
        async move {
            s.post_json("/api/auth/accounts/mfaSignIn:finalize", &[], &body)
                .await
        }
    };
    let r = finalize(&pending, "123456").await;
    assert_eq!(r.expect(400)["error"]["message"], "INVALID_MFA_CODE");
    let ok = finalize(&pending, &recovery[1]).await.expect(200);
    assert_eq!(ok["localId"], p["localId"]);
    assert_eq!(
        claims(ok["idToken"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    let r = finalize(&pending, &recovery[2]).await;
    assert_eq!(
        r.expect(400)["error"]["message"],
        "INVALID_MFA_PENDING_CREDENTIAL",
        "single use"
    );
    // Five wrong codes spend a pending credential.
    let pending = signin().await.expect(200)["mfaPendingCredential"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..5 {
        finalize(&pending, "654321").await.expect(400);
    }
    let r = finalize(&pending, &recovery[2]).await;
    assert_eq!(
        r.expect(400)["error"]["message"],
        "INVALID_MFA_PENDING_CREDENTIAL"
    );

    // v0: mfa_code travels like the credentials.
    let verify = |q: &str| {
        let path = format!("/api/v0/user/verify?{q}");
        let s = &s;
        async move { s.get(&path, &[]).await }
    };
    let creds = "email=mia%40example.com&password=correct+horse+battery";
    let r = verify(creds).await;
    assert_eq!(
        r.expect(401)["error"]["mfa_code"][0]["error"],
        "ERR_MFA_REQUIRED"
    );
    let r = verify(&format!("{creds}&mfa_code=111111")).await;
    assert_eq!(
        r.expect(401)["error"]["mfa_code"][0]["error"],
        "ERR_INVALID"
    );
    let v = verify(&format!("{creds}&mfa_code={}", recovery[3]))
        .await
        .expect(200);
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
}

#[tokio::test]
async fn wrong_second_factors_count_toward_the_lockout() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[limits]\nlockout_failures = 3\n",
        smtp.config("none")
    ))
    .await;
    let (_, secret, _) = account_with_totp(&s, &smtp, "leo").await;
    let grant = |code: &str| json!({"grant_type": "password", "user_name": "leo", "password": PW, "mfa_code": code});
    for _ in 0..3 {
        let r = s
            .post_json(
                "/auth/token",
                &[("authorization", WEB_CLIENT)],
                &grant("000001"),
            )
            .await;
        assert_eq!(r.expect(401)["error"], "invalid_mfa_code");
    }
    // Locked, even with the right password and the right code.
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &grant(&totp_at(&secret, now_ms() + 30_000)),
        )
        .await;
    assert_eq!(r.expect(429)["error"], "too_many_attempts");
}

#[tokio::test]
async fn the_mailbox_owner_wins_over_an_earlier_sign_up() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    // The attacker signs up first with the victim's address and a password of his own.
    let evil = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "victim@example.com", "password": "attacker's own pass", "user_name": "squatter"}),
        )
        .await
        .expect(201);
    let t = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &json!({"grant_type": "password", "user_name": "squatter", "password": "attacker's own pass"}),
        )
        .await
        .expect(200);
    // The victim signs in by mailed code: she lands in the account (its id stays) ...
    s.post_json(
        "/session/login",
        &[],
        &json!({"email": "victim@example.com"}),
    )
    .await
    .expect(202);
    let code = session_code_of(&smtp.wait_mail("victim@example.com", 1).await);
    let v = s
        .post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(200);
    assert_eq!(v["user_id"], evil["id"]);
    // ... and everything the attacker set up is gone.
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &json!({"grant_type": "password", "user_name": "squatter", "password": "attacker's own pass"}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": t["refresh_token"]}),
    )
    .await
    .expect(400);
    s.get(
        "/users/me",
        &[(
            "authorization",
            &bearer(t["access_token"].as_str().unwrap()),
        )],
    )
    .await
    .expect(401);
    // The victim's session says the address is proven.
    let at = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": v["refresh_token"]}),
        )
        .await
        .expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = s
        .get("/session/me", &[("authorization", &bearer(&at))])
        .await
        .expect(200);
    assert_eq!(me["email_verified"], true);
    assert!(s.log().contains("email_proven"));
}

#[tokio::test]
async fn a_proof_asked_for_by_the_account_keeps_its_password() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let (_, secret, _) = account_with_totp(&s, &smtp, "kim").await;
    // A later sign-in by code does not wipe a proven account: the password and the
    // second factor stay, and the code sign-in asks for the second factor.
    s.post_json("/session/login", &[], &json!({"email": "kim@example.com"}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail("kim@example.com", 2).await);
    assert_eq!(
        s.post_json("/session/verify", &[], &json!({"session_code": code}))
            .await
            .expect(200),
        json!({"status": "mfa_required"})
    );
    s.post_json(
        "/auth/token",
        &[("authorization", WEB_CLIENT)],
        &json!({"grant_type": "password", "user_name": "kim", "password": PW,
                "mfa_code": totp_at(&secret, now_ms() + 30_000)}),
    )
    .await
    .expect(200);
    // The password alone still gets no tokens.
    let t = oauth_login(&s, "kim", PW).await;
    assert_eq!(t.expect(401)["error"], "mfa_required");
}

#[tokio::test]
async fn concurrent_attempts_check_at_most_the_limit() {
    let s = std::sync::Arc::new(
        Server::start("[limits]\nlockout_failures = 10\nper_ip_per_minute = 0\n[password]\nhash_queue = 200\n").await,
    );
    oauth_signup(&s, "ned", PW).await;
    // Only wrong guesses race: a success forgives its source's failures, so the right
    // password among them could rightly let more through.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            oauth_login(&s, "ned", &format!("wrong password {i}"))
                .await
                .status
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|c| **c == 400).count();
    assert!(checked <= 10, "{checked} checked: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|c| **c == 429).count(),
        40 - checked,
        "{statuses:?}"
    );
    // Locked: the right password is refused too.
    oauth_login(&s, "ned", PW).await.expect(429);
}

#[tokio::test]
async fn concurrent_second_factors_check_at_most_the_limit() {
    let smtp = Smtp::start(&[]);
    let s = std::sync::Arc::new(
        Server::start(&format!(
            "{}[limits]\nlockout_failures = 10\nper_ip_per_minute = 0\n[password]\nhash_queue = 400\n",
            smtp.config("none")
        ))
        .await,
    );
    account_with_totp(&s, &smtp, "ora").await;
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post_json(
                "/auth/token",
                &[("authorization", WEB_CLIENT)],
                &json!({"grant_type": "password", "user_name": "ora", "password": PW,
                        "mfa_code": format!("{:06}", 100_000 + i)}),
            )
            .await
            .status
            .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|c| **c == 401 || **c == 200).count();
    assert!(checked <= 10, "{checked} checked");
    assert!(
        statuses.iter().all(|c| [401, 429, 200].contains(c)),
        "{statuses:?}"
    );
}

/// A request that claims to come from `ip` through the trusted proxy (the test client,
/// on 127.0.0.1).
fn from(ip: &str) -> (&'static str, String) {
    ("x-forwarded-for", ip.to_string())
}

#[tokio::test]
async fn a_locked_out_source_does_not_lock_the_owner_out() {
    let s = Server::start(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[limits]\nlockout_failures = 3\nlockout_failures_total = 6\n",
    )
    .await;
    oauth_signup(&s, "pat", PW).await;
    let login = |ip: &str, pw: &str| {
        let (k, v) = from(ip);
        let body = json!({"grant_type": "password", "user_name": "pat", "password": pw});
        let s = &s;
        async move {
            s.post_json(
                "/auth/token",
                &[("authorization", WEB_CLIENT), (k, &v)],
                &body,
            )
            .await
        }
    };
    // The owner has signed in from home before.
    login("203.0.113.5", PW).await.expect(200);
    // An attacker's source is locked out of the account after three guesses...
    for _ in 0..3 {
        login("198.51.100.1", "guess").await.expect(400);
    }
    assert_eq!(
        login("198.51.100.1", PW).await.expect(429)["error"],
        "too_many_attempts"
    );
    // ... the owner elsewhere is not.
    login("192.0.2.10", PW).await.expect(200);
    // A second attacker spends the account's total (6): new sources may not try at all,
    // whatever they send ...
    for _ in 0..3 {
        login("198.51.100.2", "guess").await.expect(400);
    }
    login("198.51.100.3", PW).await.expect(429);
    // ... while sources that signed in before still get in.
    login("203.0.113.5", PW).await.expect(200);
    login("192.0.2.10", PW).await.expect(200);
}

#[tokio::test]
async fn the_mail_quota_is_per_address_and_source_and_plus_tags_count_as_one() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[limits]\nmails_per_hour = 2\n",
        smtp.config("none")
    ))
    .await;
    let ask = |ip: &str, email: &str| {
        let (k, v) = from(ip);
        let s = &s;
        let body = json!({"email": email});
        async move { s.post_json("/session/login", &[(k, &v)], &body).await }
    };
    // The attacker, from one source, with plus-tagged variants of the victim's address.
    ask("198.51.100.1", "vic@example.com").await.expect(202);
    ask("198.51.100.1", "vic+1@example.com").await.expect(202);
    assert_eq!(
        ask("198.51.100.1", "VIC+2@example.com").await.expect(429)["error"],
        "rate_limited"
    );
    // The owner, from her own source, still gets her code.
    ask("203.0.113.5", "vic@example.com").await.expect(202);
    assert_eq!(smtp.count_to("vic@example.com"), 2);
}

#[tokio::test]
async fn one_source_cannot_keep_others_from_being_hashed() {
    let s = std::sync::Arc::new(
        Server::start(
            "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[password]\nhash_threads = 1\nhash_queue = 8\nscrypt = { log_n = 13, r = 8, p = 1 }\n[limits]\nper_ip_per_minute = 0\nlockout_failures = 100000\nlockout_failures_total = 100000\n",
        )
        .await,
    );
    oauth_signup(&s, "quin", PW).await;
    // Eight sources keep the hashing queue busy...
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for a in 1..=8u8 {
        for _ in 0..6 {
            let (s, stop) = (s.clone(), stop.clone());
            flood.push(tokio::spawn(async move {
                let xff = format!("198.51.100.{a}");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.post_json(
                        "/auth/token",
                        &[("authorization", WEB_CLIENT), ("x-forwarded-for", &xff)],
                        &json!({"grant_type": "password", "user_name": "nobody", "password": "x y z w"}),
                    )
                    .await;
                }
            }));
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // ... and a ninth still gets its sign-ins hashed.
    let mut shed = 0;
    for _ in 0..10 {
        let r = s
            .post_json(
                "/auth/token",
                &[
                    ("authorization", WEB_CLIENT),
                    ("x-forwarded-for", "203.0.113.9"),
                ],
                &json!({"grant_type": "password", "user_name": "quin", "password": PW}),
            )
            .await;
        match r.status.as_u16() {
            200 => {}
            503 => shed += 1,
            other => panic!("{other}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }
    assert!(shed <= 1, "{shed} of 10 legitimate sign-ins shed");
}

#[tokio::test]
async fn malformed_requests_do_not_drain_a_sources_bucket() {
    let s = Server::start("[limits]\nper_ip_per_minute = 10\n").await;
    oauth_signup(&s, "rex", PW).await;
    for _ in 0..100 {
        s.send(
            http::Method::POST,
            "/auth/token",
            &[
                ("content-type", "application/json"),
                ("authorization", WEB_CLIENT),
            ],
            "{not json",
        )
        .await
        .expect(400);
    }
    oauth_login(&s, "rex", PW).await.expect(200);
}

#[tokio::test]
async fn nobody_picks_a_privileged_role_at_sign_up() {
    let s = Server::start("").await;
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "boss@example.com", "password": PW, "user_name": "boss", "role": "manager"}),
        )
        .await;
    assert_eq!(r.expect(403)["error"], "role_not_allowed");
}

#[tokio::test]
async fn identifiers_are_compared_as_people_read_them() {
    let s = Server::start("").await;
    let signup = |name: &str, email: &str, pw: &str| {
        let body = json!({"email": email, "password": pw, "user_name": name});
        let s = &s;
        async move { s.post_json("/users", &[], &body).await }
    };
    let u = signup("JimCarrey", "jim@example.com", PW).await.expect(201);
    assert_eq!(u["user_name"], "jimcarrey", "case-mapped");
    // Width, case, NFD and look-alikes in another script: the same name.
    for (i, twin) in [
        "ＪＩＭＣＡＲＲＥＹ",
        "JIMCARREY",
        "jimc\u{430}rrey", // Cyrillic а
    ]
    .iter()
    .enumerate()
    {
        let r = signup(twin, &format!("twin{i}@example.com"), PW).await;
        assert_eq!(r.expect(409)["error"], "user_exists", "{twin}");
    }
    signup("jos\u{e9}", "jose@example.com", PW)
        .await
        .expect(201);
    let r = signup("jose\u{301}", "jose2@example.com", PW).await;
    assert_eq!(r.expect(409)["error"], "user_exists", "NFD");
    // Invisible and bidi controls, and a fullwidth @, are no username at all.
    for bad in [
        "jim\u{200b}carrey2",
        "jim\u{202e}carrey3",
        "victim\u{ff20}example.com",
    ] {
        let r = signup(bad, "bad@example.com", PW).await;
        assert_eq!(r.expect(400)["error"], "invalid_request", "{bad:?}");
    }
    // One letter and seven combining marks is one character, however many bytes.
    let stacked = format!("a{}", "\u{301}".repeat(7));
    let r = signup("stacky", "stacky@example.com", &stacked).await;
    assert_eq!(r.expect(400)["error"], "weak_password");
    // Signing in, the login is read the same way.
    oauth_login(&s, "ＪＩＭＣＡＲＲＥＹ", PW).await.expect(200);
    s.post_form(
        "/auth/token",
        &[("authorization", WEB_CLIENT)],
        "grant_type=password&username=jim%EF%BC%A0example.com&password=correct+horse+battery",
    )
    .await
    .expect(200);
}
