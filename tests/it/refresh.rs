//! Refresh-token families over HTTP: rotation, tolerated reuse, theft detection, expiry.

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
async fn reuse_within_the_interval_is_tolerated() {
    let s = Server::start("[tokens]\nreuse_interval = 10\n").await;
    oauth_signup(&s, "ann", PW).await;
    let t1 = oauth_login(&s, "ann", PW).await.expect(200);
    let r1 = field(&t1, "refresh_token");
    let t2 = refresh(&s, &r1).await.expect(200);
    // A racing client presents r1 again at once: tolerated, same family, and the answer
    // of the first presentation (issue 23: a new token each time forked the family).
    let t3 = refresh(&s, &r1).await.expect(200);
    assert_eq!(t3["_id"], t1["_id"]);
    assert_eq!(field(&t3, "refresh_token"), field(&t2, "refresh_token"));
    // Once that token is rotated in turn, r1 is refused (not theft, within the window)
    // and the one chain lives on.
    let t4 = refresh(&s, &field(&t2, "refresh_token")).await.expect(200);
    assert_eq!(refresh(&s, &r1).await.expect(400)["error"], "invalid_grant");
    refresh(&s, &field(&t4, "refresh_token")).await.expect(200);
    // The window itself is tested with a fake clock in `rules.rs`.
}

#[tokio::test]
async fn reuse_of_a_spent_token_revokes_its_family() {
    // reuse_interval = 0: no reuse is tolerated, so theft shows at once, without waiting.
    let s = Server::start("[tokens]\nreuse_interval = 0\n").await;
    oauth_signup(&s, "bo", PW).await;
    let t1 = oauth_login(&s, "bo", PW).await.expect(200);
    let r1 = field(&t1, "refresh_token");
    // Unrelated family of the same user, to see it survive.
    let other = oauth_login(&s, "bo", PW).await.expect(200);
    let t2 = refresh(&s, &r1).await.expect(200);
    // r1 again: theft. The request fails and the family dies, newest token included.
    assert_eq!(refresh(&s, &r1).await.expect(400)["error"], "invalid_grant");
    assert_eq!(
        refresh(&s, &field(&t2, "refresh_token")).await.expect(400)["error"],
        "invalid_grant"
    );
    // Its access tokens stop working on the server's own routes.
    let r = s
        .get(
            "/users/me",
            &[("authorization", &bearer(&field(&t2, "access_token")))],
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
async fn parallel_refreshes_of_one_token_stay_within_the_reuse_rule() {
    let s = std::sync::Arc::new(Server::start("[tokens]\nreuse_interval = 10\n").await);
    oauth_signup(&s, "dee", PW).await;
    let t = oauth_login(&s, "dee", PW).await.expect(200);
    let r = field(&t, "refresh_token");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, r) = (s.clone(), r.clone());
        tasks.push(tokio::spawn(async move { refresh(&s, &r).await }));
    }
    let mut issued = Vec::new();
    let mut refused = 0;
    for task in tasks {
        // One rotation and a bounded number of tolerated replays; the rest are refused,
        // and none corrupts the family.
        let r = task.await.unwrap();
        if r.status == 200 {
            let v = r.json();
            assert_eq!(v["_id"], t["_id"]);
            issued.push(field(&v, "refresh_token"));
        } else {
            assert_eq!(r.expect(400)["error"], "invalid_grant");
            refused += 1;
        }
    }
    assert_eq!(issued.len(), 1 + 3, "one rotation, three tolerated replays");
    assert_eq!(refused, 50 - 4);
    // Whatever the order of the races, the burst handed out one refresh token.
    assert!(issued.iter().all(|t| *t == issued[0]), "{issued:?}");
    // That one token is current afterwards (RFC 7662 says which are active), and the
    // one presented is not: one family, one live token.
    let mut active = 0;
    for token in [&issued[0], &r] {
        let v = s
            .post_form(
                "/oauth/introspect",
                &[("authorization", WEB_CLIENT)],
                &format!("token={token}&token_type_hint=refresh_token"),
            )
            .await
            .expect(200);
        if v["active"] == true {
            active += 1;
        }
    }
    assert_eq!(active, 1, "one current token in the family");
    let me = s
        .get(
            "/users/me",
            &[("authorization", &bearer(&field(&t, "access_token")))],
        )
        .await;
    me.expect(200);
}
