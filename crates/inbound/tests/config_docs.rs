//! The configuration's documentation states the defaults: README.md's configuration table and
//! `crates/inbound/inbound.example.toml` are checked against the effective default
//! configuration, rendered as `inbound config-check` prints it with no file
//! ([`Config::to_redacted_toml`]). Adding a key, changing a default or renaming a key fails here
//! until both documents say the same.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use inbound::config::{default_chain_url, Config, FileConfig, Overrides, DEFAULT_STORE_FILE};
use inbound_node::bitcoin::Network;
use toml::{Table, Value};

const EXAMPLE: &str = include_str!("../inbound.example.toml");

/// Tables whose keys are names the operator chooses (`[[lsps2.token_menus.<token>]]`): the
/// documents describe them as one key.
const NAMED_TABLES: &[&str] = &["lsps2.token_menus"];

/// Keys whose default follows another key, so the example file shows them commented out
/// (`store.url` lives in `data_dir`) instead of pinning the value for the default `data_dir`.
const DERIVED_DEFAULTS: &[&str] = &["store.url"];

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn defaults() -> Config {
    Config::load(None, &Overrides::default(), &Overrides::default()).expect("the defaults resolve")
}

/// `key` with a named table's entries folded into the table (`lsps2.token_menus.vip` →
/// `lsps2.token_menus`).
fn normalize(key: &str) -> String {
    NAMED_TABLES
        .iter()
        .find(|table| key.strip_prefix(**table).is_some_and(|rest| rest.is_empty() || rest.starts_with('.')))
        .map_or_else(|| key.to_owned(), |table| (*table).to_owned())
}

/// Every leaf of `table` as a dotted key. Arrays (of values or of tables) are leaves.
fn flatten(prefix: &str, table: &Table, out: &mut BTreeMap<String, Value>) {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match value {
            Value::Table(inner) if normalize(&key) == key => flatten(&key, inner, out),
            other => {
                out.insert(normalize(&key), other.clone());
            }
        }
    }
}

/// The effective default configuration as `config-check` prints it, key by key.
fn effective_defaults() -> BTreeMap<String, Value> {
    let printed = defaults().to_redacted_toml();
    let table: Table =
        printed.parse().unwrap_or_else(|error| panic!("config-check output is not TOML: {error}\n{printed}"));
    let mut keys = BTreeMap::new();
    flatten("", &table, &mut keys);
    keys
}

/// What a README row says a default is.
#[derive(Debug, Clone, PartialEq)]
enum Stated {
    /// `none`: the key has no default.
    Nothing,
    /// One code span holding a TOML value.
    Value(Value),
    /// Words; the key needs its own check in [`check_described_default`].
    Words(String),
}

fn stated(cell: &str) -> Stated {
    if cell == "none" {
        return Stated::Nothing;
    }
    let literal = cell.strip_prefix('`').and_then(|rest| rest.strip_suffix('`')).filter(|inner| !inner.contains('`'));
    if let Some(inner) = literal {
        if let Ok(table) = format!("value = {inner}").parse::<Table>() {
            if let Some(value) = table.get("value") {
                return Stated::Value(value.clone());
            }
        }
    }
    Stated::Words(cell.to_owned())
}

/// The README configuration table: key → what its default cell says. Panics on a malformed or
/// duplicated row.
fn readme_rows(readme: &str) -> BTreeMap<String, Stated> {
    let header = "| key | default | flag / variable | meaning |";
    let start = readme.find(header).expect("README.md has the configuration table");
    let mut rows = BTreeMap::new();
    for line in readme[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 4, "README configuration row without four cells: {line}");
        let keys: Vec<&str> = cells[0].split('`').skip(1).step_by(2).collect();
        assert!(!keys.is_empty(), "README configuration row names no key in `backticks`: {line}");
        for key in keys {
            let key = normalize(key.trim_start_matches("[[").trim_end_matches("]]"));
            let previous = rows.insert(key.clone(), stated(cells[1]));
            assert!(previous.is_none(), "README lists `{key}` twice");
        }
    }
    assert!(!rows.is_empty(), "README's configuration table has no rows");
    rows
}

/// Whether the file parser knows `key`: a file setting only that key is not refused as an
/// unknown field (the value may still be refused for its type).
fn parser_knows(key: &str) -> bool {
    let text = match key.rsplit_once('.') {
        Some((table, leaf)) => format!("[{table}]\n{leaf} = 0\n"),
        None => format!("{key} = 0\n"),
    };
    match FileConfig::parse(&text, "probe") {
        Err(error) => !error.to_string().contains("unknown field"),
        Ok(_) => true,
    }
}

/// The defaults the README describes in words, each checked against the code.
fn check_described_default(key: &str, words: &str, effective: &Value) -> Result<(), String> {
    let defaults = defaults();
    match key {
        "chain.url" => {
            let port_of = |network| {
                url::Url::parse(default_chain_url(network)).ok().and_then(|url| url.port()).map(|port| port.to_string())
            };
            let ports: Vec<String> = [Network::Bitcoin, Network::Testnet, Network::Signet, Network::Regtest]
                .into_iter()
                .map(|network| port_of(network).ok_or_else(|| format!("{network} has no default chain port")))
                .collect::<Result<_, _>>()?;
            let expected = format!("{} for bitcoin / testnet / signet / regtest", ports.join(" / "));
            let own_port = port_of(defaults.network).ok_or("the default network has no chain port")?;
            let template = effective.as_str().unwrap_or_default().replace(&own_port, "<port>");
            if !words.contains(&expected) || !words.contains(&format!("`{template}`")) {
                return Err(format!("expected `{template}` and {expected:?}"));
            }
            Ok(())
        }
        "store.url" => {
            let in_data_dir = defaults.data_dir.join(DEFAULT_STORE_FILE).display().to_string();
            if effective.as_str() != Some(in_data_dir.as_str()) {
                return Err(format!("the effective store.url {effective} is not {in_data_dir:?}"));
            }
            let expected = format!("`<data_dir>/{DEFAULT_STORE_FILE}`");
            if words != expected {
                return Err(format!("expected {expected}"));
            }
            Ok(())
        }
        "lsps2.fee_tiers" => {
            const NUMBERS: [&str; 11] =
                ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
            let count = effective.as_array().map_or(0, Vec::len);
            let number = NUMBERS.get(count).ok_or_else(|| format!("{count} tiers: write the number in digits"))?;
            if !words.starts_with(&format!("{number} tier")) {
                return Err(format!(
                    "there are {count} default tiers, expected the cell to start with \"{number} tier\""
                ));
            }
            Ok(())
        }
        _ => Err("described in words, and this test has no check for it: write the default as `value` or add a check"
            .to_owned()),
    }
}

/// Where README.md's table (`rows`) and the effective defaults disagree, one line each.
fn readme_disagreements(rows: &BTreeMap<String, Stated>, effective: &BTreeMap<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    for (key, value) in effective {
        match rows.get(key) {
            None => errors.push(format!("`{key}` (default {value}) has no row in README.md's configuration table")),
            Some(Stated::Nothing) => errors.push(format!("README.md says `{key}` has no default, but it is {value}")),
            Some(Stated::Value(stated)) if stated != value => {
                errors.push(format!("README.md says `{key}` defaults to {stated}, but it is {value}"))
            }
            Some(Stated::Value(_)) => {}
            Some(Stated::Words(words)) => {
                if let Err(why) = check_described_default(key, words, value) {
                    errors.push(format!("README.md's default of `{key}` ({words}): {why}"));
                }
            }
        }
    }
    for (key, stated) in rows {
        if effective.contains_key(key) {
            continue;
        }
        if !parser_knows(key) {
            errors.push(format!("README.md lists `{key}`, which the configuration file does not accept"));
        } else if *stated != Stated::Nothing {
            errors.push(format!("README.md gives `{key}` a default ({stated:?}), but it has none"));
        }
    }
    errors
}

#[test]
fn readme_configuration_table_states_every_default() {
    let errors = readme_disagreements(&readme_rows(&readme()), &effective_defaults());
    assert!(errors.is_empty(), "README.md disagrees with the defaults:\n{}", errors.join("\n"));
}

/// The keys the example shows commented out with an `# example` mark (`# user = "inbound"  #
/// example`, `# [[lsps2.token_menus.partner-wallet]]  # example`), with the table each is in.
fn commented_examples(text: &str) -> BTreeSet<String> {
    let mut table = String::new();
    let mut keys = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            table = header.trim_start_matches('[').split(']').next().unwrap_or_default().trim().to_owned();
            continue;
        }
        let Some(comment) = line.strip_prefix('#') else { continue };
        let Some((setting, _)) = comment.split_once("# example") else { continue };
        let setting = setting.trim();
        if let Some(header) = setting.strip_prefix("[[").and_then(|rest| rest.strip_suffix("]]")) {
            keys.insert(normalize(header.trim()));
        } else if let Some((name, _)) = setting.split_once('=') {
            let name = name.trim();
            keys.insert(normalize(&if table.is_empty() { name.to_owned() } else { format!("{table}.{name}") }));
        }
    }
    keys
}

/// The keys `example` does not show as it should, and the keys it shows that do not exist.
fn example_omissions(
    example: &str,
    rows: &BTreeMap<String, Stated>,
    effective: &BTreeMap<String, Value>,
) -> Vec<String> {
    let table: Table = match example.parse() {
        Ok(table) => table,
        Err(error) => return vec![format!("the example is not TOML: {error}")],
    };
    let mut set = BTreeMap::new();
    flatten("", &table, &mut set);
    let commented = commented_examples(example);
    let mut errors = Vec::new();
    for key in effective.keys() {
        let shown = set.contains_key(key) || (DERIVED_DEFAULTS.contains(&key.as_str()) && commented.contains(key));
        if !shown {
            errors.push(format!("`{key}` is not set to its default in the example"));
        }
    }
    // README keys without a default value (the effective keys are checked above).
    for key in rows.keys().filter(|key| !effective.contains_key(*key)) {
        if !set.contains_key(key) && !commented.contains(key) {
            errors.push(format!("`{key}` (in README.md) is neither set nor shown as an example in the example file"));
        }
    }
    for key in &commented {
        if !parser_knows(key) {
            errors.push(format!("the example shows `{key}`, which the configuration file does not accept"));
        }
    }
    errors
}

#[test]
fn annotated_example_states_exactly_the_defaults() {
    let parse = |text: &str| {
        let file = FileConfig::parse(text, "inbound.example.toml").expect("the example parses");
        Config::resolve(file, "inbound.example.toml", &Overrides::default(), &Overrides::default())
            .expect("the example resolves")
    };
    // Every value it sets is the default...
    assert_eq!(parse(EXAMPLE), parse(""));
    // ...and it names every key: set to its default, or, for keys without a fixed default,
    // commented out with an `# example` mark.
    let errors = example_omissions(EXAMPLE, &readme_rows(&readme()), &effective_defaults());
    assert!(errors.is_empty(), "inbound.example.toml does not list every key:\n{}", errors.join("\n"));
}

#[test]
fn the_checks_catch_wrong_documents() {
    // The real documents passing proves nothing unless wrong ones fail: break each kind of
    // statement once and expect exactly those complaints.
    let effective = effective_defaults();
    let mut rows = readme_rows(&readme());
    rows.insert("lsps1.fee_ppm".into(), Stated::Value(Value::Integer(5_001)));
    rows.remove("http.path");
    rows.insert("lsps1.bogus".into(), Stated::Value(Value::Integer(1)));
    rows.insert("chain.user".into(), Stated::Value(Value::String("rpc".into())));
    rows.insert("store.url".into(), Stated::Words("`<data_dir>/other.sqlite`".into()));
    rows.insert("lsps2.fee_tiers".into(), Stated::Words("two tiers".into()));
    rows.insert("node.alias".into(), Stated::Words("a name".into()));
    let errors = readme_disagreements(&rows, &effective);
    for key in ["lsps1.fee_ppm", "http.path", "lsps1.bogus", "chain.user", "store.url", "lsps2.fee_tiers", "node.alias"]
    {
        assert_eq!(errors.iter().filter(|error| error.contains(&format!("`{key}`"))).count(), 1, "{key}: {errors:#?}");
    }
    assert_eq!(errors.len(), 7, "{errors:#?}");
    let wrong_url = Value::String("http://127.0.0.1:1/".to_owned());
    assert!(check_described_default("chain.url", "`http://127.0.0.1:<port>/`", &wrong_url).is_err());

    let rows = readme_rows(&readme());
    let example = EXAMPLE.replace("\npath = \"/lsps\"\n", "\n").replace("# user = \"inbound\"", "# usr = \"inbound\"");
    let errors = example_omissions(&example, &rows, &effective);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors.iter().any(|error| error.contains("`http.path` is not set")), "{errors:#?}");
    assert!(errors.iter().any(|error| error.contains("`chain.user` (in README.md)")), "{errors:#?}");
    assert!(errors.iter().any(|error| error.contains("`chain.usr`, which")), "{errors:#?}");
    // Commented keys are found with their table; a formula in a comment is not a key.
    let commented = commented_examples(
        "[chain]\n# user = \"x\"   # example\n# fee = a + b\n[lsps2]\n# [[lsps2.token_menus.t]]  # example\n",
    );
    assert_eq!(commented, BTreeSet::from(["chain.user".to_owned(), "lsps2.token_menus".to_owned()]));
}
