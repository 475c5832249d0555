//! Slack interactivity requests: the signature check over any headers and
//! body, and the button payload parser over any body.
#![no_main]

use gate_core::Timestamp;
use gate_core::slack::{MAX_REASON_CHARS, SLACK_HOOKS, verify};
use gate_inputs::slack::parse_button;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // timestamp \n signature \n body
    let mut parts = text.splitn(3, '\n');
    let (ts, sig, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let now = Timestamp::from_unix(1_800_000_000);
    // A forged signature never verifies.
    assert!(verify(b"fuzzing-signing-secret", ts, sig, body.as_bytes(), now).is_err() || sig.len() == 67);
    if let Ok(press) = parse_button(text, SLACK_HOOKS) {
        assert!(press.response_url.starts_with(SLACK_HOOKS));
        assert!(press.reason.as_deref().is_none_or(|r| r.chars().count() <= MAX_REASON_CHARS));
    }
});
