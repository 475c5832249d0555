//! Approval links: the query string of a GET, or the form of a POST as the
//! Function URL delivers it (plain or base64).
#![no_main]

use gate_core::Timestamp;
use gate_core::slack::MAX_REASON_CHARS;
use gate_inputs::{body, form, link};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for base64 in [false, true] {
        if let Ok(decoded) = body::text(Some(text), base64) {
            assert!(decoded.len() <= body::MAX_BODY);
        }
    }
    let _ = form::percent_decode(text);
    assert!(link::reason(text).is_none_or(|r| r.chars().count() <= MAX_REASON_CHARS));
    if let Ok((link, sig)) = link::parse(text) {
        // Without the key, no input verifies.
        let keys: [&[u8]; 1] = [b"fuzzing-link-key-0123456789abcdef"];
        let verified = link.verify(&keys, &sig, Timestamp::from_unix(1_800_000_000));
        assert!(verified.is_err() || link.sign(keys[0]) == sig);
    }
});
