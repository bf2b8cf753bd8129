//! Logging of peer misbehaviour without letting a peer flood the log.
//!
//! Every payload a peer sends may be hostile, so what reaches the log is (1) sanitized: only a
//! short, lossily decoded prefix with control characters and `<` removed
//! ([`lsps::jsonrpc::sanitize_text`]), and (2) rate-limited: at most [`LOG_LINES_PER_WINDOW`]
//! warnings per [`LOG_WINDOW`] over all peers. Suppressed lines are counted and the count is
//! reported with the next line that gets through.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of the rate-limiting window.
pub const LOG_WINDOW: Duration = Duration::from_secs(1);

/// Warnings about peer input logged per [`LOG_WINDOW`]; the rest are counted only.
pub const LOG_LINES_PER_WINDOW: u32 = 20;

/// How many payload bytes a log line shows.
pub const LOG_PREVIEW_BYTES: usize = 64;

struct Window {
    started: Instant,
    emitted: u32,
    suppressed: u64,
}

/// A token window shared by everything that logs about peer input.
pub(crate) struct LogLimiter {
    window: Mutex<Window>,
}

impl LogLimiter {
    pub(crate) fn new() -> LogLimiter {
        LogLimiter { window: Mutex::new(Window { started: Instant::now(), emitted: 0, suppressed: 0 }) }
    }

    /// Whether a line may be logged now. `Some(n)`: yes, and `n` lines were suppressed since the
    /// last one that got through. `None`: no (the line is counted as suppressed).
    pub(crate) fn admit(&self) -> Option<u64> {
        let mut window = self.window.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if now.duration_since(window.started) >= LOG_WINDOW {
            window.started = now;
            window.emitted = 0;
        }
        if window.emitted >= LOG_LINES_PER_WINDOW {
            window.suppressed += 1;
            return None;
        }
        window.emitted += 1;
        Some(std::mem::take(&mut window.suppressed))
    }
}

/// A printable, bounded preview of an untrusted payload.
pub(crate) fn preview(payload: &[u8]) -> String {
    let head = &payload[..payload.len().min(LOG_PREVIEW_BYTES)];
    lsps::jsonrpc::sanitize_text(&String::from_utf8_lossy(head))
}

/// Logs a warning about peer input through a [`LogLimiter`].
macro_rules! limited_warn {
    ($limiter:expr, $($arg:tt)+) => {
        if let Some(suppressed) = $limiter.admit() {
            tracing::warn!(suppressed, $($arg)+);
        }
    };
}
pub(crate) use limited_warn;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_a_window_then_counts() {
        let limiter = LogLimiter::new();
        for _ in 0..LOG_LINES_PER_WINDOW {
            assert_eq!(limiter.admit(), Some(0));
        }
        assert_eq!(limiter.admit(), None);
        assert_eq!(limiter.admit(), None);
        limiter.window.lock().expect("lock").started -= LOG_WINDOW;
        assert_eq!(limiter.admit(), Some(2), "the next line reports what was suppressed");
    }

    #[test]
    fn previews_are_short_and_clean() {
        let hostile = [b"<script>\n\0\x1b[31m".as_slice(), &[0xff; 100]].concat();
        let shown = preview(&hostile);
        assert!(!shown.contains('<') && !shown.contains('\n') && !shown.contains('\0'));
        assert!(shown.chars().count() <= LOG_PREVIEW_BYTES);
    }
}
