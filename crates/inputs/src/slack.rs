//! The `block_actions` payload Slack POSTs when an approver presses
//! Approve or Reject in a review message. Parsing only: the request's
//! signature is checked first, by `gate_core::slack::verify`.

use std::collections::HashMap;

use gate_core::link::LinkAction;
use gate_core::slack::{MAX_REASON_CHARS, REASON_INPUT};
use gate_core::{EndpointId, IdError};
use serde::Deserialize;

use crate::form::{percent_decode, raw_field};
use crate::link::action;

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

/// Why a Slack request is not a button press, naming the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonError {
    #[error("the request is not a Slack button action: no payload field")]
    NoPayload,
    #[error("the request is not a Slack button action: payload is badly encoded")]
    BadlyEncoded,
    #[error("the request is not a Slack button action: payload: {0}")]
    NotJson(String),
    #[error("the request is not a Slack button action: not a block_actions payload")]
    NotBlockActions,
    #[error("the request is not a Slack button action: expected exactly one action")]
    ActionCount,
    #[error("the request is not a Slack button action: unknown action")]
    UnknownAction,
    #[error("the request is not a Slack button action: {0}")]
    Endpoint(IdError),
    #[error("the request is not a Slack button action: response_url is not Slack's")]
    ResponseUrl,
    #[error("the request is not a Slack button action: user id is not a Slack id")]
    UserId,
}

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
    values: HashMap<String, HashMap<String, InputDoc>>,
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
/// `hooks` is the prefix every `response_url` must have
/// ([`gate_core::slack::SLACK_HOOKS`] in production).
pub fn parse_button(body: &str, hooks: &str) -> Result<ButtonPress, ButtonError> {
    let encoded = raw_field(body, "payload").ok_or(ButtonError::NoPayload)?;
    let json = percent_decode(encoded).ok_or(ButtonError::BadlyEncoded)?;
    let payload: Payload = serde_json::from_str(&json).map_err(|e| ButtonError::NotJson(e.to_string()))?;
    if payload.kind != "block_actions" {
        return Err(ButtonError::NotBlockActions);
    }
    let [pressed] = payload.actions.as_slice() else {
        return Err(ButtonError::ActionCount);
    };
    let kind = action(&pressed.action_id).ok_or(ButtonError::UnknownAction)?;
    let endpoint = pressed.value.as_deref().unwrap_or_default().parse().map_err(ButtonError::Endpoint)?;
    let response_url = payload.response_url.unwrap_or_default();
    if hooks.is_empty() || !response_url.starts_with(hooks) {
        return Err(ButtonError::ResponseUrl);
    }
    let valid_user = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_user(&payload.user.id) {
        return Err(ButtonError::UserId);
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
    use gate_core::link::percent_encode;
    use gate_core::slack::SLACK_HOOKS;
    use proptest::prelude::*;

    fn body(payload: &str) -> String {
        format!("payload={}", percent_encode(payload))
    }

    const PRESS: &str = r#"{"type":"block_actions","user":{"id":"U024BE7LH","username":"alice"},
        "actions":[{"action_id":"approve","value":"vpce-0123456789abcdef0"}],
        "response_url":"https://hooks.slack.com/actions/T0/1/abc"}"#;

    const ONE_ACTION: &str = r#"[{"action_id":"approve","value":"vpce-0123456789abcdef0"}]"#;

    #[test]
    fn a_button_press_names_who_what_and_where_to_reply() {
        let press = parse_button(&body(PRESS), SLACK_HOOKS).expect("parses");
        assert_eq!((press.user_id.as_str(), press.user_name.as_str()), ("U024BE7LH", "alice"));
        assert_eq!(press.action, LinkAction::Approve);
        assert_eq!(press.endpoint.as_str(), "vpce-0123456789abcdef0");
        assert_eq!(press.response_url, "https://hooks.slack.com/actions/T0/1/abc");
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
        assert_eq!(parse_button(&body(&local), SLACK_HOOKS), Err(ButtonError::ResponseUrl));
        assert_eq!(parse_button(&body(PRESS), ""), Err(ButtonError::ResponseUrl));
    }

    #[test]
    fn bodies_that_are_not_a_button_press_are_refused() {
        let two = r#"[{"action_id":"approve","value":"vpce-0123456789abcdef0"},{"action_id":"reject","value":"vpce-0123456789abcdef0"}]"#;
        let cases = [
            ("no payload", "token=x".to_owned(), "NoPayload"),
            ("not JSON", body("not json"), "NotJson"),
            ("view submission", body(&PRESS.replace("block_actions", "view_submission")), "NotBlockActions"),
            ("unknown action", body(&PRESS.replace("\"approve\"", "\"delete\"")), "UnknownAction"),
            ("no actions", body(&PRESS.replace(ONE_ACTION, "[]")), "ActionCount"),
            ("bad endpoint", body(&PRESS.replace("vpce-0123456789abcdef0", "vpce-nope")), "Endpoint"),
            (
                "foreign response_url",
                body(&PRESS.replace("https://hooks.slack.com/", "https://evil.example/")),
                "ResponseUrl",
            ),
            ("user id with markup", body(&PRESS.replace("U024BE7LH", "<@U1>")), "UserId"),
            (
                "missing user",
                body(&PRESS.replace(r#""user":{"id":"U024BE7LH","username":"alice"},"#, "")),
                "NotJson",
            ),
            ("broken escape", "payload=%7".to_owned(), "BadlyEncoded"),
            (
                "response_url on a look-alike host",
                body(&PRESS.replace("https://hooks.slack.com/", "https://hooks.slack.com.evil.example/")),
                "ResponseUrl",
            ),
            ("two actions", body(&PRESS.replace(ONE_ACTION, two)), "ActionCount"),
            (
                "reason of the wrong type",
                body(&PRESS.replace(
                    "\"response_url\"",
                    r#""state":{"values":{"b":{"reason":{"value":7}}}},"response_url""#,
                )),
                "NotJson",
            ),
        ];
        for (what, b, want) in cases {
            let got = format!("{:?}", parse_button(&b, SLACK_HOOKS));
            assert!(got.starts_with(&format!("Err({want}")), "{what}: {got}");
        }
    }

    #[test]
    fn errors_name_the_part_at_fault() {
        let bad_endpoint = body(&PRESS.replace("vpce-0123456789abcdef0", "vpce-nope"));
        let e = parse_button(&bad_endpoint, SLACK_HOOKS).expect_err("refused").to_string();
        assert!(
            e.starts_with("the request is not a Slack button action: ") && e.contains("vpce-nope"),
            "{e}"
        );
        let e = parse_button(&body("{"), SLACK_HOOKS).expect_err("refused").to_string();
        assert!(e.contains("payload: "), "{e}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,400}") {
            let _ = parse_button(&s, SLACK_HOOKS);
        }
    }
}
