//! A connection that cannot be held forever: a request head must arrive whole within
//! `header_timeout` of its first byte, and a connection with no traffic either way for
//! `idle_timeout` is closed (a keep-alive connection between requests, or one that never
//! sends anything).
//!
//! hyper's own header timeout also runs while a keep-alive connection waits for its next
//! request, which would close idle connections after the (short) header timeout; so the
//! two timeouts are kept here, on the byte stream: a request head starts with its first
//! byte and ends at its blank line (`\r\n\r\n`, or `\n\n`); a response written ends the
//! request. An HTTP/2 connection (its preface) has only the idle timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests (or before the first).
    Idle,
    /// A request head is arriving.
    Head,
    /// The head is in; the request is being answered.
    Busy,
    /// An HTTP/2 connection: only the idle timeout applies.
    H2,
}

/// An I/O stream with the two timeouts.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// The last four bytes seen of the head being read.
    window: u32,
    /// How many bytes of the connection matched the HTTP/2 preface so far.
    preface: usize,
    head_deadline: Instant,
    last_activity: Instant,
    armed: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<S> Guarded<S> {
    /// Guards `inner`.
    pub fn new(inner: S, header_timeout: Duration, idle_timeout: Duration) -> Guarded<S> {
        let now = Instant::now();
        Guarded {
            inner,
            header_timeout,
            idle_timeout,
            phase: Phase::Idle,
            window: 0,
            preface: 0,
            head_deadline: now,
            last_activity: now,
            armed: None,
            timer: Box::pin(tokio::time::sleep_until(now + idle_timeout)),
        }
    }

    fn saw_input(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        self.last_activity = now;
        for &b in bytes {
            if self.preface < H2_PREFACE.len() {
                if H2_PREFACE.get(self.preface) == Some(&b) {
                    self.preface += 1;
                    if self.preface == H2_PREFACE.len() {
                        self.phase = Phase::H2;
                    }
                } else {
                    // Not HTTP/2: stop looking.
                    self.preface = usize::MAX;
                }
            }
            match self.phase {
                Phase::H2 | Phase::Busy => {}
                Phase::Idle => {
                    if b != b'\r' && b != b'\n' {
                        // (Blank lines between requests are tolerated, RFC 9112 §2.2.)
                        self.phase = Phase::Head;
                        self.head_deadline = now + self.header_timeout;
                        self.window = u32::from(b);
                    }
                }
                Phase::Head => {
                    self.window = (self.window << 8) | u32::from(b);
                    if self.window == 0x0d0a_0d0a || self.window & 0xffff == 0x0a0a {
                        self.phase = if self.preface == usize::MAX {
                            Phase::Busy
                        } else {
                            // Part of the HTTP/2 preface: keep matching it.
                            Phase::Head
                        };
                    }
                }
            }
        }
    }

    fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.idle_timeout;
        match self.phase {
            Phase::Head => self.head_deadline.min(idle),
            Phase::Idle | Phase::Busy | Phase::H2 => idle,
        }
    }

    /// Whether the current deadline passed (arming the timer on `cx` if not).
    ///
    /// The timer is moved only when it would fire too late (a head's deadline is sooner
    /// than the idle one); when it fires early (the connection was busy meanwhile) it is
    /// re-armed at the real deadline. So steady keep-alive traffic does not touch the
    /// timer at every request.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.deadline();
        if self.armed.is_none_or(|armed| armed > deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= deadline {
                return true;
            }
            // Fired early: traffic moved the deadline on.
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if let Some(new) = buf.filled().get(before..) {
                    if !new.is_empty() {
                        this.saw_input(new);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.expired(cx) {
                    let what = if this.phase == Phase::Head {
                        "request head not received in time"
                    } else {
                        "connection idle too long"
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                this.last_activity = Instant::now();
                if this.phase == Phase::Busy {
                    this.phase = Phase::Idle;
                }
            }
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                this.last_activity = Instant::now();
                if this.phase == Phase::Busy {
                    this.phase = Phase::Idle;
                }
            }
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pair(header: u64, idle: u64) -> (Guarded<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (a, b) = tokio::io::duplex(1024);
        (
            Guarded::new(a, Duration::from_secs(header), Duration::from_secs(idle)),
            b,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_head_times_out_an_idle_connection_lives_longer() {
        let (mut g, mut client) = pair(10, 60);
        let mut buf = [0u8; 64];
        // A head trickling in: closed 10 s after its first byte.
        client.write_all(b"GET / HT").await.unwrap();
        assert_eq!(g.read(&mut buf).await.unwrap(), 8);
        let started = Instant::now();
        let e = g.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed().as_secs(), 10);

        // A whole head, answered, then silence: closed after the idle timeout.
        let (mut g, mut client) = pair(10, 60);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = g.read(&mut buf).await.unwrap();
        assert!(n > 0);
        g.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let started = Instant::now();
        let e = g.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed().as_secs(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_has_only_the_idle_timeout() {
        let (mut g, mut client) = pair(10, 60);
        client.write_all(H2_PREFACE).await.unwrap();
        client
            .write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < H2_PREFACE.len() + 9 {
            got += g.read(&mut buf).await.unwrap();
        }
        g.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await.unwrap();
        // A frame without a blank line in it: no head timeout.
        client
            .write_all(&[0, 0, 8, 6, 0, 0, 0, 0, 0])
            .await
            .unwrap();
        got = 0;
        while got < 9 {
            got += g.read(&mut buf).await.unwrap();
        }
        let started = Instant::now();
        let e = g.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed().as_secs(), 60);
    }
}
