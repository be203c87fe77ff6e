//! Refresh-token families over HTTP: rotation, tolerated reuse, theft detection, expiry.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

async fn refresh(s: &Server, token: &str) -> Resp {
    s.post_json("/auth/refresh-token", &[], &json!({"refresh_token": token}))
        .await
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

#[tokio::test]
async fn reuse_within_interval_is_tolerated_later_reuse_revokes_the_family() {
    let s = Server::start("[tokens]\nreuse_interval = 2\n").await;
    oauth_signup(&s, "ann", PW).await;
    let t1 = oauth_login(&s, "ann", PW).await.expect(200);
    let r1 = field(&t1, "refresh_token");

    let t2 = refresh(&s, &r1).await.expect(200);
    // A racing client presents r1 again at once: tolerated, same family.
    let t3 = refresh(&s, &r1).await.expect(200);
    assert_eq!(t3["_id"], t1["_id"]);
    let r3 = field(&t3, "refresh_token");
    assert_ne!(r3, field(&t2, "refresh_token"));

    // Unrelated family of the same user, to see it survive.
    let other = oauth_login(&s, "ann", PW).await.expect(200);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    // r1 again, well after it was spent: theft. The request fails and the family dies...
    assert_eq!(refresh(&s, &r1).await.expect(400)["error"], "invalid_grant");
    // ... with the sibling issued in between and the newest token.
    assert_eq!(
        refresh(&s, &field(&t2, "refresh_token")).await.expect(400)["error"],
        "invalid_grant"
    );
    assert_eq!(refresh(&s, &r3).await.expect(400)["error"], "invalid_grant");
    // Its access tokens stop working on the server's own routes.
    let r = s
        .get(
            "/users/me",
            &[("authorization", &bearer(&field(&t3, "access_token")))],
        )
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_token");
    // The other family is untouched.
    s.get(
        "/users/me",
        &[("authorization", &bearer(&field(&other, "access_token")))],
    )
    .await
    .expect(200);
    refresh(&s, &field(&other, "refresh_token"))
        .await
        .expect(200);
    assert!(s.log().contains("refresh token reuse: family revoked"));
}

#[tokio::test]
async fn spent_token_is_refused_after_interval_even_without_a_race() {
    let s = Server::start("[tokens]\nreuse_interval = 1\n").await;
    oauth_signup(&s, "bob", PW).await;
    let t1 = oauth_login(&s, "bob", PW).await.expect(200);
    let t2 = refresh(&s, &field(&t1, "refresh_token")).await.expect(200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The current token keeps rotating normally...
    let t3 = refresh(&s, &field(&t2, "refresh_token")).await.expect(200);
    // ... but the first one, spent over a second ago, revokes everything.
    refresh(&s, &field(&t1, "refresh_token")).await.expect(400);
    refresh(&s, &field(&t3, "refresh_token")).await.expect(400);
}

#[tokio::test]
async fn expired_tokens_fail() {
    let s = Server::start("[tokens]\naccess_ttl = 1\nrefresh_ttl = 2\nreuse_interval = 1\n").await;
    oauth_signup(&s, "cy", PW).await;
    let t = oauth_login(&s, "cy", PW).await.expect(200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = s
        .get(
            "/users/me",
            &[("authorization", &bearer(&field(&t, "access_token")))],
        )
        .await;
    assert_eq!(r.expect(401)["error"], "invalid_token");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
    let r = refresh(&s, &field(&t, "refresh_token")).await;
    let v = r.expect(400);
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn parallel_refreshes_of_one_token_stay_within_the_reuse_rule() {
    let s = std::sync::Arc::new(Server::start("[tokens]\nreuse_interval = 10\n").await);
    oauth_signup(&s, "dee", PW).await;
    let t = oauth_login(&s, "dee", PW).await.expect(200);
    let r = field(&t, "refresh_token");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, r) = (s.clone(), r.clone());
        tasks.push(tokio::spawn(async move {
            refresh(&s, &r).await.status.as_u16()
        }));
    }
    for task in tasks {
        // Within the interval every presentation is tolerated, none corrupts the family.
        assert_eq!(task.await.unwrap(), 200);
    }
    // Exactly one token of the family is current afterwards: the family still works, and
    // the original token, presented after the interval, would be theft (checked
    // elsewhere); here the family has one live session.
    let me = s
        .get(
            "/users/me",
            &[("authorization", &bearer(&field(&t, "access_token")))],
        )
        .await;
    me.expect(200);
}
