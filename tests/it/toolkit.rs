//! Family `toolkit` end to end: every route and every error code.

use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "correct horse battery";

fn message(r: &Resp, status: u16) -> String {
    let v = r.expect(status);
    assert_eq!(v["error"]["code"], status, "{v}");
    v["error"]["message"].as_str().unwrap().to_string()
}

async fn signup(s: &Server, body: Value) -> Resp {
    s.post_json("/api/auth/accounts:signUp", &[], &body).await
}

#[tokio::test]
async fn every_route_and_error() {
    let s = Server::start("").await;
    let r = signup(&s, json!({"username": "tina", "password": PW, "displayName": "Tina T", "email": "tina@example.com"})).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let a = r.expect(201);
    for k in ["localId", "idToken", "refreshToken"] {
        assert!(a[k].is_string(), "{k}: {a}");
    }
    assert_eq!(
        (
            a["username"].as_str(),
            a["displayName"].as_str(),
            a["email"].as_str()
        ),
        (Some("tina"), Some("Tina T"), Some("tina@example.com"))
    );
    assert_eq!(a["expiresIn"], "1800");
    assert_eq!(a["tokenType"], "Bearer");
    assert_eq!(a.as_object().unwrap().len(), 8);

    assert_eq!(
        message(
            &signup(&s, json!({"username": "TINA", "password": PW})).await,
            400
        ),
        "USERNAME_ALREADY_EXISTS"
    );
    assert_eq!(
        message(
            &signup(
                &s,
                json!({"username": "t2", "password": PW, "email": "Tina@example.com"})
            )
            .await,
            400
        ),
        "EMAIL_ALREADY_EXISTS"
    );
    assert_eq!(
        message(
            &signup(&s, json!({"username": "t2", "password": "12345678"})).await,
            400
        ),
        "WEAK_PASSWORD"
    );
    assert_eq!(
        message(&signup(&s, json!({"password": PW})).await, 400),
        "MISSING_USERNAME"
    );
    assert_eq!(
        message(&signup(&s, json!({"username": "t2"})).await, 400),
        "MISSING_PASSWORD"
    );
    assert_eq!(
        message(
            &signup(
                &s,
                json!({"username": "t2", "password": PW, "email": "bad"})
            )
            .await,
            400
        ),
        "INVALID_EMAIL"
    );

    // Sign-in by username and by email; one answer for unknown user and wrong password.
    let signin = |login: &str, pw: &str| {
        let body = json!({"username": login, "password": pw});
        let s = &s;
        async move {
            s.post_json("/api/auth/accounts:signInWithPassword", &[], &body)
                .await
        }
    };
    let b = signin("tina", PW).await.expect(200);
    assert_eq!(b["localId"], a["localId"]);
    signin("TINA@example.com", PW).await.expect(200);
    let wrong = signin("tina", "not the password").await;
    let unknown = signin("nobody", PW).await;
    assert_eq!(message(&wrong, 401), "WRONG_CREDENTIALS");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(message(&signin("", PW).await, 400), "MISSING_USERNAME");

    // Refresh.
    let r = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": b["refreshToken"]}),
        )
        .await
        .expect(200);
    assert_ne!(r["refreshToken"], b["refreshToken"]);
    assert_eq!(r["localId"], a["localId"]);
    assert_eq!(
        message(
            &s.post_json("/api/auth/token:refresh", &[], &json!({}))
                .await,
            400
        ),
        "MISSING_REFRESH_TOKEN"
    );
    let r2 = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": "A".repeat(43)}),
        )
        .await;
    assert_eq!(message(&r2, 401), "INVALID_REFRESH_TOKEN");

    // Lookup with the body's idToken, or the bearer header.
    let id = r["idToken"].as_str().unwrap();
    let u = s
        .post_json("/api/auth/accounts:lookup", &[], &json!({"idToken": id}))
        .await
        .expect(200);
    assert_eq!(u["localId"], a["localId"]);
    assert_eq!(u["username"], "tina");
    assert_eq!(u["disabled"], false);
    assert_eq!(u["emailVerified"], false);
    assert!(u["createdAt"].as_str().unwrap().ends_with('Z') && u["lastLoginAt"].is_string());
    assert_eq!(u.as_object().unwrap().len(), 8);
    let u2 = s
        .send(
            http::Method::POST,
            "/api/auth/accounts:lookup",
            &[("authorization", &bearer(id))],
            "",
        )
        .await
        .expect(200);
    assert_eq!(u2, u);
    assert_eq!(
        message(
            &s.post_json("/api/auth/accounts:lookup", &[], &json!({}))
                .await,
            401
        ),
        "INVALID_ID_TOKEN"
    );
    assert_eq!(
        message(
            &s.post_json(
                "/api/auth/accounts:lookup",
                &[],
                &json!({"idToken": "x.y.z"})
            )
            .await,
            401
        ),
        "INVALID_ID_TOKEN"
    );

    // Delete: the user is gone, old tokens die, the username and email are free again.
    s.post_json("/api/auth/accounts:delete", &[], &json!({"idToken": id}))
        .await
        .expect(204);
    assert_eq!(
        message(
            &s.post_json("/api/auth/accounts:lookup", &[], &json!({"idToken": id}))
                .await,
            401
        ),
        "INVALID_ID_TOKEN"
    );
    assert_eq!(
        message(
            &s.post_json("/api/auth/accounts:delete", &[], &json!({"idToken": id}))
                .await,
            401
        ),
        "INVALID_ID_TOKEN"
    );
    let old_refresh = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": r["refreshToken"]}),
        )
        .await;
    assert_eq!(message(&old_refresh, 401), "INVALID_REFRESH_TOKEN");
    assert_eq!(message(&signin("tina", PW).await, 401), "WRONG_CREDENTIALS");
    let again = signup(
        &s,
        json!({"username": "tina", "password": PW, "email": "tina@example.com"}),
    )
    .await
    .expect(201);
    assert_ne!(again["localId"], a["localId"]);
}

#[tokio::test]
async fn fifty_parallel_signups_make_one_account() {
    // A queue long enough for all of them: this is about uniqueness, not load shedding.
    let s = std::sync::Arc::new(Server::start("[password]\nhash_queue = 100\n").await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            signup(
                &s,
                json!({"username": "race", "password": PW, "email": format!("r{i}@example.com")}),
            )
            .await
            .status
            .as_u16()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            400 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
}
