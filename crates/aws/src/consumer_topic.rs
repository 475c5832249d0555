//! Decision notices on the consumer topic: one SNS topic for every
//! consumer team, one email subscription per contact address.
//!
//! SNS delivers a message to every subscription whose filter policy
//! matches, and a subscription without a filter policy receives every
//! message (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html>).
//! The filter policy is all that keeps one tenant's notices from another
//! on a shared topic, so each notice is tagged with exactly one
//! `account` attribute, its own, and carries nothing about any other
//! account; each contact's subscription filters on the accounts it is the
//! contact of, as a message-attribute filter
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html>,
//! `FilterPolicyScope` `MessageAttributes`, the default).

use async_trait::async_trait;
use aws_sdk_sns::Client;
use gate_app::PortError;
use gate_app::consumer_topic::{ConsumerSubscription, ConsumerTopic};
use gate_app::ports::NoticeSender;
use gate_core::{AccountId, Contact, Notice};
use serde_json::Value;

use crate::error::port_error;
use crate::sns::attr;
use crate::{OnFirstUse, topic_subscriptions};

/// The message attribute every contact's subscription filters on.
pub const ACCOUNT_ATTRIBUTE: &str = "account";

/// The filter policy that sends a contact the notices of its accounts only.
pub fn consumer_filter_policy(accounts: &[AccountId]) -> String {
    let values: Vec<&str> = accounts.iter().map(AccountId::as_str).collect();
    serde_json::json!({ ACCOUNT_ATTRIBUTE: values }).to_string()
}

#[derive(Debug, Clone)]
pub struct SnsConsumerNotices {
    client: OnFirstUse<Client>,
    topic_arn: String,
}

impl SnsConsumerNotices {
    pub fn new(client: impl Into<OnFirstUse<Client>>, topic_arn: String) -> Self {
        Self { client: client.into(), topic_arn }
    }
}

/// Publishes when the contact names an email address: its subscription,
/// made by `endpoint-gate apply`, receives the notice.
#[async_trait]
impl NoticeSender for SnsConsumerNotices {
    async fn send(&self, notice: &Notice, to: &Contact) -> Result<bool, PortError> {
        if to.email.is_none() {
            return Ok(false);
        }
        if to.account != notice.account {
            // A contact is looked up by the notice's account; anything else
            // would tag one tenant's notice for another.
            return Err(PortError::plain(
                format!("the notice of {} was addressed to another account's contact", notice.endpoint),
                false,
            ));
        }
        self.client
            .get()
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notice.subject())
            .message(notice.body())
            .message_attributes(ACCOUNT_ATTRIBUTE, attr(notice.account.as_str())?)
            .message_attributes("event", attr(notice.kind.as_str())?)
            .send()
            .await
            .map_err(|e| {
                port_error(format!("publishing the {} notice of {} failed", notice.kind, notice.endpoint), e)
            })?;
        Ok(true)
    }
}

/// The accounts a filter policy admits, when it filters on message
/// attributes and on the `account` attribute alone with plain values;
/// `None` for anything else, which may let other tenants' notices through.
pub fn account_filter(policy: Option<&str>, scope: Option<&str>) -> Option<Vec<String>> {
    if scope.is_some_and(|s| s != "MessageAttributes") {
        return None;
    }
    let policy: Value = serde_json::from_str(policy?).ok()?;
    let map = policy.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let values = map.get(ACCOUNT_ATTRIBUTE)?.as_array()?;
    values.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// The consumer topic's subscriptions, for `endpoint-gate apply`.
#[derive(Debug, Clone)]
pub struct SnsConsumerTopic {
    client: OnFirstUse<Client>,
    topic_arn: String,
}

impl SnsConsumerTopic {
    pub fn new(client: impl Into<OnFirstUse<Client>>, topic_arn: String) -> Self {
        Self { client: client.into(), topic_arn }
    }
}

#[async_trait]
impl ConsumerTopic for SnsConsumerTopic {
    async fn subscriptions(&self) -> Result<Vec<ConsumerSubscription>, PortError> {
        Ok(topic_subscriptions::list(self.client.get(), &self.topic_arn)
            .await?
            .into_iter()
            .map(|l| ConsumerSubscription {
                accounts: account_filter(l.filter_policy.as_deref(), l.filter_scope.as_deref()),
                arn: l.arn,
                protocol: l.protocol,
                endpoint: l.endpoint,
            })
            .collect())
    }

    async fn subscribe(&self, email: &str, accounts: &[AccountId]) -> Result<(), PortError> {
        topic_subscriptions::subscribe_email(
            self.client.get(),
            &self.topic_arn,
            email,
            consumer_filter_policy(accounts),
        )
        .await
    }

    async fn set_accounts(&self, arn: &str, accounts: &[AccountId]) -> Result<(), PortError> {
        for (name, value) in [
            ("FilterPolicyScope", "MessageAttributes".to_owned()),
            ("FilterPolicy", consumer_filter_policy(accounts)),
        ] {
            self.client
                .get()
                .set_subscription_attributes()
                .subscription_arn(arn)
                .attribute_name(name)
                .attribute_value(value)
                .send()
                .await
                .map_err(|e| port_error(format!("setting the {name} of {arn}"), e))?;
        }
        Ok(())
    }

    async fn unsubscribe(&self, arn: &str) -> Result<(), PortError> {
        topic_subscriptions::unsubscribe(self.client.get(), arn).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use aws_sdk_sns::operation::publish::PublishOutput;
    use aws_smithy_mocks::{mock, mock_client};
    use gate_core::{NoticeKind, Reason, RequestRecord, RequestState, Rule, Timestamp};

    use super::*;

    const B: &str = "220000000002";
    const C: &str = "230000000003";
    const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:endpoint-gate-consumers";

    fn notice(owner: &str, state: RequestState, kind: NoticeKind) -> Notice {
        let rec = RequestRecord {
            reasons: vec![Reason {
                rule: Rule::ConsumerOverlap,
                pushes: Some(gate_core::Outcome::Reject),
                text: format!("consumer VPC 10.0.0.0/16 overlaps 10.0.0.0/16 of {C}"),
                consumer: Some("consumer VPC 10.0.0.0/16 overlaps another consumer's CIDR".into()),
            }],
            ..RequestRecord::new(
                "vpce-svc-0abc1234def567890".parse().expect("service"),
                "vpce-0bbbbbbbbbbbbbbbb".parse().expect("endpoint"),
                owner.parse().expect("owner"),
                state,
                "endpoint-gate",
                Timestamp::from_unix(1_800_000_000),
            )
        };
        Notice::about(&rec, kind, rec.decided_at)
    }

    fn contact(account: &str, email: Option<&str>) -> Contact {
        Contact {
            account: account.parse().expect("account"),
            email: email.map(str::to_owned),
            slack_channel: None,
        }
    }

    #[tokio::test]
    async fn a_notice_is_tagged_with_its_own_account_only_and_names_no_other() {
        let rule = mock!(Client::publish)
            .match_requests(|req| {
                let attrs = req.message_attributes().expect("attributes");
                let account = attrs.get(ACCOUNT_ATTRIBUTE).and_then(|a| a.string_value());
                let message = req.message().unwrap_or_default();
                req.topic_arn() == Some(TOPIC)
                    && account == Some(B)
                    && attrs.len() == 2
                    && attrs.get("event").and_then(|a| a.string_value()) == Some("rejected")
                    && !message.contains(C)
                    && !req.subject().unwrap_or_default().contains(C)
                    && message.contains("overlaps another consumer's CIDR")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        let topic = SnsConsumerNotices::new(client, TOPIC.into());
        let n = notice(B, RequestState::Rejected, NoticeKind::Rejected);
        let sent = topic.send(&n, &contact(B, Some("team-b@example.com"))).await.expect("publishes");
        assert!(sent);
        assert_eq!(rule.num_calls(), 1, "the request matched: B's attribute, none of C's data");
    }

    #[tokio::test]
    async fn nothing_is_published_for_a_contact_without_email_or_for_another_account() {
        let rule = mock!(Client::publish).then_output(|| PublishOutput::builder().message_id("m-1").build());
        let client = mock_client!(aws_sdk_sns, [&rule]);
        let topic = SnsConsumerNotices::new(client, TOPIC.into());
        let n = notice(B, RequestState::Review, NoticeKind::InReview);
        assert!(!topic.send(&n, &contact(B, None)).await.expect("no address, no call"));
        let wrong = topic.send(&n, &contact(C, Some("team-c@example.com"))).await;
        assert!(wrong.is_err(), "B's notice never goes out tagged for C's contact");
        assert_eq!(rule.num_calls(), 0);
    }

    #[test]
    fn only_a_plain_filter_on_the_account_attribute_counts() {
        let b = Some(vec![B.to_owned()]);
        assert_eq!(account_filter(Some(&consumer_filter_policy(&[B.parse().expect("b")])), None), b);
        for (policy, scope) in [
            (None, None),
            (Some(r#"{"account":["220000000002"]}"#), Some("MessageBody")),
            (Some(r#"{"account":[{"prefix":"22"}]}"#), None),
            (Some(r#"{"account":[{"anything-but":"230000000003"}]}"#), None),
            (Some(r#"{"account":["220000000002"],"event":["rejected"]}"#), None),
            (Some(r#"{"event":["rejected"]}"#), None),
            (Some("not json"), None),
        ] {
            assert_eq!(account_filter(policy, scope), None, "{policy:?} {scope:?}");
        }
    }

    #[test]
    fn a_contacts_filter_policy_names_its_accounts() {
        let accounts = [B.parse().expect("b"), C.parse().expect("c")];
        assert_eq!(consumer_filter_policy(&accounts[..1]), format!(r#"{{"account":["{B}"]}}"#));
        assert_eq!(consumer_filter_policy(&accounts), format!(r#"{{"account":["{B}","{C}"]}}"#));
    }
}
