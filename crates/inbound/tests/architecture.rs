//! The architecture's load-bearing facts, checked so that the map in ARCHITECTURE.md stays
//! true: which workspace crate may depend on which, and the LSPS0 wire constants that `lsps`
//! and `node` each define (the node parses no LSPS, so it cannot import them from `lsps`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// The workspace-internal edges of every crate under `crates/`, by directory name: what its
/// `[dependencies]` (optional ones included, and `[build-dependencies]` and target-specific
/// tables too) may name. Dev-dependencies are not edges: tests may reach further.
///
/// A new edge is an API change: add it here on purpose, and to ARCHITECTURE.md.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    // The wire layer: no I/O, nothing of ours.
    ("lsps", &[]),
    // The Lightning node: raw LSPS bytes only, no JSON, so not even `lsps`.
    ("node", &[]),
    // Durable state: opaque JSON bodies, knows no flow.
    ("store", &[]),
    ("service", &["lsps", "node", "store"]),
    // HTTP in front of the service's dispatcher.
    ("http", &["lsps", "service"]),
    // The operator's admin API: reads the node and the service's operator view (and the
    // store's errors); no flow logic of its own.
    ("admin", &["lsps", "node", "service", "store"]),
    // The wallet SDK (its node dependency may become an optional feature; it is still an edge).
    ("client", &["lsps", "node"]),
    // The conformance checker: the wire layer only; the binary gives it a node to talk through.
    ("check", &["lsps"]),
    // The reference LSPS5 push relay: the wallet SDK's verifier (without the node) behind HTTPS.
    ("push-relay", &["client", "lsps"]),
    // bcoin regtest for tests and the demo; funds and mines through the node's chain client.
    ("regtest", &["node"]),
    // Test harness: may use anything; pinned to what it uses.
    ("harness", &["client", "lsps", "node", "regtest", "service", "store"]),
    // The binary wires everything.
    ("inbound", &["admin", "check", "client", "http", "lsps", "node", "push-relay", "regtest", "service", "store"]),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_toml(path: &Path) -> Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.parse().unwrap_or_else(|error| panic!("{} is not TOML: {error}", path.display()))
}

fn table<'a>(parent: &'a Table, key: &str) -> Option<&'a Table> {
    parent.get(key).and_then(Value::as_table)
}

/// Every dependency table of a manifest that builds into the crate: `[dependencies]`,
/// `[build-dependencies]` and their `[target.'cfg(…)'.*]` forms.
fn dependency_tables(manifest: &Table) -> Vec<&Table> {
    let kinds = ["dependencies", "build-dependencies"];
    let mut tables: Vec<&Table> = kinds.iter().filter_map(|kind| table(manifest, kind)).collect();
    for target in table(manifest, "target").into_iter().flat_map(|targets| targets.values()) {
        if let Some(target) = target.as_table() {
            tables.extend(kinds.iter().filter_map(|kind| table(target, kind)));
        }
    }
    tables
}

/// The package a dependency entry names: its `package` rename (in the entry or, for
/// `workspace = true`, in `[workspace.dependencies]`), else its key.
fn package_of(key: &str, entry: &Value, workspace_dependencies: Option<&Table>) -> String {
    let renamed = |entry: &Value| entry.get("package").and_then(Value::as_str).map(str::to_owned);
    if let Some(name) = renamed(entry) {
        return name;
    }
    let inherited = entry.get("workspace").and_then(Value::as_bool) == Some(true);
    if inherited {
        if let Some(name) = workspace_dependencies.and_then(|deps| deps.get(key)).and_then(renamed) {
            return name;
        }
    }
    key.to_owned()
}

/// Directory name → the workspace-internal crates (by directory name) its manifest depends on.
fn actual_edges() -> BTreeMap<String, BTreeSet<String>> {
    let root = workspace_root();
    let root_manifest = read_toml(&root.join("Cargo.toml"));
    let workspace = table(&root_manifest, "workspace").expect("the root manifest has [workspace]");
    let workspace_dependencies = table(workspace, "dependencies");
    let members: Vec<String> = workspace
        .get("members")
        .and_then(Value::as_array)
        .expect("[workspace] lists its members")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();

    let mut manifests = BTreeMap::new();
    let mut directory_of_package = BTreeMap::new();
    for member in &members {
        let directory =
            member.strip_prefix("crates/").unwrap_or_else(|| panic!("member {member} is not under crates/"));
        let manifest = read_toml(&root.join(member).join("Cargo.toml"));
        let package = table(&manifest, "package")
            .and_then(|package| package.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{member}/Cargo.toml has no package name"))
            .to_owned();
        directory_of_package.insert(package, directory.to_owned());
        manifests.insert(directory.to_owned(), manifest);
    }

    manifests
        .iter()
        .map(|(directory, manifest)| {
            let edges = dependency_tables(manifest)
                .into_iter()
                .flat_map(|dependencies| dependencies.iter())
                .filter_map(|(key, entry)| {
                    directory_of_package.get(&package_of(key, entry, workspace_dependencies)).cloned()
                })
                .collect();
            (directory.clone(), edges)
        })
        .collect()
}

fn allowed_edges() -> BTreeMap<String, BTreeSet<String>> {
    ALLOWED_EDGES
        .iter()
        .map(|(crate_name, edges)| ((*crate_name).to_owned(), edges.iter().map(|edge| (*edge).to_owned()).collect()))
        .collect()
}

#[test]
fn workspace_crates_depend_only_on_the_allowed_crates() {
    let actual = actual_edges();
    let allowed = allowed_edges();
    let mut errors = Vec::new();
    for (crate_name, edges) in &actual {
        match allowed.get(crate_name) {
            None => errors.push(format!("crates/{crate_name} is a workspace member missing from ALLOWED_EDGES")),
            Some(expected) if expected != edges => errors.push(format!(
                "crates/{crate_name} depends on {edges:?}, ALLOWED_EDGES says {expected:?} (added: {:?}, gone: {:?})",
                edges.difference(expected).collect::<Vec<_>>(),
                expected.difference(edges).collect::<Vec<_>>(),
            )),
            Some(_) => {}
        }
    }
    for crate_name in allowed.keys().filter(|name| !actual.contains_key(*name)) {
        errors.push(format!("ALLOWED_EDGES names crates/{crate_name}, which is not a workspace member"));
    }
    // Every directory under crates/ is a member, so none escapes the check.
    let crates_dir = workspace_root().join("crates");
    let entries = std::fs::read_dir(&crates_dir).unwrap_or_else(|error| panic!("cannot list crates/: {error}"));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join("Cargo.toml").exists() && !actual.contains_key(&name) {
            errors.push(format!("crates/{name} has a Cargo.toml but is not a workspace member"));
        }
    }
    assert!(errors.is_empty(), "the crate graph changed:\n{}", errors.join("\n"));
}

#[test]
fn the_edge_reader_sees_renames_optional_and_target_dependencies() {
    let manifest: Table = r#"
        [dependencies]
        wire = { package = "inbound-lsps", path = "../lsps" }
        inbound-node = { workspace = true, optional = true }
        serde = "1"
        [target.'cfg(unix)'.dependencies]
        inbound-store.workspace = true
        [dev-dependencies]
        inbound-http.workspace = true
    "#
    .parse()
    .expect("TOML");
    let workspace: Table = "[dependencies]\ninbound-node = { path = \"crates/node\" }\n".parse().expect("TOML");
    let names: BTreeSet<String> = dependency_tables(&manifest)
        .into_iter()
        .flat_map(|dependencies| dependencies.iter())
        .map(|(key, entry)| package_of(key, entry, table(&workspace, "dependencies")))
        .collect();
    let expected = ["inbound-lsps", "inbound-node", "inbound-store", "serde"];
    assert_eq!(names, expected.into_iter().map(str::to_owned).collect());
}

#[test]
fn lsps_and_node_agree_on_the_wire_constants() {
    // bLIP-50: peer message 37913 (0x9419), feature bit 729, and a payload of at most
    // 65,535 − 2 bytes (BOLT8's message limit minus the type).
    assert_eq!(lsps::framing::LSPS_MESSAGE_TYPE, 37913);
    assert_eq!(inbound_node::lsps0::LSPS_MESSAGE_TYPE, 37913);
    assert_eq!(lsps::framing::LSPS_FEATURE_BIT, 729);
    assert_eq!(inbound_node::lsps0::LSPS_FEATURE_BIT, 729);
    assert_eq!(lsps::framing::MAX_PAYLOAD_BYTES, 65_533);
    assert_eq!(inbound_node::lsps0::MAX_LSPS_PAYLOAD_BYTES, 65_533);
    assert_eq!(inbound_node::MAX_LSPS_PAYLOAD_BYTES, inbound_node::lsps0::MAX_LSPS_PAYLOAD_BYTES);

    // The framing uses them: the type leads every message, and the cap is exact.
    let message = lsps::framing::encode_message(b"{}").expect("a small payload frames");
    assert_eq!(message[..2], inbound_node::lsps0::LSPS_MESSAGE_TYPE.to_be_bytes());
    let largest = vec![b' '; inbound_node::lsps0::MAX_LSPS_PAYLOAD_BYTES];
    assert!(lsps::framing::check_payload_len(&largest).is_ok());
    assert!(lsps::framing::check_payload_len(&[largest.as_slice(), b" "].concat()).is_err());
    // The HTTP endpoint's default body limit is the same payload cap.
    assert_eq!(inbound_http::HttpConfig::default().max_body_bytes, inbound_node::lsps0::MAX_LSPS_PAYLOAD_BYTES);
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The service's protocol modules are siblings on the flow kernel: none reaches into another
/// (shared pieces live in `flow/`, `clock.rs`, `ids.rs`, `ops.rs`, `notify.rs`).
#[test]
fn no_protocol_module_of_the_service_imports_another() {
    let src = workspace_root().join("crates/service/src");
    for (module, others) in
        [("lsps1", ["lsps2", "lsps5"]), ("lsps2", ["lsps1", "lsps5"]), ("lsps5", ["lsps1", "lsps2"])]
    {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "no files in {module}/");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            for other in others {
                for needle in [format!("crate::{other}"), format!("super::super::{other}")] {
                    assert!(!text.contains(&needle), "{} uses {needle}", file.display());
                }
            }
        }
    }
}

/// Modules stay short enough to read in one go: no source file outside tests passes 600 lines.
#[test]
fn no_source_file_outside_tests_is_longer_than_600_lines() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("");
            let in_tests = path.components().any(|part| part.as_os_str() == "tests" || part.as_os_str() == "benches");
            !in_tests && !name.ends_with("tests.rs") && name != "tests.rs"
        })
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).expect("source").lines().count();
            (lines > 600).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}
