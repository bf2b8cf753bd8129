//! `inbound check` against LDK's own LSPS2 service (ldk-node 0.7.1 with
//! `set_liquidity_provider_lsps2`, lightning-liquidity 0.2.7) on bcoin: the checker reports
//! LDK's deviations as exactly the FAIL and WARN lines pinned in [`LDK_DEVIATIONS`], and every
//! other LSPS0 and LSPS2 check passes (bit 729 in `init`, `list_protocols`, every malformed
//! payload the spec names answered -32700 with id null, the menu, both buy modes, 201, 202 and
//! 203 where bLIP-52 asks for them, and, with `--pay`, a live JIT payment that arrives less
//! exactly the promised fee and half a JIT payment held at least 90 s without a channel). `inbound check` exits 1: a MUST is broken.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use inbound_interop::chain::Chain;
use inbound_interop::ldk::{free_local_address, ldk_lsps2_service, start_ldk_node, wait_onchain_balance};
use inbound_interop::serve::inbound_binary;
use serde_json::Value;

/// LDK's deviations as the checker reports them: (check, outcome). Each is lightning-liquidity
/// 0.2.7 parsing requests with serde and answering every failure with -32700 (spec digest §2.2,
/// §2.4, §2.5, §8.3):
const LDK_DEVIATIONS: &[(&str, &str)] = &[
    // `error.data` is `null` or a string, never an object.
    ("lsps0.error.data", "FAIL"),
    // serde reads a struct from an array, so by-position params are accepted and answered.
    ("lsps0.format.by_position", "FAIL"),
    // The payload is read as its first JSON value: trailing bytes (a NUL, a second object) are
    // ignored and the first request is answered.
    ("lsps0.format.nul", "FAIL"),
    ("lsps0.format.two_values", "FAIL"),
    // Request ids are strings only: a numeric id is -32700.
    ("lsps0.id.number_echo", "WARN"),
    // After answering -32700, LDK ignores the peer until it reconnects.
    ("lsps0.keeps_serving", "WARN"),
    // An unknown method fails deserialisation: -32700 with id null, not -32601.
    ("lsps0.method.unknown", "FAIL"),
    // Unknown params are ignored, never -32602 with `data.unrecognized`.
    ("lsps0.params.unknown", "FAIL"),
    // Without `require_token`, any token is accepted instead of 200.
    ("lsps2.get_info.unknown_token", "FAIL"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_pins_ldks_deviations() -> Result<()> {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let listen = free_local_address()?;
    let lsp = start_ldk_node(&chain, dir.path(), "ldk-lsp", Some(listen), vec![], |builder| {
        let mut service = ldk_lsps2_service(false);
        service.advertise_service = true;
        builder.set_liquidity_provider_lsps2(service);
    })?;
    let address = lsp.onchain_payment().new_address().map_err(|e| anyhow!("{e:?}"))?;
    chain.fund(&address, 1).await?;
    wait_onchain_balance(&lsp, 1_000_000, Duration::from_secs(30)).await?;

    let target = format!("{}@{listen}", lsp.node_id());
    let output = Command::new(inbound_binary()?)
        .args(["check", "--lsp", &target, "--chain-url", chain.bcoin.rpc_url(), "--json", "--timeout-secs", "3"])
        .args(["--only", "lsps0,lsps2", "--pay"])
        .output()
        .context("running inbound check")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .with_context(|| format!("{}: {stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr)))?;
    let mut not_passed = BTreeMap::new();
    for finding in report["findings"].as_array().context("findings")? {
        let (check, protocol) = (finding["check"].as_str().unwrap_or_default(), finding["protocol"].as_u64());
        let outcome = finding["outcome"].as_str().unwrap_or_default();
        let selected = matches!(protocol, Some(0 | 2));
        if selected && outcome != "PASS" {
            not_passed.insert(
                check.to_owned(),
                (outcome.to_owned(), finding["detail"].as_str().unwrap_or_default().to_owned()),
            );
        }
    }
    println!("{}", serde_json::to_string_pretty(&not_passed)?);
    for check in ["lsps2.pay.jit_payment", "lsps2.pay.mpp_short"] {
        let live = report["findings"].as_array().and_then(|f| f.iter().find(|f| f["check"] == check));
        println!("{check}: {}", live.map_or(String::new(), |f| f["detail"].to_string()));
        ensure!(live.is_some_and(|f| f["outcome"] == "PASS"), "{check}: {live:?}");
    }
    let expected: BTreeMap<String, String> =
        LDK_DEVIATIONS.iter().map(|(check, outcome)| ((*check).to_owned(), (*outcome).to_owned())).collect();
    let got: BTreeMap<String, String> =
        not_passed.iter().map(|(check, (outcome, _))| (check.clone(), outcome.clone())).collect();
    ensure!(got == expected, "deviations {not_passed:#?}, pinned {expected:#?}");
    let fails = expected.values().any(|outcome| outcome == "FAIL");
    ensure!(output.status.code() == Some(if fails { 1 } else { 0 }), "exit status {}", output.status);
    lsp.stop().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}
