//! Answering a review from the terminal, and who the terminal's user is.

use std::sync::Arc;

use anyhow::{Context, Result};
use gate_app::ports::Notifier;
use gate_app::{Answered, Verdict, answer_note};
use gate_aws::wiring::{SlackConfig, Wiring};
use gate_core::caller::Caller;
use gate_core::{AccountId, Answerer, EndpointId, Timestamp};

use crate::args::SlackArgs;
use crate::failure::Failure;
use crate::print;

/// The CLI reads the table with the operator's own credentials: whoever can
/// read the table directly sees every account, so the CLI says so.
pub async fn operator(sdk: &aws_config::SdkConfig) -> Result<Caller, Failure> {
    let who = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .context("asking STS who is calling")?;
    let account: AccountId = who
        .account()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Failure { code: 1, message: format!("STS returned an unusable account: {e}") })?;
    Ok(Caller { account, arn: who.arn().unwrap_or("unknown").to_owned(), operator: true })
}

/// The caller's identity, recorded as the actor of what the CLI does.
pub async fn caller(sdk: &aws_config::SdkConfig) -> Result<String> {
    let who = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .context("asking STS who is calling")?;
    Ok(who.arn().unwrap_or("unknown").to_owned())
}

/// An operator's answer to a review, as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    pub endpoint: &'a EndpointId,
    pub verdict: Verdict,
    pub reason: Option<&'a str>,
}

pub async fn answer(
    sdk: &aws_config::SdkConfig,
    wiring: &Wiring,
    slack: &SlackArgs,
    given: Given<'_>,
    now: Timestamp,
    json: bool,
) -> Result<u8, Failure> {
    let Given { endpoint, verdict, reason } = given;
    let mut posted: Option<Arc<dyn Notifier>> = None;
    let mut slack_app = None;
    if let Some(arn) = &slack.slack_secret_arn {
        if !gate_aws::is_https_or_loopback(&slack.slack_api_url) {
            let message = format!("--slack-api-url {:?} must be an https URL", slack.slack_api_url);
            return Err(Failure { code: 2, message });
        }
        let config = SlackConfig { secret_arn: arn.clone(), api_url: slack.slack_api_url.clone() };
        let app = wiring.slack(&config).await.context("reading the Slack app's secret")?;
        posted = Some(Arc::new(app.notifier.clone()));
        slack_app = Some(app.notifier);
    }
    let mut answer = wiring.answer(posted);
    if let Some(topic) = &slack.consumer_topic_arn {
        if !topic.starts_with("arn:") || !topic.contains(":sns:") {
            let message = format!("--consumer-topic-arn {topic:?} is not an SNS topic ARN");
            return Err(Failure { code: 2, message });
        }
        answer = answer.with_notices(wiring.notices(topic, slack_app));
    }
    let actor = caller(sdk).await?;
    let who = Answerer::Operator(actor.clone());
    let answered = answer.answer(endpoint, verdict, &who, reason, now).await.context("answering")?;
    let (code, text) = match &answered {
        Answered::Done { record, report } => {
            let acted = report.failed.is_empty();
            let followed = answer_note(verdict, None, acted);
            (if acted { 0 } else { 1 }, format!("{endpoint}: {} by {actor}. {followed}", record.state))
        }
        Answered::AlreadyDecided(r) => {
            (3, format!("{endpoint}: already {} by {} at {}", r.state, r.actor, r.decided_at))
        }
        Answered::NotPending(s) => (3, format!("{endpoint}: the connection is {s}, not awaiting acceptance")),
        Answered::Unknown => (2, format!("{endpoint}: Endpoint Gate has no request for this endpoint")),
        Answered::NotAnApprover => (2, format!("{endpoint}: {actor} may not answer this review")),
        Answered::Denied(deny) => {
            (2, format!("{endpoint}: {deny}; a deny wins over an approval, nothing changed"))
        }
        Answered::Overlaps(overlap) => {
            (2, format!("{endpoint}: {overlap}; the rule wins over an approval, nothing changed"))
        }
    };
    // The answer was taken (or refused) before it is shown: its code stands.
    crate::output::unread(print(
        json,
        &serde_json::json!({"endpoint": endpoint, "result": text, "code": code}),
        || text.clone(),
    ))?;
    Ok(code)
}
