//! The lookup API's query strings and the signed caller context.
#![no_main]

use gate_core::caller::Caller;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(q) = gate_inputs::query::parse_query(text) {
        let _ = (q.account(), q.service(), q.history(), q.only(&["account", "service", "history"]));
    }
    let (account, arn) = text.split_once('|').unwrap_or((text, ""));
    if let Ok(caller) = Caller::from_signed(account, arn, &["arn:aws:iam::123456789012:role/NetOps".to_owned()]) {
        // Only sessions of the configured role are operators.
        assert!(!caller.operator || caller.arn.contains("NetOps"));
    }
});
