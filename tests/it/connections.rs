//! Nothing a slow or silent client can hold forever: a request head must arrive within
//! `server.header_timeout`, silent connections close after `server.idle_timeout`, and at
//! most `server.max_connections` are open at once, so a crowd of silent connections
//! cannot run the server out of file descriptors (issue 10, item 3).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; returns how long that took.
async fn closed_after(c: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection 20 s"),
        }
    }
}

#[tokio::test]
async fn slow_heads_and_silent_connections_are_closed() {
    let s = Server::start("[server]\nheader_timeout = 1\nidle_timeout = 3\n").await;
    // A head that trickles in: cut at the header timeout.
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let t = closed_after(&mut slow).await;
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_secs(3),
        "{t:?}"
    );
    // A connection that never says anything: cut at the idle timeout.
    let mut silent = TcpStream::connect(addr(&s)).await.unwrap();
    let t = closed_after(&mut silent).await;
    assert!(
        t >= Duration::from_millis(2900) && t < Duration::from_secs(5),
        "{t:?}"
    );
    // A keep-alive connection after a request: served, then cut at the idle timeout (not
    // at the shorter header timeout).
    let mut kept = TcpStream::connect(addr(&s)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let t = closed_after(&mut kept).await;
    assert!(
        t >= Duration::from_millis(2900) && t < Duration::from_secs(5),
        "{t:?}"
    );
}

#[tokio::test]
async fn silent_crowds_cannot_exhaust_the_descriptors() {
    // 256 file descriptors, as in the attack; the cap keeps the server below it.
    let s = Server::start_with_env(
        "[server]\nheader_timeout = 2\nidle_timeout = 2\nmax_connections = 150\n",
        &[("FD_LIMIT", "256")],
    )
    .await;
    let mut crowd = Vec::new();
    for _ in 0..300 {
        crowd.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    // Someone else still gets an answer: once the silent ones time out, at the latest.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(15), s.get("/healthz", &[]))
        .await
        .expect("the server stayed unreachable");
    r.expect(200);
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(crowd);
    assert!(
        !s.log().contains("accept failed"),
        "the server ran out of descriptors"
    );
}
