//! Slack interactivity requests: the signature check and the `block_actions`
//! payload of an Approve/Reject button. Pure, so every hostile variation is
//! a unit test; the HTTP side lives in the respond function.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::id::EndpointId;
use crate::link::{LinkAction, percent_decode};
use crate::time::Timestamp;

/// Requests older (or newer) than this are refused as replays.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("the request is not signed by Slack: {0}")]
    Unsigned(&'static str),
    #[error("the request's timestamp is more than five minutes away from now")]
    Stale,
    #[error("the request is not a Slack button action: {0}")]
    Malformed(String),
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

/// What an approver's button press asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPress {
    pub user_id: String,
    pub user_name: String,
    pub action: LinkAction,
    pub endpoint: EndpointId,
    /// What the approver typed in the message's reason box, if anything.
    pub reason: Option<String>,
    /// Where to update the original message; only Slack's own hooks.
    pub response_url: String,
}

/// The `action_id` of the reason box in review messages.
pub const REASON_INPUT: &str = "reason";

/// Reasons longer than this are cut: they are stored and shown.
pub const MAX_REASON_CHARS: usize = 500;

/// Where Slack's `response_url`s point.
pub const SLACK_HOOKS: &str = "https://hooks.slack.com/";

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: User,
    #[serde(default)]
    actions: Vec<ActionDoc>,
    response_url: Option<String>,
    #[serde(default)]
    state: State,
}

/// The message's inputs as they were when the button was pressed:
/// block id → action id → value.
#[derive(Deserialize, Default)]
struct State {
    #[serde(default)]
    values: std::collections::HashMap<String, std::collections::HashMap<String, InputDoc>>,
}

#[derive(Deserialize)]
struct InputDoc {
    value: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
struct ActionDoc {
    action_id: String,
    value: Option<String>,
}

/// Parses the form-encoded body Slack POSTs (`payload=<url-encoded JSON>`).
/// `hooks` is the prefix every `response_url` must have ([`SLACK_HOOKS`]
/// in production).
pub fn parse_button(body: &str, hooks: &str) -> Result<ButtonPress, SlackError> {
    let bad = |why: &str| SlackError::Malformed(why.to_owned());
    let encoded =
        body.split('&').find_map(|p| p.strip_prefix("payload=")).ok_or_else(|| bad("no payload field"))?;
    let json = percent_decode(encoded).ok_or_else(|| bad("payload is badly encoded"))?;
    let payload: Payload =
        serde_json::from_str(&json).map_err(|e| SlackError::Malformed(format!("payload: {e}")))?;
    if payload.kind != "block_actions" {
        return Err(bad("not a block_actions payload"));
    }
    let [action] = payload.actions.as_slice() else {
        return Err(bad("expected exactly one action"));
    };
    let kind = match action.action_id.as_str() {
        "approve" => LinkAction::Approve,
        "reject" => LinkAction::Reject,
        _ => return Err(bad("unknown action")),
    };
    let endpoint = action
        .value
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e: crate::IdError| SlackError::Malformed(e.to_string()))?;
    let response_url = payload.response_url.unwrap_or_default();
    if hooks.is_empty() || !response_url.starts_with(hooks) {
        return Err(bad("response_url is not Slack's"));
    }
    let valid_user = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_user(&payload.user.id) {
        return Err(bad("user id is not a Slack id"));
    }
    let reason = payload
        .state
        .values
        .values()
        .find_map(|block| block.get(REASON_INPUT))
        .and_then(|input| input.value.as_deref())
        .map(|r| r.trim().chars().filter(|c| !c.is_control()).take(MAX_REASON_CHARS).collect::<String>())
        .filter(|r| !r.is_empty());
    Ok(ButtonPress {
        user_id: payload.user.id,
        user_name: payload.user.username.chars().filter(|c| !c.is_control()).take(80).collect(),
        action: kind,
        endpoint,
        reason,
        response_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::percent_encode;
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

    fn body(payload: &str) -> String {
        format!("payload={}", percent_encode(payload))
    }

    const PRESS: &str = r#"{"type":"block_actions","user":{"id":"U024BE7LH","username":"alice"},
        "actions":[{"action_id":"approve","value":"vpce-0123456789abcdef0"}],
        "response_url":"https://hooks.slack.com/actions/T0/1/abc"}"#;

    #[test]
    fn a_signed_fresh_button_press_is_accepted() {
        let b = body(PRESS);
        let ts = now().unix().to_string();
        assert_eq!(verify(SECRET, &ts, &sign(&ts, &b), b.as_bytes(), now()), Ok(()));
        let press = parse_button(&b, SLACK_HOOKS).expect("parses");
        assert_eq!((press.user_id.as_str(), press.action), ("U024BE7LH", LinkAction::Approve));
        assert_eq!(press.endpoint.as_str(), "vpce-0123456789abcdef0");
        assert_eq!(press.reason, None);
    }

    #[test]
    fn a_reject_carries_the_reason_typed_in_the_message() {
        let typed = PRESS.replace("\"approve\"", "\"reject\"").replace(
            "\"response_url\"",
            r#""state":{"values":{"b1":{"reason":{"type":"plain_text_input","value":"  not our customer\u0007 "}}}},
               "response_url""#,
        );
        let press = parse_button(&body(&typed), SLACK_HOOKS).expect("parses");
        assert_eq!(press.action, LinkAction::Reject);
        assert_eq!(press.reason.as_deref(), Some("not our customer"));
        let long = typed.replace("not our customer", &"x".repeat(2000));
        let press = parse_button(&body(&long), SLACK_HOOKS).expect("parses");
        assert_eq!(press.reason.map(|r| r.len()), Some(MAX_REASON_CHARS));
    }

    #[test]
    fn response_urls_must_have_the_configured_prefix() {
        let local = PRESS.replace("https://hooks.slack.com/", "http://127.0.0.1:9/hooks/");
        assert!(parse_button(&body(&local), "http://127.0.0.1:9/hooks/").is_ok());
        assert!(parse_button(&body(&local), SLACK_HOOKS).is_err());
        assert!(parse_button(&body(PRESS), "").is_err());
    }

    #[test]
    fn forged_stale_and_altered_requests_are_refused() {
        let b = body(PRESS);
        let ts = now().unix().to_string();
        let good = sign(&ts, &b);
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
            let got = format!("{:?}", verify(SECRET, &ts, &sig, body.as_bytes(), now()));
            assert!(got.contains(want), "{what}: {got}");
        }
    }

    #[test]
    fn bodies_that_are_not_a_button_press_are_refused() {
        let cases = [
            ("no payload", "token=x".to_owned()),
            ("not JSON", body("not json")),
            ("view submission", body(&PRESS.replace("block_actions", "view_submission"))),
            ("unknown action", body(&PRESS.replace("\"approve\"", "\"delete\""))),
            (
                "no actions",
                body(&PRESS.replace(r#"[{"action_id":"approve","value":"vpce-0123456789abcdef0"}]"#, "[]")),
            ),
            ("bad endpoint", body(&PRESS.replace("vpce-0123456789abcdef0", "vpce-nope"))),
            (
                "foreign response_url",
                body(&PRESS.replace("https://hooks.slack.com/", "https://evil.example/")),
            ),
            ("user id with markup", body(&PRESS.replace("U024BE7LH", "<@U1>"))),
            ("missing user", body(&PRESS.replace(r#""user":{"id":"U024BE7LH","username":"alice"},"#, ""))),
            ("broken escape", "payload=%7".to_owned()),
            (
                "response_url on a look-alike host",
                body(&PRESS.replace("https://hooks.slack.com/", "https://hooks.slack.com.evil.example/")),
            ),
            ("two actions", body(&PRESS.replace(r#"[{"action_id":"approve","value":"vpce-0123456789abcdef0"}]"#, r#"[{"action_id":"approve","value":"vpce-0123456789abcdef0"},{"action_id":"reject","value":"vpce-0123456789abcdef0"}]"#))),
            ("reason of the wrong type", body(&PRESS.replace("\"response_url\"", r#""state":{"values":{"b":{"reason":{"value":7}}}},"response_url""#))),
        ];
        for (what, b) in cases {
            assert!(parse_button(&b, SLACK_HOOKS).is_err(), "{what}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,400}") {
            let _ = parse_button(&s, SLACK_HOOKS);
            let _ = verify(SECRET, &s, &s, s.as_bytes(), now());
        }
    }
}
