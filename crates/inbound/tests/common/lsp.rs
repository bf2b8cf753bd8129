//! `inbound serve` on a bcoin regtest chain as the operator tests run it, and `inbound admin`
//! against it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;
use std::time::Duration;

use inbound_node::bitcoin::secp256k1::PublicKey;
use serde_json::Value;

use super::{field, inbound, write_file, Daemon};

/// How long [`Serve::wait_for`] waits.
pub const WAIT: Duration = Duration::from_secs(60);

/// How long `inbound serve` may take to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes `dir/inbound.toml`: regtest, the data directory `dir/lsp`, a free port, the chain at
/// `chain_url` polled every second, then `extra` (more tables).
pub fn regtest_config(dir: &Path, chain_url: &str, extra: &str) -> PathBuf {
    let text = format!(
        "network = \"regtest\"\ndata_dir = {:?}\n[node]\nlisten = \"127.0.0.1:0\"\n\
         [chain]\nurl = {chain_url:?}\npoll_interval_secs = 1\n{extra}",
        dir.join("lsp").display().to_string(),
    );
    write_file(dir, "inbound.toml", &text)
}

/// A started `inbound serve` with its admin API.
pub struct Serve {
    /// The process.
    pub daemon: Daemon,
    /// Its node id.
    pub node_id: PublicKey,
    /// Where peers connect.
    pub listen: SocketAddr,
    /// The admin API's URL.
    pub admin_url: String,
    /// The admin key file.
    pub key_file: PathBuf,
}

impl Serve {
    /// Starts `inbound serve --config config` (written by [`regtest_config`] in `dir`) and waits
    /// until the admin API listens and the LSP started.
    pub fn start(dir: &Path, config: &Path) -> Serve {
        let mut command = inbound();
        command.arg("serve").arg("--config").arg(config);
        let mut daemon = Daemon::spawn(command);
        let admin = daemon.wait_for_line("admin API listening", START_TIMEOUT);
        let admin_url = format!("http://{}", field(&admin, "admin_listen").expect("admin_listen="));
        let line = daemon.wait_for_line("LSP started", START_TIMEOUT);
        let node_id = field(&line, "node_id").and_then(|id| PublicKey::from_str(id).ok()).expect("node_id=");
        let listen = field(&line, "listen").and_then(|address| address.parse().ok()).expect("listen=");
        Serve { daemon, node_id, listen, admin_url, key_file: dir.join("lsp").join("admin.key") }
    }

    /// `inbound admin --url … --key-file … <args>`, run to completion.
    pub fn admin(&self, args: &[&str]) -> Output {
        admin_with_key(&self.admin_url, &self.key_file, args)
    }

    /// Runs `inbound admin --json <args>` every 250 ms until `done` holds for its answer, at most
    /// [`WAIT`]; `what` names the wait in the failure.
    pub async fn wait_for(&self, args: &[&str], what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let answer = self.admin_json(args);
            if done(&answer) {
                return answer;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {answer}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Gives the LSP's wallet a spendable coinbase at a fresh address (`inbound admin
    /// new-address`) and waits until it counts as confirmed.
    pub async fn fund(&self, bcoin: &inbound_regtest::Bcoin) {
        let address = self.admin_json(&["new-address"])["address"].as_str().expect("address").to_owned();
        let address = inbound_node::bitcoin::Address::from_str(&address)
            .expect("an address")
            .require_network(inbound_node::bitcoin::Network::Regtest)
            .expect("regtest");
        bcoin.fund(&address).await.expect("mine to the LSP");
        self.wait_for(&["balances"], "the coinbase to count", |balances| {
            balances["onchain_confirmed_sat"].as_u64().is_some_and(|sat| sat > 1_000_000)
        })
        .await;
    }

    /// `inbound admin --json <args>`, which must succeed, as JSON.
    pub fn admin_json(&self, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let output = self.admin(&with_json);
        assert!(output.status.success(), "{args:?}: {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&output.stdout)))
    }
}

/// `inbound admin --url url --key-file key_file <args>`, run to completion.
pub fn admin_with_key(url: &str, key_file: &Path, args: &[&str]) -> Output {
    let mut command = inbound();
    command.arg("admin").args(["--url", url]).arg("--key-file").arg(key_file).args(args);
    command.output().expect("run inbound admin")
}
