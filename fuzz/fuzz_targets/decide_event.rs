//! Events that reach decide: any JSON, and any SNS message body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let work = gate_inputs::decide_event::parse(&event);
        // Every endpoint it names is a valid id.
        for e in &work.endpoints {
            assert!(e.as_str().starts_with("vpce-"));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gate_core::scan_ids(text);
    }
});
