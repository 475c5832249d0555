//! The review topic's subscriptions through SNS: listed with their filter
//! policies, and made one per approver with a filter on its own address
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html>).
//! An email subscription waits for its owner to confirm it; until then SNS
//! lists it as `PendingConfirmation` and it receives nothing
//! (<https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html>).

use async_trait::async_trait;
use aws_sdk_sns::Client;
use gate_app::PortError;
use gate_app::subscriptions::{ReviewTopic, Subscription};
use serde_json::Value;

use crate::OnFirstUse;
use crate::sns::APPROVER_ATTRIBUTE;
use crate::topic_subscriptions;

#[derive(Debug, Clone)]
pub struct SnsReviewTopic {
    client: OnFirstUse<Client>,
    topic_arn: String,
}

impl SnsReviewTopic {
    pub fn new(client: impl Into<OnFirstUse<Client>>, topic_arn: String) -> Self {
        Self { client: client.into(), topic_arn }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

/// The filter policy that sends `approver` only their own messages.
pub fn filter_policy(approver: &str) -> String {
    serde_json::json!({ APPROVER_ATTRIBUTE: [approver] }).to_string()
}

/// The approvers a subscription's filter policy admits, when it filters on
/// message attributes and on the `approver` attribute alone with plain
/// values; `None` for anything else (no filter, a body filter, prefixes,
/// `anything-but`, other attributes), which may let other messages through.
pub fn approver_filter(policy: Option<&str>, scope: Option<&str>) -> Option<Vec<String>> {
    if scope.is_some_and(|s| s != "MessageAttributes") {
        return None;
    }
    let policy: Value = serde_json::from_str(policy?).ok()?;
    let map = policy.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let values = map.get(APPROVER_ATTRIBUTE)?.as_array()?;
    values.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

#[async_trait]
impl ReviewTopic for SnsReviewTopic {
    async fn subscriptions(&self) -> Result<Vec<Subscription>, PortError> {
        Ok(topic_subscriptions::list(self.client.get(), &self.topic_arn)
            .await?
            .into_iter()
            .map(|l| Subscription {
                approver_filter: approver_filter(l.filter_policy.as_deref(), l.filter_scope.as_deref()),
                arn: l.arn,
                protocol: l.protocol,
                endpoint: l.endpoint,
            })
            .collect())
    }

    async fn subscribe(&self, email: &str) -> Result<(), PortError> {
        topic_subscriptions::subscribe_email(self.client.get(), &self.topic_arn, email, filter_policy(email))
            .await
    }

    async fn unsubscribe(&self, arn: &str) -> Result<(), PortError> {
        topic_subscriptions::unsubscribe(self.client.get(), arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_filter_on_the_approver_attribute_counts() {
        let one = Some(vec!["ana@example.com".to_owned()]);
        assert_eq!(approver_filter(Some(&filter_policy("ana@example.com")), None), one);
        assert_eq!(
            approver_filter(Some(r#"{"approver":["ana@example.com"]}"#), Some("MessageAttributes")),
            one
        );
        for (policy, scope) in [
            (None, None),
            (Some(r#"{"approver":["ana@example.com"]}"#), Some("MessageBody")),
            (Some(r#"{"approver":[{"prefix":"ana"}]}"#), None),
            (Some(r#"{"approver":[{"anything-but":"bo@example.com"}]}"#), None),
            (Some(r#"{"approver":["ana@example.com"],"event":["review_needed"]}"#), None),
            (Some(r#"{"event":["review_needed"]}"#), None),
            (Some(r#"{"$or":[{"approver":["a"]},{"event":["x"]}]}"#), None),
            (Some("not json"), None),
            (Some(r#"["approver"]"#), None),
        ] {
            assert_eq!(approver_filter(policy, scope), None, "{policy:?} {scope:?}");
        }
    }
}
