//! The LDK [`Logger`]: records at or above the node's level go to the `log` facade with LDK's
//! module path as their target (`lightning::ln::channelmanager`, …), so a `tracing` subscriber
//! with `tracing-log` (the `inbound` binary's) filters them like its own lines
//! (`RUST_LOG=info,lightning=warn`) and formats them the same way (text or JSON). When no `log`
//! logger is installed (tests that run nodes in-process), they are written to standard error.
//! Every line carries the node's alias, so that several in-process nodes can be told apart.

use lightning::util::logger::{Level, Logger, Record};

/// Writes LDK log records at or above a minimum level to standard error, prefixed by an alias.
///
/// Secrets never pass through here: the seed is never formatted, and LDK does not log key material.
#[derive(Debug, Clone)]
pub struct NodeLogger {
    alias: String,
    min_level: Level,
}

impl NodeLogger {
    /// Creates a logger that prints records at `min_level` or above, prefixed by `alias`.
    pub fn new(alias: impl Into<String>, min_level: Level) -> Self {
        Self { alias: alias.into(), min_level }
    }

    /// Logs a line of our own (not from LDK) at `level`.
    pub fn log_line(&self, level: Level, line: &str) {
        self.emit(level, "inbound_node", 0, format_args!("{line}"));
    }

    fn emit(&self, level: Level, target: &'static str, line: u32, message: std::fmt::Arguments<'_>) {
        if level < self.min_level {
            return;
        }
        let facade_level = facade_level(level);
        if log::max_level() == log::LevelFilter::Off {
            eprintln!("{} [{} {} {}:{}] {}", time_of_day(), self.alias, level, target, line, message);
            return;
        }
        log::logger().log(
            &log::Record::builder()
                .args(format_args!("[{}] {}", self.alias, message))
                .level(facade_level)
                .target(target)
                .module_path_static(Some(target))
                .line(Some(line))
                .build(),
        );
    }
}

/// LDK's levels on the facade's (gossip and trace are both its trace).
fn facade_level(level: Level) -> log::Level {
    match level {
        Level::Gossip | Level::Trace => log::Level::Trace,
        Level::Debug => log::Level::Debug,
        Level::Info => log::Level::Info,
        Level::Warn => log::Level::Warn,
        Level::Error => log::Level::Error,
    }
}

impl Logger for NodeLogger {
    fn log(&self, record: Record) {
        self.emit(record.level, record.module_path, record.line, record.args);
    }
}

/// UTC time of day with microseconds (`12:34:56.789012Z`), so LDK's lines line up with the
/// `tracing` lines around them.
fn time_of_day() -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let day = since.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:06}Z", day / 3600, day / 60 % 60, day % 60, since.subsec_micros())
}
