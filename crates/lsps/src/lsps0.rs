//! LSPS0 (bLIP-50) discovery: `lsps0.list_protocols`.

use serde::{Deserialize, Serialize};

use crate::method::Protocol;
use crate::params::Params;

/// `lsps0.list_protocols` params: none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProtocolsRequest {}

impl Params for ListProtocolsRequest {
    const FIELDS: &'static [&'static str] = &[];
}

/// `lsps0.list_protocols` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProtocolsResponse {
    /// The LSPS numbers served, ascending. 0 is never listed.
    pub protocols: Vec<u16>,
}

impl ListProtocolsResponse {
    /// The answer for an LSP serving `enabled`: sorted, deduplicated, without LSPS0.
    pub fn for_enabled(enabled: &[Protocol]) -> ListProtocolsResponse {
        let mut protocols: Vec<u16> = enabled.iter().filter(|p| **p != Protocol::Lsps0).map(|p| p.number()).collect();
        protocols.sort_unstable();
        protocols.dedup();
        ListProtocolsResponse { protocols }
    }

    /// Whether the LSP said it serves `protocol`.
    pub fn supports(&self, protocol: Protocol) -> bool {
        self.protocols.contains(&protocol.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsps0_is_never_listed_and_order_is_stable() {
        let answer =
            ListProtocolsResponse::for_enabled(&[Protocol::Lsps5, Protocol::Lsps0, Protocol::Lsps1, Protocol::Lsps5]);
        assert_eq!(answer.protocols, vec![1, 5]);
        assert!(answer.supports(Protocol::Lsps5));
        assert!(!answer.supports(Protocol::Lsps2));
    }
}
