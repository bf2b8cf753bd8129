//! The one place that turns a [`JitEffect`] into calls on the node ([`JitLightning`]), for the
//! flow kernel's outbox drain. Each effect is idempotent (see `runner.rs`); a failure the
//! session must hear of is fed back as an input, one worth retrying is [`Outcome::Retry`].

use lsps::lsps5::Notification;
use tracing::{debug, info, warn};

use super::ops::{JitLightning, OpenRequest};
use super::service::{Lsps2Service, MAX_TRACKED_UNPAID_CLIENTS};
use super::session::{HtlcFailure, JitEffect, JitInput, JitSession};
use crate::flow::{Flow, Outcome};
use crate::OpsError;

impl Lsps2Service {
    /// Carries out one effect of `session` (its current state).
    pub(super) fn execute(
        &self,
        lightning: &dyn JitLightning,
        session: &JitSession,
        effect: &JitEffect,
    ) -> Outcome<JitInput> {
        let id = Flow::id(session);
        let id = id.as_str();
        let client = session.client.0;
        match effect {
            JitEffect::FailHtlcs { htlcs, failure } => {
                if *failure == HtlcFailure::TemporaryChannelFailure {
                    debug!(session = id, "temporary_channel_failure intended; LDK 0.2.7 sends unknown_next_peer");
                }
                let mut errors = Vec::new();
                for htlc in htlcs {
                    match lightning.fail_htlc(*htlc) {
                        Ok(()) | Err(OpsError::NotFound) => {}
                        Err(error) => errors.push(error.to_string()),
                    }
                }
                retry_if_any(errors)
            }
            JitEffect::OpenChannel { forward_msat, manual_broadcast } => {
                if lightning.has_channel(session.user_channel_id) {
                    debug!(session = id, "channel already being opened; not opening twice");
                    return Outcome::Done;
                }
                if !lightning.is_connected(&client) {
                    // E.g. replayed after a restart, before the client reconnected: not a
                    // failed open; the session keeps the payment and waits for the client.
                    info!(session = id, %client, "client not connected for the JIT open; waiting for it");
                    return Outcome::Feed(JitInput::OpenInterrupted);
                }
                let Some(channel_sat) = self.config.sizing.channel_sat(*forward_msat) else {
                    warn!(session = id, forward_msat, "payment too large for a JIT channel");
                    return Outcome::Feed(JitInput::OpenFailed);
                };
                let request = OpenRequest {
                    client,
                    channel_sat,
                    user_channel_id: session.user_channel_id,
                    manual_broadcast: *manual_broadcast,
                    max_client_to_self_delay: u16::try_from(session.opening_fee_params.max_client_to_self_delay)
                        .unwrap_or(u16::MAX),
                };
                match lightning.open_channel(&request) {
                    Ok(()) => {
                        // `open_channel` goes out now, not after this event's handling ends.
                        lightning.flush();
                        info!(session = id, %client, channel_sat, manual_broadcast, "opening JIT channel");
                        Outcome::Done
                    }
                    Err(error) => {
                        warn!(session = id, %error, "JIT channel open refused");
                        Outcome::Feed(JitInput::OpenFailed)
                    }
                }
            }
            JitEffect::ForwardHtlcs { channel_id, forwards } => {
                let mut failed = false;
                for (htlc, amount_msat) in forwards {
                    match lightning.forward_htlc(*htlc, *channel_id, client, *amount_msat) {
                        Ok(()) | Err(OpsError::NotFound) => {}
                        Err(error) => {
                            warn!(session = id, %error, "forward failed; failing the HTLC back");
                            super::runner::ignore_not_found(
                                lightning.fail_htlc(*htlc),
                                "failing an unforwardable HTLC",
                            );
                            failed = true;
                        }
                    }
                }
                // The HTLCs leave now instead of after LDK's forwarding batch delay.
                lightning.flush();
                debug!(session = id, htlcs = forwards.len(), "JIT HTLCs forwarded");
                if failed {
                    Outcome::Feed(JitInput::ForwardFailed)
                } else {
                    Outcome::Done
                }
            }
            JitEffect::BroadcastFunding => match lightning.broadcast_funding(session.user_channel_id) {
                Ok(()) => {
                    info!(session = id, "fee collected; JIT funding broadcast");
                    Outcome::Done
                }
                Err(error) => Outcome::Retry(format!("broadcasting the JIT funding: {error}")),
            },
            JitEffect::AbandonChannel => {
                match lightning.abandon_channel(session.user_channel_id, session.client_trusts_lsp) {
                    Ok(()) | Err(OpsError::NotFound) => Outcome::Done,
                    Err(error) => Outcome::Retry(format!("abandoning the JIT channel: {error}")),
                }
            }
            JitEffect::CloseChannel { channel_id, force } => match lightning.close_channel(*channel_id, client, *force)
            {
                Ok(()) | Err(OpsError::NotFound) => Outcome::Done,
                Err(error) => Outcome::Retry(format!("closing the JIT channel: {error}")),
            },
            // Awaits the notifier, so it is carried out by `notify_client` instead.
            JitEffect::NotifyClient => Outcome::Done,
            JitEffect::RecordUnpaid => {
                let mut unpaid = self.unpaid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if unpaid.len() < MAX_TRACKED_UNPAID_CLIENTS || unpaid.contains_key(&client) {
                    *unpaid.entry(client).or_default() += 1;
                }
                warn!(session = id, %client, "client left a JIT channel unpaid");
                Outcome::Done
            }
        }
    }
}

impl Lsps2Service {
    /// Carries out `NotifyClient`: hands `lsps5.payment_incoming` to the notifier (the LSPS5
    /// service, when enabled) and completes once it is persisted there; a store failure is
    /// retried, so a crash between the two loses no wake-up. Without a notifier it only logs.
    pub(super) async fn notify_client(&self, session: &JitSession) -> Outcome<JitInput> {
        let client = session.client.0;
        info!(session = Flow::id(session), %client, "payment waiting for an offline client");
        let Some(notifier) = self.notifier() else { return Outcome::Done };
        match notifier.notify(client, Notification::PaymentIncoming).await {
            Ok(()) => Outcome::Done,
            Err(error) => Outcome::Retry(format!("waking the client: {error}")),
        }
    }
}

fn retry_if_any(errors: Vec<String>) -> Outcome<JitInput> {
    if errors.is_empty() {
        Outcome::Done
    } else {
        Outcome::Retry(errors.join("; "))
    }
}
