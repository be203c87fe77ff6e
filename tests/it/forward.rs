//! Forward-auth behind a real nginx (`auth_request`) in front of a tiny upstream: no
//! token -> 401 at nginx; a valid token -> the upstream sees the user's headers; a token
//! of a disabled user -> 401. The token may also come in a configured cookie.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";

/// An upstream that answers every request with the request's head as its body.
pub(crate) async fn echo_upstream() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                    head.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

/// nginx with `auth_request` to latchkey's `/auth/forward` in front of `upstream`.
async fn nginx(latchkey: &str, upstream: u16) -> Nginx {
    let lk = latchkey.trim_start_matches("http://");
    Nginx::start(&format!(
        r#"
    location = /_latchkey {{
      internal;
      proxy_pass http://{lk}/auth/forward;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }}
    location / {{
      auth_request /_latchkey;
      auth_request_set $auth_user $upstream_http_x_auth_user;
      auth_request_set $auth_email $upstream_http_x_auth_email;
      auth_request_set $auth_role $upstream_http_x_auth_role;
      proxy_set_header X-Auth-User $auth_user;
      proxy_set_header X-Auth-Email $auth_email;
      proxy_set_header X-Auth-Role $auth_role;
      proxy_pass http://127.0.0.1:{upstream};
    }}
"#
    ))
    .await
}

pub(crate) async fn through(n: &Nginx, headers: &[(&str, &str)]) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = http::Request::get(format!("http://127.0.0.1:{}/app/page", n.port));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(
            req.body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).to_string())
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_an_upstream() {
    let s = Server::start(&format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n[forward_auth]\ncookie = \"lk_session\"\n")).await;
    let u = oauth_signup(&s, "fwd", PW).await;
    let t = oauth_login(&s, "fwd", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap();
    let up = echo_upstream().await;
    let n = nginx(&s.base, up).await;

    // No token: stopped at nginx.
    let (status, body) = through(&n, &[]).await;
    assert_eq!(status, 401);
    assert!(!body.contains("GET /app/page"), "the upstream was reached");
    // A valid token: the upstream sees who it is.
    let (status, body) = through(&n, &[("authorization", &bearer(access))]).await;
    assert_eq!(status, 200, "{body}");
    let head = body.to_lowercase();
    assert!(head.starts_with("get /app/page"), "{body}");
    assert!(
        head.contains(&format!("x-auth-user: {}", u["id"].as_str().unwrap())),
        "{body}"
    );
    assert!(head.contains("x-auth-email: fwd@example.com"), "{body}");
    assert!(head.contains("x-auth-role: user"), "{body}");
    // The same token in the configured cookie.
    let (status, _) = through(
        &n,
        &[("cookie", &format!("theme=dark; lk_session={access}"))],
    )
    .await;
    assert_eq!(status, 200);
    // Garbage, and then a disabled user's token: 401.
    assert_eq!(
        through(&n, &[("authorization", "Bearer nope")]).await.0,
        401
    );
    s.admin_req(http::Method::POST, "/admin/users/fwd/disable", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(
        through(&n, &[("authorization", &bearer(access))]).await.0,
        401
    );

    // Directly: the answers a proxy sees.
    let r = s.get("/auth/forward", &[]).await;
    assert_eq!(r.expect(401), json!({"error": "missing_token"}));
    assert!(r.header("www-authenticate").is_some());
    s.send(http::Method::POST, "/auth/forward", &[], "")
        .await
        .expect(405);
}
