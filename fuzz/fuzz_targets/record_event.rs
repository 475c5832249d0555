//! Events that reach record: any JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let provider = "123456789012".parse().ok();
        let work = gate_inputs::record_event::parse(&event, provider.as_ref());
        for n in &work.named {
            // An actor, when one is taken from the event, is a single-line ARN.
            assert!(n.accepted_by.as_deref().is_none_or(|a| a.starts_with("arn:") && !a.contains('\n')));
        }
    }
});
