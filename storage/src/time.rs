//! A moment, as every record and rule reads it: [`UnixMillis`]. Spans are
//! [`Duration`]s; the arithmetic between the two saturates (a far future stays far, never
//! wraps into the past), and the conversions to the seconds of tokens and cookies are
//! written once, here.

use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Unix time in milliseconds, UTC. Stored as the number it is (`serde(transparent)`:
/// the records' encoding is the one of a bare `i64`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(i64);

/// `d` in milliseconds, saturating (a span of more than 292 million years is "forever").
fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl UnixMillis {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: UnixMillis = UnixMillis(0);

    /// The moment `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> UnixMillis {
        UnixMillis(ms)
    }

    /// The moment `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: i64) -> UnixMillis {
        UnixMillis(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down), as JWT and PASETO claims count.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whole seconds from `self` until `later`, rounded up, at least one when `later` is
    /// ahead (a `Retry-After`, a cookie's `Max-Age`); zero when it is not.
    pub fn secs_until(self, later: UnixMillis) -> u64 {
        let ms = later.0.saturating_sub(self.0);
        if ms <= 0 {
            return 0;
        }
        let secs = ms / 1000 + i64::from(ms % 1000 != 0);
        u64::try_from(secs).unwrap_or(u64::MAX)
    }

    /// The span from `earlier` to `self`; zero when `earlier` is not before it.
    pub fn since(self, earlier: UnixMillis) -> Duration {
        let ms = self.0.saturating_sub(earlier.0);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

impl Add<Duration> for UnixMillis {
    type Output = UnixMillis;
    fn add(self, d: Duration) -> UnixMillis {
        UnixMillis(self.0.saturating_add(millis_of(d)))
    }
}

impl Sub<Duration> for UnixMillis {
    type Output = UnixMillis;
    fn sub(self, d: Duration) -> UnixMillis {
        UnixMillis(self.0.saturating_sub(millis_of(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_conversions_round_as_said() {
        let t = UnixMillis::from_millis(1_500);
        assert_eq!(t.secs(), 1);
        assert_eq!(UnixMillis::from_millis(-1).secs(), -1);
        assert_eq!(t + Duration::from_secs(2), UnixMillis::from_millis(3_500));
        assert_eq!(t - Duration::from_secs(2), UnixMillis::from_millis(-500));
        assert_eq!(
            UnixMillis::from_millis(i64::MAX - 1) + Duration::from_secs(1),
            UnixMillis::from_millis(i64::MAX)
        );
        assert_eq!(t + Duration::MAX, UnixMillis::from_millis(i64::MAX));
        assert_eq!(t.secs_until(UnixMillis::from_millis(1_501)), 1);
        assert_eq!(t.secs_until(UnixMillis::from_millis(3_500)), 2);
        assert_eq!(t.secs_until(t), 0);
        assert_eq!(
            t.since(UnixMillis::from_millis(500)),
            Duration::from_secs(1)
        );
        assert_eq!(UnixMillis::EPOCH.since(t), Duration::ZERO);
        assert_eq!(UnixMillis::from_secs(3), UnixMillis::from_millis(3_000));
    }

    #[test]
    fn stored_as_the_bare_number() {
        let t = UnixMillis::from_millis(1_700_000_000_123);
        assert_eq!(
            postcard::to_allocvec(&t).unwrap(),
            postcard::to_allocvec(&1_700_000_000_123_i64).unwrap()
        );
        assert_eq!(serde_json::to_string(&t).unwrap(), "1700000000123");
    }
}
