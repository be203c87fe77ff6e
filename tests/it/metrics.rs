//! `GET /metrics` on the admin listener: Prometheus text that the official parser reads,
//! counters that move with requests.

use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

async fn scrape(s: &Server) -> Vec<Value> {
    let r = s
        .admin_req(http::Method::GET, "/metrics", Some(ADMIN))
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &r.body).unwrap();
    serde_json::from_str(&py("prom_parse.py", &[file.path().to_str().unwrap()])).unwrap()
}

fn value(samples: &[Value], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| {
            labels
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &s["labels"][k] == v)
        })
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_parse_and_move_with_requests() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n[limits]\nlockout_failures = 2\n",
        smtp.config("none")
    ))
    .await;
    assert_eq!(
        s.admin_req(http::Method::GET, "/metrics", None)
            .await
            .status,
        401
    );
    let before = scrape(&s).await;
    oauth_signup(&s, "met", PW).await;
    let t = oauth_login(&s, "met", PW).await.expect(200);
    oauth_login(&s, "met", "wrong password!").await.expect(400);
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": t["refresh_token"]}),
        )
        .await
        .expect(200);
    s.post_form(
        "/oauth/revoke",
        &[("authorization", WEB_CLIENT)],
        &format!("token={}", r["refresh_token"].as_str().unwrap()),
    )
    .await;
    s.get("/users/me", &[]).await.expect(401);
    // A mailed code, redeemed; a wrong one; a mail the server refuses.
    s.post_json("/session/login", &[], &json!({"email": "otp@example.com"}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail("otp@example.com", 1).await);
    s.post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(200);
    s.post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(400);
    s.post_json(
        "/session/login",
        &[],
        &json!({"email": "x@refused.example"}),
    )
    .await
    .expect(400);
    // Two more wrong passwords: the second locks (lockout_failures = 2 within the window).
    oauth_login(&s, "met", "wrong password!").await.expect(400);
    let after = scrape(&s).await;

    let d = |name: &str, labels: Value| {
        value(&after, name, labels.clone()) - value(&before, name, labels)
    };
    assert_eq!(
        d(
            "latchkey_requests_total",
            json!({"family": "oauth", "route": "token", "status": "200"})
        ),
        1.0
    );
    assert_eq!(
        d(
            "latchkey_requests_total",
            json!({"family": "oauth", "route": "token", "status": "400"})
        ),
        2.0
    );
    assert_eq!(
        d(
            "latchkey_requests_total",
            json!({"family": "oauth", "route": "me", "status": "401"})
        ),
        1.0
    );
    assert_eq!(
        d(
            "latchkey_request_duration_seconds_count",
            json!({"family": "oauth", "route": "token"})
        ),
        3.0
    );
    assert!(
        d(
            "latchkey_request_duration_seconds_sum",
            json!({"family": "oauth", "route": "token"})
        ) > 0.0
    );
    assert_eq!(
        d(
            "latchkey_sign_ins_total",
            json!({"method": "pwd", "result": "ok"})
        ),
        1.0
    );
    assert_eq!(
        d(
            "latchkey_sign_ins_total",
            json!({"method": "pwd", "result": "failed"})
        ),
        2.0
    );
    assert_eq!(
        d(
            "latchkey_sign_ins_total",
            json!({"method": "otp", "result": "ok"})
        ),
        1.0
    );
    assert_eq!(
        d(
            "latchkey_sign_ins_total",
            json!({"method": "otp", "result": "failed"})
        ),
        1.0
    );
    assert_eq!(d("latchkey_mails_sent_total", json!({})), 1.0);
    assert_eq!(d("latchkey_mails_failed_total", json!({})), 1.0);
    assert_eq!(d("latchkey_lockouts_total", json!({})), 1.0);
    assert_eq!(d("latchkey_hash_shed_total", json!({})), 0.0);
    assert_eq!(d("latchkey_refresh_rotations_total", json!({})), 1.0);
    assert_eq!(
        d(
            "latchkey_family_revocations_total",
            json!({"cause": "rfc7009"})
        ),
        1.0
    );
    assert_eq!(value(&after, "latchkey_users", json!({})), 2.0);
    assert!(value(&after, "latchkey_store_size_bytes", json!({})) > 0.0);
    assert!(after
        .iter()
        .any(|s| s["name"] == "latchkey_hash_queue_depth" && s["type"] == "gauge"));
}
