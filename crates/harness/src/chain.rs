//! Chain and payment helpers of a [`Network`]: mining, funding wallets, opening confirmed
//! channels, invoices and payments. They work the same on the simulated chain and on bcoin.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bitcoin::Txid;
use inbound_node::lightning::events::Event;
use inbound_node::lightning::ln::types::ChannelId;
use inbound_node::lightning::types::payment::PaymentPreimage;
use inbound_node::lightning_invoice::Bolt11Invoice;
use inbound_node::FundingBroadcast;

use crate::network::{Backend, Network};
use crate::test_node::TestNode;
use crate::wait::{wait_for, wait_until, HarnessError, HarnessResult, DEFAULT_TIMEOUT};

/// Confirmations every harness node requires before a channel is usable.
pub const FUNDING_CONFIRMATIONS: u32 = 1;

impl Network {
    /// Mines `blocks` blocks, then brings every running node to the new tip.
    pub async fn mine(&self, blocks: u32) -> HarnessResult<()> {
        match &self.backend {
            Backend::Sim(chain) => {
                chain.mine_blocks(blocks);
            }
            Backend::Bcoin(bcoin) => {
                bcoin.mine(blocks, None).await?;
            }
        }
        self.sync_all().await
    }

    /// Brings every running node to the chain tip now.
    pub async fn sync_all(&self) -> HarnessResult<()> {
        for node in self.running_nodes() {
            node.sync_chain().await?;
        }
        Ok(())
    }

    /// Gives `test_node`'s on-chain wallet at least `amount_sat`, confirmed, and returns what it
    /// got. On the simulated chain that is exactly `amount_sat`; on bcoin it is one mature
    /// coinbase (the block subsidy, far more), since bcoin runs without a wallet to pay from.
    pub async fn fund(&self, test_node: &TestNode, amount_sat: u64) -> HarnessResult<u64> {
        let node = test_node.node();
        let before = node.onchain_balance().confirmed_sat;
        let address = node.new_onchain_address()?;
        match &self.backend {
            Backend::Sim(chain) => {
                chain.send_to(address.script_pubkey(), amount_sat);
                self.mine(1).await?;
            }
            Backend::Bcoin(bcoin) => {
                bcoin.fund(&address).await?;
                self.sync_all().await?;
            }
        }
        let what = format!("{} sat confirmed in {}'s wallet", amount_sat, test_node.name());
        wait_until(&what, DEFAULT_TIMEOUT, || node.onchain_balance().confirmed_sat >= before + amount_sat).await?;
        Ok(node.onchain_balance().confirmed_sat - before)
    }

    /// Opens a `channel_amount_sat` channel from `from` to `to`, funded by `from`'s wallet and
    /// pushing `push_msat` to `to`; waits for the funding transaction to reach the mempool, mines
    /// it, and waits until both sides have the channel ready and usable. Returns its id.
    pub async fn open_channel(
        &self,
        from: &TestNode,
        to: &TestNode,
        channel_amount_sat: u64,
        push_msat: u64,
    ) -> HarnessResult<ChannelId> {
        let user_channel_id = u128::from(self.next_user_channel_id.fetch_add(1, Ordering::Relaxed));
        let (from_node, to_node) = (from.node(), to.node());
        from_node.open_channel(
            to_node.node_id(),
            channel_amount_sat,
            push_msat,
            user_channel_id,
            FundingBroadcast::Automatic,
            None,
        )?;
        let pending = from
            .wait_for_event(
                "ChannelPending",
                DEFAULT_TIMEOUT,
                |event| matches!(event, Event::ChannelPending { user_channel_id: id, .. } if *id == user_channel_id),
            )
            .await?;
        let Event::ChannelPending { channel_id, funding_txo, .. } = pending else {
            return Err(HarnessError::Failed("not a ChannelPending event".into()));
        };
        self.wait_in_mempool(funding_txo.txid, DEFAULT_TIMEOUT).await?;
        self.mine(FUNDING_CONFIRMATIONS).await?;
        for side in [from, to] {
            side.wait_for_event(
                "ChannelReady",
                DEFAULT_TIMEOUT,
                |event| matches!(event, Event::ChannelReady { channel_id: id, .. } if *id == channel_id),
            )
            .await?;
        }
        wait_until("channel usable on both sides", DEFAULT_TIMEOUT, || {
            [&from_node, &to_node].iter().all(|node| {
                node.channel_manager().list_usable_channels().iter().any(|channel| channel.channel_id == channel_id)
            })
        })
        .await?;
        Ok(channel_id)
    }

    /// Waits until `txid` is in the backend's mempool.
    pub async fn wait_in_mempool(&self, txid: Txid, timeout: Duration) -> HarnessResult<()> {
        let what = format!("{txid} in the mempool");
        match &self.backend {
            Backend::Sim(chain) => {
                wait_until(&what, timeout, || chain.mempool().iter().any(|tx| tx.compute_txid() == txid)).await
            }
            Backend::Bcoin(bcoin) => {
                wait_for(&what, timeout, || async {
                    bcoin.mempool().await.ok().filter(|txids| txids.contains(&txid)).map(|_| ())
                })
                .await
            }
        }
    }

    /// A BOLT11 invoice of `test_node` for `amount_msat`; see [`TestNode::invoice`].
    pub fn invoice(&self, test_node: &TestNode, amount_msat: u64) -> HarnessResult<Bolt11Invoice> {
        test_node.invoice(amount_msat)
    }

    /// `test_node` pays `invoice` and waits for the outcome; see [`TestNode::pay`].
    pub async fn pay(&self, test_node: &TestNode, invoice: &Bolt11Invoice) -> HarnessResult<PaymentPreimage> {
        test_node.pay(invoice).await
    }

    /// Waits for an event at `test_node`; see [`TestNode::wait_for_event`].
    pub async fn wait_for_event(
        &self,
        test_node: &TestNode,
        predicate: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> HarnessResult<Event> {
        test_node.wait_for_event("event", timeout, predicate).await
    }
}
