//! Sending coins from the node's on-chain wallet (an operator's withdrawal).

use bitcoin::{Address, Txid};
use lightning::chain::chaininterface::{ConfirmationTarget, FeeEstimator};

use crate::{Node, NodeResult};

/// How much [`Node::send_onchain`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendAmount {
    /// Exactly this many satoshis (the fee comes on top).
    Sat(u64),
    /// Every coin of the wallet (the fee comes out of them).
    All,
}

impl Node {
    /// Builds, signs and broadcasts a transaction from the on-chain wallet to `address`, at
    /// `fee_rate_sat_per_kwu` or the chain's current estimate for channel funding. Returns its
    /// txid. The address must be of the node's network (checked by the caller's parsing).
    ///
    /// # Errors
    /// If the wallet cannot fund or sign it.
    pub fn send_onchain(
        &self,
        address: &Address,
        amount: SendAmount,
        fee_rate_sat_per_kwu: Option<u32>,
    ) -> NodeResult<Txid> {
        let rate = fee_rate_sat_per_kwu.unwrap_or_else(|| {
            self.fee_estimator().get_est_sat_per_1000_weight(ConfirmationTarget::NonAnchorChannelFee)
        });
        let tx = match amount {
            SendAmount::Sat(amount_sat) => self.wallet().build_send_transaction(address, amount_sat, rate)?,
            SendAmount::All => self.wallet().build_drain_transaction(address, rate)?,
        };
        self.broadcast_transaction(&tx);
        Ok(tx.compute_txid())
    }
}
