//! On-chain references: `LSPS0.onchain_address`, `LSPS0.outpoint`, `LSPS0.scid`.

use std::fmt;
use std::str::FromStr;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, OutPoint, ScriptBuf, Txid, WitnessVersion};

use super::{serde_via_str, SchemaError};

/// `LSPS0.onchain_address`: a SegWit address, P2WPKH, P2WSH or P2TR.
///
/// Parsing checks the encoding and the output type; the network is checked separately with
/// [`OnchainAddress::require_network`], because JSON decoding does not know which network
/// the LSP runs on. Other witness versions are refused: paying to them is anyone-can-spend
/// today, so accepting one as a refund address would burn the refund.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OnchainAddress {
    address: Address<NetworkUnchecked>,
    text: String,
}

impl OnchainAddress {
    /// The address, if it belongs to `network`.
    pub fn require_network(&self, network: Network) -> Result<Address, SchemaError> {
        self.address
            .clone()
            .require_network(network)
            .map_err(|_| SchemaError::Address(format!("{} is not an address for {network}", self.text)))
    }

    /// Whether the address belongs to `network`.
    pub fn is_valid_for_network(&self, network: Network) -> bool {
        self.address.is_valid_for_network(network)
    }

    /// The output script this address pays to.
    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address.assume_checked_ref().script_pubkey()
    }

    /// The address exactly as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Address> for OnchainAddress {
    fn from(address: Address) -> Self {
        let text = address.to_string();
        OnchainAddress { address: address.into_unchecked(), text }
    }
}

impl FromStr for OnchainAddress {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        if text.len() > 100 {
            return Err(SchemaError::Address("longer than any SegWit address".into()));
        }
        let address: Address<NetworkUnchecked> =
            text.parse().map_err(|error| SchemaError::Address(format!("{error}")))?;
        let program = address
            .assume_checked_ref()
            .witness_program()
            .ok_or_else(|| SchemaError::Address("not a SegWit address".into()))?;
        let supported = match program.version() {
            WitnessVersion::V0 => true,
            WitnessVersion::V1 => program.program().len() == 32,
            _ => false,
        };
        if !supported {
            return Err(SchemaError::Address("only P2WPKH, P2WSH and P2TR are accepted".into()));
        }
        Ok(OnchainAddress { address, text: text.to_owned() })
    }
}

impl fmt::Display for OnchainAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

serde_via_str!(OnchainAddress, "a SegWit address string");

/// `LSPS0.outpoint`: `"<txid>:<vout>"`, the txid in display byte order. Written lowercase;
/// either case is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outpoint(pub OutPoint);

impl Outpoint {
    /// The transaction id.
    pub fn txid(&self) -> Txid {
        self.0.txid
    }

    /// The output index.
    pub fn vout(&self) -> u32 {
        self.0.vout
    }
}

/// `LSPS0.txid`: a transaction id, 64 hex characters in display (block-explorer) byte order.
/// Written lowercase; either case is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxidHex(pub Txid);

impl FromStr for TxidHex {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        parse_txid(text).map(TxidHex)
    }
}

impl fmt::Display for TxidHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_via_str!(TxidHex, "a txid of 64 hex characters");

/// Parses 64 hex characters (either case) as a txid.
pub(crate) fn parse_txid(text: &str) -> Result<Txid, SchemaError> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SchemaError::Txid);
    }
    text.to_ascii_lowercase().parse().map_err(|_| SchemaError::Txid)
}

impl FromStr for Outpoint {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        let (txid, vout) = text.split_once(':').ok_or(SchemaError::Outpoint)?;
        let txid = parse_txid(txid).map_err(|_| SchemaError::Outpoint)?;
        if vout.is_empty() || vout.len() > 10 || !vout.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SchemaError::Outpoint);
        }
        let vout = vout.parse::<u32>().map_err(|_| SchemaError::Outpoint)?;
        Ok(Outpoint(OutPoint { txid, vout }))
    }
}

impl fmt::Display for Outpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0.txid, self.0.vout)
    }
}

serde_via_str!(Outpoint, "an outpoint string <txid>:<vout>");

/// `LSPS0.scid`: a short channel id, written `"<block>x<tx>x<output>"` in decimal.
///
/// The u64 packs the block height in the top 24 bits, the transaction index in the next 24
/// and the output index in the low 16 (BOLT7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scid(pub u64);

impl Scid {
    /// Packs the three parts, or `None` if one is out of range.
    pub fn from_parts(block: u32, tx_index: u32, output_index: u16) -> Option<Scid> {
        if block >= 1 << 24 || tx_index >= 1 << 24 {
            return None;
        }
        Some(Scid((u64::from(block) << 40) | (u64::from(tx_index) << 16) | u64::from(output_index)))
    }

    /// The block height part.
    pub fn block(&self) -> u32 {
        (self.0 >> 40) as u32
    }

    /// The transaction index part.
    pub fn tx_index(&self) -> u32 {
        ((self.0 >> 16) & 0xff_ffff) as u32
    }

    /// The output index part.
    pub fn output_index(&self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl FromStr for Scid {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<Self, SchemaError> {
        let mut parts = text.split('x');
        let mut next = |max_digits: usize| -> Result<u32, SchemaError> {
            let part = parts.next().ok_or(SchemaError::Scid)?;
            if part.is_empty() || part.len() > max_digits || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SchemaError::Scid);
            }
            part.parse::<u32>().map_err(|_| SchemaError::Scid)
        };
        let block = next(8)?;
        let tx_index = next(8)?;
        let output_index = u16::try_from(next(5)?).map_err(|_| SchemaError::Scid)?;
        if parts.next().is_some() {
            return Err(SchemaError::Scid);
        }
        Scid::from_parts(block, tx_index, output_index).ok_or(SchemaError::Scid)
    }
}

impl fmt::Display for Scid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.block(), self.tx_index(), self.output_index())
    }
}

serde_via_str!(Scid, "a short channel id string <block>x<tx>x<output>");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scid_forms() {
        let scid: Scid = "539268x845x1".parse().unwrap();
        assert_eq!(scid.0, 0x083a8400034d0001);
        assert_eq!(Scid(983526345394356225).to_string(), "894512x3192x1");
        assert_eq!(Scid(u64::MAX).to_string().parse::<Scid>(), Ok(Scid(u64::MAX)));
        for bad in
            ["", "1x2", "1x2x3x4", "16777216x0x0", "0x16777216x0", "0x0x65536", "+1x2x3", "1X2X3", "1x2x-3", "0x0x"]
        {
            assert!(bad.parse::<Scid>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn outpoints() {
        let text = "f27c97f46ed7281a3efa7287410082eba0cd1424d72703a217e435ea840957b0:0";
        let outpoint: Outpoint = text.parse().unwrap();
        assert_eq!(outpoint.to_string(), text);
        let upper: Outpoint = text.to_ascii_uppercase().parse().unwrap();
        assert_eq!(upper, outpoint);
        for bad in [
            "",
            ":0",
            "abc:0",
            &text.replace(":0", ":"),
            &text.replace(":0", ":-1"),
            &text.replace(":0", ":4294967296"),
        ] {
            assert!(bad.parse::<Outpoint>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        for good in [
            "bc1qgnqkxgyrwjcsc9ey68ysqntfh5tkmzse0wraan",
            "bc1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsq2gp3gp",
            "bc1pd2wx0dfflnl5pz9jsjak48jhjk4g6vnkwq0d4jzrxnlpke4le4nq6zk2tv",
        ] {
            let address: OnchainAddress = good.parse().unwrap();
            assert!(address.require_network(Network::Bitcoin).is_ok());
            assert!(address.require_network(Network::Regtest).is_err());
            assert_eq!(address.to_string(), good);
        }
        // Base58 (P2PKH) and garbage are refused.
        assert!("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".parse::<OnchainAddress>().is_err());
        assert!("bc1qnotanaddress".parse::<OnchainAddress>().is_err());
    }
}
