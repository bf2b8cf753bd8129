//! The periodic timer every flow service runs (LSPS1 orders, LSPS2 sessions).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tracing::warn;

/// Spawns a task that awaits `tick()` every `period` (missed ticks are skipped, so a slow
/// tick never queues a burst) and logs a failed tick as `"{what} tick failed"`. Runs until
/// the returned task is aborted.
pub(crate) fn spawn_ticker<F, Fut, E>(period: Duration, what: &'static str, mut tick: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if let Err(error) = tick().await {
                warn!(%error, "{what} tick failed");
            }
        }
    })
}
