//! `inbound client order` and `order-status`: argument parsing (through clap, in process) and
//! the refusals that happen before any node starts (as child processes).

mod common;

use clap::Parser;
use common::inbound;
use inbound::cli::{Cli, ClientCommand, Command};
use inbound::client_order::{parse_refund_address, OrderArgs, OrderStatusArgs, PayArg};
use inbound_node::bitcoin::Network;

const LSP: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619@127.0.0.1:9735";

fn order(args: &[&str]) -> Result<OrderArgs, clap::Error> {
    let mut argv = vec!["inbound", "client", "order"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv)?.command {
        Command::Client(ClientCommand::Order(args)) => Ok(args),
        other => panic!("parsed as {other:?}"),
    }
}

fn status(args: &[&str]) -> Result<OrderStatusArgs, clap::Error> {
    let mut argv = vec!["inbound", "client", "order-status"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv)?.command {
        Command::Client(ClientCommand::OrderStatus(args)) => Ok(args),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn order_parses_every_flag() {
    let args = order(&[
        "--lsp",
        LSP,
        "--lsp-balance-sat",
        "1000000",
        "--client-balance-sat",
        "5000",
        "--channel-expiry-blocks",
        "4320",
        "--refund-address",
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        "--pay",
        "onchain",
        "--max-fee-sat",
        "20000",
        "--http",
        "https://lsp.example/lsps",
        "--json",
        "--network",
        "regtest",
    ])
    .expect("valid");
    assert_eq!(args.wallet.lsp, LSP);
    assert_eq!((args.lsp_balance_sat, args.client_balance_sat), (1_000_000, 5_000));
    assert_eq!(args.channel_expiry_blocks, Some(4320));
    assert_eq!(args.pay, Some(PayArg::Onchain));
    assert_eq!(args.max_fee_sat, Some(20_000));
    assert_eq!(args.wallet.http.as_deref(), Some("https://lsp.example/lsps"));
    assert!(args.wallet.json);
    args.validate().expect("consistent");
}

#[test]
fn order_defaults_and_required_flags() {
    let args = order(&["--lsp", LSP, "--lsp-balance-sat", "100000"]).expect("minimal");
    assert_eq!(args.client_balance_sat, 0);
    assert_eq!(
        (args.channel_expiry_blocks, args.pay, args.max_fee_sat, args.wallet.http.clone()),
        (None, None, None, None)
    );
    assert!(!args.wallet.json);
    assert_eq!(args.wallet.node.network, "regtest");
    args.validate().expect("ordering without paying needs no cap");

    assert!(order(&["--lsp", LSP]).is_err(), "--lsp-balance-sat is required");
    assert!(order(&["--lsp-balance-sat", "1"]).is_err(), "--lsp is required");
    assert!(order(&["--lsp", LSP, "--lsp-balance-sat", "-5"]).is_err());
    assert!(order(&["--lsp", LSP, "--lsp-balance-sat", "1", "--pay", "bitcoin"]).is_err(), "unknown --pay");

    let no_cap = order(&["--lsp", LSP, "--lsp-balance-sat", "1", "--pay", "lightning"]).expect("parses");
    assert!(no_cap.validate().unwrap_err().to_string().contains("--max-fee-sat"));
    let zero = order(&["--lsp", LSP, "--lsp-balance-sat", "0"]).expect("parses");
    assert!(zero.validate().unwrap_err().to_string().contains("--lsp-balance-sat"));
}

#[test]
fn order_status_parses() {
    let args =
        status(&["--lsp", LSP, "--order-id", "abc", "--wait", "--http", "http://127.0.0.1:9780/lsps"]).expect("valid");
    assert_eq!(args.order_id, "abc");
    assert!(args.wait);
    assert!(status(&["--lsp", LSP]).is_err(), "--order-id is required");
}

#[test]
fn refund_addresses_are_checked_for_the_network() {
    assert!(parse_refund_address("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", Network::Regtest).is_ok());
    let mainnet = parse_refund_address("bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan", Network::Regtest).unwrap_err();
    assert!(mainnet.to_string().contains("not a regtest address"), "{mainnet}");
    assert!(parse_refund_address("nonsense", Network::Regtest).is_err());
}

#[test]
fn the_binary_refuses_pay_without_a_cap_before_starting_anything() {
    let output = inbound()
        .args(["client", "order", "--lsp", LSP, "--lsp-balance-sat", "100000", "--pay", "lightning"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-fee-sat is required"));
}
