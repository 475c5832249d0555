//! The consumer topic's subscriptions: one email subscription per contact
//! address, filtering on the accounts it is the contact of. A filter policy
//! is all that keeps one tenant's notices from another on the shared topic,
//! so a subscription that filters on anything else, or on nothing, is set
//! right (when it is a contact's) or shown (when it is nobody's).

use async_trait::async_trait;
use gate_core::AccountId;
use serde::{Deserialize, Serialize};

use crate::error::PortError;

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
