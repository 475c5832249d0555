//! Shadow mode: a service whose policy says `mode: shadow` is decided as
//! usual, but nothing is done. What the gate would have done is kept as a
//! [`ShadowVerdict`] per endpoint, and [`compare`] sets it beside what
//! people actually did, which is the evidence a team reads before switching
//! the service to `enforce`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decision::Outcome;
use crate::id::{AccountId, EndpointId, ServiceId};
use crate::registry::RegistryEntry;
use crate::request::ConnectionState;
use crate::time::Timestamp;

/// What the gate would have done, had the service been enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Would {
    Accept,
    Reject,
    /// Ask the service's approvers.
    Review,
    /// Reject an available connection whose allowance is gone (`revoke: reject`).
    Revoke,
}

impl Would {
    pub fn as_str(self) -> &'static str {
        match self {
            Would::Accept => "accept",
            Would::Reject => "reject",
            Would::Review => "review",
            Would::Revoke => "revoke",
        }
    }
}

impl From<Outcome> for Would {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Accept => Would::Accept,
            Outcome::Reject => Would::Reject,
            Outcome::Review => Would::Review,
        }
    }
}

impl fmt::Display for Would {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest shadow decision about one endpoint. A new one is kept only
/// when `would` changes, so a sweep that sees the same pending connection
/// every few minutes writes nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowVerdict {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    pub would: Would,
    /// The decision's reasons in the operator's wording.
    pub reasons: String,
    pub at: Timestamp,
}

/// What happened to the connection in fact, as the registry last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Actual {
    /// Still waiting for someone (or the registry has not seen it yet).
    Pending,
    /// Accepted; `by` as the registry attributes it (a person, or `unknown`).
    Accepted { by: Option<String> },
    /// Rejected. EC2 and CloudTrail's record of who rejected is not kept
    /// in the registry, so `why` is whatever it knows.
    Rejected { why: String },
    /// The consumer deleted the endpoint, or it failed or expired.
    Gone { state: String },
}

impl Actual {
    /// The fact in the registry; `None` when it never saw the endpoint.
    pub fn of(entry: Option<&RegistryEntry>) -> Self {
        let Some(e) = entry else { return Actual::Pending };
        match &e.state {
            ConnectionState::PendingAcceptance | ConnectionState::Pending => Actual::Pending,
            ConnectionState::Available => Actual::Accepted { by: e.accepted_by.clone() },
            ConnectionState::Rejected => Actual::Rejected { why: e.why.clone() },
            // Accepted, then deleted by its consumer: a person still accepted it.
            _ if e.accepted_at.is_some() => Actual::Accepted { by: e.accepted_by.clone() },
            other => Actual::Gone { state: other.to_string() },
        }
    }
}

/// How a shadow verdict compares with what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// The gate would have done the opposite of what a person did: would
    /// accept what was rejected, or would reject or revoke what was
    /// accepted (or is still available). Listed first.
    Disagree,
    /// The gate would have asked approvers, and a person decided: what
    /// review is for, so neither agreement nor disagreement.
    PersonDecided,
    /// A person did what the gate would have done.
    Agree,
    /// Nobody has decided yet (or the endpoint went away undecided).
    Pending,
}

impl Agreement {
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Disagree => "disagree",
            Agreement::PersonDecided => "person decided",
            Agreement::Agree => "agree",
            Agreement::Pending => "pending",
        }
    }
}

/// Sets a shadow verdict beside what happened. Pure.
pub fn compare(would: Would, actual: &Actual) -> Agreement {
    match (would, actual) {
        (_, Actual::Pending | Actual::Gone { .. }) => Agreement::Pending,
        (Would::Review, _) => Agreement::PersonDecided,
        (Would::Accept, Actual::Accepted { .. })
        | (Would::Reject | Would::Revoke, Actual::Rejected { .. }) => Agreement::Agree,
        (Would::Accept, Actual::Rejected { .. })
        | (Would::Reject | Would::Revoke, Actual::Accepted { .. }) => Agreement::Disagree,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_against_every_fact() {
        let accepted = Actual::Accepted { by: Some("arn:aws:iam::111111111111:user/ana".into()) };
        let rejected = Actual::Rejected { why: String::new() };
        let gone = Actual::Gone { state: "deleted".into() };
        let table = [
            (Would::Accept, &accepted, Agreement::Agree),
            (Would::Accept, &rejected, Agreement::Disagree),
            (Would::Reject, &accepted, Agreement::Disagree),
            (Would::Reject, &rejected, Agreement::Agree),
            (Would::Revoke, &accepted, Agreement::Disagree),
            (Would::Revoke, &rejected, Agreement::Agree),
            (Would::Review, &accepted, Agreement::PersonDecided),
            (Would::Review, &rejected, Agreement::PersonDecided),
            (Would::Accept, &Actual::Pending, Agreement::Pending),
            (Would::Reject, &gone, Agreement::Pending),
        ];
        for (would, actual, want) in table {
            assert_eq!(compare(would, actual), want, "{would} vs {actual:?}");
        }
    }

    #[test]
    fn the_registry_says_what_happened() {
        let t = Timestamp::from_unix(1_800_000_000);
        let entry = |state: ConnectionState, by: Option<&str>| RegistryEntry {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            service: "vpce-svc-0abc1234def567890".parse().expect("service"),
            owner: "210000000001".parse().expect("account"),
            state,
            dns_entries: vec![],
            accepted_at: by.map(|_| t),
            accepted_by: by.map(str::to_owned),
            why: String::new(),
            first_seen: t,
            observed_at: t,
            region: None,
            version: 1,
        };
        let by = Some("arn:aws:iam::111111111111:user/ana".to_owned());
        assert_eq!(Actual::of(None), Actual::Pending);
        assert_eq!(Actual::of(Some(&entry(ConnectionState::PendingAcceptance, None))), Actual::Pending);
        assert_eq!(
            Actual::of(Some(&entry(ConnectionState::Available, by.as_deref()))),
            Actual::Accepted { by: by.clone() }
        );
        assert_eq!(
            Actual::of(Some(&entry(ConnectionState::Deleted, by.as_deref()))),
            Actual::Accepted { by }
        );
        assert_eq!(
            Actual::of(Some(&entry(ConnectionState::Rejected, None))),
            Actual::Rejected { why: String::new() }
        );
        assert_eq!(
            Actual::of(Some(&entry(ConnectionState::Deleted, None))),
            Actual::Gone { state: "deleted".into() }
        );
    }

    #[test]
    fn disagreements_sort_first() {
        let mut all = [Agreement::Pending, Agreement::Agree, Agreement::PersonDecided, Agreement::Disagree];
        all.sort();
        assert_eq!(all[0], Agreement::Disagree);
    }
}
