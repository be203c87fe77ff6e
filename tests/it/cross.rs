//! One user store behind every family: sign up anywhere, sign in everywhere; tokens of
//! any family work on every family's authenticated routes.

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn sign_up_anywhere_sign_in_everywhere() {
    let s = Server::start("").await;
    // Signed up through oauth.
    oauth_signup(&s, "oscar", PW).await;
    // ... through toolkit (with an email) ...
    s.post_json(
        "/api/auth/accounts:signUp",
        &[],
        &json!({"username": "tara", "password": PW, "email": "tara@example.com"}),
    )
    .await
    .expect(201);
    // ... and through v0 (verified once).
    s.post_json("/api/v0/user", &[], &json!({"email": "vic@example.com", "first_name": "Vic", "last_name": "V", "password": PW, "password_confirmation": PW})).await.expect(200);
    s.get(
        &format!(
            "/api/v0/user/verify?email=vic%40example.com&password={}",
            PW.replace(' ', "+")
        ),
        &[],
    )
    .await
    .expect(200);

    for (login, email) in [
        ("oscar", "oscar@example.com"),
        ("tara", "tara@example.com"),
        ("vic@example.com", "vic@example.com"),
    ] {
        let o = oauth_login(&s, login, PW).await.expect(200);
        let t = s
            .post_json(
                "/api/auth/accounts:signInWithPassword",
                &[],
                &json!({"username": login, "password": PW}),
            )
            .await
            .expect(200);
        let v = s
            .get(
                &format!(
                    "/api/v0/user/verify?email={}&password={}",
                    email.replace('@', "%40"),
                    PW.replace(' ', "+")
                ),
                &[],
            )
            .await
            .expect(200);
        // Every family's token on every family's authenticated route, same user.
        for access in [&o["access_token"], &t["idToken"], &v["access_token"]] {
            let auth = bearer(access.as_str().unwrap());
            let me = s
                .get("/users/me", &[("authorization", &auth)])
                .await
                .expect(200);
            let lookup = s
                .send(
                    http::Method::POST,
                    "/api/auth/accounts:lookup",
                    &[("authorization", &auth)],
                    "",
                )
                .await
                .expect(200);
            let profile = s
                .get("/api/v0/user", &[("authorization", &auth)])
                .await
                .expect(200);
            assert_eq!(me["id"], lookup["localId"]);
            assert_eq!(me["email"], email);
            assert_eq!(profile["email"], email);
        }
        // Refresh tokens too: a toolkit refresh token on the oauth route and v0's.
        let r = s
            .post_json(
                "/auth/refresh-token",
                &[],
                &json!({"refresh_token": t["refreshToken"]}),
            )
            .await
            .expect(200);
        s.post_json(
            "/api/v0/token",
            &[],
            &json!({"refresh_token": r["refresh_token"]}),
        )
        .await
        .expect(200);
    }
    // One namespace: a username taken in toolkit is taken in oauth, an email in v0 too.
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "other@example.com", "password": PW, "user_name": "tara"}),
        )
        .await;
    r.expect(409);
    let r = s.post_json("/api/v0/user", &[], &json!({"email": "OSCAR@example.com", "first_name": "O", "last_name": "O", "password": PW, "password_confirmation": PW})).await;
    r.expect(422);
}
