//! Every configuration key from the environment: `INBOUND__<SECTION>__<KEY>=<value>` sets
//! `[section] key` (and `INBOUND__<KEY>` a top-level key), over the file and under the named
//! flags and variables (`--listen`, `INBOUND_LISTEN`, …). A value is read as TOML (`5000`,
//! `true`, `["lsps1", "lsps2"]`, `"text"`); anything that is not TOML is taken as a string, so
//! `INBOUND__CHAIN__URL=http://host:8332/` needs no quotes.
//!
//! A name ending in `__FILE` reads the value from that file instead, as a string with its
//! trailing newline removed, for secrets kept out of the environment and the configuration
//! file: `INBOUND__CHAIN__PASSWORD__FILE=/run/secrets/rpc`, `INBOUND__STORE__URL__FILE=…`.

use std::path::Path;

use super::ConfigError;

use super::ENV_KEY_PREFIX;
/// The last part of a name whose value is read from a file.
const FILE_SUFFIX: &str = "FILE";
/// The largest secret file read (a database URL or a password is far smaller).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// One key set from the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvKey {
    /// The key's path, e.g. `["lsps1", "fee_ppm"]`.
    pub path: Vec<String>,
    /// Its value.
    pub value: toml::Value,
    /// The variable it came from (for errors).
    pub variable: String,
}

impl EnvKey {
    /// The key as the configuration names it (`lsps1.fee_ppm`).
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// Reads a value: TOML if it parses as one, else the text itself.
fn value_of(text: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("value = {text}")) {
        Ok(mut table) => table.remove("value").unwrap_or_else(|| toml::Value::String(text.to_owned())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
}

fn read_secret(variable: &str, path: &Path) -> Result<String, ConfigError> {
    let invalid =
        |message: String| ConfigError::Invalid { key: variable.to_owned(), origin: variable.to_owned(), message };
    let metadata =
        std::fs::metadata(path).map_err(|error| invalid(format!("cannot read {}: {error}", path.display())))?;
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(invalid(format!("{} is larger than {MAX_SECRET_FILE_BYTES} bytes", path.display())));
    }
    let text =
        std::fs::read_to_string(path).map_err(|error| invalid(format!("cannot read {}: {error}", path.display())))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// The generic variables among `variables`, in name order (so that the result does not depend
/// on the environment's order).
///
/// # Errors
/// A `__FILE` variable whose file cannot be read, or a name with an empty part.
pub fn env_keys(variables: impl IntoIterator<Item = (String, String)>) -> Result<Vec<EnvKey>, ConfigError> {
    let mut keys = Vec::new();
    let mut variables: Vec<(String, String)> =
        variables.into_iter().filter(|(name, _)| name.starts_with(ENV_KEY_PREFIX)).collect();
    variables.sort();
    for (variable, raw) in variables {
        let mut path: Vec<String> =
            variable[ENV_KEY_PREFIX.len()..].split("__").map(|part| part.to_ascii_lowercase()).collect();
        let from_file = path.len() > 1 && path.last().is_some_and(|last| last.eq_ignore_ascii_case(FILE_SUFFIX));
        if from_file {
            path.pop();
        }
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid {
                key: variable.clone(),
                origin: variable.clone(),
                message: "name the key as INBOUND__<SECTION>__<KEY> (parts separated by two underscores)".into(),
            });
        }
        let value = match from_file {
            true => toml::Value::String(read_secret(&variable, Path::new(&raw))?),
            false => value_of(&raw),
        };
        keys.push(EnvKey { path, value, variable });
    }
    Ok(keys)
}

/// Sets every key in `table`, creating the tables on its path.
///
/// # Errors
/// A key whose path runs through a value that is not a table (`INBOUND__NETWORK__X`).
pub fn apply(keys: &[EnvKey], table: &mut toml::Table) -> Result<(), ConfigError> {
    for key in keys {
        let Some((last, parents)) = key.path.split_last() else { continue };
        let mut current = &mut *table;
        for part in parents {
            let entry = current.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = entry.as_table_mut().ok_or_else(|| ConfigError::Invalid {
                key: key.dotted(),
                origin: key.variable.clone(),
                message: format!("`{part}` is not a table"),
            })?;
        }
        current.insert(last.clone(), key.value.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn names_become_paths_and_values_are_toml_or_text() {
        let keys = env_keys(vars(&[
            ("INBOUND__LSPS1__FEE_PPM", "5000"),
            ("INBOUND__LSPS__ENABLED", "[\"lsps1\", \"lsps2\"]"),
            ("INBOUND__CHAIN__URL", "http://host:8332/"),
            ("INBOUND__ADMIN__ALLOW_REMOTE", "true"),
            ("INBOUND_LISTEN", "ignored: a named variable"),
            ("OTHER", "ignored"),
        ]))
        .expect("keys");
        let shown: Vec<(String, toml::Value)> = keys.iter().map(|key| (key.dotted(), key.value.clone())).collect();
        assert_eq!(
            shown,
            [
                ("admin.allow_remote".to_owned(), toml::Value::Boolean(true)),
                ("chain.url".into(), toml::Value::String("http://host:8332/".into())),
                ("lsps1.fee_ppm".into(), toml::Value::Integer(5000)),
                ("lsps.enabled".into(), toml::Value::Array(vec!["lsps1".into(), "lsps2".into()])),
            ]
        );
    }

    #[test]
    fn file_variables_read_secrets_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let secret = dir.path().join("rpc");
        std::fs::write(&secret, "hunter2\n").expect("write");
        let keys =
            env_keys(vars(&[("INBOUND__CHAIN__PASSWORD__FILE", secret.to_str().expect("utf-8"))])).expect("keys");
        assert_eq!(keys[0].dotted(), "chain.password");
        assert_eq!(keys[0].value, toml::Value::String("hunter2".into()), "newline removed, never parsed as TOML");
        // A key named like a file path keeps its name.
        let cookie = env_keys(vars(&[("INBOUND__CHAIN__COOKIE_FILE", "/var/lib/bitcoind/.cookie")])).expect("keys");
        assert_eq!(cookie[0].dotted(), "chain.cookie_file");
        let missing = env_keys(vars(&[("INBOUND__STORE__URL__FILE", "/nonexistent/secret")]));
        assert!(matches!(missing, Err(ConfigError::Invalid { key, .. }) if key == "INBOUND__STORE__URL__FILE"));
        assert!(env_keys(vars(&[("INBOUND__LSPS1____FEE", "1")])).is_err());
        let mut table: toml::Table = toml::from_str("network = \"regtest\"").expect("table");
        let through_value = env_keys(vars(&[("INBOUND__NETWORK__X", "1")])).expect("keys");
        assert!(apply(&through_value, &mut table).is_err());
    }
}
