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
        // (one source may take them all here: the global bound is what is tested)
        "[server]\nheader_timeout = 2\nidle_timeout = 2\nmax_connections = 150\nmax_connections_per_source = 150\n",
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

/// Issue 23: one source cannot take every connection slot. With `max_connections = 50`,
/// 60 idle sockets from one address used to leave `/healthz` timing out for everyone
/// else; now that source holds at most `max_connections_per_source`, its further
/// connections are closed at once, and another address is served.
#[tokio::test]
async fn one_source_cannot_take_every_slot() {
    let s = Server::start(
        "[server]\nheader_timeout = 30\nidle_timeout = 30\nmax_connections = 50\nmax_connections_per_source = 10\n",
    )
    .await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let mut crowd = Vec::new();
    for _ in 0..60 {
        crowd.push(
            TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .unwrap(),
        );
    }
    // The eleventh and later are closed by the server at once.
    let mut closed = 0;
    for c in crowd.iter_mut().skip(10) {
        if tokio::time::timeout(Duration::from_secs(5), closed_after(c))
            .await
            .is_ok()
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 50);
    // Another source (127.0.0.2 is loopback too) is served at once.
    let started = Instant::now();
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = other
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), other.read_to_end(&mut buf))
        .await
        .expect("another source waited")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "another source waited"
    );
    drop(crowd);
}

/// The soft open-file limit is raised to the hard one at start (a service manager's
/// default of 1024 would make most of `max_connections` unreachable); when the hard limit
/// itself is too low, the log says so with both numbers.
#[tokio::test]
async fn the_open_file_limit_is_raised_and_a_low_one_is_told() {
    let s = Server::start_with_env(
        "[server]\nmax_connections = 100\n",
        &[("FD_SOFT_LIMIT", "64")],
    )
    .await;
    let log = s.log();
    assert!(log.contains("raised the open-file limit"), "{log}");
    assert!(!log.contains("is below server.max_connections"), "{log}");
    drop(s);
    let s =
        Server::start_with_env("[server]\nmax_connections = 1000\n", &[("FD_LIMIT", "256")]).await;
    let log = s.log();
    assert!(
        // (+ 64, and the PostgreSQL pool's connections on that backend)
        log.contains("the open-file limit (256) is below server.max_connections (1000) + "),
        "{log}"
    );
    s.get("/healthz", &[]).await.expect(200);
}
