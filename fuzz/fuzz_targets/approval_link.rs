//! Approval links: the query string of a GET or the form of a POST.
#![no_main]

use gate_core::Timestamp;
use gate_core::link::{Link, percent_decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = percent_decode(text);
    if let Ok((link, sig)) = Link::parse(text) {
        // Without the key, no input verifies.
        let keys: [&[u8]; 1] = [b"fuzzing-link-key-0123456789abcdef"];
        let verified = link.verify(&keys, &sig, Timestamp::from_unix(1_800_000_000));
        assert!(verified.is_err() || link.sign(keys[0]) == sig);
    }
});
