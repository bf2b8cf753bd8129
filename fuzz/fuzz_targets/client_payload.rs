//! The wallet's side: any bytes from an LSP go through the client's format checks and, if
//! they hold a result, through every method's typed decoder and the client-side checks.
//! Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsps::client::{self, IncomingMessage};
use lsps::method::{Method, Response};
use lsps::{lsps1, lsps2, lsps5};

fuzz_target!(|payload: &[u8]| {
    let Ok(IncomingMessage::Response(response)) = client::decode_message(payload) else {
        return;
    };
    match response.outcome {
        Ok(result) => {
            for method in Method::ALL {
                match Response::decode(*method, result.clone()) {
                    Ok(Response::Lsps2GetInfo(info)) => {
                        let _ = lsps2::check_menu(&info.opening_fee_params_menu);
                    }
                    Ok(typed) => {
                        // What decodes must encode and decode to the same value.
                        let again = Response::decode(*method, typed.to_value()).expect("re-decodes");
                        assert_eq!(again, typed);
                    }
                    Err(_) => {}
                }
            }
        }
        Err(error) => {
            let _ = error.sanitized_message();
            let _ = lsps1::Lsps1Error::from_rpc_error(&error);
            let _ = lsps2::Lsps2Error::from_rpc_error(&error);
            let _ = lsps5::Lsps5Error::from_rpc_error(&error);
        }
    }
});
