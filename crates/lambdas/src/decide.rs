//! The `decide` function: an event in, decisions out.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use gate_app::fanout::Fanout;
use gate_app::ports::Notifier;
use gate_app::ports::{AuditEvent, AuditKind};
use gate_app::subscriptions::TopicWatch;
use gate_app::{Decider, PortError, Report, Settings};
use gate_aws::{
    AssumeRoleNetworks, DynamoStore, Ec2Connections, EmailLinks, LinkKeys, SlackNotifier, SlackSecrets,
    SnsNotifier, SnsReviewTopic,
};
use gate_core::Timestamp;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use crate::config::DecideConfig;
use gate_inputs::decide_event as trigger;

/// Builds the decider on real AWS clients, once per cold start. Reads the
/// link-signing keys and the Slack bot token when they are configured.
pub async fn build(config: &DecideConfig, sdk: &SdkConfig) -> Result<Decider, PortError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let mut email = SnsNotifier::new(aws_sdk_sns::Client::new(sdk), config.review_topic_arn.clone());
    if let Some(links) = &config.links {
        let keys = LinkKeys::load(&secrets, &links.keys_secret_arn).await?;
        email = email.with_links(EmailLinks {
            base_url: links.respond_url.clone(),
            keys,
            ttl_secs: links.ttl_secs,
        });
    }
    let notifier: Arc<dyn Notifier> = match &config.slack {
        None => Arc::new(email),
        Some(slack) => {
            let token = SlackSecrets::load(&secrets, &slack.secret_arn).await?.bot_token;
            Arc::new(Fanout::new(vec![
                ("email", Arc::new(email)),
                ("slack", Arc::new(SlackNotifier::new(&slack.api_url, token)?)),
            ]))
        }
    };
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.clone()));
    Ok(Decider {
        connections: Arc::new(Ec2Connections::new(aws_sdk_ec2::Client::new(sdk))),
        networks: Arc::new(AssumeRoleNetworks::new(
            sdk.clone(),
            config.consumer_role_template.clone(),
            config.consumer_role_external_id.clone(),
        )),
        policies: store.clone(),
        requests: store.clone(),
        audit: store,
        notifier,
        settings: Settings {
            services: config.service_ids.clone(),
            concurrency: config.concurrency,
            lease_secs: config.lease_secs,
            ..Settings::default()
        },
    })
}

/// The review topic's watch, built once per cold start: the sweep compares
/// the topic's subscriptions with the approvers the policies name.
pub fn topic_watch(config: &DecideConfig, sdk: &SdkConfig) -> TopicWatch {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.clone());
    TopicWatch {
        topic: Arc::new(SnsReviewTopic::new(aws_sdk_sns::Client::new(sdk), config.review_topic_arn.clone())),
        config: Arc::new(store),
    }
}

/// Why an invocation failed. Lambda retries it; the failure destination
/// keeps it when retries run out.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{0} connection(s) could not be decided or acted on; retrying")]
    Unfinished(usize),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl From<DecideError> for Diagnostic {
    fn from(e: DecideError) -> Self {
        let retryable = match &e {
            DecideError::Unfinished(_) => true,
            DecideError::Port(p) => p.transient,
        };
        let message = match &e {
            DecideError::Port(p) => p.chain(),
            other => other.to_string(),
        };
        Diagnostic {
            error_type: if retryable { "Retryable" } else { "NonRetryable" }.into(),
            error_message: message,
        }
    }
}

/// What the function returns: what it did, for logs and for the CLI.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub sweep: bool,
    #[serde(flatten)]
    pub report: Report,
    pub ignored: Vec<String>,
    pub rejected_input: Vec<String>,
}

/// Handles one invocation. Transient failures return `Err` so that Lambda
/// retries; malformed input is recorded and acknowledged. A sweep also
/// looks at the review topic: a subscription no policy names is logged for
/// the alarm, and a failure to look never fails the sweep.
pub async fn handle(
    decider: &Decider,
    watch: &TopicWatch,
    event: LambdaEvent<Value>,
) -> Result<Outcome, DecideError> {
    let deadline = sweep_deadline(event.context.deadline);
    let out = handle_within(decider, &event.payload, Timestamp::from(SystemTime::now()), deadline).await?;
    // Only after a sweep that finished: one cut short has no time to spare.
    if out.sweep
        && !out.report.stopped_early
        && let Err(e) = watch.check().await
    {
        tracing::error!(error = %e.chain(), "reading the review topic's subscriptions failed");
    }
    Ok(out)
}

pub async fn handle_at(decider: &Decider, event: &Value, now: Timestamp) -> Result<Outcome, DecideError> {
    handle_within(decider, event, now, None).await
}

/// One invocation whose sweep stops taking pages at `deadline`.
pub async fn handle_within(
    decider: &Decider,
    event: &Value,
    now: Timestamp,
    deadline: Option<Instant>,
) -> Result<Outcome, DecideError> {
    let work = trigger::parse(event);
    for why in &work.rejected {
        tracing::error!(input = %why, "malformed input acknowledged without action");
        let audit = AuditEvent {
            at: now,
            kind: AuditKind::BadInput,
            actor: decider.settings.actor.clone(),
            endpoint: None,
            service: None,
            owner: None,
            outcome: None,
            detail: why.clone(),
        };
        if let Err(e) = decider.audit.append(&audit).await {
            tracing::error!(error = %e.chain(), "recording malformed input failed");
        }
    }
    for why in &work.ignored {
        tracing::info!(reason = %why, "event ignored");
    }

    let mut out = Outcome {
        sweep: work.sweep,
        ignored: work.ignored,
        rejected_input: work.rejected,
        ..Outcome::default()
    };
    if work.sweep {
        out.report.absorb(decider.sweep_until(now, deadline).await?);
    }
    for endpoint in &work.endpoints {
        out.report.absorb(decider.decide_endpoint(endpoint, now).await?);
    }
    if out.report.counts.failed > 0 {
        return Err(DecideError::Unfinished(out.report.counts.failed));
    }
    Ok(out)
}

/// How long before the invocation's deadline a sweep stops taking pages: a
/// page of 1,000 connections with its reads and writes fits in it.
pub const SWEEP_MARGIN: Duration = Duration::from_secs(30);

/// When a sweep must stop, from the invocation's deadline (epoch ms).
pub fn sweep_deadline(deadline_ms: u64) -> Option<Instant> {
    let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    let left = Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    Some(Instant::now() + left.saturating_sub(SWEEP_MARGIN))
}
