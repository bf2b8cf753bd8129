//! [`PurchaseFile`]: the durable copy of the wallet's open JIT purchases — one JSON file in the
//! node's data directory ([`PURCHASES_FILE_NAME`]), rewritten whole on every change.
//!
//! A write goes to a temporary file next to it, is fsynced, renamed over the old file and the
//! directory is fsynced: a crash leaves either the old or the new file, never a torn one. A file
//! that cannot be parsed (or holds one payment hash twice, or a format version this code does
//! not know) is reported as [`PurchaseFileError::Corrupt`] and left untouched: the wallet refuses
//! to start rather than silently forget purchases an LSP may be about to act on.
//!
//! The client crate cannot use `inbound-store` (sqlx): interop builds link ldk-node's own SQLite.
//! The number of entries is bounded by the registry's `max_open_purchases`, and the file by
//! [`MAX_FILE_BYTES`].

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::secp256k1::PublicKey;
use lightning::types::payment::PaymentHash;
use lsps::lsps2::OpeningFeeParams;
use lsps::schema::{DateTime, NodeId, Scid};
use serde::{Deserialize, Serialize};

use super::purchases::{AgreedFee, Purchase};

/// The file's name in the node's data directory.
pub const PURCHASES_FILE_NAME: &str = "lsps2_purchases.json";
/// A larger file is refused on load (far above what `max_open_purchases` entries take).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The format version written, and the only one read.
const FORMAT_VERSION: u32 = 1;

/// Why the purchases could not be loaded or saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseFileError {
    /// The file system refused a read or a write.
    #[error("{action} {path}: {reason}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The file exists but is not a purchase file this code can read; it was left untouched.
    #[error(
        "the JIT purchase file {path} is corrupt ({reason}); it was left untouched: repair it or move it aside \
         (its open purchases would then be forgotten)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The on-disk layout.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contents {
    version: u32,
    purchases: Vec<StoredPurchase>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPurchase {
    /// Hex.
    payment_hash: String,
    lsp: NodeId,
    intercept_scid: Scid,
    valid_until: DateTime,
    client_trusts_lsp: bool,
    fee: StoredFee,
    settled: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
enum StoredFee {
    Fixed { payment_size_msat: u64, opening_fee_msat: u64 },
    Variable { opening_fee_params: OpeningFeeParams, max_fee_msat: u64 },
}

impl StoredPurchase {
    fn from_purchase(payment_hash: &PaymentHash, purchase: &Purchase) -> Self {
        let fee = match &purchase.fee {
            AgreedFee::Fixed { payment_size_msat, opening_fee_msat } => {
                StoredFee::Fixed { payment_size_msat: *payment_size_msat, opening_fee_msat: *opening_fee_msat }
            }
            AgreedFee::Variable { params, max_fee_msat } => {
                StoredFee::Variable { opening_fee_params: params.clone(), max_fee_msat: *max_fee_msat }
            }
        };
        StoredPurchase {
            payment_hash: payment_hash.0.to_lower_hex_string(),
            lsp: NodeId(purchase.lsp),
            intercept_scid: purchase.intercept_scid,
            valid_until: purchase.valid_until,
            client_trusts_lsp: purchase.client_trusts_lsp,
            fee,
            settled: purchase.settled,
        }
    }

    fn into_purchase(self) -> Result<(PaymentHash, Purchase), String> {
        let hash = <[u8; 32]>::from_hex(&self.payment_hash)
            .map_err(|e| format!("payment_hash {:?}: {e}", self.payment_hash))?;
        let fee = match self.fee {
            StoredFee::Fixed { payment_size_msat, opening_fee_msat } => {
                AgreedFee::Fixed { payment_size_msat, opening_fee_msat }
            }
            StoredFee::Variable { opening_fee_params, max_fee_msat } => {
                AgreedFee::Variable { params: opening_fee_params, max_fee_msat }
            }
        };
        let lsp: PublicKey = self.lsp.0;
        let purchase = Purchase {
            lsp,
            intercept_scid: self.intercept_scid,
            valid_until: self.valid_until,
            client_trusts_lsp: self.client_trusts_lsp,
            fee,
            settled: self.settled,
        };
        Ok((PaymentHash(hash), purchase))
    }
}

/// The purchase file at one path. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseFile {
    path: PathBuf,
}

impl PurchaseFile {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PurchaseFile { path: path.into() }
    }

    /// [`PURCHASES_FILE_NAME`] in `dir` (the node's data directory).
    pub fn in_dir(dir: &Path) -> Self {
        PurchaseFile::new(dir.join(PURCHASES_FILE_NAME))
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    fn io(&self, action: &'static str, error: std::io::Error) -> PurchaseFileError {
        PurchaseFileError::Io { action, path: self.path.clone(), reason: error.to_string() }
    }

    fn corrupt(&self, reason: impl Into<String>) -> PurchaseFileError {
        PurchaseFileError::Corrupt { path: self.path.clone(), reason: reason.into() }
    }

    /// Reads every stored purchase. A missing file is an empty set (first start); a leftover
    /// temporary file from an interrupted write is ignored (the rename never happened, so the
    /// old file is the truth).
    ///
    /// # Errors
    /// [`PurchaseFileError::Io`] if the file cannot be read, [`PurchaseFileError::Corrupt`] if
    /// it cannot be understood.
    pub fn load(&self) -> Result<HashMap<PaymentHash, Purchase>, PurchaseFileError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(error) => return Err(self.io("opening", error)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| self.io("reading", e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let contents: Contents = serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e.to_string()))?;
        if contents.version != FORMAT_VERSION {
            return Err(self.corrupt(format!("unknown format version {}", contents.version)));
        }
        let mut purchases = HashMap::with_capacity(contents.purchases.len());
        for stored in contents.purchases {
            let (hash, purchase) = stored.into_purchase().map_err(|reason| self.corrupt(reason))?;
            if purchases.insert(hash, purchase).is_some() {
                return Err(self.corrupt(format!("payment hash {hash} appears twice")));
            }
        }
        Ok(purchases)
    }

    /// Replaces the file with `purchases`, atomically and durably (temp file, fsync, rename,
    /// directory fsync).
    ///
    /// # Errors
    /// [`PurchaseFileError::Io`]; the old file is then still in place.
    pub fn save(&self, purchases: &HashMap<PaymentHash, Purchase>) -> Result<(), PurchaseFileError> {
        let mut stored: Vec<StoredPurchase> =
            purchases.iter().map(|(hash, purchase)| StoredPurchase::from_purchase(hash, purchase)).collect();
        stored.sort_by(|a, b| a.payment_hash.cmp(&b.payment_hash));
        let contents = Contents { version: FORMAT_VERSION, purchases: stored };
        let bytes = serde_json::to_vec_pretty(&contents)
            .map_err(|e| self.io("encoding", std::io::Error::other(e.to_string())))?;
        let temp = self.temp_path();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(|e| self.io("creating the temporary file for", e))?;
        file.write_all(&bytes).map_err(|e| self.io("writing", e))?;
        file.sync_all().map_err(|e| self.io("syncing", e))?;
        drop(file);
        fs::rename(&temp, &self.path).map_err(|e| self.io("renaming the temporary file onto", e))?;
        if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            // Makes the rename itself durable. Directories cannot be opened on every platform.
            if let Ok(dir) = File::open(dir) {
                dir.sync_all().map_err(|e| self.io("syncing the directory of", e))?;
            }
        }
        Ok(())
    }
}
