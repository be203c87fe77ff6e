//! The HTTP server: routing errors, limits, protocols, shutdown, persistence.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn health_404_405_and_limits() {
    let s = Server::start("[server]\nmax_body = 2048\n").await;
    let h = s.get("/healthz", &[]).await;
    assert_eq!(h.expect(200), json!({"status": "ok"}));
    assert_eq!(
        h.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        s.get("/nope", &[]).await.expect(404),
        json!({"error": "not_found"})
    );
    assert_eq!(
        s.get("/api/auth/nothing", &[]).await.expect(404),
        json!({"error": "not_found"})
    );
    let r = s.get("/users", &[]).await;
    r.expect(405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = s.send(Method::POST, "/healthz", &[], Bytes::new()).await;
    r.expect(405);
    assert_eq!(r.header("allow"), Some("GET"));
    // Too large: 413 in the family's format, declared or streamed.
    let big = json!({"email": "a@example.com", "password": "x".repeat(3000), "user_name": "a"});
    let r = s.post_json("/users", &[], &big).await;
    assert_eq!(r.expect(413)["error"], "invalid_request");
}

#[tokio::test]
async fn http2_prior_knowledge_and_keep_alive() {
    let s = Server::start("").await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    for _ in 0..3 {
        let req = http::Request::get(format!("{}/healthz", s.base))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"status":"ok"}"#);
    }
    // HTTP/1.1 keep-alive: many requests, one connection (the pooled client reuses it).
    for _ in 0..20 {
        s.get("/healthz", &[]).await.expect(200);
    }
    // One connection for the HTTP/2 client, one for the HTTP/1.1 client.
    let log = s.log();
    let accepted = log.matches("connection accepted").count();
    assert!(
        (1..=2).contains(&accepted),
        "connections were not kept alive ({accepted}):\n{log}"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    // A deliberately expensive hash keeps the sign-up in flight while SIGTERM arrives.
    let mut s = Server::start("[password]\nscrypt = { log_n = 16, r = 8, p = 1 }\n").await;
    let base = s.base.clone();
    let pending = tokio::spawn(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let body =
            json!({"email": "slow@example.com", "password": PW, "user_name": "slow"}).to_string();
        let req = http::Request::post(format!("{base}/users"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        client.request(req).await.map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.stop();
    assert_eq!(
        pending.await.unwrap().unwrap(),
        201,
        "in-flight sign-up finished"
    );
    assert!(s.log().contains("finishing in-flight requests"));
    // The user was committed and the store closed cleanly: it opens again.
    let (code, out, err) = s.cli(&["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signing"));
}

#[tokio::test]
async fn users_families_and_keys_survive_a_restart() {
    let mut s = Server::start("").await;
    oauth_signup(&s, "keep", PW).await;
    let t = oauth_login(&s, "keep", PW).await.expect(200);
    let jwks_before = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    s.restart();
    let access = t["access_token"].as_str().unwrap();
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
        .expect(200);
    assert_eq!(
        s.get("/.well-known/jwks.json", &[]).await.expect(200),
        jwks_before
    );
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": t["refresh_token"]}),
    )
    .await
    .expect(200);
    oauth_login(&s, "keep", PW).await.expect(200);
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "keep@example.com", "password": PW, "user_name": "x"}),
        )
        .await;
    r.expect(409);
}
