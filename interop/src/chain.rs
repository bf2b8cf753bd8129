//! The chain every interop test and the benchmark run on: a fresh bcoin regtest node
//! ([`inbound_regtest::Bcoin`], segwit active) and the [`RpcProxy`] ldk-node talks to.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use inbound_regtest::{Bcoin, COINBASE_MATURITY};
use ldk_node::bitcoin::consensus::encode::deserialize_hex;
use ldk_node::bitcoin::{Address, OutPoint, Transaction, TxOut};
use serde_json::json;

use crate::proxy::RpcProxy;

/// bcoin plus the proxy in front of it.
pub struct Chain {
    /// The node; Inbound's nodes and `inbound serve` talk to it directly.
    pub bcoin: Bcoin,
    /// What ldk-node nodes talk to.
    pub proxy: RpcProxy,
}

impl Chain {
    /// Starts bcoin (installing it on first use) and the proxy.
    ///
    /// # Errors
    /// If bcoin cannot be installed or started.
    pub async fn start() -> Result<Chain> {
        let bcoin = Bcoin::start().await.context("starting bcoin")?;
        let proxy = RpcProxy::start(bcoin.rpc_url()).await?;
        Ok(Chain { bcoin, proxy })
    }

    /// Mines `blocks` blocks to nobody.
    ///
    /// # Errors
    /// If bcoin refuses.
    pub async fn mine(&self, blocks: u32) -> Result<()> {
        self.bcoin.mine(blocks, None).await.context("mining")?;
        Ok(())
    }

    /// Gives `to` `coinbases` spendable coinbase outputs (one block each, then maturity).
    ///
    /// # Errors
    /// If bcoin refuses the address.
    pub async fn fund(&self, to: &Address, coinbases: u32) -> Result<()> {
        self.bcoin.mine(coinbases, Some(to)).await.context("mining to an address")?;
        self.bcoin.mine(COINBASE_MATURITY, None).await.context("maturing coinbases")?;
        Ok(())
    }

    /// Waits until bcoin's mempool holds at least `count` transactions.
    ///
    /// # Errors
    /// After `timeout`.
    pub async fn wait_mempool(&self, count: usize, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let size = self.bcoin.mempool().await.context("getrawmempool")?.len();
            if size >= count {
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!("{size} of {count} transactions in the mempool after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The output `outpoint` points at, from bcoin's mempool or chain (transaction index).
    ///
    /// # Errors
    /// If bcoin does not know the transaction or it has no such output.
    pub async fn output(&self, outpoint: OutPoint) -> Result<TxOut> {
        let hex = self.bcoin.rpc().call("getrawtransaction", json!([outpoint.txid.to_string()])).await?;
        let hex = hex.as_str().ok_or_else(|| anyhow!("getrawtransaction {}: not a hex string", outpoint.txid))?;
        let tx: Transaction = deserialize_hex(hex).with_context(|| format!("decoding {}", outpoint.txid))?;
        let index = usize::try_from(outpoint.vout)?;
        tx.output.get(index).cloned().ok_or_else(|| anyhow!("{} has no output {}", outpoint.txid, outpoint.vout))
    }
}
