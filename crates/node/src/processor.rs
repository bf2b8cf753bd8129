//! LDK's background processor (`process_events_async`) for one run of the node, supervised:
//! event handling through the node's dispatcher, persisting the channel manager, sweeping, and
//! the timers LDK needs. It ends when its stop signal is sent; ending any other way (it returns
//! when persisting fails) is a node failure ([`crate::supervise`]).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lightning_background_processor::{process_events_async, GossipSync, NO_LIQUIDITY_MANAGER, NO_ONION_MESSENGER};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::node::NodeParts;
use crate::supervise::{supervise, Failures};
use crate::types::Scorer;

/// Spawns the processor; it persists the channel manager on its way out once `stop` is true.
pub(crate) fn spawn_background_processor(
    parts: &NodeParts,
    stop: watch::Receiver<bool>,
    failures: Failures,
) -> JoinHandle<Result<Result<(), lightning::io::Error>, JoinError>> {
    let events = Arc::clone(&parts.events);
    let sleeper_stop = stop.clone();
    let processor = tokio::spawn(process_events_async(
        Arc::clone(&parts.store),
        move |event| {
            let events = Arc::clone(&events);
            async move { events.handle(event).await }
        },
        Arc::clone(&parts.chain_monitor),
        Arc::clone(&parts.channel_manager),
        NO_ONION_MESSENGER,
        GossipSync::none(),
        Arc::clone(&parts.peer_manager),
        NO_LIQUIDITY_MANAGER,
        Some(Arc::clone(&parts.sweeper)),
        Arc::clone(&parts.logger),
        None::<Arc<std::sync::RwLock<Scorer>>>,
        move |duration| {
            let mut stop = sleeper_stop.clone();
            Box::pin(async move {
                tokio::select! {
                    _ = tokio::time::sleep(duration) => false,
                    _ = crate::peers::stopped(&mut stop) => true,
                }
            })
        },
        false,
        || SystemTime::now().duration_since(UNIX_EPOCH).ok(),
    ));
    supervise(
        "LDK background processor",
        processor,
        |outcome| match outcome {
            Ok(()) => "ended while the node was running".to_owned(),
            Err(error) => format!("persisting failed ({error}); channel state is no longer saved"),
        },
        failures,
        stop,
        Arc::clone(&parts.logger),
    )
}
