//! The Slack route of the respond function over in-memory ports: a signed
//! button press from an approver answers once and updates the message;
//! forged, stale, malformed and unauthorised presses change nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::common::*;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use gate_app::ports::SlackReply;
use gate_core::link::percent_encode;
use gate_core::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const HOOK: &str = "https://hooks.slack.com/actions/T0/1/abc";

fn payload(user: &str, action: &str, endpoint: &str, reason: Option<&str>) -> String {
    let state = reason.map_or(String::new(), |r| {
        format!(r#""state":{{"values":{{"answer_reason":{{"reason":{{"type":"plain_text_input","value":{}}}}}}}}},"#,
            serde_json::Value::String(r.into()))
    });
    format!(
        r#"{{"type":"block_actions","user":{{"id":"{user}","username":"alice"}},{state}
            "actions":[{{"action_id":"{action}","block_id":"answer","value":"{endpoint}"}}],
            "response_url":"{HOOK}"}}"#
    )
}

fn form(payload: &str) -> String {
    format!("payload={}", percent_encode(payload))
}

fn signature(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A POST /slack as Slack sends it: form body, base64-encoded by the
/// Function URL, signed `at` the given time.
fn press_at(body: &str, at: i64, secret: &str) -> LambdaFunctionUrlRequest {
    let ts = at.to_string();
    let mut r = request("POST", "/slack", "", Some(&b64(body.as_bytes())), true);
    r.headers.insert("x-slack-request-timestamp", ts.parse().expect("header"));
    r.headers.insert("x-slack-signature", signature(secret, &ts, body).parse().expect("header"));
    r.headers.insert("content-type", "application/x-www-form-urlencoded".parse().expect("header"));
    r
}

fn press(body: &str) -> LambdaFunctionUrlRequest {
    press_at(body, now().unix(), SLACK_SECRET)
}

#[tokio::test]
async fn an_approver_approves_from_slack_once_and_the_message_shows_who() {
    let w = world().await;
    let e = endpoint(1).to_string();
    let r = w.responder.handle_at(press(&form(&payload(SLACK_APPROVER, "approve", &e, None))), now()).await;
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available));
    let rec = w.requests.get(&endpoint(1)).expect("rec");
    assert_eq!((rec.state, rec.actor.as_str()), (RequestState::Approved, "slack:U0APPROVER (alice)"));
    let history = w.audit.events.lock().unwrap().clone();
    assert!(history.iter().any(|a| a.actor == "slack:U0APPROVER (alice)" && a.detail.contains("approved")));

    let replies = w.replies.taken();
    let [(url, SlackReply::Outcome { record, note })] = replies.as_slice() else {
        panic!("one outcome reply expected: {replies:?}");
    };
    assert_eq!((url.as_str(), record.state), (HOOK, RequestState::Approved));
    assert!(note.contains("accepted"), "{note}");

    // A second click, approve or reject, from Slack: already decided, nothing more.
    for action in ["approve", "reject"] {
        let r = w.responder.handle_at(press(&form(&payload(SLACK_APPROVER, action, &e, None))), now()).await;
        assert_eq!(r.status_code, 200);
        let replies = w.replies.taken();
        let [(_, SlackReply::Outcome { note, .. })] = replies.as_slice() else { panic!("{replies:?}") };
        assert!(note.contains("already decided") && note.contains("slack:U0APPROVER"), "{note}");
    }
    assert_eq!(w.connections.act_call_count(), 1);
}

#[tokio::test]
async fn a_reject_carries_its_reason_into_the_audit_and_the_message() {
    let w = world().await;
    let e = endpoint(2).to_string();
    let body = form(&payload(SLACK_APPROVER, "reject", &e, Some("not a customer of ours")));
    let r = w.responder.handle_at(press(&body), now()).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Rejected));
    let history = w.audit.events.lock().unwrap().clone();
    assert!(history.iter().any(|a| a.detail.contains("denied by slack:U0APPROVER (alice): not a customer")));
    let replies = w.replies.taken();
    let [(_, SlackReply::Outcome { note, .. })] = replies.as_slice() else { panic!("{replies:?}") };
    assert!(note.contains("Reason: not a customer of ours") && note.contains("rejected"), "{note}");
}

#[tokio::test]
async fn hostile_slack_requests_are_refused_and_change_nothing() {
    let w = world().await;
    let e = endpoint(3).to_string();
    let good = form(&payload(SLACK_APPROVER, "approve", &e, None));
    let t = now().unix();
    let unsigned = {
        let mut r = press(&good);
        r.headers.remove("x-slack-signature");
        r
    };
    let no_timestamp = {
        let mut r = press(&good);
        r.headers.remove("x-slack-request-timestamp");
        r
    };
    let altered = {
        // Signed for one body, delivered with another.
        let mut r = press(&good);
        r.body = Some(b64(good.replace("approve", "reject").as_bytes()));
        r
    };
    let cases: Vec<(&str, LambdaFunctionUrlRequest, i64)> = vec![
        ("no signature", unsigned, 401),
        ("no timestamp", no_timestamp, 401),
        ("signed with another secret", press_at(&good, t, "not-the-signing-secret"), 401),
        ("body altered after signing", altered, 401),
        ("replayed six minutes later", press_at(&good, t - 360, SLACK_SECRET), 401),
        ("timestamp from the future", press_at(&good, t + 360, SLACK_SECRET), 401),
        ("timestamp i64::MIN, signed", press_at(&good, i64::MIN, SLACK_SECRET), 401),
        ("timestamp i64::MAX, signed", press_at(&good, i64::MAX, SLACK_SECRET), 401),
        ("GET", request("GET", "/slack", "", None, false), 405),
        ("not a form", press(&payload(SLACK_APPROVER, "approve", &e, None)), 400),
        (
            "view submission",
            press(&form(
                &payload(SLACK_APPROVER, "approve", &e, None).replace("block_actions", "view_submission"),
            )),
            400,
        ),
        ("unknown action", press(&form(&payload(SLACK_APPROVER, "delete", &e, None))), 400),
        (
            "endpoint id that is not one",
            press(&form(&payload(SLACK_APPROVER, "approve", "vpce-../../x", None))),
            400,
        ),
        (
            "response_url elsewhere",
            press(&form(
                &payload(SLACK_APPROVER, "approve", &e, None).replace(HOOK, "https://evil.example/hook"),
            )),
            400,
        ),
        ("user id with markup", press(&form(&payload("<!channel>", "approve", &e, None))), 400),
        ("oversized body", press(&"a".repeat(gate_lambdas::respond::MAX_BODY + 1)), 413),
        (
            "broken base64",
            {
                let mut r = press(&good);
                r.body = Some("%%%".into());
                r
            },
            400,
        ),
    ];
    assert!(cases.len() >= 15);
    let before = w.requests.get(&endpoint(3)).expect("rec");
    for (what, req, status) in cases {
        let r = w.responder.handle_at(req, now()).await;
        assert_eq!(r.status_code, status, "{what}: {:?}", r.body);
        let text = r.body.unwrap_or_default();
        assert!(!text.contains(SLACK_SECRET), "{what}: leaks the secret");
        // Nothing unverified is ever sent to a response_url.
        assert!(w.replies.taken().is_empty(), "{what}: replied to an unverified request");
    }
    assert_eq!(w.requests.get(&endpoint(3)).expect("rec"), before);
    assert_eq!(w.connections.act_call_count(), 0);
}

#[tokio::test]
async fn a_signed_press_from_someone_who_is_not_an_approver_is_told_so_privately() {
    let w = world().await;
    let before = w.requests.get(&endpoint(3)).expect("rec");
    let cases = [
        ("a Slack user not in the policy", payload("U0STRANGER", "approve", &endpoint(3).to_string(), None)),
        (
            "an email approver's name as a Slack id",
            payload("NETOPS", "approve", &endpoint(3).to_string(), None),
        ),
    ];
    for (what, p) in cases {
        let r = w.responder.handle_at(press(&form(&p)), now()).await;
        assert_eq!(r.status_code, 200, "{what}: Slack gets 200; the person gets the message");
        let replies = w.replies.taken();
        let [(_, SlackReply::Ephemeral(text))] = replies.as_slice() else { panic!("{what}: {replies:?}") };
        assert!(text.contains("not an approver of this request's service"), "{what}: {text}");
    }
    let unknown = payload(SLACK_APPROVER, "approve", &endpoint(9).to_string(), None);
    let r = w.responder.handle_at(press(&form(&unknown)), now()).await;
    assert_eq!(r.status_code, 200);
    let replies = w.replies.taken();
    let [(_, SlackReply::Ephemeral(text))] = replies.as_slice() else { panic!("{replies:?}") };
    assert!(text.contains("no request for"), "{text}");
    assert_eq!(w.requests.get(&endpoint(3)).expect("rec"), before);
    assert_eq!(w.connections.act_call_count(), 0);
}

#[tokio::test]
async fn without_a_slack_app_the_route_does_not_exist() {
    let mut w = world().await;
    w.responder.slack = None;
    let r = w
        .responder
        .handle_at(press(&form(&payload(SLACK_APPROVER, "approve", &endpoint(1).to_string(), None))), now())
        .await;
    assert_eq!(r.status_code, 404);
    assert_eq!(w.requests.get(&endpoint(1)).expect("rec").state, RequestState::Review);
}
