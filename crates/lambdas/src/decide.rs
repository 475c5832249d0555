//! The `decide` function: an event in, decisions out.

use std::time::Instant;

use gate_app::consumer_topic::ConsumerTopicWatch;
use gate_app::principals::{Drift, PrincipalsWatch};
use gate_app::subscriptions::TopicWatch;
use gate_app::{Decide, PortError, Report, Settings};
use gate_aws::wiring::Wiring;
use gate_core::Timestamp;
use gate_inputs::decide_event as trigger;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

use crate::config::DecideConfig;
use crate::invocation::{InvocationError, sweep_deadline};

/// What the function needs, built once per cold start.
#[derive(Debug)]
pub struct DecideFn {
    pub decide: Decide,
    pub watch: TopicWatch,
    /// The consumer topic's, when notices are on.
    pub consumer_watch: Option<ConsumerTopicWatch>,
    /// The allowed principals apply manages.
    pub principals: PrincipalsWatch,
}

impl DecideFn {
    /// Reads the link-signing keys and the Slack bot token when configured.
    pub async fn build(config: &DecideConfig, wiring: &Wiring) -> Result<Self, PortError> {
        let slack = match &config.slack {
            Some(slack) => Some(wiring.slack(slack).await?.notifier),
            None => None,
        };
        let notifier = wiring
            .review_notifier_with(&config.review_topic_arn, config.links.as_ref(), slack.clone())
            .await?;
        let settings = Settings {
            services: config.service_ids.clone(),
            concurrency: config.concurrency,
            lease_secs: config.lease_secs,
            ..Settings::default()
        };
        let mut decide = wiring
            .decide(settings, &config.consumer_role, notifier, config.organizations_role_arn.as_deref())
            .await;
        if let Some(topic) = &config.consumer_topic_arn {
            decide = decide.with_notices(wiring.notices(topic, slack));
        }
        Ok(Self {
            decide,
            watch: wiring.topic_watch(&config.review_topic_arn),
            consumer_watch: config.consumer_topic_arn.as_deref().map(|t| wiring.consumer_topic_watch(t)),
            principals: wiring.principals_watch(),
        })
    }
}

/// What the function answers: what it did, for logs and for the CLI.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub sweep: bool,
    #[serde(flatten)]
    pub report: Report,
    pub ignored: Vec<String>,
    pub rejected_input: Vec<String>,
    /// Services whose allowed principals changed outside the policy file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals_drift: Vec<Drift>,
}

/// Handles one invocation. Transient failures return `Err` so that Lambda
/// retries; malformed input is recorded and acknowledged. A sweep also
/// looks at the review topic (a subscription no policy names is logged for
/// the alarm) and at the allowed principals apply set (drift is answered
/// and logged); a failure to look never fails the sweep.
pub async fn handle(
    f: &DecideFn,
    event: LambdaEvent<Value>,
    now: Timestamp,
) -> Result<Summary, InvocationError> {
    let deadline = sweep_deadline(event.context.deadline);
    let mut out = handle_within(&f.decide, &event.payload, now, deadline).await?;
    // Only after a sweep that finished: one cut short has no time to spare.
    if out.sweep && !out.report.stopped_early {
        if let Err(e) = f.watch.check().await {
            tracing::error!(error = %e.chain(), "reading the review topic's subscriptions failed");
        }
        if let Some(watch) = &f.consumer_watch
            && let Err(e) = watch.check().await
        {
            tracing::error!(error = %e.chain(), "reading the consumer topic's subscriptions failed");
        }
        match f.principals.drift().await {
            Ok(drift) => out.principals_drift = drift,
            Err(e) => tracing::error!(error = %e.chain(), "comparing the allowed principals failed"),
        }
    }
    Ok(out)
}

pub async fn handle_at(decide: &Decide, event: &Value, now: Timestamp) -> Result<Summary, InvocationError> {
    handle_within(decide, event, now, None).await
}

/// One invocation whose sweep stops taking pages at `deadline`.
pub async fn handle_within(
    decide: &Decide,
    event: &Value,
    now: Timestamp,
    deadline: Option<Instant>,
) -> Result<Summary, InvocationError> {
    let work = trigger::parse(event);
    for why in &work.rejected {
        decide.refuse_input(why, now).await;
    }
    for why in &work.ignored {
        tracing::info!(reason = %why, "event ignored");
    }

    let mut out = Summary {
        sweep: work.sweep,
        ignored: work.ignored,
        rejected_input: work.rejected,
        ..Summary::default()
    };
    if work.sweep {
        out.report.absorb(decide.sweep_until(now, deadline).await?);
    }
    for endpoint in &work.endpoints {
        out.report.absorb(decide.decide_endpoint(endpoint, now).await?);
    }
    if out.report.counts.failed > 0 {
        return Err(InvocationError::Unfinished { count: out.report.counts.failed, what: "connection(s)" });
    }
    Ok(out)
}
