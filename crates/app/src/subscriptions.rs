//! The approvers' review topic: one email subscription per approver, each
//! filtering on its own address, and nothing else. A signed link is a bearer
//! token, so a subscription that no policy names (or that filters on someone
//! else, or on nothing) could read approvers' links: `plan` shows it, and
//! the sweep raises an alarm about it.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use gate_core::policy::same_email;
use gate_core::{Approver, ServicePolicy};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ports::ConfigStore;

/// One subscription of the review topic, as SNS lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `None` while an email subscription waits for its confirmation.
    pub arn: Option<String>,
    pub protocol: String,
    pub endpoint: String,
    /// The `approver` values its filter policy admits; `None` when it has
    /// no filter policy (it receives every message) or one that filters on
    /// anything else.
    pub approver_filter: Option<Vec<String>>,
}

impl Subscription {
    /// Whether this is `approver`'s own subscription: email to that address,
    /// receiving only messages tagged with it. A pending one cannot be read
    /// until confirmed; it was made with its filter, and the topic admits no
    /// subscriber but the operators.
    fn is_for(&self, approver: &str) -> bool {
        let email = matches!(self.protocol.as_str(), "email" | "email-json");
        let filtered = match (&self.arn, &self.approver_filter) {
            (None, _) => true,
            (Some(_), Some(values)) => values.len() == 1 && values[0] == approver,
            (Some(_), None) => false,
        };
        email && filtered && same_email(&self.endpoint, approver)
    }
}

/// The review topic's subscriptions.
#[async_trait]
pub trait ReviewTopic: Send + Sync {
    async fn subscriptions(&self) -> Result<Vec<Subscription>, PortError>;
    /// Subscribes `email` with a filter policy on its own address; SNS then
    /// asks the address to confirm.
    async fn subscribe(&self, email: &str) -> Result<(), PortError>;
    async fn unsubscribe(&self, arn: &str) -> Result<(), PortError>;
}

/// How the topic's subscriptions compare with the approvers the policies name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionAudit {
    /// Approvers with no subscription of their own yet.
    pub missing: Vec<String>,
    /// Approvers whose subscription waits for them to confirm it.
    pub pending: Vec<String>,
    /// Subscriptions no policy names: each may read approvers' links.
    pub unknown: Vec<Subscription>,
}

impl SubscriptionAudit {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unknown.is_empty()
    }
}

/// Every email approver the policies name, once.
pub fn email_approvers<'a>(policies: impl IntoIterator<Item = &'a ServicePolicy>) -> Vec<String> {
    let all: BTreeSet<&str> = policies
        .into_iter()
        .flat_map(|p| p.approvers.iter())
        .filter_map(|a| match Approver::parse(a) {
            Ok(Approver::Email(e)) => Some(e),
            _ => None,
        })
        .collect();
    all.into_iter().map(str::to_owned).collect()
}

/// Compares the approvers with the topic's subscriptions. Pure.
pub fn audit(approvers: &[String], live: &[Subscription]) -> SubscriptionAudit {
    let mut out = SubscriptionAudit::default();
    for approver in approvers {
        match live.iter().find(|s| s.is_for(approver)) {
            None => out.missing.push(approver.clone()),
            Some(s) if s.arn.is_none() => out.pending.push(approver.clone()),
            Some(_) => {}
        }
    }
    out.unknown = live.iter().filter(|s| !approvers.iter().any(|a| s.is_for(a))).cloned().collect();
    out
}

/// The sweep's look at the topic: compares it with the live policies and
/// logs every subscription no policy names at `error`, the line the
/// template's alarm counts.
pub struct TopicWatch {
    pub topic: Arc<dyn ReviewTopic>,
    pub config: Arc<dyn ConfigStore>,
}

impl std::fmt::Debug for TopicWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TopicWatch")
    }
}

/// The message the alarm's metric filter matches; keep them equal.
pub const UNKNOWN_SUBSCRIPTION: &str = "review topic has a subscription no policy names";

impl TopicWatch {
    pub async fn check(&self) -> Result<SubscriptionAudit, PortError> {
        let policies = self.config.load_policies().await?;
        let approvers = email_approvers(policies.iter().map(|p| &p.value));
        let found = audit(&approvers, &self.topic.subscriptions().await?);
        for s in &found.unknown {
            tracing::error!(
                subscription = s.arn.as_deref().unwrap_or("pending confirmation"),
                protocol = %s.protocol,
                endpoint = %s.endpoint,
                "{UNKNOWN_SUBSCRIPTION}"
            );
        }
        for a in &found.missing {
            tracing::warn!(approver = %a, "approver has no subscription to the review topic; run endpoint-gate apply");
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(arn: Option<&str>, protocol: &str, endpoint: &str, filter: Option<&[&str]>) -> Subscription {
        Subscription {
            arn: arn.map(str::to_owned),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            approver_filter: filter.map(|f| f.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn each_approver_needs_an_email_subscription_filtered_on_itself() {
        let approvers =
            vec!["ana@example.com".to_owned(), "bo@example.com".to_owned(), "cy@example.com".to_owned()];
        let live = vec![
            sub(Some("arn:1"), "email", "ana@example.com", Some(&["ana@example.com"])),
            sub(None, "email", "bo@example.com", None),
            // Someone else filtering on ana's address reads ana's links.
            sub(Some("arn:2"), "email", "eve@evil.example", Some(&["ana@example.com"])),
            // No filter: every approver's links.
            sub(Some("arn:3"), "email", "cy@example.com", None),
            sub(Some("arn:4"), "sqs", "arn:aws:sqs:eu-west-1:111122223333:q", None),
            sub(Some("arn:5"), "email", "ana@example.com", Some(&["ana@example.com", "bo@example.com"])),
        ];
        let got = audit(&approvers, &live);
        assert_eq!(got.missing, vec!["cy@example.com".to_owned()]);
        assert_eq!(got.pending, vec!["bo@example.com".to_owned()]);
        let unknown: Vec<_> = got.unknown.iter().filter_map(|s| s.arn.as_deref()).collect();
        assert_eq!(unknown, vec!["arn:2", "arn:3", "arn:4", "arn:5"]);
        assert!(!got.is_clean());
    }

    #[test]
    fn only_email_approvers_of_the_policies_count_once_each() {
        let mut a = ServicePolicy::cautious(gate_core::Scope::Any);
        a.approvers = vec!["ana@example.com".into(), "slack:U024BE7LH".into()];
        let mut b = a.clone();
        b.approvers.push("bo@example.com".into());
        assert_eq!(
            email_approvers([&a, &b]),
            vec!["ana@example.com".to_owned(), "bo@example.com".to_owned()]
        );
    }
}
