//! A minimal LDK [`Logger`] that writes to standard error.
//!
//! The binary crate is expected to install its own subscriber later; until then every line carries
//! the node's alias so that several in-process nodes (as in the tests) can be told apart.

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
        if level >= self.min_level {
            eprintln!("{} [{} {} inbound_node] {}", time_of_day(), self.alias, level, line);
        }
    }
}

impl Logger for NodeLogger {
    fn log(&self, record: Record) {
        if record.level >= self.min_level {
            eprintln!(
                "{} [{} {} {}:{}] {}",
                time_of_day(),
                self.alias,
                record.level,
                record.module_path,
                record.line,
                record.args
            );
        }
    }
}

/// UTC time of day with microseconds (`12:34:56.789012Z`), so LDK's lines line up with the
/// `tracing` lines around them.
fn time_of_day() -> String {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let day = since.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:06}Z", day / 3600, day / 60 % 60, day % 60, since.subsec_micros())
}
