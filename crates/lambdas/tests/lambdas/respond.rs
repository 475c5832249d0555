//! The respond function over in-memory ports: GET shows and changes
//! nothing, POST answers once, and hostile requests are refused with the
//! right status, leaving the request and the connection as they were.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::common::*;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use gate_core::link::{Link, LinkAction};
use gate_core::*;
use gate_lambdas::respond::MAX_BODY;

#[tokio::test]
async fn get_shows_the_request_and_changes_nothing_then_post_approves_once() {
    let w = world().await;
    let q = link(1, LinkAction::Approve).query(KEY.as_bytes());
    for _ in 0..3 {
        // A mail scanner fetching the link, three times.
        let r = w.responder.handle_at(request("GET", "/link", &q, None, false), now()).await;
        assert_eq!(r.status_code, 200);
        let html = r.body.unwrap_or_default();
        assert!(html.contains("Approve this connection request") && html.contains("333344445555"), "{html}");
        assert!(html.contains("not on the allowlist"), "{html}");
        assert!(html.contains("method=\"post\""), "{html}");
    }
    assert_eq!(w.requests.get(&endpoint(1)).expect("rec").state, RequestState::Review);
    assert_eq!(w.connections.act_call_count(), 0);

    let body = format!("{q}&reason=ticket+NET-42");
    let r =
        w.responder.handle_at(request("POST", "/link", "", Some(&b64(body.as_bytes())), true), now()).await;
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    assert!(r.body.unwrap_or_default().contains("The connection is accepted"));
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available));
    let rec = w.requests.get(&endpoint(1)).expect("rec");
    assert_eq!((rec.state, rec.actor.as_str()), (RequestState::Approved, "email:netops@example.com"));

    // The same link again, or its reject twin: already decided.
    let r = w.responder.handle_at(request("POST", "/link", "", Some(&q), false), now()).await;
    assert_eq!(r.status_code, 409);
    let twin = link(1, LinkAction::Reject).query(KEY.as_bytes());
    let r = w.responder.handle_at(request("POST", "/link", "", Some(&twin), false), now()).await;
    assert_eq!(r.status_code, 409);
    assert!(r.body.unwrap_or_default().contains("already approved by email:netops@example.com"));
    assert_eq!(w.connections.act_call_count(), 1);
}

#[tokio::test]
async fn a_reject_link_rejects() {
    let w = world().await;
    let q = link(2, LinkAction::Reject).query(OLD.as_bytes());
    let r = w.responder.handle_at(request("POST", "/link", "", Some(&q), false), now()).await;
    assert_eq!(r.status_code, 200, "a link signed before the key rotation still works");
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Rejected));
}

#[tokio::test]
async fn hostile_requests_are_refused_and_change_nothing() {
    let w = world().await;
    let good = link(3, LinkAction::Approve).query(KEY.as_bytes());
    let sig = link(3, LinkAction::Approve).sign(KEY.as_bytes());
    let expired =
        Link { expires: now().plus_secs(-60), ..link(3, LinkAction::Approve) }.query(KEY.as_bytes());
    let foreign = link(3, LinkAction::Approve).query(b"someone-elses-key-0123456789abcdef");
    let other_request = link(9, LinkAction::Approve).query(KEY.as_bytes());
    // Correctly signed, but made out to someone the policy does not name.
    let stranger = Link { approver: "mallory@example.com".into(), ..link(3, LinkAction::Approve) };
    let stranger = stranger.query(KEY.as_bytes());
    let big = "a".repeat(MAX_BODY + 1);
    let cases: Vec<(&str, LambdaFunctionUrlRequest, i64)> = vec![
        (
            "tampered action",
            request("POST", "/link", "", Some(&good.replace("a=approve", "a=reject")), false),
            403,
        ),
        (
            "tampered endpoint",
            request(
                "POST",
                "/link",
                "",
                Some(&good.replace(&endpoint(3).to_string(), &endpoint(2).to_string())),
                false,
            ),
            403,
        ),
        (
            "tampered approver",
            request("POST", "/link", "", Some(&good.replace("by=netops", "by=mallory")), false),
            403,
        ),
        ("tampered expiry", request("POST", "/link", "", Some(&good.replace("&exp=", "&exp=9")), false), 403),
        ("signature of another key", request("POST", "/link", "", Some(&foreign), false), 403),
        (
            "signature cut short",
            request("POST", "/link", "", Some(&good.replace(&sig, &sig[..63])), false),
            403,
        ),
        (
            "signature upper-cased",
            request(
                "POST",
                "/link",
                "",
                Some(&good.replace(&sig, &sig.to_uppercase().replace('A', "B"))),
                false,
            ),
            403,
        ),
        (
            "no signature",
            request("POST", "/link", "", Some(&good.replace(&format!("&sig={sig}"), "")), false),
            400,
        ),
        ("expired", request("POST", "/link", "", Some(&expired), false), 410),
        ("expired on GET", request("GET", "/link", &expired, None, false), 410),
        (
            "tampered on GET",
            request("GET", "/link", &good.replace("a=approve", "a=reject"), None, false),
            403,
        ),
        ("link for an unknown request", request("POST", "/link", "", Some(&other_request), false), 404),
        ("unknown request on GET", request("GET", "/link", &other_request, None, false), 404),
        (
            "unknown action",
            request("POST", "/link", "", Some(&good.replace("a=approve", "a=delete")), false),
            400,
        ),
        ("field twice", request("POST", "/link", "", Some(&format!("{good}&a=approve")), false), 400),
        ("empty body", request("POST", "/link", "", None, false), 400),
        ("form in the query of a POST", request("POST", "/link", &good, None, false), 400),
        ("JSON body", request("POST", "/link", "", Some("{\"e\":\"vpce-1\"}"), false), 400),
        ("oversized body", request("POST", "/link", "", Some(&big), false), 413),
        ("oversized base64 body", request("POST", "/link", "", Some(&b64(big.as_bytes())), true), 413),
        ("broken base64", request("POST", "/link", "", Some("!!!notbase64"), true), 400),
        ("base64 of binary", request("POST", "/link", "", Some(&b64(&[0xff, 0xfe, 0x00])), true), 400),
        (
            "broken percent escape",
            request("POST", "/link", "", Some(&good.replace("by=netops", "by=net%ZZops")), false),
            400,
        ),
        (
            "control characters in approver",
            request("POST", "/link", "", Some(&good.replace("by=netops", "by=net%0Aops")), false),
            400,
        ),
        (
            "script in approver",
            request("GET", "/link", &good.replace("by=netops", "by=%3Cscript%3E"), None, false),
            403,
        ),
        ("signed link of a non-approver", request("POST", "/link", "", Some(&stranger), false), 403),
        ("signed link of a non-approver on GET", request("GET", "/link", &stranger, None, false), 403),
        ("wrong path", request("POST", "/approve", "", Some(&good), false), 404),
        ("root path", request("GET", "/", &good, None, false), 404),
        ("path traversal", request("GET", "/link/../admin", &good, None, false), 404),
        ("PUT", request("PUT", "/link", "", Some(&good), false), 405),
        ("DELETE", request("DELETE", "/link", &good, None, false), 405),
        ("no method", request("", "/link", &good, None, false), 405),
        ("huge query", request("GET", "/link", &format!("{good}&by={}", "x".repeat(5000)), None, false), 400),
    ];
    assert!(cases.len() >= 30);
    let before = w.requests.get(&endpoint(3)).expect("rec");
    for (what, req, status) in cases {
        let r = w.responder.handle_at(req, now()).await;
        assert_eq!(r.status_code, status, "{what}: {:?}", r.body);
        let html = r.body.unwrap_or_default();
        assert!(!html.contains(KEY) && !html.contains(&sig), "{what}: leaks a secret");
        assert!(!html.contains("<script>"), "{what}: unescaped input");
    }
    assert_eq!(w.requests.get(&endpoint(3)).expect("rec"), before);
    assert_eq!(w.connections.act_call_count(), 0);
}

#[tokio::test]
async fn a_removed_approvers_links_stop_working_at_once() {
    let w = world().await;
    let q = link(1, LinkAction::Approve).query(KEY.as_bytes());
    assert_eq!(w.responder.handle_at(request("GET", "/link", &q, None, false), now()).await.status_code, 200);
    // The operators apply a policy without netops, while its email is still unread.
    w.policies.policies.lock().expect("lock")[0].approvers = vec!["payments-owners@example.com".into()];
    let before = w.requests.get(&endpoint(1)).expect("rec");
    for (what, req) in [
        ("GET", request("GET", "/link", &q, None, false)),
        ("POST", request("POST", "/link", "", Some(&q), false)),
    ] {
        let r = w.responder.handle_at(req, now()).await;
        assert_eq!(r.status_code, 403, "{what}: {:?}", r.body);
        let page = r.body.unwrap_or_default();
        assert!(page.contains("not an approver"), "{what}: {page}");
        assert!(!page.contains("333344445555"), "{what}: a refused link learns nothing of the request");
        assert_eq!(r.headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]));
    }
    assert_eq!(w.requests.get(&endpoint(1)).expect("rec"), before);
    assert_eq!(w.connections.act_call_count(), 0);
}

/// Every sample in `events/respond/`, as a Function URL delivers it: each
/// is refused with its status and changes nothing.
#[tokio::test]
async fn every_respond_sample_event_is_refused_and_changes_nothing() {
    let w = world().await;
    let expected = [("link-tampered.json", 403), ("link-malformed.json", 400), ("slack-unsigned.json", 401)];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/respond");
    let mut seen = 0;
    for file in std::fs::read_dir(dir).expect("events/respond") {
        let path = file.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let (_, status) =
            expected.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no expectation for {name}"));
        let text = std::fs::read_to_string(&path).expect("sample");
        let event: LambdaFunctionUrlRequest = serde_json::from_str(&text).expect("a Function URL event");
        let r = w.responder.handle_at(event, now()).await;
        assert_eq!(r.status_code, i64::from(*status), "{name}: {:?}", r.body);
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "every expectation has its sample");
    assert_eq!(w.requests.get(&endpoint(1)).expect("rec").state, RequestState::Review);
    assert_eq!(w.connections.act_call_count(), 0);
    assert!(w.replies.taken().is_empty(), "nothing was sent to Slack");
}
