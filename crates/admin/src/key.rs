//! The admin key: 32 random bytes as 64 hex digits in a file of mode 0600, created at first
//! start, compared in constant time, and re-read when the file changes (so rotating it is
//! writing a new one: [`AdminKey::rotate`], `inbound admin rotate-key`).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use subtle::ConstantTimeEq;

/// The key file's name in the data directory, unless `admin.key_file` names another.
pub const DEFAULT_KEY_FILE: &str = "admin.key";

/// Hex digits in a key.
const KEY_HEX_LEN: usize = 64;

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or writing the file failed.
    #[error("the admin key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("the admin key file {path} does not hold a key (64 hex digits)")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Others than the owner may read the file.
    #[error("the admin key file {path} has mode {mode:o}; it must not be readable by group or others (chmod 600)")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No randomness for a new key.
    #[error("no randomness for a new admin key: {0}")]
    Random(String),
}

/// The admin API's bearer key, kept in sync with its file.
pub struct AdminKey {
    path: PathBuf,
    /// The key and the file's modification time and inode it was read at.
    current: Mutex<(String, Option<(SystemTime, u64)>)>,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey").field("path", &self.path).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_owned(), source }
}

fn new_key() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|error| KeyError::Random(error.to_string()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes `key` to a new file beside `path` with mode 0600, then renames it over `path`.
fn write_key(path: &Path, key: &str) -> Result<(), KeyError> {
    let temporary = path.with_extension("key.new");
    let _ = std::fs::remove_file(&temporary);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary).map_err(io(path))?;
    file.write_all(format!("{key}\n").as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    std::fs::rename(&temporary, path).map_err(io(path))?;
    Ok(())
}

/// Reads and checks the key file: its mode, then its contents.
fn read_key(path: &Path) -> Result<(String, (SystemTime, u64)), KeyError> {
    let metadata = std::fs::metadata(path).map_err(io(path))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: path.to_owned(), mode });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let key = text.trim();
    if key.len() != KEY_HEX_LEN || !key.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(KeyError::Malformed { path: path.to_owned() });
    }
    let stamp = (metadata.modified().map_err(io(path))?, metadata.ino());
    Ok((key.to_ascii_lowercase(), stamp))
}

impl AdminKey {
    /// Loads the key at `path`, creating a new random one (mode 0600) if there is no file.
    ///
    /// # Errors
    /// If the file cannot be read or written, holds no key, or is readable by others.
    pub fn load_or_create(path: &Path) -> Result<AdminKey, KeyError> {
        if !path.exists() {
            write_key(path, &new_key()?)?;
            tracing::info!(key_file = %path.display(), "created the admin key");
        }
        let (key, stamp) = read_key(path)?;
        Ok(AdminKey { path: path.to_owned(), current: Mutex::new((key, Some(stamp))) })
    }

    /// Replaces the key in `path` with a new random one. A running LSP reads it at the next
    /// request; the old key stops working then.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn rotate(path: &Path) -> Result<(), KeyError> {
        write_key(path, &new_key()?)
    }

    /// Reads the key from `path` (for clients: the CLI).
    ///
    /// # Errors
    /// If the file cannot be read, holds no key, or is readable by others.
    pub fn read(path: &Path) -> Result<String, KeyError> {
        read_key(path).map(|(key, _)| key)
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `presented` is the current key, compared in constant time. The file is re-read
    /// when it changed; if it became unreadable or malformed the last good key stays (and the
    /// problem is logged), so a botched rotation does not lock the operator out.
    pub fn matches(&self, presented: &str) -> bool {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamp = std::fs::metadata(&self.path).ok().and_then(|meta| Some((meta.modified().ok()?, meta.ino())));
        if stamp.is_some() && stamp != current.1 {
            match read_key(&self.path) {
                Ok((key, stamp)) => {
                    tracing::info!(key_file = %self.path.display(), "admin key changed; using the new one");
                    *current = (key, Some(stamp));
                }
                Err(error) => {
                    tracing::warn!("{error}; keeping the previous admin key");
                    current.1 = stamp;
                }
            }
        }
        let expected = current.0.as_bytes();
        let presented = presented.trim().to_ascii_lowercase();
        // `ct_eq` of slices of different lengths is false without comparing contents; the
        // length of the key is public (64).
        expected.ct_eq(presented.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_created_private_read_back_and_rotated() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(DEFAULT_KEY_FILE);
        let key = AdminKey::load_or_create(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = AdminKey::read(&path).expect("readable");
        assert_eq!(text.len(), 64);
        assert!(key.matches(&text));
        assert!(key.matches(&text.to_ascii_uppercase()), "hex is case-insensitive");
        assert!(!key.matches(&text[..63]));
        assert!(!key.matches(""));
        let mut wrong = text.clone().into_bytes();
        wrong[10] = if wrong[10] == b'0' { b'1' } else { b'0' };
        assert!(!key.matches(std::str::from_utf8(&wrong).expect("hex")));

        // A second start reads the same key.
        let again = AdminKey::load_or_create(&path).expect("loaded");
        assert!(again.matches(&text));

        AdminKey::rotate(&path).expect("rotated");
        let rotated = AdminKey::read(&path).expect("readable");
        assert_ne!(rotated, text);
        assert!(key.matches(&rotated), "the running key follows the file");
        assert!(!key.matches(&text), "the old key stops working");
    }

    #[test]
    fn exposed_or_malformed_key_files_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("admin.key");
        std::fs::write(&path, "0".repeat(64)).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(AdminKey::load_or_create(&path), Err(KeyError::Exposed { mode: 0o644, .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(AdminKey::load_or_create(&path).is_ok());
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(AdminKey::read(&path), Err(KeyError::Malformed { .. })));
    }

    #[test]
    fn a_botched_rotation_keeps_the_last_good_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("admin.key");
        let key = AdminKey::load_or_create(&path).expect("created");
        let text = AdminKey::read(&path).expect("readable");
        std::fs::write(&path, "garbage").expect("overwrite");
        assert!(key.matches(&text));
        assert!(!key.matches("garbage"));
    }
}
