//! The promise keys (bLIP-52 §"promise"; Inbound's `v1` scheme, `lsps::lsps2::promise`).
//!
//! No secret is stored: key `n` is derived from the node's secret key,
//!
//! ```text
//! secret(n) = HMAC-SHA256(key = node_secret_key, msg = "inbound/lsps2/promise-key" || n)
//! ```
//!
//! so it is stable across restarts, differs per node, and never leaves the process. The node
//! secret already decides who can spend the LSP's channels, so deriving from it adds no new
//! secret to protect, and HMAC keeps the node key from being exposed through promises.
//!
//! Rotation: bump `promise_key_id` in the configuration and name the old id in
//! `previous_promise_key` with the time it was retired. New menus are sealed with the current
//! key only; the previous key still verifies for `valid_for_secs` after retirement — exactly
//! as long as a promise it sealed can still be valid — and is dropped after that.

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use lsps::lsps2::PromiseKey;
use lsps::schema::DateTime;

use super::config::Lsps2Config;

/// Domain separator of the derivation.
const KEY_LABEL: &[u8] = b"inbound/lsps2/promise-key";

/// Derives promise key `key_id` from the node's secret key bytes.
pub fn derive_promise_key(node_secret: &[u8; 32], key_id: u8) -> PromiseKey {
    let mut engine = hmac::HmacEngine::<sha256::Hash>::new(node_secret);
    engine.input(KEY_LABEL);
    engine.input(&[key_id]);
    PromiseKey::inbound_v1(key_id, hmac::Hmac::<sha256::Hash>::from_engine(engine).to_byte_array())
}

/// The current key and the keys still accepted.
#[derive(Clone, Debug)]
pub struct PromiseKeyring {
    current: PromiseKey,
    previous: Option<(PromiseKey, DateTime)>,
}

impl PromiseKeyring {
    /// The keyring of `config` for a node whose secret key is `node_secret`.
    pub fn new(node_secret: &[u8; 32], config: &Lsps2Config) -> PromiseKeyring {
        let current = derive_promise_key(node_secret, config.promise_key_id);
        let previous = config.previous_promise_key.and_then(|previous| {
            let accepted_until = previous.retired_at.checked_add_secs(config.valid_for_secs)?;
            Some((derive_promise_key(node_secret, previous.key_id), accepted_until))
        });
        PromiseKeyring { current, previous }
    }

    /// The key sealing new menus.
    pub fn current(&self) -> &PromiseKey {
        &self.current
    }

    /// Every key a `buy` is verified against at `now`.
    pub fn accepted(&self, now: DateTime) -> Vec<PromiseKey> {
        let mut keys = vec![self.current.clone()];
        if let Some((key, until)) = &self.previous {
            if now < *until {
                keys.push(key.clone());
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsps2::config::PreviousPromiseKey;

    #[test]
    fn keys_are_deterministic_and_distinct_per_id_and_node() {
        assert_eq!(derive_promise_key(&[1; 32], 1), derive_promise_key(&[1; 32], 1));
        assert_ne!(derive_promise_key(&[1; 32], 1), derive_promise_key(&[1; 32], 2));
        assert_ne!(derive_promise_key(&[1; 32], 1), derive_promise_key(&[2; 32], 1));
    }

    #[test]
    fn a_retired_key_is_accepted_only_for_the_grace_window() {
        let retired_at = DateTime::from_unix_secs(1_750_000_000).expect("time");
        let config = Lsps2Config {
            promise_key_id: 2,
            previous_promise_key: Some(PreviousPromiseKey { key_id: 1, retired_at }),
            ..Lsps2Config::default()
        };
        let keyring = PromiseKeyring::new(&[3; 32], &config);
        assert_eq!(keyring.current().key_id(), 2);
        let during = retired_at.checked_add_secs(config.valid_for_secs - 1).expect("time");
        let after = retired_at.checked_add_secs(config.valid_for_secs).expect("time");
        assert_eq!(keyring.accepted(during).len(), 2);
        assert_eq!(keyring.accepted(after).len(), 1);
    }
}
