//! Slack's Web API and response URLs: the review message posted with
//! `chat.postMessage` and updated with `chat.update`, and the reply to a
//! button press. Slack answers most failures with HTTP 200 and
//! `"ok": false`, so both are checked.

use std::time::Duration;

use async_trait::async_trait;
use gate_app::PortError;
use gate_app::ports::{Audience, NoticeSender, Notifier, Nudge, Posted, SlackReplies, SlackReply};
use gate_core::{Contact, Notice, RequestRecord, SlackMessage};
use serde_json::Value;

use crate::slack_messages;

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api";

/// Slack gives an interactivity request 3 s; a call must not eat all of it.
const TIMEOUT: Duration = Duration::from_millis(2500);

/// Errors Slack reports for which a later retry can succeed.
const TRANSIENT: &[&str] =
    &["ratelimited", "rate_limited", "service_unavailable", "internal_error", "fatal_error"];

fn client() -> Result<reqwest::Client, PortError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| PortError::permanent("building the Slack HTTP client failed", e))
}

/// Sends a JSON body and checks Slack's answer. `what` names the call in
/// errors; the URL is never part of an error, as response URLs are secrets.
async fn send(
    request: reqwest::RequestBuilder,
    body: &Value,
    what: &str,
    expect_json: bool,
) -> Result<Value, PortError> {
    let response =
        request.json(body).send().await.map_err(|e| {
            PortError::transient(format!("{what}: Slack could not be reached"), e.without_url())
        })?;
    let status = response.status();
    let text = response.text().await.map_err(|e| PortError::transient(format!("{what}: no answer"), e))?;
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(PortError::plain(format!("{what}: Slack answered HTTP {status}"), true));
    }
    if !status.is_success() {
        return Err(PortError::plain(format!("{what}: Slack answered HTTP {status}"), false));
    }
    if !expect_json {
        return Ok(Value::Null);
    }
    let answer: Value = serde_json::from_str(&text)
        .map_err(|_| PortError::plain(format!("{what}: Slack's answer is not JSON"), true))?;
    if answer.get("ok") == Some(&Value::Bool(true)) {
        return Ok(answer);
    }
    let code = answer.get("error").and_then(Value::as_str).unwrap_or("unknown_error");
    Err(PortError::plain(format!("{what}: Slack refused ({code})"), TRANSIENT.contains(&code)))
}

/// Posts review messages to the channel the service's policy names.
#[derive(Clone)]
pub struct SlackNotifier {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl std::fmt::Debug for SlackNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlackNotifier({}, token: [redacted])", self.api)
    }
}

impl SlackNotifier {
    /// `api` is [`SLACK_API`] in production; `token` the bot token.
    pub fn new(api: &str, token: String) -> Result<Self, PortError> {
        Ok(Self { http: client()?, api: api.trim_end_matches('/').to_owned(), token })
    }

    /// Calls a Web API method with the bot token; Slack's answer comes back.
    async fn call(&self, method: &str, message: &Value, what: &str) -> Result<Value, PortError> {
        let request = self.http.post(format!("{}/{method}", self.api)).bearer_auth(&self.token);
        send(request, message, what, true).await
    }

    /// Replies to button presses with the same HTTP client (one TLS setup
    /// per cold start); response URLs need no token.
    pub fn hooks(&self) -> SlackHooks {
        SlackHooks { http: self.http.clone() }
    }

    /// Posts a message; where Slack keeps it comes back. `chat.update` needs
    /// the channel's id, which Slack returns even when given a name.
    async fn post(
        &self,
        channel: &str,
        mut message: Value,
        rec: &RequestRecord,
    ) -> Result<SlackMessage, PortError> {
        message["channel"] = Value::String(channel.to_owned());
        message["unfurl_links"] = Value::Bool(false);
        let what = format!("posting the review of {} to Slack {channel}", rec.endpoint);
        let answer = self.call("chat.postMessage", &message, &what).await?;
        let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let id = field("channel");
        Ok(SlackMessage { channel: if id.is_empty() { channel.to_owned() } else { id }, ts: field("ts") })
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    async fn review_needed(&self, rec: &RequestRecord, to: &Audience) -> Result<Posted, PortError> {
        let Some(channel) = &to.slack_channel else { return Ok(Posted::default()) };
        let posted = self
            .post(channel, slack_messages::review(rec, to, "Endpoint connection needs review"), rec)
            .await?;
        tracing::info!(endpoint_id = %rec.endpoint, channel, ts = posted.ts, "review posted to Slack");
        // Without a ts there is no message to update later.
        Ok(Posted { slack: Some(posted).filter(|m| !m.ts.is_empty()) })
    }

    /// Reminders and expiry notices go in the review's thread, shown in the
    /// channel too, so the conversation about one request stays together.
    async fn nudge(&self, rec: &RequestRecord, to: &Audience, nudge: Nudge) -> Result<(), PortError> {
        let Some(channel) = &to.slack_channel else { return Ok(()) };
        let mut message = slack_messages::nudge(rec, to, nudge);
        if let Some(review) = &rec.slack_message {
            message["thread_ts"] = Value::String(review.ts.clone());
            message["reply_broadcast"] = Value::Bool(true);
        }
        self.post(channel, message, rec).await.map(drop)
    }

    /// Replaces the review message with who decided. A click in Slack has
    /// already done so through its `response_url`, so Slack answers are
    /// left alone; a message Endpoint Gate never posted has nothing to update.
    async fn settled(&self, rec: &RequestRecord, note: &str) -> Result<(), PortError> {
        let Some(review) = &rec.slack_message else { return Ok(()) };
        if rec.actor.starts_with("slack:") {
            return Ok(());
        }
        let mut message = slack_messages::outcome(rec, note);
        if let Some(fields) = message.as_object_mut() {
            fields.remove("replace_original");
        }
        message["channel"] = Value::String(review.channel.clone());
        message["ts"] = Value::String(review.ts.clone());
        let what = format!("showing the outcome of {} in Slack", rec.endpoint);
        self.call("chat.update", &message, &what).await?;
        tracing::info!(endpoint_id = %rec.endpoint, ts = review.ts, "Slack review message updated");
        Ok(())
    }
}

/// Decision notices to the channel a consumer's contact names.
#[async_trait]
impl NoticeSender for SlackNotifier {
    async fn send(&self, notice: &Notice, to: &Contact) -> Result<bool, PortError> {
        let Some(channel) = &to.slack_channel else { return Ok(false) };
        let mut message = slack_messages::consumer_notice(notice);
        message["channel"] = Value::String(channel.clone());
        message["unfurl_links"] = Value::Bool(false);
        let what = format!("posting the {} notice of {} to Slack {channel}", notice.kind, notice.endpoint);
        self.call("chat.postMessage", &message, &what).await?;
        Ok(true)
    }
}

/// Replies to button presses through their `response_url`; made by
/// [`SlackNotifier::hooks`], sharing its HTTP client.
#[derive(Debug, Clone)]
pub struct SlackHooks {
    http: reqwest::Client,
}

#[async_trait]
impl SlackReplies for SlackHooks {
    async fn reply(&self, response_url: &str, reply: &SlackReply) -> Result<(), PortError> {
        let body = match reply {
            SlackReply::Outcome { record, note } => slack_messages::outcome(record, note),
            SlackReply::Ephemeral(text) => slack_messages::ephemeral(text),
        };
        send(self.http.post(response_url), &body, "replying to Slack", false).await.map(drop)
    }
}
