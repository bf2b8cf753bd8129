//! `inbound-push-relay`: the reference LSPS5 push relay. It verifies every webhook POST from
//! one LSP and prints each wake-up as one JSON line on stdout, where a real relay would call
//! FCM or APNs with the device token from the URL path.
//!
//! ```text
//! inbound-push-relay --lsp <LSP node id> --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
//! inbound-push-relay --lsp <LSP node id> --self-signed localhost --write-ca relay-ca.pem
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bitcoin::secp256k1::PublicKey;
use clap::Parser;
use inbound_push_relay::{load_tls, self_signed_tls, NotificationVerifier, PushRelay, RelayLimits};

/// Receive LSPS5 webhook POSTs from an LSP, verify them and print each wake-up as JSON.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The LSP's node id: only its signatures are accepted.
    #[arg(long, value_name = "NODE_ID")]
    lsp: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "HOST:PORT")]
    listen: SocketAddr,
    /// The TLS certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key", conflicts_with = "self_signed")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make a self-signed certificate for these names instead (for tests: the LSP must trust it,
    /// see --write-ca).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    self_signed: Vec<String>,
    /// With --self-signed: write the certificate's PEM here (the LSP's `lsps5.extra_ca_file`).
    #[arg(long, value_name = "FILE", requires = "self_signed")]
    write_ca: Option<PathBuf>,
    /// How far a notification's timestamp may be from this clock, in seconds.
    #[arg(long, default_value_t = lsps::lsps5::DEFAULT_MAX_SKEW_SECS, value_name = "SECS")]
    max_skew_secs: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let lsp = PublicKey::from_str(&args.lsp).with_context(|| format!("--lsp {:?} is not a node id", args.lsp))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => load_tls(cert, key)?,
        _ if !args.self_signed.is_empty() => {
            let (tls, pem) = self_signed_tls(&args.self_signed)?;
            if let Some(path) = &args.write_ca {
                std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
            }
            tls
        }
        _ => bail!("give --tls-cert and --tls-key, or --self-signed NAME"),
    };
    let verifier = Arc::new(NotificationVerifier::with_limits(
        lsp,
        args.max_skew_secs,
        inbound_client::lsps5::DEFAULT_REPLAY_CACHE_ENTRIES,
    ));
    let (relay, mut wakes) = PushRelay::start(args.listen, tls, verifier, RelayLimits::default()).await?;
    println!("{}", serde_json::json!({ "listening": relay.local_addr().to_string(), "lsp": lsp.to_string() }));
    loop {
        tokio::select! {
            wake = wakes.recv() => match wake {
                // Here a real relay looks up the device by `wake.target` and pushes.
                Some(wake) => println!("{}", wake.to_json()),
                None => bail!("the relay stopped"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
