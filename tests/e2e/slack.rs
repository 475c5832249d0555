//! Approvals from Slack, end to end and over real HTTP: decide posts the
//! review to the Slack recorder with `chat.postMessage`; the test clicks a
//! button the way Slack does (a signed, form-encoded `block_actions` POST to
//! the respond Function URL); EC2 in the emulator follows, the audit names
//! the Slack user and the message is replaced through its `response_url`.
//! Email and Slack answers racing for one request give one decision.

use gate_app::ports::{Audit, AuditKind};
use gate_e2e::Result;

use crate::approvals::{APPROVER, setup};

#[tokio::test]
async fn an_approver_approves_from_slack_and_the_message_shows_who() -> Result<()> {
    let s = setup().await?;
    let endpoint = s.reviewed("250000000001").await?;
    let message = s.message(&endpoint)?;
    assert_eq!(message["channel"], "#netops-approvals");
    let text = message["body"].to_string();
    assert!(text.contains("not on the allowlist") && text.contains("250000000001"), "{text}");

    // One email, to the one email approver, with only their links: the
    // Slack approver answers with the buttons and gets no links.
    let mail = s.local.drain(&s.inbox).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let body = mail[0]["Message"].as_str().unwrap_or_default();
    assert_eq!(mail[0]["MessageAttributes"]["approver"]["Value"], "netops@example.com");
    assert!(body.contains("Your links (netops@example.com;"), "{body}");
    assert_eq!(body.matches("/link?").count(), 2, "{body}");
    assert!(!body.contains("by=slack"), "{body}");

    let (status, hook) = s.click(&message, "approve", APPROVER, "known partner team").await?;
    assert_eq!(status, 200);
    assert_eq!(s.local.state(&endpoint).await?, "available");
    let history = s.store.history(&endpoint.parse()?).await?;
    let answer = history.iter().rfind(|e| e.kind == AuditKind::Decided).ok_or("no decision")?;
    assert_eq!(answer.actor, format!("slack:{APPROVER} (ana)"));
    assert!(answer.detail.contains("known partner team"), "{}", answer.detail);

    let replies = s.replies(&hook)?;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["replace_original"], true);
    let shown = replies[0].to_string();
    assert!(
        shown.contains(&format!("*Approved* by <@{APPROVER}>")) && !shown.contains("\"actions\""),
        "{shown}"
    );
    assert_eq!(s.updates(&message)?, Vec::<serde_json::Value>::new(), "the click's response_url did it");
    Ok(())
}

#[tokio::test]
async fn an_answer_by_email_replaces_the_slack_message_too() -> Result<()> {
    let s = setup().await?;
    let endpoint = s.reviewed("250000000005").await?;
    let message = s.message(&endpoint)?;
    let query = s.email_link(&endpoint, "netops@example.com", "Approve:").await?;
    assert_eq!(s.press_link(query).await?, 200);
    assert_eq!(s.local.state(&endpoint).await?, "available");

    let updates = s.updates(&message)?;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let shown = updates[0]["body"].to_string();
    assert!(
        shown.contains("*Approved* by netops@example.com at")
            && shown.contains("The connection is accepted.")
            && !shown.contains("\"actions\""),
        "the buttons are gone and the message says who decided: {shown}"
    );
    // A click on a message that was stale anyway changes nothing and says who decided.
    let (status, hook) = s.click(&message, "reject", APPROVER, "").await?;
    assert_eq!(status, 200);
    let reply = s.replies(&hook)?.pop().ok_or("no Slack reply")?.to_string();
    assert!(reply.contains("already decided") && reply.contains("email:netops@example.com"), "{reply}");
    assert_eq!(s.local.state(&endpoint).await?, "available");
    Ok(())
}

#[tokio::test]
async fn a_stranger_clicking_changes_nothing_and_is_told_privately() -> Result<()> {
    let s = setup().await?;
    let endpoint = s.reviewed("250000000002").await?;
    let (status, hook) = s.click(&s.message(&endpoint)?, "approve", "U0STRANGER", "").await?;
    assert_eq!(status, 200);
    let replies = s.replies(&hook)?;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["response_type"], "ephemeral");
    assert!(replies[0]["text"].as_str().unwrap_or_default().contains("not an approver"), "{replies:?}");
    assert_eq!(s.local.state(&endpoint).await?, "pendingAcceptance");
    assert_eq!(s.local.calls(Some(&s.service.id))?.get("AcceptVpcEndpointConnections"), None);
    Ok(())
}

#[tokio::test]
async fn email_and_slack_racing_for_one_request_give_one_decision() -> Result<()> {
    let s = setup().await?;
    // (Slack button, email link) pressed at the same moment.
    let races = [("approve", "Approve:"), ("approve", "Reject:")];
    for (account, (button, link)) in ["250000000003", "250000000004"].into_iter().zip(races) {
        let endpoint = s.reviewed(account).await?;
        let message = s.message(&endpoint)?;
        let query = s.email_link(&endpoint, "netops@example.com", link).await?;
        let (slack, email) = tokio::join!(s.click(&message, button, APPROVER, ""), s.press_link(query));
        let (slack_status, hook) = slack?;
        let email_status = email?;
        assert_eq!(slack_status, 200);
        assert!([200, 409].contains(&email_status), "{email_status}");

        let history = s.store.history(&endpoint.parse()?).await?;
        let answers: Vec<_> =
            history.iter().filter(|e| e.kind == AuditKind::Decided && e.actor != "endpoint-gate").collect();
        assert_eq!(answers.len(), 1, "{button}/{link}: {answers:?}");
        let email_won = answers[0].actor.starts_with("email:");
        assert_eq!(email_status == 200, email_won, "the 200 goes to the winner");
        let reply = s.replies(&hook)?.pop().ok_or("no Slack reply")?.to_string();
        assert_eq!(reply.contains("already decided"), email_won, "{reply}");
        let expected =
            if answers[0].outcome == Some(gate_core::Outcome::Accept) { "available" } else { "rejected" };
        assert_eq!(s.local.state(&endpoint).await?, expected);
    }
    let calls = s.local.calls(Some(&s.service.id))?;
    let acts = calls.get("AcceptVpcEndpointConnections").copied().unwrap_or(0)
        + calls.get("RejectVpcEndpointConnections").copied().unwrap_or(0);
    assert_eq!(acts, 2, "one Accept or Reject per request: {calls:?}");
    Ok(())
}
