//! Time as a parameter: the service asks a [`Clock`], so expiry and rate limits are
//! testable without sleeping, and library code never reads the system clock directly.
//! A moment is a [`UnixMillis`]; spans are [`Duration`]s, added to it with `+`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use storage::UnixMillis;

/// `t` as RFC 3339 (`2026-12-07T11:14:26.066Z`), as the APIs show a moment.
pub fn rfc3339(t: UnixMillis) -> String {
    protocol::reply::rfc3339_ms(t.millis())
}

/// The moment an RFC 3339 text names (`2026-12-07T10:00:00Z`, an offset, a fraction).
pub fn parse_rfc3339(s: &str) -> Option<UnixMillis> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(UnixMillis::from_millis)
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> UnixMillis;
}

/// The system clock: the one reader of the system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis::EPOCH + d
    }
}

/// A clock that moves only when told: for tests of the time-dependent rules.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// A clock at `t`.
    pub fn at(t: UnixMillis) -> FakeClock {
        FakeClock(Arc::new(AtomicI64::new(t.millis())))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixMillis {
        UnixMillis::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_when_told() {
        let c = FakeClock::at(UnixMillis::from_millis(1_000));
        let seen = c.clone();
        c.advance(Duration::from_secs(2));
        assert_eq!(seen.now(), UnixMillis::from_millis(3_000));
    }
}
