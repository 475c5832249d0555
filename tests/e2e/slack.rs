//! Approvals from Slack, end to end and over real HTTP: decide posts the
//! review to the Slack recorder with `chat.postMessage`; the test clicks a
//! button the way Slack does (a signed, form-encoded `block_actions` POST to
//! the respond Function URL); EC2 in the emulator follows, the audit names
//! the Slack user and the message is replaced through its `response_url`.
//! Email and Slack answers racing for one request give one decision.

use std::sync::Arc;

use gate_app::ports::{Audit, AuditKind};
use gate_core::link::percent_encode;
use gate_core::{ServicePolicy, Timestamp};
use gate_e2e::function_url::{FunctionUrl, Handler};
use gate_e2e::{Local, Result, SLACK_SIGNING_SECRET, Service, slack_signature, unique};
use gate_lambdas::config::RespondConfig;
use gate_lambdas::decide::handle_at;
use gate_lambdas::respond::Responder;
use serde_json::{Value, json};

const APPROVER: &str = "U0LOCALAPPROVER";

/// What each test needs: a reviewed service, the decider, and respond
/// behind a Function URL on loopback.
struct Setup {
    local: Local,
    service: Service,
    store: gate_aws::DynamoStore,
    decider: gate_app::Decider,
    inbox: String,
    url: FunctionUrl,
    http: reqwest::Client,
}

async fn setup() -> Result<Setup> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let mut policy = ServicePolicy::cautious(service.id.parse()?);
    policy.approvers = vec!["netops@example.com".into(), format!("slack:{APPROVER}")];
    policy.slack_channel = Some("#netops-approvals".into());
    store.put_policy(&policy).await?;
    let (topic, inbox) = local.topic_with_queue("review").await?;
    let links = local.link_secret().await?;
    let slack = local.slack_secret().await?;
    let mut config = local.decide_config_with_links(store.table(), &topic, &[&service], &links);
    config.slack = Some(local.slack_config(&slack));
    let decider = local.decider(&config).await;
    let respond = RespondConfig {
        table_name: store.table().to_owned(),
        keys_secret_arn: links,
        slack: Some(local.slack_config(&slack)),
    };
    let responder = Arc::new(Responder::build(&respond, &local.sdk).await.map_err(|e| e.chain())?);
    let handler: Handler = Arc::new(move |event| {
        let responder = responder.clone();
        Box::pin(async move { responder.handle(event).await })
    });
    let url = FunctionUrl::serve(handler).await?;
    Ok(Setup { local, service, store, decider, inbox, url, http: reqwest::Client::new() })
}

impl Setup {
    /// A new unlisted consumer's endpoint, decided into review.
    async fn reviewed(&self, account: &str) -> Result<String> {
        let consumer = self.local.consumer(account, "172.31.0.0/16", &[], true).await?;
        let endpoint = self.local.request(&consumer, &self.service).await?;
        let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        handle_at(&self.decider, &sweep, Timestamp::now()).await?;
        Ok(endpoint)
    }

    /// The review message posted for `endpoint`.
    fn message(&self, endpoint: &str) -> Result<Value> {
        self.local
            .slack_log()?
            .into_iter()
            .find(|m| m["kind"] == "message" && m["body"].to_string().contains(endpoint))
            .ok_or_else(|| format!("no Slack message for {endpoint}").into())
    }

    /// Clicks a button of the message as `user`, the way Slack delivers it.
    async fn click(&self, message: &Value, action: &str, user: &str, reason: &str) -> Result<(u16, String)> {
        let button = message["body"]["blocks"]
            .as_array()
            .and_then(|blocks| blocks.iter().find(|b| b["type"] == "actions"))
            .and_then(|b| b["elements"].as_array())
            .and_then(|buttons| buttons.iter().find(|b| b["action_id"] == action))
            .ok_or("the message has no such button")?;
        let hook = format!("{}/hooks/actions/T0LOCAL/{}", self.local.slack_url, unique("hook"));
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": "ana"},
            "channel": {"id": "C0LOCAL"},
            "message": {"ts": message["ts"]},
            "state": {"values": {"answer_reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
            "actions": [{"action_id": action, "block_id": "answer", "value": button["value"]}],
            "response_url": hook,
        });
        let body = format!("payload={}", percent_encode(&payload.to_string()));
        let ts = Timestamp::now().unix().to_string();
        let response = self
            .http
            .post(format!("{}/slack", self.url.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", slack_signature(SLACK_SIGNING_SECRET, &ts, &body))
            .body(body)
            .send()
            .await?;
        Ok((response.status().as_u16(), hook))
    }

    /// What respond sent to a response URL.
    fn replies(&self, hook: &str) -> Result<Vec<Value>> {
        let path = hook.trim_start_matches(&self.local.slack_url);
        Ok(self
            .local
            .slack_log()?
            .into_iter()
            .filter(|m| m["path"] == path)
            .map(|m| m["body"].clone())
            .collect())
    }

    /// The review email's approve or reject link for `approver`, as a query string.
    async fn email_link(&self, endpoint: &str, approver: &str, label: &str) -> Result<String> {
        let mail = self.local.drain(&self.inbox).await?;
        let body = mail
            .iter()
            .filter_map(|m| m["Message"].as_str())
            .find(|b| b.contains(endpoint))
            .ok_or("no review email")?;
        let block = body.split(&format!("For {approver}:")).nth(1).ok_or("no links for the approver")?;
        let line = block.lines().find(|l| l.trim_start().starts_with(label)).ok_or("no such link")?;
        Ok(line.split("/link?").nth(1).ok_or("not a link")?.trim().to_owned())
    }
}

#[tokio::test]
async fn an_approver_approves_from_slack_and_the_message_shows_who() -> Result<()> {
    let s = setup().await?;
    let endpoint = s.reviewed("250000000001").await?;
    let message = s.message(&endpoint)?;
    assert_eq!(message["channel"], "#netops-approvals");
    let text = message["body"].to_string();
    assert!(text.contains("not on the allowlist") && text.contains("250000000001"), "{text}");

    // Slack approvers get no email links; email approvers do.
    assert!(s.email_link(&endpoint, "netops@example.com", "Approve:").await.is_ok());

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
        let email = s
            .http
            .post(format!("{}/link", s.url.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query)
            .send();
        let (slack, email) = tokio::join!(s.click(&message, button, APPROVER, ""), email);
        let (slack_status, hook) = slack?;
        let email_status = email?.status().as_u16();
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
