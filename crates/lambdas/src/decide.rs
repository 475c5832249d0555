//! The `decide` function: an event in, decisions out.

use std::borrow::Cow;
use std::sync::Once;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let lease = lease_secs(f.decide.settings.lease_secs, event.context.deadline, now_ms);
    let decide = if lease > f.decide.settings.lease_secs {
        // Once per execution environment: the setting does not change.
        static WARNED: Once = Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                configured = f.decide.settings.lease_secs,
                honoured = lease,
                "ACTION_LEASE_SECS is shorter than the function's timeout; set it to the timeout"
            );
        });
        let mut widened = f.decide.clone();
        widened.settings.lease_secs = lease;
        Cow::Owned(widened)
    } else {
        Cow::Borrowed(&f.decide)
    };
    let mut out = handle_within(&decide, &event.payload, now, deadline).await?;
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

/// The lease this invocation honours: never shorter than its own time
/// budget. Every invocation of decide has the same timeout, the longest of
/// any claimant's, so a claim younger than that may belong to a run still
/// at work, whatever `ACTION_LEASE_SECS` says. Lambda tells a function its
/// deadline, not its timeout: the budget is read from the deadline.
fn lease_secs(configured: i64, deadline_ms: u64, now_ms: u128) -> i64 {
    let left_ms = u128::from(deadline_ms).saturating_sub(now_ms);
    // Rounded up: the claimant started a little before us.
    let budget = i64::try_from(left_ms.div_ceil(1000)).unwrap_or(i64::MAX);
    configured.max(budget)
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

#[cfg(test)]
mod tests {
    use super::lease_secs;

    #[test]
    fn a_lease_shorter_than_the_invocation_is_widened_to_it() {
        let now_ms = 1_000_000_000;
        // The template's setting: a 300 s timeout, a 300 s lease.
        assert_eq!(lease_secs(300, 1_000_300_000 - 20, now_ms), 300);
        // Set by hand below the timeout: a live run's claim stays its own.
        assert_eq!(lease_secs(60, 1_000_300_000 - 20, now_ms), 300);
        assert_eq!(lease_secs(60, 1_000_120_500, now_ms), 121);
        // Longer than the timeout, or no deadline given: as configured.
        assert_eq!(lease_secs(900, 1_000_300_000, now_ms), 900);
        assert_eq!(lease_secs(60, 0, now_ms), 60);
        assert_eq!(lease_secs(60, 999_000_000, now_ms), 60);
    }
}
