//! Wall-clock time, injected into every flow so that tests control it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lsps::schema::DateTime;

/// Wall-clock time, injected so that tests control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let millis = u64::try_from(millis).unwrap_or(u64::MAX);
        // `DateTime` ends in year 9999; a system clock beyond it is a broken host.
        DateTime::from_unix_millis(millis).unwrap_or_else(far_future)
    }
}

fn far_future() -> DateTime {
    DateTime::from_unix_secs(253_402_300_799).expect("9999-12-31T23:59:59Z is representable")
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    unix_millis: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime) -> ManualClock {
        ManualClock { unix_millis: AtomicU64::new(start.unix_millis()) }
    }

    /// A clock standing at the system time now.
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.unix_millis.fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime {
        DateTime::from_unix_millis(self.unix_millis.load(Ordering::SeqCst)).unwrap_or_else(far_future)
    }
}
