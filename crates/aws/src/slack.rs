//! Slack's Web API and response URLs: the review message posted with
//! `chat.postMessage`, and the reply to a button press. Slack answers most
//! failures with HTTP 200 and `"ok": false`, so both are checked.

use std::time::Duration;

use async_trait::async_trait;
use gate_app::PortError;
use gate_app::ports::{Audience, Notifier, Nudge, SlackReplies, SlackReply};
use gate_core::RequestRecord;
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

    /// Posts a message; Slack's timestamp of it comes back.
    async fn post(
        &self,
        channel: &str,
        mut message: Value,
        rec: &RequestRecord,
    ) -> Result<String, PortError> {
        message["channel"] = Value::String(channel.to_owned());
        message["unfurl_links"] = Value::Bool(false);
        let request = self.http.post(format!("{}/chat.postMessage", self.api)).bearer_auth(&self.token);
        let what = format!("posting the review of {} to Slack {channel}", rec.endpoint);
        let answer = send(request, &message, &what, true).await?;
        Ok(answer.get("ts").and_then(Value::as_str).unwrap_or_default().to_owned())
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    async fn review_needed(&self, rec: &RequestRecord, to: &Audience) -> Result<(), PortError> {
        let Some(channel) = &to.slack_channel else { return Ok(()) };
        let ts = self
            .post(channel, slack_messages::review(rec, to, "Endpoint connection needs review"), rec)
            .await?;
        tracing::info!(endpoint_id = %rec.endpoint, channel, ts, "review posted to Slack");
        Ok(())
    }

    async fn nudge(&self, rec: &RequestRecord, to: &Audience, nudge: Nudge) -> Result<(), PortError> {
        let Some(channel) = &to.slack_channel else { return Ok(()) };
        self.post(channel, slack_messages::nudge(rec, to, nudge), rec).await.map(drop)
    }
}

/// Replies to button presses through their `response_url`.
#[derive(Debug, Clone)]
pub struct SlackHooks {
    http: reqwest::Client,
}

impl SlackHooks {
    pub fn new() -> Result<Self, PortError> {
        Ok(Self { http: client()? })
    }
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
