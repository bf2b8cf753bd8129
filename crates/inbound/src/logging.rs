//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default given per command).
//!
//! LDK's own log lines come from the node crate's logger, which writes to standard error itself;
//! [`node_log_level`] gives it the same threshold as the `tracing` filter.

use std::io::IsTerminal;

use inbound_node::lightning::util::logger::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset or invalid
/// (an invalid one is reported once the subscriber is up).
pub fn init(default_filter: &str) {
    let (filter, invalid) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(default_filter), Some(format!("ignoring RUST_LOG={directives:?}: {error}"))),
        },
        _ => (EnvFilter::new(default_filter), None),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if let Some(message) = invalid {
        tracing::warn!("{message}");
    }
}

/// The LDK log level matching the most verbose level the `tracing` filter lets through.
pub fn node_log_level() -> Level {
    match LevelFilter::current() {
        LevelFilter::TRACE => Level::Trace,
        LevelFilter::DEBUG => Level::Debug,
        LevelFilter::INFO => Level::Info,
        LevelFilter::WARN => Level::Warn,
        _ => Level::Error,
    }
}
