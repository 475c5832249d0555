//! The consumer topic's subscriptions: one email subscription per contact
//! address, filtering on the accounts it is the contact of. A filter policy
//! is all that keeps one tenant's notices from another on the shared topic,
//! so a subscription that filters on anything else, or on nothing, is set
//! right (when it is a contact's) or shown (when it is nobody's).

use std::sync::Arc;

use async_trait::async_trait;
use gate_core::policy::same_email;
use gate_core::{AccountId, Contact};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ports::ConfigStore;

/// One subscription of the consumer topic, as SNS lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSubscription {
    /// `None` while an email subscription waits for its confirmation.
    pub arn: Option<String>,
    pub protocol: String,
    pub endpoint: String,
    /// The accounts its filter policy admits; `None` when it has none (it
    /// receives every notice) or one on anything else.
    pub accounts: Option<Vec<String>>,
}

#[async_trait]
pub trait ConsumerTopic: Send + Sync {
    async fn subscriptions(&self) -> Result<Vec<ConsumerSubscription>, PortError>;
    /// Subscribes `email`, filtering on `accounts`; SNS asks it to confirm.
    async fn subscribe(&self, email: &str, accounts: &[AccountId]) -> Result<(), PortError>;
    /// Makes a confirmed subscription filter on `accounts` alone.
    async fn set_accounts(&self, arn: &str, accounts: &[AccountId]) -> Result<(), PortError>;
    async fn unsubscribe(&self, arn: &str) -> Result<(), PortError>;
}

/// Whether `s` is a contact's own subscription: email to a contact's
/// address, filtering on exactly the accounts that address is the contact
/// of. A pending one cannot be read until confirmed; it was made with its
/// filter, and the topic admits no subscriber but the operators.
fn is_a_contacts(s: &ConsumerSubscription, contacts: &[Contact]) -> bool {
    let email = matches!(s.protocol.as_str(), "email" | "email-json");
    let mut accounts: Vec<String> = contacts
        .iter()
        .filter(|c| c.email.as_deref().is_some_and(|e| same_email(e, &s.endpoint)))
        .map(|c| c.account.to_string())
        .collect();
    accounts.sort();
    let filtered = match (&s.arn, &s.accounts) {
        (None, _) => true,
        (Some(_), Some(found)) => {
            let mut found = found.clone();
            found.sort();
            found.dedup();
            found == accounts
        }
        (Some(_), None) => false,
    };
    email && !accounts.is_empty() && filtered
}

/// Subscriptions that no contact accounts for: each may read notices of
/// accounts that are not its own.
pub fn strays(contacts: &[Contact], subscriptions: &[ConsumerSubscription]) -> Vec<ConsumerSubscription> {
    subscriptions.iter().filter(|s| !is_a_contacts(s, contacts)).cloned().collect()
}

/// The message the alarm's metric filter matches; keep them equal.
pub const STRAY_SUBSCRIPTION: &str = "consumer topic has a subscription no contact names";

/// The sweep's look at the consumer topic: every subscription that no
/// contact accounts for is logged at `error`, the line the template's
/// alarm counts.
pub struct ConsumerTopicWatch {
    pub topic: Arc<dyn ConsumerTopic>,
    pub config: Arc<dyn ConfigStore>,
}

impl std::fmt::Debug for ConsumerTopicWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsumerTopicWatch")
    }
}

impl ConsumerTopicWatch {
    pub async fn check(&self) -> Result<Vec<ConsumerSubscription>, PortError> {
        let contacts: Vec<Contact> =
            self.config.load_contacts().await?.into_iter().map(|c| c.value).collect();
        let found = strays(&contacts, &self.topic.subscriptions().await?);
        for s in &found {
            tracing::error!(
                subscription = s.arn.as_deref().unwrap_or("pending confirmation"),
                protocol = %s.protocol,
                endpoint = %s.endpoint,
                "{STRAY_SUBSCRIPTION}"
            );
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(account: &str, email: &str) -> Contact {
        Contact { account: account.parse().expect("account"), email: Some(email.into()), slack_channel: None }
    }

    fn sub(
        arn: Option<&str>,
        protocol: &str,
        endpoint: &str,
        accounts: Option<&[&str]>,
    ) -> ConsumerSubscription {
        ConsumerSubscription {
            arn: arn.map(str::to_owned),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            accounts: accounts.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn only_a_contacts_subscription_filtering_on_exactly_its_accounts_belongs() {
        let contacts = [
            contact("220000000002", "team-b@example.com"),
            contact("230000000003", "shared@example.com"),
            contact("240000000004", "shared@example.com"),
        ];
        let live = [
            sub(Some("arn:1"), "email", "team-b@example.com", Some(&["220000000002"])),
            sub(None, "email", "team-b@example.com", None),
            sub(Some("arn:2"), "email", "shared@example.com", Some(&["240000000004", "230000000003"])),
            // No filter: every tenant's notices.
            sub(Some("arn:3"), "email", "team-b@example.com", None),
            // A contact filtering on another tenant too.
            sub(Some("arn:4"), "email", "team-b@example.com", Some(&["220000000002", "230000000003"])),
            // Someone who is no contact, filtering on B.
            sub(Some("arn:5"), "email", "eve@evil.example", Some(&["220000000002"])),
            sub(Some("arn:6"), "sqs", "arn:aws:sqs:eu-west-1:111122223333:q", Some(&["220000000002"])),
        ];
        let found: Vec<_> = strays(&contacts, &live).into_iter().filter_map(|s| s.arn).collect();
        assert_eq!(found, vec!["arn:3", "arn:4", "arn:5", "arn:6"]);
    }
}
