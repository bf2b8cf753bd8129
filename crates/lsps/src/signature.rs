//! `LSPS0.ln_signature`: the zbase32 `signmessage` format of LND and CLN.
