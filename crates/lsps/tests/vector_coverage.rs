//! Every conformance vector must be exercised by some test in this directory: a vector id
//! that no test file mentions fails here.

mod common;

#[test]
fn every_vector_is_checked_by_a_test() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut sources = String::new();
    for entry in std::fs::read_dir(&dir).expect("tests dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if path.extension().is_some_and(|e| e == "rs") && name != "vector_coverage.rs" {
            sources.push_str(&std::fs::read_to_string(&path).expect("readable"));
        }
    }
    let missing: Vec<&str> = common::vectors()
        .iter()
        .filter_map(|v| v["id"].as_str())
        .filter(|id| !sources.contains(&format!("\"{id}\"")) && !covered_by_prefix(&sources, id))
        .collect();
    assert!(missing.is_empty(), "vectors no test checks: {missing:?}");
}

/// A test may walk a whole family with `vectors_with_prefix("lsps0.bad_message_format.")`.
fn covered_by_prefix(sources: &str, id: &str) -> bool {
    id.char_indices()
        .filter(|(_, c)| *c == '.')
        .any(|(i, _)| sources.contains(&format!("vectors_with_prefix(\"{}\")", &id[..=i])))
}
