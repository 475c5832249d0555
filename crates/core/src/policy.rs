//! The operator's rules: a policy per endpoint service (plus the `*`
//! default) and allow/deny entries per consumer account.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::cidr::{Cidr, CidrSet};
use crate::id::{AccountId, Scope, ServiceId};
use crate::time::Timestamp;

/// What happens to an account that has no allow entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlisted {
    Review,
    Reject,
}

/// What happens when a consumer CIDR overlaps a protected range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapMode {
    Ignore,
    Review,
    Reject,
}

/// What happens when the consumer's CIDRs cannot be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCidr {
    Allow,
    Review,
    Reject,
}

/// What an unanswered review turns into after the approval TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExpiry {
    Reject,
    KeepPending,
}

/// A protected range with the reason it is protected, shown in decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedRange {
    pub cidr: Cidr,
    #[serde(default)]
    pub label: String,
}

/// The policy of one endpoint service, or of all (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePolicy {
    pub scope: Scope,
    pub unlisted: Unlisted,
    pub overlap: OverlapMode,
    pub protected_cidrs: Vec<ProtectedRange>,
    pub unknown_cidr: UnknownCidr,
    pub unique_consumer_cidrs: bool,
    pub approvers: Vec<String>,
    pub approval_ttl_secs: i64,
    pub reminder_interval_secs: i64,
    pub on_expiry: OnExpiry,
}

impl ServicePolicy {
    /// The cautious default: unknown accounts and doubtful CIDRs go to a person.
    pub fn cautious(scope: Scope) -> Self {
        Self {
            scope,
            unlisted: Unlisted::Review,
            overlap: OverlapMode::Review,
            protected_cidrs: Vec::new(),
            unknown_cidr: UnknownCidr::Review,
            unique_consumer_cidrs: false,
            approvers: Vec::new(),
            approval_ttl_secs: 3 * 86_400,
            reminder_interval_secs: 86_400,
            on_expiry: OnExpiry::KeepPending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// One consumer account's standing for a service or for all services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowEntry {
    pub scope: Scope,
    pub account: AccountId,
    pub effect: Effect,
    #[serde(default)]
    pub declared_cidrs: Vec<Cidr>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub added_by: String,
    #[serde(default)]
    pub added_at: Option<Timestamp>,
}

impl AllowEntry {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// A policy with its protected ranges indexed for fast overlap queries.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: ServicePolicy,
    pub protected: CidrSet<String>,
}

impl From<ServicePolicy> for CompiledPolicy {
    fn from(policy: ServicePolicy) -> Self {
        let protected = CidrSet::new(policy.protected_cidrs.iter().map(|p| (p.cidr, p.label.clone())));
        Self { policy, protected }
    }
}

/// Everything the decision needs from the operator: policies by scope and
/// allow entries by (scope, account). Built once, queried per connection.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    policies: HashMap<Scope, CompiledPolicy>,
    entries: HashMap<(Scope, AccountId), AllowEntry>,
}

impl PolicyBook {
    pub fn new(
        policies: impl IntoIterator<Item = ServicePolicy>,
        entries: impl IntoIterator<Item = AllowEntry>,
    ) -> Self {
        Self {
            policies: policies.into_iter().map(|p| (p.scope.clone(), p.into())).collect(),
            entries: entries.into_iter().map(|e| ((e.scope.clone(), e.account), e)).collect(),
        }
    }

    /// The service's own policy, else the `*` policy, else none.
    pub fn policy_for(&self, service: &ServiceId) -> Option<&CompiledPolicy> {
        self.policies.get(&Scope::Service(service.clone())).or_else(|| self.policies.get(&Scope::Any))
    }

    /// The service-scoped entry first, then the `*` entry; either may be absent.
    pub fn entries_for(&self, service: &ServiceId, account: AccountId) -> [Option<&AllowEntry>; 2] {
        [
            self.entries.get(&(Scope::Service(service.clone()), account)),
            self.entries.get(&(Scope::Any, account)),
        ]
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }
}
