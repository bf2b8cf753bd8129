//! Which commands the binary has, by cargo feature: the wallet-only build
//! (`--no-default-features --features wallet`) has `client …` only; the default build (`daemon`)
//! has `serve`, `demo` and `config-check` too.

mod common;

use common::inbound;

fn known(command: &[&str]) -> bool {
    let output = inbound().args(command).arg("--help").output().expect("run inbound");
    output.status.success()
}

#[test]
fn the_daemon_commands_exist_only_with_the_daemon_feature() {
    for command in ["serve", "demo", "config-check"] {
        assert_eq!(known(&[command]), cfg!(feature = "daemon"), "`inbound {command}`");
    }
    for command in ["list-protocols", "jit-invoice", "order", "order-status"] {
        assert!(known(&["client", command]), "`inbound client {command}`");
    }
    for command in ["set", "list", "remove"] {
        assert!(known(&["client", "webhook", command]), "`inbound client webhook {command}`");
    }
}
