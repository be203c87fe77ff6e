//! Lockout per account (unknown accounts alike) and the per-IP token bucket, in each
//! family's format.

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn lockout_blocks_then_expires_and_success_resets() {
    let s = Server::start(
        "[limits]\nlockout_failures = 3\nlockout_window = 60\nlockout_duration = 60\n",
    )
    .await;
    oauth_signup(&s, "lou", PW).await;
    // Two failures, a success (resets), two more failures: not locked.
    for _ in 0..2 {
        oauth_login(&s, "lou", "wrong password!").await.expect(400);
    }
    oauth_login(&s, "lou", PW).await.expect(200);
    for _ in 0..2 {
        oauth_login(&s, "lou", "wrong password!").await.expect(400);
    }
    oauth_login(&s, "lou", PW).await.expect(200);

    // Three failures, counted across families and login forms: locked everywhere.
    oauth_login(&s, "lou", "wrong password!").await.expect(400);
    s.post_json(
        "/api/auth/accounts:signInWithPassword",
        &[],
        &json!({"username": "LOU@example.com", "password": "x"}),
    )
    .await
    .expect(401);
    s.get(
        "/api/v0/user/verify?email=lou%40example.com&password=nope",
        &[],
    )
    .await
    .expect(401);
    let r = oauth_login(&s, "lou", PW).await;
    assert_eq!(r.expect(429)["error"], "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    let r = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": "lou", "password": PW}),
        )
        .await;
    assert_eq!(
        r.expect(429)["error"]["message"],
        "TOO_MANY_ATTEMPTS_TRY_LATER"
    );
    let r = s
        .get(
            &format!(
                "/api/v0/user/verify?email=lou%40example.com&password={}",
                PW.replace(' ', "+")
            ),
            &[],
        )
        .await;
    assert_eq!(r.expect(403)["error"]["system"][0]["error"], "ERR_BLOCKED");

    // An unknown account is locked exactly the same way: no enumeration through lockout.
    for _ in 0..3 {
        oauth_login(&s, "ghost", "wrong password!")
            .await
            .expect(400);
    }
    let ghost = oauth_login(&s, "ghost", PW).await;
    assert_eq!(ghost.status, 429);
    let known = oauth_login(&s, "lou", PW).await;
    assert_eq!(ghost.body, known.body);
    // The lock lifting after lockout_duration is tested with a fake clock in `rules.rs`.
}

#[tokio::test]
async fn per_ip_bucket_answers_429_with_retry_after_in_each_family() {
    // Six a minute: one token every 10 s, so the held refusals below (about a second
    // each) do not refill the bucket meanwhile.
    let s = Server::start("[limits]\nper_ip_per_minute = 6\n").await;
    // Every credential route draws on the same bucket; refreshes are cheap (no hashing),
    // so the bucket empties faster than it refills.
    for _ in 0..6 {
        s.post_json("/auth/refresh-token", &[], &json!({"refresh_token": "x"}))
            .await
            .expect(400);
    }
    let r = oauth_login(&s, "nobody", PW).await;
    assert_eq!(r.expect(429)["error"], "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    let r = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": "x"}),
        )
        .await;
    assert_eq!(
        r.expect(429)["error"]["message"],
        "TOO_MANY_ATTEMPTS_TRY_LATER"
    );
    let r = s
        .post_json(
            "/api/v0/user",
            &[],
            &json!({"email": "rl@example.com", "first_name": "R", "last_name": "L",
                    "password": PW, "password_confirmation": PW}),
        )
        .await;
    assert_eq!(
        r.expect(429)["error"]["system"][0]["error"],
        "ERR_RATE_LIMITED"
    );
    assert!(r.header("retry-after").is_some());
    // Non-credential routes are not counted.
    s.get("/healthz", &[]).await.expect(200);
    s.get("/users/me", &[]).await.expect(401);
    // The refill is tested with a fake clock in `rules.rs`.
}
