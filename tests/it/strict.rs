//! The smaller holes of the attack (issue 10, item 11), each against the real binary:
//! ambiguous admin keys, duplicate JSON members in v0, lossy form decoding, `Bearer`
//! followed by several spaces, admin tokens that can never match, and error descriptions
//! that echo what was sent.

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

#[tokio::test]
async fn an_admin_key_that_names_two_users_is_refused_not_guessed() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
    .await;
    // User number 1 is `first`; another user is named "1".
    let first = oauth_signup(&s, "first", PW).await;
    let named = s
        .post_json(
            "/api/auth/accounts:signUp",
            &[],
            &json!({"username": "1", "password": PW}),
        )
        .await
        .expect(201);
    let r = s
        .admin_req(http::Method::GET, "/admin/users/1", Some(ADMIN))
        .await;
    assert_eq!(r.expect(409)["error"], "ambiguous_key");
    let r = s
        .admin_req(http::Method::GET, "/admin/users/num:1", Some(ADMIN))
        .await;
    assert_eq!(r.expect(200)["id"], first["id"]);
    let r = s
        .admin_req(http::Method::GET, "/admin/users/username:1", Some(ADMIN))
        .await;
    assert_eq!(r.expect(200)["id"], named["localId"]);
    // The command line says what to do.
    let (code, _, err) = s.cli(&["user", "disable", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("id:, num:, email: or username:"), "{err}");
}

#[tokio::test]
async fn strict_bodies_headers_and_errors() {
    let s = Server::start("").await;
    // v0 refuses duplicate members, as the other families do.
    let r = s
        .send(
            http::Method::POST,
            "/api/v0/user",
            &[("content-type", "application/json")],
            r#"{"email":"a@example.com","email":"b@example.com","first_name":"A","last_name":"B","password":"correct horse battery","password_confirmation":"correct horse battery"}"#,
        )
        .await;
    assert_eq!(r.expect(400)["error"]["body"][0]["error"], "ERR_INVALID");
    // A form value that is not UTF-8 is refused, not turned into U+FFFD.
    oauth_signup(&s, "utf", PW).await;
    for bad in ["%FF", "%FE", "%80"] {
        let r = s
            .post_form(
                "/auth/token",
                &[("authorization", WEB_CLIENT)],
                &format!("grant_type=password&username=utf&password={bad}"),
            )
            .await;
        assert_eq!(r.expect(400)["error"], "invalid_request", "{bad}");
    }
    // `Bearer` and one or more spaces (RFC 6750: 1*SP).
    let t = oauth_login(&s, "utf", PW).await.expect(200);
    let at = t["access_token"].as_str().unwrap();
    s.get("/users/me", &[("authorization", &format!("Bearer   {at}"))])
        .await
        .expect(200);
    // Errors say what is wrong without repeating what was sent.
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "x@example.com", "password": {"nested": "secret-value-123"}, "user_name": "x"}),
        )
        .await;
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 400);
    assert!(
        !body.contains("secret-value-123") && !body.contains("String"),
        "{body}"
    );
}

#[tokio::test]
async fn an_admin_token_that_could_never_match_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        config_text(
            dir.path(),
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"an admin token with spaces\"\n",
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--config")
        .arg(dir.path().join("auth.toml"))
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin.token"), "{err}");
}
