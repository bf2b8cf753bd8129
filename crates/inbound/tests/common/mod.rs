//! Helpers for tests that run the `inbound` binary as a child process.

#![allow(dead_code)]

pub mod lsp;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The debug binary cargo built for these tests.
pub const INBOUND: &str = env!("CARGO_BIN_EXE_inbound");

/// A command for the binary with a clean `INBOUND_*` and `RUST_LOG` environment. Tests run
/// several LSPs at once, so the admin API listens on a port of its own (`admin_listen=…` in the log).
pub fn inbound() -> Command {
    let mut command = Command::new(INBOUND);
    for name in ["INBOUND_CONFIG", "INBOUND_NETWORK", "INBOUND_DATA_DIR", "INBOUND_LISTEN", "INBOUND_CHAIN_URL"] {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "info").env("NO_COLOR", "1").env("INBOUND_ADMIN_LISTEN", "127.0.0.1:0");
    command
}

/// A running child whose stderr is read line by line on a thread. Killed on drop, so a failing
/// test never leaves a daemon behind.
pub struct Daemon {
    pub child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub log: Vec<String>,
}

impl Daemon {
    /// Spawns `command` with stderr piped.
    pub fn spawn(mut command: Command) -> Daemon {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn inbound");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Daemon { child, lines, log: Vec::new() }
    }

    /// Waits for a stderr line containing `needle` and returns it; panics with the log so far
    /// after `timeout` or if the process ends first.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line with {needle:?} within {timeout:?}; log:\n{}", self.log.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the process ended before printing {needle:?}; log:\n{}", self.log.join("\n"))
                }
            }
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped) touches no memory.
        let result = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(result, 0, "kill -TERM {pid}");
    }

    /// Waits for the process to exit, reading the rest of its stderr; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.log.push(line);
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The reader thread ends with the pipe; collect what is left.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
                    self.log.push(line);
                }
                return status;
            }
            assert!(Instant::now() < deadline, "did not exit within {timeout:?}; log:\n{}", self.log.join("\n"));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name=value` in a log line.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    line.split_whitespace().find_map(|token| token.strip_prefix(prefix.as_str()))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}
