//! RFC 7662 introspection and RFC 7009 revocation with real client credentials.

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

async fn introspect(s: &Server, token: &str, auth: &str) -> Resp {
    s.post_form(
        "/oauth/introspect",
        &[("authorization", auth)],
        &format!("token={token}"),
    )
    .await
}

async fn revoke(s: &Server, token: &str) -> Resp {
    s.post_form(
        "/oauth/revoke",
        &[("authorization", WEB_CLIENT)],
        &format!("token={token}"),
    )
    .await
}

#[tokio::test]
async fn introspection_answers_what_the_server_would_accept() {
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
    .await;
    oauth_signup(&s, "ian", PW).await;
    let t = oauth_login(&s, "ian", PW).await.expect(200);
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );

    let r = introspect(&s, access, WEB_CLIENT).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let a = r.expect(200);
    assert_eq!(a["active"], true);
    assert_eq!(a["token_type"], "access_token");
    assert_eq!(a["username"], "ian");
    assert_eq!(a["client_id"], "web");
    assert_eq!(a["amr"], json!(["pwd"]));
    assert!(a["exp"].as_i64().unwrap() > a["iat"].as_i64().unwrap());
    let me = s
        .get("/users/me", &[("authorization", &bearer(access))])
        .await
        .expect(200);
    assert_eq!(a["sub"], me["id"]);
    let r = introspect(&s, refresh, WEB_CLIENT).await.expect(200);
    assert_eq!(
        (r["active"].as_bool(), r["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    assert_eq!(r["sid"], a["sid"]);
    for junk in ["garbage", "a.b.c", &"A".repeat(43)] {
        assert_eq!(
            introspect(&s, junk, WEB_CLIENT).await.expect(200),
            json!({"active": false})
        );
    }
    // Client authentication and request errors.
    let r = introspect(&s, access, "Basic d2ViOndyb25n").await;
    assert_eq!(r.expect(401)["error"], "invalid_client");
    let r = s
        .post_form("/oauth/introspect", &[], &format!("token={access}"))
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_client");
    let r = s
        .post_form("/oauth/introspect", &[("authorization", WEB_CLIENT)], "")
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_request");
    let r = s
        .post_json(
            "/oauth/introspect",
            &[("authorization", WEB_CLIENT)],
            &json!({"token": access}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_request");

    // A spent refresh token is not active; nor is anything of a disabled user.
    let rotated = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": refresh}),
        )
        .await
        .expect(200);
    assert_eq!(
        introspect(&s, refresh, WEB_CLIENT).await.expect(200)["active"],
        false
    );
    let new_access = rotated["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&s, new_access, WEB_CLIENT).await.expect(200)["active"],
        true
    );
    s.admin_req(http::Method::POST, "/admin/users/ian/disable", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(
        introspect(&s, new_access, WEB_CLIENT).await.expect(200),
        json!({"active": false})
    );
    let r = rotated["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&s, r, WEB_CLIENT).await.expect(200),
        json!({"active": false})
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_fails_everywhere() {
    let s = Server::start("").await;
    oauth_signup(&s, "rev", PW).await;
    let t = oauth_login(&s, "rev", PW).await.expect(200);
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    let r = revoke(&s, refresh).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        s.post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": refresh})
        )
        .await
        .expect(400)["error"],
        "invalid_grant"
    );
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");
    let r = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(r.expect(401)["error"]["message"], "INVALID_REFRESH_TOKEN");
    let r = s
        .post_json("/api/v0/token", &[], &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        r.expect(401)["error"]["refresh_token"][0]["error"],
        "ERR_INVALID"
    );
    let r = s
        .post_json("/session/token", &[], &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_token");
    // The family's access token is refused by the server's own routes at once.
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
        .expect(401);
    assert_eq!(
        introspect(&s, access, WEB_CLIENT).await.expect(200)["active"],
        false
    );

    // Revoking an access token ends its family too; unknown tokens answer the same 200.
    let t2 = oauth_login(&s, "rev", PW).await.expect(200);
    assert_eq!(
        revoke(&s, t2["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": t2["refresh_token"]}),
    )
    .await
    .expect(400);
    assert_eq!(revoke(&s, "nonsense").await.status, 200);
    assert_eq!(revoke(&s, &"B".repeat(43)).await.status, 200);
    // Without client credentials: nothing.
    let r = s.post_form("/oauth/revoke", &[], "token=x").await;
    assert_eq!(r.expect(401)["error"], "invalid_client");
}
