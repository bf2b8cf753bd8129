//! The node's 32-byte seed and the [`KeysManager`] derived from it.
//!
//! The seed file (`keys_seed` in the data directory, [`SEED_FILE_NAME`]) is created on the first
//! start from the operating system's CSPRNG and written with permissions `0600` (on Unix). It is
//! never logged and never leaves this module except as the `&[u8; 32]` handed to LDK's
//! [`KeysManager`] and to the on-chain wallet's key derivation. Because both the node id and the
//! wallet descriptors are derived from it, a restart from the same data directory keeps the node
//! id, the channels' keys and the wallet's addresses.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use lightning::sign::KeysManager;

use crate::error::{NodeError, NodeResult};

/// Name of the seed file inside the data directory.
pub const SEED_FILE_NAME: &str = "keys_seed";

/// The 32-byte secret every key of the node is derived from.
///
/// Deliberately neither `Debug` nor `Clone`: it must not end up in a log line by accident.
pub struct Seed([u8; 32]);

impl Seed {
    /// The raw seed bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Reads the seed from `data_dir`, or creates it with fresh randomness if the file does not exist.
///
/// Errors if the file exists but is not exactly 32 bytes: starting with a different seed would
/// change the node id and make existing channels unspendable, so that must never happen silently.
pub fn read_or_create_seed(data_dir: &Path) -> NodeResult<Seed> {
    let path = data_dir.join(SEED_FILE_NAME);
    match fs::File::open(&path) {
        Ok(mut file) => {
            let mut bytes = Vec::with_capacity(32);
            file.read_to_end(&mut bytes).map_err(|e| NodeError::io("reading the seed file", e))?;
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                NodeError::Persistence(format!("seed file {} has {} bytes, expected 32", path.display(), bytes.len()))
            })?;
            Ok(Seed(seed))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| NodeError::io("drawing the seed", io::Error::other(e)))?;
            write_new_seed_file(&path, &seed)?;
            Ok(Seed(seed))
        }
        Err(e) => Err(NodeError::io("opening the seed file", e)),
    }
}

fn write_new_seed_file(path: &Path, seed: &[u8; 32]) -> NodeResult<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| NodeError::io("creating the seed file", e))?;
    file.write_all(seed).map_err(|e| NodeError::io("writing the seed file", e))?;
    file.sync_all().map_err(|e| NodeError::io("syncing the seed file", e))?;
    Ok(())
}

/// Builds LDK's [`KeysManager`] from the seed.
///
/// The start time only seeds LDK's per-session randomness (ephemeral keys, channel key
/// derivation salt); the node id depends on the seed alone.
pub fn keys_manager_from_seed(seed: &Seed) -> KeysManager {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    KeysManager::new(seed.as_bytes(), now.as_secs(), now.subsec_nanos(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_created_once_with_0600_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = read_or_create_seed(dir.path()).expect("create");
        let second = read_or_create_seed(dir.path()).expect("read");
        assert_eq!(first.as_bytes(), second.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SEED_FILE_NAME)).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn truncated_seed_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(SEED_FILE_NAME), [1u8; 31]).expect("write");
        assert!(matches!(read_or_create_seed(dir.path()), Err(NodeError::Persistence(_))));
    }
}
