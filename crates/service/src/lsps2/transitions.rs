//! Every transition of [`JitSession`] (see `session.rs` for the diagram): the pure step.

use lsps::lsps2::{opening_fee_msat, split_opening_fee};
use lsps::schema::DateTime;

use super::session::{
    ChannelRef, Context, FailReason, HeldHtlc, HtlcFailure, InterceptRef, JitEffect, JitInput, JitSession, JitState,
    PurchaseMode, SessionPolicy, TransitionError,
};

impl JitSession {
    /// Applies one input at `context.now`: the next session and the effects to carry out, in
    /// order, after the next session is persisted.
    pub fn step(&self, input: JitInput, context: Context<'_>) -> Result<(JitSession, Vec<JitEffect>), TransitionError> {
        let mut next = self.clone();
        let mut effects = Vec::new();
        let input_name = input.name();
        let invalid = || TransitionError { state: self.state.name(), input: input_name };
        let policy = context.policy;
        let now = context.now;
        next.state = match (&self.state, input) {
            // ---- the operator: only while no open is in flight and nothing was forwarded ----
            (
                JitState::AwaitingPayment { parts, .. } | JitState::AwaitingClient { parts, .. },
                JitInput::OperatorFail,
            ) => {
                if !parts.is_empty() {
                    effects.push(fail(ids(parts), HtlcFailure::UnknownNextPeer));
                }
                JitState::Failed { reason: FailReason::Cancelled }
            }
            (_, JitInput::OperatorFail) => return Err(invalid()),

            // ---- terminal states ----
            (JitState::Expired | JitState::Failed { .. }, JitInput::HtlcIntercepted(htlc)) => {
                effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                self.state.clone()
            }
            (JitState::Paid { channel_id, .. }, JitInput::HtlcIntercepted(htlc)) => {
                // The fee is paid: later HTLCs to the SCID pass through untouched.
                effects.push(JitEffect::ForwardHtlcs {
                    channel_id: *channel_id,
                    forwards: vec![(htlc.intercept_id, htlc.expected_outbound_amount_msat)],
                });
                self.state.clone()
            }
            (JitState::Paid { .. } | JitState::Expired | JitState::Failed { .. }, _) => self.state.clone(),

            // ---- collecting the payment ----
            (JitState::AwaitingPayment { parts, first_part_at }, JitInput::HtlcIntercepted(htlc)) => {
                self.collect(parts, *first_part_at, htlc, context, &mut next, &mut effects)
            }
            (JitState::AwaitingPayment { parts, first_part_at }, JitInput::Tick) => {
                if now >= self.opening_fee_params.valid_until {
                    if !parts.is_empty() {
                        effects.push(fail(ids(parts), HtlcFailure::UnknownNextPeer));
                    }
                    JitState::Expired
                } else if first_part_at.is_some_and(|first| now.secs_since(&first) >= policy.mpp_timeout_secs) {
                    effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
                    awaiting_payment()
                } else {
                    self.state.clone()
                }
            }
            (JitState::AwaitingPayment { .. }, JitInput::ClientConnected | JitInput::OpenFailed) => self.state.clone(),

            // ---- waiting for the client ----
            (JitState::AwaitingClient { parts, .. }, JitInput::ClientConnected) => {
                next.open_attempts = self.open_attempts.saturating_add(1);
                effects.push(self.open_channel(parts));
                JitState::OpeningChannel { parts: parts.clone(), since: now }
            }
            (JitState::AwaitingClient { parts, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.client_wait_secs || now >= self.opening_fee_params.valid_until {
                    effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
                    if now >= self.opening_fee_params.valid_until {
                        JitState::Expired
                    } else {
                        awaiting_payment()
                    }
                } else {
                    self.state.clone()
                }
            }
            (
                JitState::AwaitingClient { parts, .. } | JitState::OpeningChannel { parts, .. },
                JitInput::HtlcIntercepted(htlc),
            ) => {
                if !parts.iter().any(|held| held.intercept_id == htlc.intercept_id) {
                    // A payment is already being delivered; this one may retry later.
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                }
                self.state.clone()
            }
            (JitState::AwaitingClient { .. }, JitInput::OpenFailed) => self.state.clone(),

            // ---- opening the channel ----
            (JitState::OpeningChannel { parts, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.open_timeout_secs {
                    self.open_failed(parts, policy, &mut effects)
                } else {
                    self.state.clone()
                }
            }
            (JitState::OpeningChannel { parts, .. }, JitInput::OpenFailed) => {
                self.open_failed(parts, policy, &mut effects)
            }
            (JitState::OpeningChannel { parts, .. }, JitInput::OpenInterrupted) => {
                if self.open_attempts >= policy.max_open_attempts {
                    self.open_failed(parts, policy, &mut effects)
                } else if context.client_online {
                    next.open_attempts = self.open_attempts.saturating_add(1);
                    effects.push(self.open_channel(parts));
                    JitState::OpeningChannel { parts: parts.clone(), since: now }
                } else {
                    effects.push(JitEffect::NotifyClient);
                    JitState::AwaitingClient { parts: parts.clone(), since: now }
                }
            }
            (
                JitState::OpeningChannel { parts, .. },
                JitInput::ChannelReady { channel_id, client_htlc_minimum_msat },
            ) => {
                let amounts: Vec<u64> = parts.iter().map(|p| p.expected_outbound_amount_msat).collect();
                match split_opening_fee(&amounts, self.fee_outstanding_msat(), client_htlc_minimum_msat) {
                    Ok(split) => {
                        let forwards = parts.iter().zip(split).map(|(p, f)| (p.intercept_id, f.forward_msat)).collect();
                        effects.push(JitEffect::ForwardHtlcs { channel_id, forwards });
                        JitState::Forwarded { channel_id, client_htlc_minimum_msat, forwarded: ids(parts), since: now }
                    }
                    Err(_) => {
                        // The client's minimum is higher than assumed: the fee cannot be taken
                        // out. The channel stays; a later payment may pay the fee.
                        effects.push(fail(ids(parts), HtlcFailure::UnknownNextPeer));
                        JitState::ChannelUnpaid { channel_id, client_htlc_minimum_msat }
                    }
                }
            }

            // ---- forwarded, waiting for the claim ----
            (
                JitState::Forwarded { forwarded, channel_id, client_htlc_minimum_msat, .. },
                JitInput::HtlcIntercepted(htlc),
            ) => {
                if !forwarded.contains(&htlc.intercept_id) {
                    // Another payment to the SCID while the first is in flight: treat it as
                    // a payment over an unpaid channel once the first settles; retry later.
                    let _ = (channel_id, client_htlc_minimum_msat);
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                }
                self.state.clone()
            }
            (JitState::Forwarded { channel_id, .. }, JitInput::PaymentForwarded { skimmed_fee_msat }) => {
                next.fee_collected_msat = self.fee_collected_msat.saturating_add(skimmed_fee_msat);
                if next.fee_outstanding_msat() == 0 {
                    if self.client_trusts_lsp {
                        effects.push(JitEffect::BroadcastFunding);
                    }
                    JitState::Paid { channel_id: *channel_id, fee_msat: next.fee_collected_msat, at: now }
                } else {
                    self.state.clone()
                }
            }
            (JitState::Forwarded { channel_id, client_htlc_minimum_msat, .. }, JitInput::ForwardFailed) => {
                effects.push(JitEffect::RecordUnpaid);
                JitState::ChannelUnpaid { channel_id: *channel_id, client_htlc_minimum_msat: *client_htlc_minimum_msat }
            }
            (JitState::Forwarded { channel_id, since, .. }, JitInput::Tick) => {
                if now.secs_since(since) >= policy.claim_timeout_secs {
                    effects.push(JitEffect::RecordUnpaid);
                    effects.push(self.give_up_channel(*channel_id, true));
                    JitState::Failed { reason: FailReason::ClientNeverClaimed }
                } else {
                    self.state.clone()
                }
            }

            // ---- a channel whose fee is still owed ----
            (JitState::ChannelUnpaid { channel_id, client_htlc_minimum_msat }, JitInput::HtlcIntercepted(htlc)) => {
                let owed = self.fee_outstanding_msat();
                match split_opening_fee(&[htlc.expected_outbound_amount_msat], owed, *client_htlc_minimum_msat) {
                    Ok(split) => {
                        let forward =
                            split.first().map(|f| f.forward_msat).unwrap_or(htlc.expected_outbound_amount_msat);
                        effects.push(JitEffect::ForwardHtlcs {
                            channel_id: *channel_id,
                            forwards: vec![(htlc.intercept_id, forward)],
                        });
                        JitState::Forwarded {
                            channel_id: *channel_id,
                            client_htlc_minimum_msat: *client_htlc_minimum_msat,
                            forwarded: vec![htlc.intercept_id],
                            since: now,
                        }
                    }
                    Err(_) => {
                        effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                        self.state.clone()
                    }
                }
            }
            (JitState::ChannelUnpaid { channel_id, .. }, JitInput::Tick) => {
                let grace_end = self.opening_fee_params.valid_until.checked_add_secs(policy.unpaid_channel_grace_secs);
                if grace_end.is_none_or(|end| now >= end) {
                    effects.push(self.give_up_channel(*channel_id, false));
                    JitState::Failed { reason: FailReason::ChannelNeverPaid }
                } else {
                    self.state.clone()
                }
            }
            (
                JitState::Forwarded { .. } | JitState::ChannelUnpaid { .. },
                JitInput::ClientConnected | JitInput::OpenFailed | JitInput::ChannelReady { .. },
            ) => self.state.clone(),
            (JitState::ChannelUnpaid { .. }, JitInput::ForwardFailed) => self.state.clone(),
            (_, _) => return Err(invalid()),
        };
        if matches!(next.state, JitState::AwaitingPayment { .. }) {
            // No payment is being delivered; a new one sets its own fee.
            next.opening_fee_msat = None;
        }
        Ok((next, effects))
    }

    /// Adds an intercepted HTLC to the payment being collected.
    fn collect(
        &self,
        parts: &[HeldHtlc],
        first_part_at: Option<DateTime>,
        htlc: HeldHtlc,
        context: Context<'_>,
        next: &mut JitSession,
        effects: &mut Vec<JitEffect>,
    ) -> JitState {
        let params = &self.opening_fee_params;
        if parts.iter().any(|held| held.intercept_id == htlc.intercept_id) {
            return self.state.clone(); // replayed after a restart
        }
        if context.now >= params.valid_until {
            let mut expired = ids(parts);
            expired.push(htlc.intercept_id);
            effects.push(fail(expired, HtlcFailure::UnknownNextPeer));
            return JitState::Expired;
        }
        match self.mode {
            PurchaseMode::Variable => {
                if !parts.is_empty() {
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                    return self.state.clone();
                }
                let amount = htlc.expected_outbound_amount_msat;
                let in_range =
                    (params.min_payment_size_msat.get()..=params.max_payment_size_msat.get()).contains(&amount);
                let fee = opening_fee_msat(amount, params.min_fee_msat.get(), params.proportional.get());
                let covered = fee
                    .ok()
                    .and_then(|fee| fee.checked_add(context.policy.assumed_htlc_minimum_msat))
                    .is_some_and(|need| need <= amount);
                match fee {
                    Ok(fee) if in_range && covered => self.complete(vec![htlc], fee, context, next, effects),
                    _ => {
                        effects.push(fail(vec![htlc.intercept_id], HtlcFailure::UnknownNextPeer));
                        self.state.clone()
                    }
                }
            }
            PurchaseMode::Fixed { payment_size_msat } => {
                let same_payment = parts.first().is_none_or(|first| first.payment_hash == htlc.payment_hash);
                if !same_payment {
                    effects.push(fail(vec![htlc.intercept_id], HtlcFailure::TemporaryChannelFailure));
                    return self.state.clone();
                }
                if parts.len() >= context.policy.max_parts {
                    let mut all = ids(parts);
                    all.push(htlc.intercept_id);
                    effects.push(fail(all, HtlcFailure::UnknownNextPeer));
                    return awaiting_payment();
                }
                let mut parts = parts.to_vec();
                parts.push(htlc);
                let total = parts.iter().try_fold(0u64, |sum, p| sum.checked_add(p.expected_outbound_amount_msat));
                let Some(total) = total else {
                    effects.push(fail(ids(&parts), HtlcFailure::UnknownNextPeer));
                    return awaiting_payment();
                };
                if total < payment_size_msat {
                    return JitState::AwaitingPayment { parts, first_part_at: first_part_at.or(Some(context.now)) };
                }
                let fee = opening_fee_msat(payment_size_msat, params.min_fee_msat.get(), params.proportional.get());
                let amounts: Vec<u64> = parts.iter().map(|p| p.expected_outbound_amount_msat).collect();
                let coverable = fee.ok().is_some_and(|fee| {
                    lsps::lsps2::parts_can_cover(&amounts, fee, context.policy.assumed_htlc_minimum_msat)
                        .unwrap_or(false)
                });
                match fee {
                    Ok(fee) if coverable => self.complete(parts, fee, context, next, effects),
                    _ => {
                        effects.push(fail(ids(&parts), HtlcFailure::UnknownNextPeer));
                        awaiting_payment()
                    }
                }
            }
        }
    }

    /// The payment is complete: open now if the client is here, else wait for it.
    fn complete(
        &self,
        parts: Vec<HeldHtlc>,
        opening_fee_msat: u64,
        context: Context<'_>,
        next: &mut JitSession,
        effects: &mut Vec<JitEffect>,
    ) -> JitState {
        next.opening_fee_msat = Some(opening_fee_msat);
        if context.client_online {
            next.open_attempts = self.open_attempts.saturating_add(1);
            effects.push(next.open_channel(&parts));
            JitState::OpeningChannel { parts, since: context.now }
        } else {
            effects.push(JitEffect::NotifyClient);
            JitState::AwaitingClient { parts, since: context.now }
        }
    }

    fn open_channel(&self, parts: &[HeldHtlc]) -> JitEffect {
        let total: u64 = parts.iter().fold(0u64, |sum, p| sum.saturating_add(p.expected_outbound_amount_msat));
        JitEffect::OpenChannel {
            forward_msat: total.saturating_sub(self.fee_outstanding_msat()),
            manual_broadcast: self.client_trusts_lsp,
        }
    }

    fn open_failed(&self, parts: &[HeldHtlc], policy: &SessionPolicy, effects: &mut Vec<JitEffect>) -> JitState {
        effects.push(fail(ids(parts), HtlcFailure::TemporaryChannelFailure));
        effects.push(JitEffect::AbandonChannel);
        if self.open_attempts >= policy.max_open_attempts {
            JitState::Failed { reason: FailReason::OpenFailedRepeatedly }
        } else {
            awaiting_payment()
        }
    }

    /// Gives up an unpaid channel: unfunded on chain (client trusts LSP) → abandon it and keep
    /// the inputs; funded → close it.
    fn give_up_channel(&self, channel_id: ChannelRef, force: bool) -> JitEffect {
        if self.client_trusts_lsp {
            JitEffect::AbandonChannel
        } else {
            JitEffect::CloseChannel { channel_id, force }
        }
    }
}

fn awaiting_payment() -> JitState {
    JitState::AwaitingPayment { parts: Vec::new(), first_part_at: None }
}

fn ids(parts: &[HeldHtlc]) -> Vec<InterceptRef> {
    parts.iter().map(|p| p.intercept_id).collect()
}

fn fail(htlcs: Vec<InterceptRef>, failure: HtlcFailure) -> JitEffect {
    JitEffect::FailHtlcs { htlcs, failure }
}
