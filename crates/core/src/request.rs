//! A connection as the provider sees it, and the request state machine
//! that records what Endpoint Gate decided about it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::decision::{Outcome, Reason};
use crate::id::{AccountId, EndpointId, ServiceId};
use crate::time::Timestamp;

/// The state of an endpoint connection. AWS sends camelCase
/// (`pendingAcceptance`) where SDK enums expect PascalCase, so states are
/// parsed here from their string form, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    PendingAcceptance,
    Pending,
    Available,
    Deleting,
    Deleted,
    Rejected,
    Failed,
    Expired,
    Other(String),
}

impl ConnectionState {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "pendingacceptance" => Self::PendingAcceptance,
            "pending" => Self::Pending,
            "available" => Self::Available,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            "rejected" => Self::Rejected,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            _ => Self::Other(s.chars().take(40).collect()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::PendingAcceptance => "pendingAcceptance",
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DNS name of an accepted endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEntry {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

/// An endpoint connection, as read back from the provider account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub service: ServiceId,
    pub endpoint: EndpointId,
    pub owner: AccountId,
    pub state: ConnectionState,
    pub dns_entries: Vec<DnsEntry>,
    pub created_at: Option<Timestamp>,
}

/// Where a request stands in Endpoint Gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Accepted,
    Rejected,
    Review,
    Approved,
    Denied,
    Expired,
}

impl RequestState {
    pub fn from_outcome(o: Outcome) -> Self {
        match o {
            Outcome::Accept => Self::Accepted,
            Outcome::Reject => Self::Rejected,
            Outcome::Review => Self::Review,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Review => "review",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Accepted, Self::Rejected, Self::Review, Self::Approved, Self::Denied, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// Only a review is still open; everything else is final.
    pub fn can_become(self, next: RequestState) -> bool {
        matches!((self, next), (Self::Review, Self::Approved | Self::Denied | Self::Expired))
    }

    /// What the provider must do to the connection in this state, if anything.
    pub fn action(self) -> Option<Action> {
        match self {
            Self::Accepted | Self::Approved => Some(Action::Accept),
            Self::Rejected | Self::Denied => Some(Action::Reject),
            Self::Review | Self::Expired => None,
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Reject,
}

/// The stored record of one connection request and its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub service: ServiceId,
    pub endpoint: EndpointId,
    pub owner: AccountId,
    pub state: RequestState,
    pub reasons: Vec<Reason>,
    pub consumer_cidrs: Vec<Cidr>,
    /// Who decided: "endpoint-gate" or the approver's identity.
    pub actor: String,
    pub decided_at: Timestamp,
    /// Set once the Accept/Reject call succeeded, so a retry knows what is left.
    pub acted_at: Option<Timestamp>,
    pub notified_at: Option<Timestamp>,
    /// Incremented on every write; conditional writes compare it.
    pub version: u64,
}

impl RequestRecord {
    /// True when the connection still needs its Accept/Reject call.
    pub fn action_outstanding(&self) -> Option<Action> {
        if self.acted_at.is_some() { None } else { self.state.action() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_whatever_the_case() {
        assert_eq!(ConnectionState::parse("pendingAcceptance"), ConnectionState::PendingAcceptance);
        assert_eq!(ConnectionState::parse("PendingAcceptance"), ConnectionState::PendingAcceptance);
        assert_eq!(ConnectionState::parse("AVAILABLE"), ConnectionState::Available);
        assert_eq!(ConnectionState::parse("weird"), ConnectionState::Other("weird".into()));
    }

    #[test]
    fn only_a_review_can_change_and_only_to_an_answer() {
        use RequestState::*;
        let all = [Accepted, Rejected, Review, Approved, Denied, Expired];
        for from in all {
            for to in all {
                let ok = from == Review && matches!(to, Approved | Denied | Expired);
                assert_eq!(from.can_become(to), ok, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn states_round_trip_their_names() {
        use RequestState::*;
        for s in [Accepted, Rejected, Review, Approved, Denied, Expired] {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestState::parse("Accepted"), None);
    }
}
