//! Decoding by-name `params` into typed requests, with LSPS0's rules for unknown and
//! malformed parameters (bLIP-50, "Unknown parameters"; bLIP-51 for `data.property`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::jsonrpc::RpcError;

/// The parameters of one LSPS method.
///
/// `FIELDS` lists every parameter name the method defines, optional ones included, so that
/// an unknown name is answered with -32602 and `data.unrecognized` instead of being ignored.
pub trait Params: Serialize + DeserializeOwned {
    /// Every parameter name the method defines.
    const FIELDS: &'static [&'static str];
}

/// Decodes `params` for a known method.
///
/// * Names outside `P::FIELDS` → -32602 with `data.unrecognized` listing all of them.
/// * A missing or malformed value → -32602 with `data.property` set to the dotted path of
///   the offending field (`opening_fee_params.min_fee_msat`) and a human `data.message`.
pub fn decode_params<P: Params>(params: Map<String, Value>) -> Result<P, RpcError> {
    let unrecognized: Vec<String> = params.keys().filter(|name| !P::FIELDS.contains(&name.as_str())).cloned().collect();
    if !unrecognized.is_empty() {
        return Err(RpcError::unrecognized_params(unrecognized));
    }
    serde_path_to_error::deserialize(Value::Object(params)).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        RpcError::invalid_param(property_of(&path, &message), message)
    })
}

/// Encodes typed parameters as the by-name object that goes on the wire.
pub fn encode_params<P: Params>(params: &P) -> Value {
    serde_json::to_value(params).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// The dotted property a decoding error is about. For a missing field serde reports the
/// parent's path, so the field name is taken from the message (``missing field `x` ``).
fn property_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split_once('`')).map(|(name, _)| name);
    match (parent, missing) {
        ("", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (parent, None) => parent.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize)]
    struct Inner {
        flag: bool,
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Example {
        amount: crate::schema::SatAmount,
        inner: Inner,
        #[serde(default)]
        note: Option<String>,
    }

    impl Params for Example {
        const FIELDS: &'static [&'static str] = &["amount", "inner", "note"];
    }

    fn decode(value: Value) -> Result<Example, RpcError> {
        match value {
            Value::Object(map) => decode_params(map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn unknown_names_are_all_listed() {
        let error = decode(serde_json::json!({"amount": "1", "inner": {"flag": true}, "b": 1, "a": 2})).unwrap_err();
        assert_eq!(error.code, -32602);
        let mut names = error.unrecognized().unwrap();
        names.sort();
        assert_eq!(names, vec!["a", "b"]);
    }

    #[test]
    fn bad_values_name_their_property() {
        let error = decode(serde_json::json!({"amount": "x", "inner": {"flag": true}})).unwrap_err();
        assert_eq!(error.property(), Some("amount"));
        assert_eq!(error.unrecognized(), Some(vec![]));
        let error = decode(serde_json::json!({"amount": "1", "inner": {"flag": "yes"}})).unwrap_err();
        assert_eq!(error.property(), Some("inner.flag"));
        let error = decode(serde_json::json!({"inner": {"flag": true}})).unwrap_err();
        assert_eq!(error.property(), Some("amount"));
        let error = decode(serde_json::json!({"amount": "1", "inner": {}})).unwrap_err();
        assert_eq!(error.property(), Some("inner.flag"));
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let ok = decode(serde_json::json!({"amount": "1", "inner": {"flag": false}})).unwrap();
        assert_eq!(ok.note, None);
    }
}
