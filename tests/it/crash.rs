//! Killed mid-load (SIGKILL), the store reopens intact and nothing acknowledged is lost:
//! every refresh token the server handed out before dying still works after the restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn every_acknowledged_rotation_survives_a_kill() {
    let s = Server::start("[tokens]\nreuse_interval = 60\n").await;
    let mut last = Vec::new();
    for i in 0..16 {
        let name = format!("k{i}");
        oauth_signup(&s, &name, PW).await;
        let t = oauth_login(&s, &name, PW).await.expect(200);
        last.push(Arc::new(Mutex::new(
            t["refresh_token"].as_str().unwrap().to_string(),
        )));
    }
    let s = Arc::new(Mutex::new(Some(s)));
    let base = s.lock().unwrap().as_ref().unwrap().base.clone();
    let mut tasks = Vec::new();
    for slot in &last {
        let (slot, base) = (slot.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Full<bytes::Bytes>>();
            let mut acked = 0u32;
            loop {
                let token = slot.lock().unwrap().clone();
                let req = http::Request::post(format!("{base}/auth/refresh-token"))
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from(
                        json!({"refresh_token": token}).to_string(),
                    )))
                    .unwrap();
                let Ok(resp) = client.request(req).await else {
                    return acked;
                };
                if resp.status() != 200 {
                    return acked;
                }
                let Ok(body) = http_body_util::BodyExt::collect(resp.into_body()).await else {
                    return acked;
                };
                let v: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap();
                // Acknowledged: from now on this is the family's token.
                *slot.lock().unwrap() = v["refresh_token"].as_str().unwrap().to_string();
                acked += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = s.lock().unwrap().take().unwrap();
    server.kill();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert!(total > 100, "only {total} rotations before the kill");
    server.start_again();
    for slot in &last {
        let token = slot.lock().unwrap().clone();
        let r = server
            .post_json("/auth/refresh-token", &[], &json!({"refresh_token": token}))
            .await;
        assert_eq!(
            r.status,
            200,
            "an acknowledged rotation was lost: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}
