//! A throwaway bcoin regtest node for end-to-end tests and `inbound demo`.
//!
//! [bcoin](https://www.npmjs.com/package/bcoin) 1.0.2 is a full-validating Bitcoin node in
//! JavaScript, installed from the npm registry. [`Bcoin::start`] installs it into a cache
//! directory on first use (about 15 s), starts it memory-only on a free port, waits for its
//! JSON-RPC, and mines past segwit activation (height [`SEGWIT_ACTIVATION_HEIGHT`]; bcoin
//! activates segwit on regtest only through BIP9 signalling). Dropping the handle kills the
//! process, and the process also dies with its parent even on `kill -9`, so a failed test never
//! leaves a node behind.
//!
//! bcoin 1.0.2 quirks this crate hides:
//! * regtest bech32 addresses use the human-readable part `rb`, not `bcrt`
//!   ([`bcoin_address`] converts);
//! * the subsidy halves every 150 blocks, so every run starts a fresh memory-only chain.
//!
//! The chain is reached through [`inbound_node::chain::BitcoindRpc`], the same client the
//! LSP uses in production against Bitcoin Core. [`EsploraServer`] serves the same chain over
//! the Esplora HTTP API, for tests of [`inbound_node::EsploraClient`].

#![deny(missing_docs)]

pub mod esplora;

pub use esplora::EsploraServer;

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bitcoin::bech32::{self, Hrp};
use bitcoin::{Address, BlockHash};
use inbound_node::chain::{BitcoindRpc, BitcoindRpcConfig, ChainError};
use serde_json::{json, Value};
use thiserror::Error;

/// The bcoin release Inbound tests against.
pub const BCOIN_VERSION: &str = "1.0.2";

/// The height from which segwit is active on bcoin's regtest.
pub const SEGWIT_ACTIVATION_HEIGHT: u32 = 432;

/// Blocks before a coinbase output can be spent.
pub const COINBASE_MATURITY: u32 = 100;

/// The npm manifest, pinned; `leveldown` is overridden because bcoin's own version does not
/// build on Node 20.
const PACKAGE_JSON: &str = include_str!("../package.json");

/// Where mined coins go when nobody needs them: the BIP173 example program, with bcoin's hrp.
const BURN_ADDRESS: &str = "rb1qw508d6qejxtdg4y5r3zarvary0c5xw7k38f4sn";

/// How long to wait for a started node to answer RPC.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a concurrent `npm install` by another process may hold the install lock.
const INSTALL_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// What went wrong with the regtest node.
#[derive(Debug, Error)]
pub enum RegtestError {
    /// `node` or `npm` is not installed.
    #[error("{0} is not installed; bcoin needs Node.js and npm")]
    MissingTool(&'static str),
    /// `npm install` failed.
    #[error("npm install of bcoin {BCOIN_VERSION} failed: {0}")]
    Install(String),
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The node did not start answering RPC in time.
    #[error("bcoin did not become ready: {0}")]
    NotReady(String),
    /// An RPC call failed.
    #[error("bcoin RPC: {0}")]
    Rpc(#[from] ChainError),
    /// An address cannot be written in bcoin's regtest form.
    #[error("address {0} is not a segwit address bcoin can mine to")]
    Address(String),
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> RegtestError {
    let context = context.into();
    move |source| RegtestError::Io { context, source }
}

/// Inbound's cache directory: `$INBOUND_CACHE_DIR`, else `$HOME/.cache/inbound`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INBOUND_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("inbound")
}

/// Installs bcoin under `<cache>/bcoin-<version>` unless it is already there, and returns the
/// path of its `bin/node` script. Safe to call from several processes at once.
pub fn ensure_installed(cache: &Path) -> Result<PathBuf, RegtestError> {
    let dir = cache.join(format!("bcoin-{BCOIN_VERSION}"));
    let script = dir.join("node_modules/bcoin/bin/node");
    let manifest = dir.join("package.json");
    let installed = || script.exists() && fs::read_to_string(&manifest).is_ok_and(|m| m == PACKAGE_JSON);
    if installed() {
        return Ok(script);
    }
    fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
    let _lock = InstallLock::acquire(&dir.join("install.lock"))?;
    if installed() {
        return Ok(script);
    }
    fs::write(&manifest, PACKAGE_JSON).map_err(io_error("writing package.json"))?;
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .map_err(|_| RegtestError::MissingTool("npm"))?;
    if !output.status.success() || !script.exists() {
        let _ = fs::remove_file(&manifest);
        return Err(RegtestError::Install(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    Ok(script)
}

/// A lock directory (creation is atomic) held while `npm install` runs.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Result<InstallLock, RegtestError> {
        let started = Instant::now();
        loop {
            match fs::create_dir(path) {
                Ok(()) => return Ok(InstallLock(path.to_owned())),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().unwrap_or_default() > INSTALL_LOCK_TIMEOUT);
                    if stale {
                        let _ = fs::remove_dir(path);
                    } else if started.elapsed() > INSTALL_LOCK_TIMEOUT {
                        return Err(RegtestError::Install("timed out waiting for another install".into()));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => return Err(io_error("creating install lock")(error)),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// A running bcoin regtest node. Dropping it kills the node and deletes its directory.
pub struct Bcoin {
    child: Child,
    rpc: BitcoindRpc,
    rpc_url: String,
    dir: PathBuf,
}

impl Bcoin {
    /// Installs bcoin if needed, starts a fresh memory-only regtest node on a free port, and
    /// mines to [`SEGWIT_ACTIVATION_HEIGHT`].
    pub async fn start() -> Result<Bcoin, RegtestError> {
        let script = tokio::task::spawn_blocking(|| ensure_installed(&cache_dir()))
            .await
            .map_err(|e| RegtestError::Install(e.to_string()))??;
        let mut last_error = None;
        // A port picked free can be taken before bcoin binds it; try a few.
        for _ in 0..3 {
            match Bcoin::start_once(&script).await {
                Ok(node) => {
                    node.mine(SEGWIT_ACTIVATION_HEIGHT, None).await?;
                    return Ok(node);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| RegtestError::NotReady("no attempt made".into())))
    }

    async fn start_once(script: &Path) -> Result<Bcoin, RegtestError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let port = free_port()?;
        let api_key = format!("inbound{}", std::process::id());
        let dir = std::env::temp_dir().join(format!(
            "inbound-bcoin-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).map_err(io_error("creating bcoin dir"))?;
        let log = fs::File::create(dir.join("bcoin.log")).map_err(io_error("creating bcoin log"))?;
        let log_err = log.try_clone().map_err(io_error("cloning bcoin log"))?;
        let mut command = Command::new("node");
        // The transaction index lets getrawtransaction return confirmed transactions: the
        // parents of a mempool deposit, whose values give its fee (LSPS1 0-conf payments).
        command
            .arg(script)
            .args(["--network=regtest", "--memory=true", "--workers=false", "--listen=false"])
            .args(["--log-level=warning", "--index-tx=true", "--no-wallet=true"])
            .arg(format!("--prefix={}", dir.display()))
            .arg(format!("--http-port={port}"))
            .arg(format!("--api-key={api_key}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|_| RegtestError::MissingTool("node"))?;
        let rpc_url = format!("http://x:{api_key}@127.0.0.1:{port}/");
        let rpc = BitcoindRpc::new(BitcoindRpcConfig::new(rpc_url.clone()))?;
        let mut node = Bcoin { child, rpc, rpc_url, dir };
        node.wait_ready().await?;
        Ok(node)
    }

    async fn wait_ready(&mut self) -> Result<(), RegtestError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(self.dir.join("bcoin.log")).unwrap_or_default();
                return Err(RegtestError::NotReady(format!("exited with {status}: {log}")));
            }
            match self.rpc.call("getblockchaininfo", json!([])).await {
                Ok(_) => return Ok(()),
                Err(error) if started.elapsed() > STARTUP_TIMEOUT => {
                    return Err(RegtestError::NotReady(error.to_string()))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// `http://user:password@127.0.0.1:port/`: what a Bitcoin Core RPC chain source takes.
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The RPC client.
    pub fn rpc(&self) -> &BitcoindRpc {
        &self.rpc
    }

    /// Mines `blocks` blocks paying `to` (or a burn address) and returns their hashes.
    pub async fn mine(&self, blocks: u32, to: Option<&Address>) -> Result<Vec<BlockHash>, RegtestError> {
        let address = match to {
            Some(address) => bcoin_address(address)?,
            None => BURN_ADDRESS.to_owned(),
        };
        let result = self.rpc.call("generatetoaddress", json!([blocks, address])).await?;
        let hashes = result
            .as_array()
            .map(|hashes| hashes.iter().filter_map(Value::as_str).filter_map(|h| h.parse().ok()).collect())
            .unwrap_or_default();
        Ok(hashes)
    }

    /// Gives `to` one spendable coinbase: mines a block to it, then enough blocks on top for
    /// the coinbase to mature.
    pub async fn fund(&self, to: &Address) -> Result<(), RegtestError> {
        self.mine(1, Some(to)).await?;
        self.mine(COINBASE_MATURITY, None).await?;
        Ok(())
    }

    /// The current chain height.
    pub async fn height(&self) -> Result<u32, RegtestError> {
        Ok(self.rpc.get_best_block().await?.height)
    }

    /// The txids in the mempool.
    pub async fn mempool(&self) -> Result<Vec<bitcoin::Txid>, RegtestError> {
        let result = self.rpc.call("getrawmempool", json!([])).await?;
        Ok(result
            .as_array()
            .map(|txids| txids.iter().filter_map(Value::as_str).filter_map(|t| t.parse().ok()).collect())
            .unwrap_or_default())
    }
}

impl Drop for Bcoin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A TCP port that was free a moment ago.
fn free_port() -> Result<u16, RegtestError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_error("finding a free port"))?;
    Ok(listener.local_addr().map_err(io_error("finding a free port"))?.port())
}

/// Asks Linux to kill the child when the thread that spawned it dies, so `kill -9` of a test
/// or of `inbound demo` never leaves bcoin running.
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: `prctl(PR_SET_PDEATHSIG)` is async-signal-safe and touches no memory of the
        // parent; it is the documented way to tie a child's life to its parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
    }
}

/// Writes a segwit regtest address the way bcoin 1.0.2 reads it (hrp `rb`).
pub fn bcoin_address(address: &Address) -> Result<String, RegtestError> {
    let program = address.witness_program().ok_or_else(|| RegtestError::Address(address.to_string()))?;
    let hrp = Hrp::parse("rb").map_err(|_| RegtestError::Address(address.to_string()))?;
    bech32::segwit::encode(hrp, program.version().to_fe(), program.program().as_bytes())
        .map_err(|_| RegtestError::Address(address.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn addresses_are_rewritten_for_bcoin() {
        let address = Address::from_str("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").unwrap().assume_checked();
        assert_eq!(bcoin_address(&address).unwrap(), BURN_ADDRESS);
        let legacy = Address::from_str("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn").unwrap().assume_checked();
        assert!(bcoin_address(&legacy).is_err());
    }
}
