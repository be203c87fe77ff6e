//! Behind a reverse proxy (a real nginx that appends the client's address to
//! `X-Forwarded-For`), each client has its own rate-limit bucket when the proxy is in
//! `server.trusted_proxies`; a forged header neither escapes a bucket nor frames another
//! client; a peer that is not trusted is never believed (issue 11, item 3).

use std::net::IpAddr;

use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

/// nginx, connecting to latchkey from 127.0.0.3 (its address as latchkey sees it).
async fn proxy(latchkey: &str) -> Nginx {
    let lk = latchkey.trim_start_matches("http://");
    Nginx::start(&format!(
        r#"
    location / {{
      proxy_pass http://{lk};
      proxy_bind 127.0.0.3;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
"#
    ))
    .await
}

/// A password grant for `ann` sent from the client address `from` to `base`, with
/// `X-Forwarded-For: xff` when given; the status.
async fn sign_in_from(base: &str, from: &str, xff: Option<&str>) -> u16 {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_local_address(Some(from.parse::<IpAddr>().unwrap()));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Full<bytes::Bytes>>(connector);
    let body = json!({"grant_type": "password", "user_name": "ann", "password": PW});
    let mut req = http::Request::post(format!("{base}/auth/token"))
        .header("authorization", WEB_CLIENT)
        .header("content-type", "application/json");
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let resp = client
        .request(
            req.body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .unwrap(),
        )
        .await
        .unwrap();
    resp.status().as_u16()
}

/// A bucket of five: five sign-ins pass, the sixth is refused.
const LIMITS: &str = "[limits]\nper_ip_per_minute = 5\n";

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket() {
    let s = Server::start(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.3/32\"]\n{LIMITS}"
    ))
    .await;
    oauth_signup(&s, "ann", PW).await;
    let n = proxy(&s.base).await;
    let front = format!("http://127.0.0.1:{}", n.port);
    for _ in 0..5 {
        assert_eq!(sign_in_from(&front, "127.0.0.10", None).await, 200);
    }
    assert_eq!(sign_in_from(&front, "127.0.0.10", None).await, 429);
    // Another client behind the same proxy is not affected.
    assert_eq!(sign_in_from(&front, "127.0.0.11", None).await, 200);
    // The first client cannot escape its bucket by claiming another address: nginx
    // appends the real one, and latchkey takes the rightmost address it does not trust.
    assert_eq!(
        sign_in_from(&front, "127.0.0.10", Some("127.0.0.12")).await,
        429
    );
    // Nor spend another client's bucket: 127.0.0.11 still has four.
    for _ in 0..4 {
        assert_eq!(
            sign_in_from(&front, "127.0.0.12", Some("127.0.0.11")).await,
            200
        );
    }
    assert_eq!(sign_in_from(&front, "127.0.0.11", None).await, 200);
    // A client that reaches latchkey directly (not through a trusted proxy) is judged by
    // its own address whatever header it sends.
    for _ in 0..5 {
        assert_eq!(
            sign_in_from(&s.base, "127.0.0.20", Some("203.0.113.9")).await,
            200
        );
    }
    assert_eq!(
        sign_in_from(&s.base, "127.0.0.20", Some("203.0.113.10")).await,
        429
    );
    // Request lines and audit events name the client, never the proxy.
    let log = s.log();
    let sign_ins: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event=\"sign_in\""))
        .collect();
    assert!(
        sign_ins.iter().any(|l| l.contains("client=127.0.0.10")),
        "{log}"
    );
    for line in log
        .lines()
        .filter(|l| l.contains("latchkey::request") || l.contains("latchkey::audit"))
    {
        assert!(!line.contains("127.0.0.3"), "{line}");
    }
}

#[tokio::test]
async fn an_untrusted_proxy_is_one_client() {
    // Without trusted_proxies the header is ignored: everyone behind nginx shares one
    // bucket (what the README's proxy examples avoid by setting trusted_proxies).
    let s = Server::start(LIMITS).await;
    oauth_signup(&s, "ann", PW).await;
    let n = proxy(&s.base).await;
    let front = format!("http://127.0.0.1:{}", n.port);
    for _ in 0..5 {
        assert_eq!(sign_in_from(&front, "127.0.0.10", None).await, 200);
    }
    assert_eq!(sign_in_from(&front, "127.0.0.11", None).await, 429);
}
