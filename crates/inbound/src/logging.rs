//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default given per command), as
//! text or, with `--log-format json` (`INBOUND_LOG_FORMAT=json`), one JSON object per line.
//!
//! LDK's own log records reach `tracing` through the `log` facade (the subscriber installs
//! `tracing-log`), with LDK's module as their target: `RUST_LOG=info,lightning=warn` quiets LDK
//! alone. [`node_log_level`] gives LDK the same threshold as the filter, so records the filter
//! would drop are not even formatted.

use std::io::IsTerminal;

use inbound_node::lightning::util::logger::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset or invalid
/// (an invalid one is reported once the subscriber is up).
pub fn init(default_filter: &str, format: LogFormat) {
    let (filter, invalid) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(default_filter), Some(format!("ignoring RUST_LOG={directives:?}: {error}"))),
        },
        _ => (EnvFilter::new(default_filter), None),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
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
