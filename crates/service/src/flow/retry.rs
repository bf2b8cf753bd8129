//! How long a failed effect waits before its next attempt.

use std::time::Duration;

/// Exponential backoff for failed effects: `base × 2^(attempts − 1)`, at most `max_delay`;
/// effects whose give-up rule allows it are given up after `max_attempts` failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures after which an effect that may be given up is.
    pub max_attempts: u32,
}

/// The first retry of a failed effect comes after this long.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);
/// Failed effects are retried at least this often.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(300);
/// Failures after which an effect that may be given up is (about 40 minutes of retrying).
pub const DEFAULT_RETRY_MAX_ATTEMPTS: u32 = 16;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: DEFAULT_RETRY_BASE_DELAY,
            max_delay: DEFAULT_RETRY_MAX_DELAY,
            max_attempts: DEFAULT_RETRY_MAX_ATTEMPTS,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failure (1 for the first).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(32);
        self.base_delay.saturating_mul(1u32 << doublings.min(31)).min(self.max_delay)
    }

    /// Whether an effect that may be given up is, after `attempts` failures.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_never_overflow() {
        let policy = RetryPolicy::default();
        let secs: Vec<u64> = (1..=11).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(policy.delay(0), policy.base_delay);
        assert_eq!(policy.delay(u32::MAX), policy.max_delay);
        assert!(!policy.exhausted(DEFAULT_RETRY_MAX_ATTEMPTS - 1));
        assert!(policy.exhausted(DEFAULT_RETRY_MAX_ATTEMPTS));
    }
}
