//! Several notification channels as one: email and Slack both hear of a
//! review. A channel that fails is logged; the review counts as notified
//! when at least one channel delivered it, so a Slack outage does not make
//! the sweep email everyone again.

use std::sync::Arc;

use async_trait::async_trait;
use gate_core::RequestRecord;

use crate::error::PortError;
use crate::ports::{Audience, Notifier, Nudge, Posted};

pub struct Fanout {
    channels: Vec<(&'static str, Arc<dyn Notifier>)>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.channels.iter().map(|(name, _)| name)).finish()
    }
}

impl Fanout {
    pub fn new(channels: Vec<(&'static str, Arc<dyn Notifier>)>) -> Self {
        Self { channels }
    }

    /// Runs `send` on every channel and keeps what the ones that delivered
    /// returned; an error only when all of them failed.
    async fn each<'a, T, F>(&'a self, record: &RequestRecord, send: F) -> Result<Vec<T>, PortError>
    where
        F: Fn(&'a dyn Notifier) -> futures_util::future::BoxFuture<'a, Result<T, PortError>>,
    {
        let mut last = None;
        let mut delivered = Vec::new();
        for (name, channel) in &self.channels {
            match send(channel.as_ref()).await {
                Ok(value) => delivered.push(value),
                Err(e) => {
                    tracing::error!(channel = name, error = %e.chain(), endpoint_id = %record.endpoint,
                        "a notification channel failed");
                    last = Some(e);
                }
            }
        }
        match last {
            Some(e) if delivered.is_empty() => Err(e),
            _ => Ok(delivered),
        }
    }
}

#[async_trait]
impl Notifier for Fanout {
    async fn review_needed(&self, record: &RequestRecord, to: &Audience) -> Result<Posted, PortError> {
        let posted = self.each(record, |c| c.review_needed(record, to)).await?;
        Ok(Posted { slack: posted.into_iter().find_map(|p| p.slack) })
    }

    async fn nudge(&self, record: &RequestRecord, to: &Audience, nudge: Nudge) -> Result<(), PortError> {
        self.each(record, |c| c.nudge(record, to, nudge)).await.map(drop)
    }

    async fn settled(&self, record: &RequestRecord, note: &str) -> Result<(), PortError> {
        self.each(record, |c| c.settled(record, note)).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::RecordingNotifier;
    use gate_core::{RequestRecord, RequestState, Timestamp};

    fn record() -> RequestRecord {
        RequestRecord::new(
            "vpce-svc-0123456789abcdef0".parse().expect("service"),
            "vpce-0123456789abcdef0".parse().expect("endpoint"),
            "210000000001".parse().expect("account"),
            RequestState::Review,
            "endpoint-gate",
            Timestamp::from_unix(1_800_000_000),
        )
    }

    fn pair() -> (Arc<RecordingNotifier>, Arc<RecordingNotifier>, Fanout) {
        let (email, slack) = (Arc::new(RecordingNotifier::default()), Arc::new(RecordingNotifier::default()));
        let fanout = Fanout::new(vec![("email", email.clone()), ("slack", slack.clone())]);
        (email, slack, fanout)
    }

    #[tokio::test]
    async fn every_channel_hears_of_a_review() {
        let (email, slack, fanout) = pair();
        fanout.review_needed(&record(), &Audience::default()).await.expect("delivered");
        assert_eq!((email.sent.lock().expect("lock").len(), slack.sent.lock().expect("lock").len()), (1, 1));
    }

    #[tokio::test]
    async fn the_slack_message_posted_comes_back_and_hears_how_it_ended() {
        let (email, slack, fanout) = pair();
        *email.fail.lock().expect("lock") = true;
        let to = Audience { slack_channel: Some("C0REVIEWS".into()), ..Audience::default() };
        let posted = fanout.review_needed(&record(), &to).await.expect("slack delivered");
        assert_eq!(posted.slack.map(|m| m.channel).as_deref(), Some("C0REVIEWS"));
        fanout.settled(&record(), "The connection is accepted.").await.expect("slack updated");
        assert_eq!(slack.settled.lock().expect("lock")[0].1, "The connection is accepted.");
    }

    #[tokio::test]
    async fn one_channel_down_still_counts_as_notified() {
        let (email, slack, fanout) = pair();
        *slack.fail.lock().expect("lock") = true;
        fanout.review_needed(&record(), &Audience::default()).await.expect("email delivered");
        assert_eq!(email.sent.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn all_channels_down_is_an_error_so_the_sweep_retries() {
        let (email, slack, fanout) = pair();
        *email.fail.lock().expect("lock") = true;
        *slack.fail.lock().expect("lock") = true;
        assert!(fanout.review_needed(&record(), &Audience::default()).await.is_err());
        assert!(fanout.nudge(&record(), &Audience::default(), Nudge::Reminder(1)).await.is_err());
    }
}
