//! Slack interactivity requests: the signature check, and the limits the
//! review message and its parser (`gate_inputs::slack`) share. Pure, so
//! every hostile variation is a unit test; the HTTP side lives in the
//! respond function.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::time::Timestamp;

/// Requests older (or newer) than this are refused as replays.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("the request is not signed by Slack: {0}")]
    Unsigned(&'static str),
    #[error("the request's timestamp is more than five minutes away from now")]
    Stale,
}

/// Checks `X-Slack-Signature` (`v0=` hex HMAC-SHA256 of
/// `v0:{timestamp}:{raw body}` under the signing secret) in constant time,
/// and the timestamp's freshness.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), SlackError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SlackError::Unsigned("timestamp is not a number"))?;
    // abs_diff: a hostile timestamp near i64::MIN must not overflow.
    if now.unix().abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SlackError::Stale);
    }
    let hex = signature.strip_prefix("v0=").ok_or(SlackError::Unsigned("signature is not v0"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SlackError::Unsigned("signature is not 64 hex digits"));
    }
    let given: Vec<u8> =
        (0..64).step_by(2).filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| SlackError::Unsigned("signature does not match"))
}

/// The `action_id` of the reason box in review messages.
pub const REASON_INPUT: &str = "reason";

/// Approvers' reasons (email form or Slack) are cut to this: they are
/// stored and shown.
pub const MAX_REASON_CHARS: usize = 500;

/// Where Slack's `response_url`s point.
pub const SLACK_HOOKS: &str = "https://hooks.slack.com/";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";

    fn now() -> Timestamp {
        Timestamp::from_unix(1_800_000_000)
    }

    fn sign(ts: &str, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("key");
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        let bytes = mac.finalize().into_bytes();
        format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    const BODY: &str = "payload=%7B%22action_id%22%3A%22approve%22%7D";

    #[test]
    fn a_signed_fresh_request_is_accepted() {
        let ts = now().unix().to_string();
        assert_eq!(verify(SECRET, &ts, &sign(&ts, BODY), BODY.as_bytes(), now()), Ok(()));
        let edge = (now().unix() - MAX_SKEW_SECS).to_string();
        assert_eq!(verify(SECRET, &edge, &sign(&edge, BODY), BODY.as_bytes(), now()), Ok(()));
    }

    #[test]
    fn forged_stale_and_altered_requests_are_refused() {
        let b = BODY.to_owned();
        let ts = now().unix().to_string();
        let good = sign(&ts, &b);
        let now_ts = ts.clone();
        let old = (now().unix() - MAX_SKEW_SECS - 1).to_string();
        let cases: Vec<(&str, String, String, String, &str)> = vec![
            ("body altered", ts.clone(), good.clone(), b.replace("approve", "reject"), "Unsigned"),
            ("timestamp altered", (now().unix() - 1).to_string(), good.clone(), b.clone(), "Unsigned"),
            ("stale, correctly signed", old.clone(), sign(&old, &b), b.clone(), "Stale"),
            ("from the future", (now().unix() + 600).to_string(), good.clone(), b.clone(), "Stale"),
            ("no v0 prefix", ts.clone(), good.replace("v0=", "v1="), b.clone(), "Unsigned"),
            ("short signature", ts.clone(), good[..40].to_owned(), b.clone(), "Unsigned"),
            ("non-hex signature", ts.clone(), format!("v0={}", "g".repeat(64)), b.clone(), "Unsigned"),
            ("empty signature", ts.clone(), String::new(), b.clone(), "Unsigned"),
            ("timestamp not a number", "yesterday".into(), good.clone(), b.clone(), "Unsigned"),
            ("timestamp i64::MIN", i64::MIN.to_string(), good.clone(), b.clone(), "Stale"),
            ("timestamp i64::MAX", i64::MAX.to_string(), good.clone(), b.clone(), "Stale"),
        ];
        for (what, ts, sig, body, want) in cases {
            assert!(
                (ts.as_str(), sig.as_str(), body.as_str()) != (now_ts.as_str(), good.as_str(), BODY),
                "{what}"
            );
            let got = format!("{:?}", verify(SECRET, &ts, &sig, body.as_bytes(), now()));
            assert!(got.contains(want), "{what}: {got}");
        }
    }

    proptest! {
        #[test]
        fn verifying_never_panics(s in "\\PC{0,400}") {
            let _ = verify(SECRET, &s, &s, s.as_bytes(), now());
        }
    }
}
