//! Account states in every family, the admin API (wrong, missing and right token) and the
//! command line both ways (through the admin API, and directly on a stopped server).

use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn admin_config() -> String {
    format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n")
}

/// Sign-in answers of the three password families for `name`.
async fn sign_ins(s: &Server, name: &str) -> (Value, Value, Value) {
    let o = oauth_login(s, name, PW).await;
    let t = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": name, "password": PW}),
        )
        .await;
    let email = format!("{name}@example.com").replace('@', "%40");
    let v = s
        .get(
            &format!(
                "/api/v0/user/verify?email={email}&password={}",
                PW.replace(' ', "+")
            ),
            &[],
        )
        .await;
    let tag = |r: &Resp| json!({"status": r.status.as_u16(), "body": if r.body.is_empty() { Value::Null } else { r.json() }});
    (tag(&o), tag(&t), tag(&v))
}

async fn authenticated_calls(s: &Server, access: &str) -> Vec<u16> {
    let auth = bearer(access);
    vec![
        s.get("/users/me", &[("authorization", &auth)])
            .await
            .status
            .as_u16(),
        s.send(
            http::Method::POST,
            "/api/auth/accounts:lookup",
            &[("authorization", &auth)],
            "",
        )
        .await
        .status
        .as_u16(),
        s.get("/api/v0/user", &[("authorization", &auth)])
            .await
            .status
            .as_u16(),
    ]
}

#[tokio::test]
async fn admin_api_requires_its_token() {
    let s = Server::start(&admin_config()).await;
    let r = s.admin_req(http::Method::GET, "/admin/users", None).await;
    assert_eq!(r.expect(401)["error"], "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.admin_req(
        http::Method::GET,
        "/admin/users",
        Some("admin-token-0123456789abcdeX"),
    )
    .await
    .expect(401);
    let v = s
        .admin_req(http::Method::GET, "/admin/users", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(v["users"], json!([]));
    s.admin_req(http::Method::GET, "/admin/nothing", Some(ADMIN))
        .await
        .expect(404);
    s.admin_req(http::Method::PUT, "/admin/keys", Some(ADMIN))
        .await
        .expect(405);
    s.admin_req(http::Method::GET, "/admin/users/ghost", Some(ADMIN))
        .await
        .expect(404);
    // The admin API is not on the public listener.
    s.get("/admin/users", &[("authorization", &bearer(ADMIN))])
        .await
        .expect(404);
    // And it is off when no token is configured.
    let off = Server::start("").await;
    assert!(off.admin.is_none());
}

#[tokio::test]
async fn each_state_in_each_family() {
    let s = Server::start(&admin_config()).await;
    oauth_signup(&s, "sam", PW).await;
    let (o, t, v) = sign_ins(&s, "sam").await;
    assert_eq!(
        (
            o["status"].as_u64(),
            t["status"].as_u64(),
            v["status"].as_u64()
        ),
        (Some(200), Some(200), Some(200))
    );
    let access = o["body"]["access_token"].as_str().unwrap().to_string();
    let refresh = o["body"]["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(authenticated_calls(&s, &access).await, vec![200, 200, 200]);

    // Disabled.
    let d = s
        .admin_req(http::Method::POST, "/admin/users/sam/disable", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(d["state"], "disabled");
    assert_eq!(d["families_revoked"], 3, "one family per sign-in above");
    assert_eq!(authenticated_calls(&s, &access).await, vec![401, 401, 401]);
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": refresh}),
    )
    .await
    .expect(400);
    let (o, t, v) = sign_ins(&s, "sam").await;
    assert_eq!(
        (o["status"].as_u64(), o["body"]["error"].as_str()),
        (Some(400), Some("invalid_grant"))
    );
    assert_eq!(o["body"]["error_description"], "the account is disabled");
    assert_eq!(
        (t["status"].as_u64(), t["body"]["error"]["message"].as_str()),
        (Some(403), Some("USER_DISABLED"))
    );
    assert_eq!(
        (
            v["status"].as_u64(),
            v["body"]["error"]["system"][0]["error"].as_str()
        ),
        (Some(400), Some("ERR_DISABLED"))
    );
    // A wrong password still gets the plain wrong-credentials answer: the state is not told.
    let r = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": "sam", "password": "wrong password"}),
        )
        .await;
    assert_eq!(r.expect(401)["error"]["message"], "WRONG_CREDENTIALS");

    // Enabled again.
    s.admin_req(
        http::Method::POST,
        "/admin/users/sam@example.com/enable",
        Some(ADMIN),
    )
    .await
    .expect(200);
    let (o, t, v) = sign_ins(&s, "sam").await;
    assert_eq!(
        (
            o["status"].as_u64(),
            t["status"].as_u64(),
            v["status"].as_u64()
        ),
        (Some(200), Some(200), Some(200))
    );

    // Blocked.
    let b = s
        .admin_req(http::Method::POST, "/admin/users/sam/block", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(b["state"], "blocked");
    let (o, t, v) = sign_ins(&s, "sam").await;
    assert_eq!(o["body"]["error_description"], "the account is blocked");
    assert_eq!(
        (t["status"].as_u64(), t["body"]["error"]["message"].as_str()),
        (Some(403), Some("USER_DISABLED"))
    );
    assert_eq!(
        (
            v["status"].as_u64(),
            v["body"]["error"]["system"][0]["error"].as_str()
        ),
        (Some(403), Some("ERR_BLOCKED"))
    );
    let r = s
        .admin_req(http::Method::POST, "/admin/users/sam/enable", Some(ADMIN))
        .await;
    assert_eq!(r.expect(409)["error"], "conflict");
    s.admin_req(http::Method::POST, "/admin/users/sam/unblock", Some(ADMIN))
        .await
        .expect(200);
    let (o, _, _) = sign_ins(&s, "sam").await;
    assert_eq!(o["status"], 200);
    let access = o["body"]["access_token"].as_str().unwrap().to_string();

    // Deleted.
    let id = s
        .admin_req(http::Method::GET, "/admin/users/sam", Some(ADMIN))
        .await
        .expect(200)["id"]
        .clone();
    s.admin_req(
        http::Method::DELETE,
        &format!("/admin/users/{}", id.as_str().unwrap()),
        Some(ADMIN),
    )
    .await
    .expect(200);
    assert_eq!(authenticated_calls(&s, &access).await, vec![401, 401, 401]);
    let (o, t, v) = sign_ins(&s, "sam").await;
    assert_eq!(
        (
            o["status"].as_u64(),
            t["status"].as_u64(),
            v["status"].as_u64()
        ),
        (Some(400), Some(401), Some(401))
    );
    s.admin_req(http::Method::GET, "/admin/users/sam", Some(ADMIN))
        .await
        .expect(404);
}

#[tokio::test]
async fn cli_through_the_admin_api_and_directly() {
    let mut s = Server::start(&admin_config()).await;
    oauth_signup(&s, "cli", PW).await;
    let t = oauth_login(&s, "cli", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();

    // Server running: through the admin API.
    let (code, out, err) = s.cli(&["user", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cli@example.com") && out.contains("1 of 1 users"),
        "{out}"
    );
    let (code, out, _) = s.cli(&["user", "disable", "cli"]);
    assert_eq!(code, 0);
    assert_eq!(
        line_value(&out, "state").as_deref(),
        Some("disabled"),
        "{out}"
    );
    s.get("/users/me", &[("authorization", &bearer(&access))])
        .await
        .expect(401);
    let (code, _, err) = s.cli(&["token", "inspect", &access]);
    assert_eq!(code, 1);
    assert!(err.contains("revoked (user_disabled)"), "{err}");
    let (code, out, err) = s.cli(&["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("new signing key"));
    let (_, out, _) = s.cli(&["keys", "list"]);
    assert!(
        out.contains("signing") && out.contains("verifies until"),
        "{out}"
    );
    let (code, _, err) = s.cli(&["user", "show", "nobody"]);
    assert_eq!(code, 1);
    assert!(err.contains("no user"), "{err}");
    // The rotation took effect in the running server: new tokens, new kid, both published.
    assert_eq!(
        s.get("/.well-known/jwks.json", &[]).await.expect(200)["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Server stopped: the same commands open the store directly.
    s.stop();
    let (code, out, err) = s.cli(&["user", "show", "cli@example.com"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_value(&out, "state").as_deref(),
        Some("disabled"),
        "{out}"
    );
    let (code, out, _) = s.cli(&["user", "enable", "cli"]);
    assert_eq!(code, 0);
    assert_eq!(
        line_value(&out, "state").as_deref(),
        Some("active"),
        "{out}"
    );
    s.restart();
    oauth_login(&s, "cli", PW).await.expect(200);
}
