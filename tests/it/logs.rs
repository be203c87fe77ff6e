//! The server's output: JSON lines when asked (or when not on a terminal), one line per
//! request, audit events — and never a token, code, password, secret or query string,
//! whatever the family, even at debug level.

use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "log-scrape password 1";
const ADMIN: &str = "admin-token-for-the-log-test-0123";

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n[log]\nformat = \"json\"\n[tokens]\nreuse_interval = 0\n[oauth]\nclients = [{{ id = \"web\", secret = \"client-secret-never-logged\" }}]\n",
        smtp.config("none")
    ))
    .await;
    let client = "Basic d2ViOmNsaWVudC1zZWNyZXQtbmV2ZXItbG9nZ2Vk"; // web:client-secret-never-logged
    let mut secrets: Vec<String> = vec![
        PW.into(),
        "client-secret-never-logged".into(),
        ADMIN.into(),
        "wrong-password-x".into(),
    ];

    // oauth
    let u = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "logs@example.com", "password": PW, "user_name": "logs"}),
        )
        .await
        .expect(201);
    let t = s
        .post_json(
            "/auth/token",
            &[("authorization", client)],
            &json!({"grant_type": "password", "user_name": "logs", "password": PW}),
        )
        .await
        .expect(200);
    s.post_json(
        "/auth/token",
        &[("authorization", client)],
        &json!({"grant_type": "password", "user_name": "logs", "password": "wrong-password-x"}),
    )
    .await
    .expect(400);
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": t["refresh_token"]}),
        )
        .await
        .expect(200);
    s.get(
        "/users/me",
        &[(
            "authorization",
            &bearer(r["access_token"].as_str().unwrap()),
        )],
    )
    .await
    .expect(200);
    s.post_form(
        "/oauth/introspect",
        &[("authorization", client)],
        &format!("token={}", r["access_token"].as_str().unwrap()),
    )
    .await
    .expect(200);
    for v in [
        &t["access_token"],
        &t["refresh_token"],
        &r["access_token"],
        &r["refresh_token"],
    ] {
        secrets.push(v.as_str().unwrap().into());
    }
    // toolkit
    let a = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": "logs", "password": PW}),
        )
        .await
        .expect(200);
    s.post_json(
        "/api/auth/accounts:lookup",
        &[],
        &json!({"idToken": a["idToken"]}),
    )
    .await
    .expect(200);
    secrets.push(a["idToken"].as_str().unwrap().into());
    secrets.push(a["refreshToken"].as_str().unwrap().into());
    // v0: credentials in the query string
    let q = format!("email=logs%40example.com&password={}", PW.replace(' ', "+"));
    let p = s
        .get(&format!("/api/v0/user/verify?{q}"), &[])
        .await
        .expect(200);
    secrets.push(q.clone());
    secrets.push(p["access_token"].as_str().unwrap().into());
    // session: code by mail, TOTP
    s.post_json("/session/login", &[], &json!({"email": "logs@example.com"}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail("logs@example.com", 1).await);
    let v = s
        .post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(200);
    let st = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": v["refresh_token"]}),
        )
        .await
        .expect(200);
    let access = st["access_token"].as_str().unwrap();
    let e = s
        .send(
            http::Method::POST,
            "/session/mfa/totp",
            &[("authorization", &bearer(access))],
            "",
        )
        .await
        .expect(200);
    let totp_now = py("totp_code.py", &[e["otpauth_url"].as_str().unwrap()]);
    s.post_json(
        "/session/mfa/totp/confirm",
        &[("authorization", &bearer(access))],
        &json!({"code": totp_now}),
    )
    .await
    .expect(200);
    secrets.extend([
        code.clone(),
        code.replace('-', ""),
        v["refresh_token"].as_str().unwrap().into(),
        access.into(),
    ]);
    secrets.push(e["secret"].as_str().unwrap().into());
    // admin
    s.admin_req(http::Method::GET, "/admin/users?limit=5", Some(ADMIN))
        .await
        .expect(200);
    s.admin_req(
        http::Method::POST,
        &format!("/admin/users/{}/disable", u["id"].as_str().unwrap()),
        Some(ADMIN),
    )
    .await
    .expect(200);
    // A refresh-token reuse (audit event): a real token, spent, presented again.
    let other = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "reuse@example.com", "password": PW, "user_name": "reuse"}),
        )
        .await
        .expect(201);
    let t1 = s
        .post_json(
            "/auth/token",
            &[("authorization", client)],
            &json!({"grant_type": "password", "user_name": "reuse", "password": PW}),
        )
        .await
        .expect(200);
    let spent = t1["refresh_token"].as_str().unwrap().to_string();
    let t2 = s
        .post_json("/auth/refresh-token", &[], &json!({"refresh_token": spent}))
        .await
        .expect(200);
    s.post_json("/auth/refresh-token", &[], &json!({"refresh_token": spent}))
        .await
        .expect(400);
    secrets.push(spent);
    secrets.push(t2["refresh_token"].as_str().unwrap().into());

    let log = s.log();
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "`{secret}` appears in the log"
        );
    }
    assert!(!log.contains("change-me"));
    // JSON lines, one per request with family, route, status, duration; audit events.
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 20, "{log}");
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "latchkey::request")
        .collect();
    assert!(requests.len() >= 15);
    for r in &requests {
        for k in ["family", "route", "status", "micros", "method"] {
            assert!(!r[k].is_null(), "{k} missing in {r}");
        }
    }
    assert!(requests
        .iter()
        .any(|r| r["family"] == "v0" && r["route"] == "verify"));
    let audit: Vec<&str> = lines
        .iter()
        .filter(|l| l["target"] == "latchkey::audit")
        .filter_map(|l| l["event"].as_str())
        .collect();
    for ev in [
        "sign_in",
        "sign_in_failed",
        "mfa_enabled",
        "admin_state_change",
        "family_revoked",
    ] {
        assert!(audit.contains(&ev), "no audit event {ev}: {audit:?}");
    }
    // The reuse is told once, with its cause and whose family it was.
    let reuse: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "latchkey::audit" && l["cause"] == "reuse")
        .collect();
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["user"], other["id"]);
}
