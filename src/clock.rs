//! Time as a parameter: the service asks a [`Clock`], so expiry and rate limits are
//! testable without sleeping, and library code never reads the system clock directly.
//! Times are Unix milliseconds (`i64`); spans are [`Duration`]s, added with [`after`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock: the one reader of the system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told: for tests of the time-dependent rules.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// A clock at `ms` (Unix milliseconds).
    pub fn at(ms: i64) -> FakeClock {
        FakeClock(Arc::new(AtomicI64::new(ms)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(ms(d), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `d` in milliseconds (saturating).
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The time `d` after `t` (Unix milliseconds, saturating).
pub fn after(t: i64, d: Duration) -> i64 {
    t.saturating_add(ms(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_when_told() {
        let c = FakeClock::at(1_000);
        let seen = c.clone();
        c.advance(Duration::from_secs(2));
        assert_eq!(seen.now_ms(), 3_000);
        assert_eq!(after(3_000, Duration::from_millis(500)), 3_500);
        assert_eq!(after(i64::MAX - 1, Duration::from_secs(1)), i64::MAX);
    }
}
