//! The node's background tasks may not die quietly. LDK's background processor returns when it
//! cannot persist the channel manager, and then the node goes on forwarding HTLCs whose state is
//! never saved; a helper loop that panics leaves a node that neither follows the chain nor
//! broadcasts. Every task [`Node::start`](crate::Node::start) spawns is [`supervise`]d: if it
//! ends before the node is stopping, its reason is recorded in [`Failures`], logged at `error`,
//! and [`Node::wait_for_failure`](crate::Node::wait_for_failure) returns it, so the program
//! running the node stops loudly (`inbound serve` exits non-zero).

use std::sync::Arc;

use lightning::util::logger::Level;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::logger::NodeLogger;

/// The first reason a background task ended on its own, per run of the node.
#[derive(Clone)]
pub(crate) struct Failures(Arc<watch::Sender<Option<String>>>);

impl Failures {
    pub(crate) fn new() -> Failures {
        Failures(Arc::new(watch::channel(None).0))
    }

    /// Forgets the previous run's failure (the node starts again).
    pub(crate) fn clear(&self) {
        self.0.send_replace(None);
    }

    /// Records `reason` unless a failure is recorded already (the first one is the cause).
    pub(crate) fn report(&self, reason: String) {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }

    /// The recorded failure, if any.
    pub(crate) fn current(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Waits until a failure is recorded and returns it.
    pub(crate) async fn wait(&self) -> String {
        let mut receiver = self.0.subscribe();
        let reason = match receiver.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives as long as `self`; never reached.
            Err(_) => return std::future::pending().await,
        };
        reason
    }
}

/// Watches `task` (called `name` in the report): when it ends while `stopping` is still false,
/// `describe` says why (or its panic does), and the reason goes to `failures` and the log. The
/// returned handle gives the task's own outcome.
pub(crate) fn supervise<T: Send + 'static>(
    name: &'static str,
    task: JoinHandle<T>,
    describe: fn(&T) -> String,
    failures: Failures,
    stopping: watch::Receiver<bool>,
    logger: Arc<NodeLogger>,
) -> JoinHandle<Result<T, JoinError>> {
    tokio::spawn(async move {
        let outcome = task.await;
        if !*stopping.borrow() {
            let reason = match &outcome {
                Ok(value) => format!("{name}: {}", describe(value)),
                Err(error) => format!("{name}: {error}"),
            };
            logger.log_line(Level::Error, &format!("background task failed; the node must stop: {reason}"));
            failures.report(reason);
        }
        outcome
    })
}

/// [`supervise`]'s `describe` for loops that run until told to stop.
pub(crate) fn ended_early(_: &()) -> String {
    "ended while the node was running".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logger() -> Arc<NodeLogger> {
        Arc::new(NodeLogger::new("test", Level::Error))
    }

    #[tokio::test]
    async fn a_task_ending_early_or_panicking_is_a_failure_but_not_when_stopping() {
        let failures = Failures::new();
        let (stop, stopping) = watch::channel(false);
        let quiet =
            supervise("loop", tokio::spawn(async {}), ended_early, failures.clone(), stopping.clone(), logger());
        assert!(quiet.await.expect("monitor").is_ok());
        assert_eq!(failures.wait().await, "loop: ended while the node was running");
        // The first failure stays the cause.
        let panicking: JoinHandle<()> = tokio::spawn(async { panic!("boom") });
        let second = supervise("other", panicking, ended_early, failures.clone(), stopping.clone(), logger());
        assert!(second.await.expect("monitor").is_err());
        assert_eq!(failures.current().as_deref(), Some("loop: ended while the node was running"));

        failures.clear();
        stop.send_replace(true);
        let stopped = supervise("loop", tokio::spawn(async {}), ended_early, failures.clone(), stopping, logger());
        assert!(stopped.await.expect("monitor").is_ok());
        assert_eq!(failures.current(), None, "ending on stop is not a failure");
    }
}
