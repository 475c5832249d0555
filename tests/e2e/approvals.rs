//! The approval flows' shared world: a reviewed service whose approvers
//! are an email address and a Slack user, decide with links and Slack, and
//! respond behind a Function URL on loopback.

use std::sync::Arc;

use gate_core::ServicePolicy;
use gate_core::link::percent_encode;
use gate_e2e::function_url::{FunctionUrl, Handler};
use gate_e2e::{Local, Result, SLACK_SIGNING_SECRET, Service, slack_signature, unique};
use gate_lambdas::config::RespondConfig;
use gate_lambdas::decide::handle_at;
use serde_json::{Value, json};

pub const APPROVER: &str = "U0LOCALAPPROVER";

/// What each test needs: a reviewed service, the decider, and respond
/// behind a Function URL on loopback.
pub struct Setup {
    pub local: Local,
    pub service: Service,
    pub store: gate_aws::DynamoStore,
    pub decider: gate_app::Decide,
    pub inbox: String,
    /// Where decide and respond send decision notices to consumers' contacts.
    pub consumer_topic: String,
    pub url: FunctionUrl,
    pub http: reqwest::Client,
}

pub async fn setup() -> Result<Setup> {
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
    let (consumer_topic, _) = local.topic_with_queue("consumers").await?;
    let mut config = local.decide_config_with_links(store.table(), &topic, &[&service], &links);
    config.slack = Some(local.slack_config(&slack));
    config.consumer_topic_arn = Some(consumer_topic.clone());
    let decider = local.decider(&config).await;
    let respond = RespondConfig {
        table_name: store.table().to_owned(),
        keys_secret_arn: links,
        slack: Some(local.respond_slack(&slack)),
        consumer_topic_arn: Some(consumer_topic.clone()),
        organizations_role_arn: None,
    };
    let responder = Arc::new(local.responder(&respond).await?);
    let handler: Handler = Arc::new(move |event| {
        let responder = responder.clone();
        Box::pin(async move { responder.handle(event).await })
    });
    let url = FunctionUrl::serve(handler).await?;
    Ok(Setup { local, service, store, decider, inbox, consumer_topic, url, http: reqwest::Client::new() })
}

impl Setup {
    /// A new unlisted consumer's endpoint, decided into review.
    pub async fn reviewed(&self, account: &str) -> Result<String> {
        let consumer = self.local.consumer(account, "172.31.0.0/16", &[], true).await?;
        let endpoint = self.local.request(&consumer, &self.service).await?;
        let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        handle_at(&self.decider, &sweep, gate_e2e::now()).await?;
        Ok(endpoint)
    }

    /// The review message posted for `endpoint`.
    pub fn message(&self, endpoint: &str) -> Result<Value> {
        self.local
            .slack_log()?
            .into_iter()
            .find(|m| m["kind"] == "message" && m["body"].to_string().contains(endpoint))
            .ok_or_else(|| format!("no Slack message for {endpoint}").into())
    }

    /// Clicks a button of the message as `user`, the way Slack delivers it.
    pub async fn click(
        &self,
        message: &Value,
        action: &str,
        user: &str,
        reason: &str,
    ) -> Result<(u16, String)> {
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
        let ts = gate_e2e::now().unix().to_string();
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
    pub fn replies(&self, hook: &str) -> Result<Vec<Value>> {
        let path = hook.trim_start_matches(&self.local.slack_url);
        Ok(self
            .local
            .slack_log()?
            .into_iter()
            .filter(|m| m["path"] == path)
            .map(|m| m["body"].clone())
            .collect())
    }

    /// The `chat.update`s of a posted message, oldest first.
    pub fn updates(&self, message: &Value) -> Result<Vec<Value>> {
        Ok(self
            .local
            .slack_log()?
            .into_iter()
            .filter(|m| {
                m["kind"] == "update" && m["ts"] == message["ts"] && m["channel"] == message["channel_id"]
            })
            .collect())
    }

    /// Posts an email link's form, as its confirmation page's button does.
    pub async fn press_link(&self, query: String) -> Result<u16> {
        let response = self
            .http
            .post(format!("{}/link", self.url.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// The review email's approve or reject link for `approver`, as a query string.
    pub async fn email_link(&self, endpoint: &str, approver: &str, label: &str) -> Result<String> {
        let mail = self.local.drain(&self.inbox).await?;
        let body = mail
            .iter()
            .filter_map(|m| m["Message"].as_str())
            .find(|b| b.contains(endpoint))
            .ok_or("no review email")?;
        let block =
            body.split(&format!("Your links ({approver};")).nth(1).ok_or("no links for the approver")?;
        let line = block.lines().find(|l| l.trim_start().starts_with(label)).ok_or("no such link")?;
        Ok(line.split("/link?").nth(1).ok_or("not a link")?.trim().to_owned())
    }
}
