//! The on-chain wallet: bdk_wallet 3.2, fed full blocks by the node's [`ChainSource`](crate::ChainSource).
//!
//! * Descriptors are BIP84 (native segwit) from the node seed: `m/84'/{0,1}'/0'/{0,1}/*`. LDK's
//!   [`KeysManager`](lightning::sign::KeysManager) derives its keys from the same seed on
//!   unrelated hardened paths, so the two never collide, and a restart from the data directory
//!   restores both.
//! * Persistence does **not** use bdk's `rusqlite` feature (it would pin `libsqlite3-sys` 0.28 for
//!   the whole workspace). Each staged [`ChangeSet`] is written as JSON under its own key in the
//!   node's [`KVStoreSync`] (namespace [`WALLET_NAMESPACE`]); on load all of them are merged and
//!   compacted into one. Changesets are monotone (merging twice is harmless), so a crash between
//!   writing the compacted set and deleting the parts loses nothing.
//! * Blocks arrive through [`ChainConsumer`] and are applied with
//!   `apply_block_connected_to(block, height, parent)`; after a reorg the first new block's parent
//!   is the fork point, which bdk uses to replace the stale blocks.
//! * The wallet funds channels ([`OnchainWallet::build_funding_transaction`]) and provides
//!   change scripts to LDK's output sweeper ([`ChangeDestinationSource`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bdk_wallet::chain::{BlockId, Merge};
use bdk_wallet::template::Bip84;
use bdk_wallet::{ChangeSet, KeychainKind, SignOptions, Update, Wallet};
use bitcoin::bip32::Xpriv;
use bitcoin::{Address, Amount, Block, FeeRate, Network, ScriptBuf, Transaction, Txid};
use lightning::chain::BestBlock;
use lightning::sign::ChangeDestinationSource;
use lightning::util::async_poll::AsyncResult;
use lightning::util::logger::Level;
use lightning::util::persist::KVStoreSync;
use lightning_persister::fs_store::FilesystemStore;

use crate::chain::ChainConsumer;
use crate::error::{NodeError, NodeResult};
use crate::keys::Seed;
use crate::logger::NodeLogger;

/// KV-store namespace of the wallet's changesets.
pub const WALLET_NAMESPACE: &str = "bdk_wallet";
const CHANGESET_KEY_PREFIX: &str = "changeset_";

/// Balances in satoshis, as bdk computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalletBalance {
    /// Confirmed and spendable.
    pub confirmed_sat: u64,
    /// Unconfirmed but ours (change of our own transactions).
    pub trusted_pending_sat: u64,
    /// Unconfirmed from someone else.
    pub untrusted_pending_sat: u64,
    /// Coinbase outputs that are not mature yet.
    pub immature_sat: u64,
}

/// What was paid to one script, from [`OnchainWallet::received_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptReceipt {
    /// Total received, in satoshis.
    pub received_sat: u64,
    /// Confirmations of the least-confirmed output (`None`: nothing received).
    pub min_confirmations: Option<u32>,
    /// How many outputs paid the script.
    pub outputs: usize,
}

struct WalletState {
    wallet: Wallet,
    /// Sequence number of the next changeset key.
    next_key: u64,
    /// Changes taken from the wallet but not yet written (only non-empty after a write failed).
    unwritten: ChangeSet,
}

/// The node's on-chain wallet. All methods are synchronous and quick (no network I/O).
pub struct OnchainWallet {
    state: Mutex<WalletState>,
    store: Arc<FilesystemStore>,
    logger: Arc<NodeLogger>,
}

impl OnchainWallet {
    /// Loads the wallet from `store`, or creates it with its chain starting at `birthday` (the tip
    /// when the node is first created, so a fresh wallet never rescans history).
    pub(crate) fn load_or_create(
        seed: &Seed,
        network: Network,
        store: Arc<FilesystemStore>,
        birthday: BestBlock,
        logger: Arc<NodeLogger>,
    ) -> NodeResult<Self> {
        let xprv = Xpriv::new_master(network, seed.as_bytes())
            .map_err(|e| NodeError::Wallet(format!("deriving the wallet key: {e}")))?;
        let external = Bip84(xprv, KeychainKind::External);
        let internal = Bip84(xprv, KeychainKind::Internal);

        let mut keys = store.list(WALLET_NAMESPACE, "").map_err(|e| NodeError::io("listing wallet changesets", e))?;
        keys.retain(|key| key.starts_with(CHANGESET_KEY_PREFIX));
        keys.sort();
        let mut merged = ChangeSet::default();
        for key in &keys {
            let bytes = store
                .read(WALLET_NAMESPACE, "", key)
                .map_err(|e| NodeError::io(format!("reading wallet changeset {key}"), e))?;
            let changeset: ChangeSet = serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::Persistence(format!("wallet changeset {key}: {e}")))?;
            merged.merge(changeset);
        }
        let next_key = keys
            .last()
            .and_then(|key| key.trim_start_matches(CHANGESET_KEY_PREFIX).parse::<u64>().ok())
            .map_or(0, |last| last + 1);

        // `extract_keys` and `Wallet::sign` are deprecated in bdk_wallet 3.2 in favour of
        // caller-owned signers; they still work and keep this module small. Revisit with bdk 4.
        #[allow(deprecated)]
        let (wallet, next_key) = if keys.is_empty() {
            let mut wallet = Wallet::create(external, internal)
                .network(network)
                .create_wallet_no_persist()
                .map_err(|e| NodeError::Wallet(format!("creating the wallet: {e}")))?;
            if birthday.height > 0 {
                let checkpoint =
                    wallet.latest_checkpoint().insert(BlockId { height: birthday.height, hash: birthday.block_hash });
                wallet
                    .apply_update(Update { chain: Some(checkpoint), ..Default::default() })
                    .map_err(|e| NodeError::Wallet(format!("setting the wallet birthday: {e}")))?;
            }
            (wallet, next_key)
        } else {
            let wallet = Wallet::load()
                .descriptor(KeychainKind::External, Some(external))
                .descriptor(KeychainKind::Internal, Some(internal))
                .extract_keys()
                .check_network(network)
                .load_wallet_no_persist(merged.clone())
                .map_err(|e| NodeError::Persistence(format!("loading the wallet: {e}")))?
                .ok_or_else(|| NodeError::Persistence("wallet changesets are empty".into()))?;
            // Compact: write the merged set under a new key, then delete the parts.
            write_changeset(&store, next_key, &merged)?;
            for key in &keys {
                store
                    .remove(WALLET_NAMESPACE, "", key, false)
                    .map_err(|e| NodeError::io(format!("removing wallet changeset {key}"), e))?;
            }
            (wallet, next_key + 1)
        };
        let this = Self {
            state: Mutex::new(WalletState { wallet, next_key, unwritten: ChangeSet::default() }),
            store,
            logger,
        };
        {
            let mut state = this.lock();
            this.persist_locked(&mut state)?;
        }
        Ok(this)
    }

    fn lock(&self) -> MutexGuard<'_, WalletState> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes whatever the wallet has staged. Called after every change, before its effects are
    /// used (an address is only handed out once it is persisted).
    fn persist_locked(&self, state: &mut WalletState) -> NodeResult<()> {
        if let Some(changeset) = state.wallet.take_staged() {
            state.unwritten.merge(changeset);
        }
        if state.unwritten.is_empty() {
            return Ok(());
        }
        // On failure `unwritten` keeps the changes and the next persist retries them.
        write_changeset(&self.store, state.next_key, &state.unwritten)?;
        state.unwritten = ChangeSet::default();
        state.next_key += 1;
        Ok(())
    }

    /// Reveals and persists a new receive address.
    pub fn new_address(&self) -> NodeResult<Address> {
        let mut state = self.lock();
        let address = state.wallet.reveal_next_address(KeychainKind::External).address;
        self.persist_locked(&mut state)?;
        Ok(address)
    }

    /// The current balances.
    pub fn balance(&self) -> WalletBalance {
        let balance = self.lock().wallet.balance();
        WalletBalance {
            confirmed_sat: balance.confirmed.to_sat(),
            trusted_pending_sat: balance.trusted_pending.to_sat(),
            untrusted_pending_sat: balance.untrusted_pending.to_sat(),
            immature_sat: balance.immature.to_sat(),
        }
    }

    /// The last block the wallet has processed.
    pub fn best_block(&self) -> BestBlock {
        let checkpoint = self.lock().wallet.latest_checkpoint();
        BestBlock::new(checkpoint.hash(), checkpoint.height())
    }

    /// Builds and signs a transaction paying `amount_sat` to `script_pubkey` at
    /// `fee_rate_sat_per_kwu`, records it as an unconfirmed spend (so its inputs are not reused)
    /// and persists. The caller broadcasts it (for a channel, LDK does).
    ///
    /// # Errors
    /// [`NodeError::Wallet`] if the wallet cannot fund it (insufficient funds, fee too high) or
    /// cannot sign.
    pub fn build_funding_transaction(
        &self,
        script_pubkey: ScriptBuf,
        amount_sat: u64,
        fee_rate_sat_per_kwu: u32,
    ) -> NodeResult<Transaction> {
        let mut state = self.lock();
        let fee_rate = FeeRate::from_sat_per_kwu(u64::from(fee_rate_sat_per_kwu));
        let mut builder = state.wallet.build_tx();
        builder.add_recipient(script_pubkey, Amount::from_sat(amount_sat)).fee_rate(fee_rate);
        let psbt = builder.finish().map_err(|e| NodeError::Wallet(format!("building the transaction: {e}")))?;
        self.sign_and_record(&mut state, psbt)
    }

    /// Signs `psbt`, records the transaction as an unconfirmed spend of ours (so its inputs are
    /// not reused) and persists; the caller broadcasts it.
    fn sign_and_record(&self, state: &mut WalletState, mut psbt: bitcoin::Psbt) -> NodeResult<Transaction> {
        #[allow(deprecated)]
        let finalized = state
            .wallet
            .sign(&mut psbt, SignOptions::default())
            .map_err(|e| NodeError::Wallet(format!("signing: {e}")))?;
        if !finalized {
            return Err(NodeError::Wallet("transaction could not be fully signed".into()));
        }
        let tx = psbt.extract_tx().map_err(|e| NodeError::Wallet(format!("extracting: {e}")))?;
        let now_secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        state.wallet.apply_unconfirmed_txs([(tx.clone(), now_secs)]);
        self.persist_locked(state)?;
        Ok(tx)
    }

    /// Builds and signs a transaction sending `amount_sat` to `address`; see
    /// [`OnchainWallet::build_funding_transaction`]. Returns the transaction for the caller to
    /// broadcast (for example through [`Node::broadcast_transaction`](crate::Node::broadcast_transaction)).
    pub fn build_send_transaction(
        &self,
        address: &Address,
        amount_sat: u64,
        fee_rate_sat_per_kwu: u32,
    ) -> NodeResult<Transaction> {
        self.build_funding_transaction(address.script_pubkey(), amount_sat, fee_rate_sat_per_kwu)
    }

    /// Builds and signs a transaction sending every coin of the wallet to `address` (its fee
    /// paid out of them); see [`OnchainWallet::build_funding_transaction`].
    ///
    /// # Errors
    /// [`NodeError::Wallet`] if there is nothing to send, or not enough for the fee.
    pub fn build_drain_transaction(&self, address: &Address, fee_rate_sat_per_kwu: u32) -> NodeResult<Transaction> {
        let mut state = self.lock();
        let fee_rate = FeeRate::from_sat_per_kwu(u64::from(fee_rate_sat_per_kwu));
        let mut builder = state.wallet.build_tx();
        builder.drain_wallet().drain_to(address.script_pubkey()).fee_rate(fee_rate);
        let psbt = builder.finish().map_err(|e| NodeError::Wallet(format!("building the transaction: {e}")))?;
        self.sign_and_record(&mut state, psbt)
    }

    /// Forgets an unconfirmed transaction of ours that was never broadcast (an abandoned
    /// manual-broadcast funding), so that its inputs are spendable again. Marks it evicted
    /// from the mempool in bdk's graph and persists.
    pub fn forget_unbroadcast_transaction(&self, txid: Txid) -> NodeResult<()> {
        let mut state = self.lock();
        let now_secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        state.wallet.apply_evicted_txs([(txid, now_secs)]);
        self.persist_locked(&mut state)
    }

    /// What the wallet has received to `script_pubkey` (an address it revealed), over every
    /// transaction it knows, spent or not: the total, and the confirmations of the
    /// least-confirmed output (0 if one is unconfirmed). The wallet is fed full blocks, so an
    /// unconfirmed output is only one of our own transactions.
    pub fn received_to(&self, script_pubkey: &ScriptBuf) -> ScriptReceipt {
        let state = self.lock();
        let tip = state.wallet.latest_checkpoint().height();
        let mut receipt = ScriptReceipt::default();
        for output in state.wallet.list_output().filter(|output| output.txout.script_pubkey == *script_pubkey) {
            let confirmations = confirmations_at(tip, &output.chain_position);
            receipt.received_sat = receipt.received_sat.saturating_add(output.txout.value.to_sat());
            receipt.min_confirmations =
                Some(receipt.min_confirmations.map_or(confirmations, |seen: u32| seen.min(confirmations)));
            receipt.outputs += 1;
        }
        receipt
    }

    /// Replaces our unconfirmed transaction `txid` by one paying the same outputs at
    /// `fee_rate_sat_per_kwu` (BIP125; our transactions signal replaceability), the extra fee
    /// coming from change or more inputs. Records and persists it like
    /// [`OnchainWallet::build_funding_transaction`]; the caller broadcasts it.
    ///
    /// # Errors
    /// [`NodeError::Wallet`] if `txid` is unknown or confirmed, the rate is not higher, or the
    /// wallet cannot fund or sign the replacement.
    pub fn bump_fee(&self, txid: Txid, fee_rate_sat_per_kwu: u32) -> NodeResult<Transaction> {
        let mut state = self.lock();
        let fee_rate = FeeRate::from_sat_per_kwu(u64::from(fee_rate_sat_per_kwu));
        let mut builder =
            state.wallet.build_fee_bump(txid).map_err(|e| NodeError::Wallet(format!("bumping {txid}: {e}")))?;
        builder.fee_rate(fee_rate);
        let psbt = builder.finish().map_err(|e| NodeError::Wallet(format!("bumping {txid}: {e}")))?;
        self.sign_and_record(&mut state, psbt)
    }

    /// Confirmations of one of the wallet's transactions: `None` if unknown, `Some(0)` while
    /// unconfirmed.
    pub fn tx_confirmations(&self, txid: Txid) -> Option<u32> {
        let state = self.lock();
        let tip = state.wallet.latest_checkpoint().height();
        let tx = state.wallet.get_tx(txid)?;
        Some(confirmations_at(tip, &tx.chain_position))
    }

    /// Whether the wallet knows a transaction (confirmed or not).
    pub fn has_transaction(&self, txid: Txid) -> bool {
        self.lock().wallet.get_tx(txid).is_some()
    }

    fn new_change_script(&self) -> Result<ScriptBuf, ()> {
        let mut state = self.lock();
        let script = state.wallet.reveal_next_address(KeychainKind::Internal).address.script_pubkey();
        match self.persist_locked(&mut state) {
            Ok(()) => Ok(script),
            Err(e) => {
                self.logger.log_line(Level::Error, &format!("persisting a change address: {e}"));
                Err(())
            }
        }
    }
}

fn write_changeset(store: &FilesystemStore, key_number: u64, changeset: &ChangeSet) -> NodeResult<()> {
    let bytes = serde_json::to_vec(changeset)
        .map_err(|e| NodeError::Persistence(format!("encoding a wallet changeset: {e}")))?;
    let key = format!("{CHANGESET_KEY_PREFIX}{key_number:020}");
    store
        .write(WALLET_NAMESPACE, "", &key, bytes)
        .map_err(|e| NodeError::io(format!("writing wallet changeset {key}"), e))
}

impl ChainConsumer for OnchainWallet {
    fn name(&self) -> &str {
        "wallet"
    }

    fn best_block(&self) -> BestBlock {
        OnchainWallet::best_block(self)
    }

    fn block_connected(&self, block: &Block, height: u32) {
        let mut state = self.lock();
        let parent = BlockId { height: height.saturating_sub(1), hash: block.header.prev_blockhash };
        let result = if height == 0 {
            state.wallet.apply_block(block, height).map_err(|e| e.to_string())
        } else {
            state.wallet.apply_block_connected_to(block, height, parent).map_err(|e| e.to_string())
        };
        if let Err(e) = result {
            self.logger.log_line(Level::Error, &format!("wallet could not apply block {height}: {e}"));
            return;
        }
        if let Err(e) = self.persist_locked(&mut state) {
            self.logger.log_line(Level::Error, &format!("wallet could not persist block {height}: {e}"));
        }
    }

    fn blocks_disconnected(&self, _fork_point: BestBlock) {
        // bdk rewinds when the next block is applied on top of the fork point.
    }
}

impl ChangeDestinationSource for OnchainWallet {
    fn get_change_destination_script<'a>(&'a self) -> AsyncResult<'a, ScriptBuf, ()> {
        let script = self.new_change_script();
        Box::pin(async move { script })
    }
}

/// Confirmations at chain tip `tip` of something at `position`: 0 while unconfirmed.
fn confirmations_at<A: bdk_wallet::chain::Anchor>(tip: u32, position: &bdk_wallet::chain::ChainPosition<A>) -> u32 {
    match position {
        bdk_wallet::chain::ChainPosition::Confirmed { anchor, .. } => {
            tip.saturating_sub(anchor.anchor_block().height).saturating_add(1)
        }
        bdk_wallet::chain::ChainPosition::Unconfirmed { .. } => 0,
    }
}
