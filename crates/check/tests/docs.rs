//! `docs/check.md` lists every check of the catalogue exactly as the code defines it: the table
//! between its markers is `inbound_check::catalogue::markdown()`. Run with
//! `INBOUND_UPDATE_DOCS=1` to rewrite that part of the file after changing the catalogue.

use std::path::PathBuf;

const START: &str = "<!-- catalogue:start (generated from crates/check/src/catalogue.rs) -->\n";
const END: &str = "<!-- catalogue:end -->\n";

#[test]
fn docs_check_md_lists_the_catalogue() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/check.md");
    let text = std::fs::read_to_string(&path).expect("docs/check.md");
    let (before, rest) = text.split_once(START).expect("the start marker");
    let (current, after) = rest.split_once(END).expect("the end marker");
    let generated = inbound_check::catalogue::markdown();
    if current != generated && std::env::var_os("INBOUND_UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{before}{START}{generated}{END}{after}")).expect("rewriting docs/check.md");
        return;
    }
    let stale: Vec<&str> = generated.lines().filter(|line| !current.lines().any(|have| have == *line)).collect();
    assert!(
        current == generated,
        "docs/check.md is out of date (missing or changed: {stale:#?}); run \
         `INBOUND_UPDATE_DOCS=1 cargo test -p inbound-check --test docs`"
    );
}
