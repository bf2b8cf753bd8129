#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, conformance-vector, integration and doc
# tests, plus one pass of each benchmark in test mode so that benches cannot rot.
# This is the test command the README names and CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --locked

echo "== benchmarks, one iteration each (test mode)"
cargo test --workspace --locked --benches

echo "== interop with LDK (interop/, its own cargo project; needs the inbound binary)"
cargo build --locked --bin inbound
INBOUND_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/inbound" cargo test --locked --manifest-path interop/Cargo.toml

echo "== the wallet SDK without inbound-node (inbound-client --no-default-features)"
cargo check -p inbound-client --no-default-features --locked
cargo test -p inbound-client --no-default-features --locked --lib
cargo clippy -p inbound-client --no-default-features --all-targets --locked -- -D warnings

echo "== the wallet CLI without the LSP (inbound --no-default-features --features wallet)"
wallet_tree=$(cargo tree -p inbound --no-default-features --features wallet -e normal --prefix none --locked)
grep -q '^inbound-client ' <<<"$wallet_tree" || { echo "error: cargo tree listed no inbound-client" >&2; exit 1; }
if lsp_crates=$(grep -E '^(sqlx|axum|inbound-store|inbound-service|inbound-http) ' <<<"$wallet_tree"); then
  echo "error: the wallet-only build depends on LSP crates:" >&2
  sort -u <<<"$lsp_crates" >&2
  exit 1
fi
cargo check -p inbound --no-default-features --features wallet --locked
cargo clippy -p inbound --no-default-features --features wallet --all-targets --locked -- -D warnings
cargo test -p inbound --no-default-features --features wallet --locked --test commands --test cli_order

echo "== formatting"
cargo fmt --all --check
cargo fmt --manifest-path interop/Cargo.toml --all --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path interop/Cargo.toml --all-targets --locked -- -D warnings
