//! A connection as the provider sees it, and the request state machine
//! that records what Endpoint Gate decided about it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::decision::{Outcome, Reason};
use crate::id::{AccountId, EndpointId, Region, ServiceId};
use crate::policy::{OnExpiry, ServicePolicy};
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
    /// Where the consumer's VPC lives: EC2's `VpcEndpointRegion`, or the
    /// provider's own region where EC2 leaves it out. `None` only where no
    /// adapter said (fakes, records from before cross-region consumers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
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
    /// The connection was available, its allowance is gone and its policy
    /// says `revoke: reject`: rejected by the sweep.
    Revoked,
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
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Accepted,
            Self::Rejected,
            Self::Review,
            Self::Approved,
            Self::Denied,
            Self::Expired,
            Self::Revoked,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Only a review is still open to an answer. Any request but a revoked
    /// one may be revoked: its connection is available whatever was decided
    /// (a person may have accepted it in the console).
    pub fn can_become(self, next: RequestState) -> bool {
        matches!(
            (self, next),
            (Self::Review, Self::Approved | Self::Denied | Self::Expired)
                | (
                    Self::Accepted
                        | Self::Rejected
                        | Self::Review
                        | Self::Approved
                        | Self::Denied
                        | Self::Expired,
                    Self::Revoked
                )
        )
    }

    /// What the provider must do to the connection in this state, if anything.
    pub fn action(self) -> Option<Action> {
        match self {
            Self::Accepted | Self::Approved => Some(Action::Accept),
            // Only a review that expired under `on_expiry: reject` becomes Expired.
            Self::Rejected | Self::Denied | Self::Expired | Self::Revoked => Some(Action::Reject),
            Self::Review => None,
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

impl Action {
    /// Whether a connection in `state` already shows this action taken:
    /// an accept once it is `pending` (provisioning) or `available`, a
    /// reject once it is `rejected`.
    pub fn is_done_in(self, state: &ConnectionState) -> bool {
        match self {
            Self::Accept => matches!(state, ConnectionState::Pending | ConnectionState::Available),
            Self::Reject => *state == ConnectionState::Rejected,
        }
    }
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
    /// The consumer's region (cross-region PrivateLink), so approvers and the
    /// consumer see where the VPC lives. `None` in records made before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Who decided: "endpoint-gate" or the approver's identity.
    pub actor: String,
    pub decided_at: Timestamp,
    /// Set once the Accept/Reject call succeeded, so a retry knows what is left.
    pub acted_at: Option<Timestamp>,
    /// When approvers were last told (first notice or latest reminder).
    pub notified_at: Option<Timestamp>,
    /// Reminders sent so far.
    #[serde(default)]
    pub reminders: u32,
    /// When the review's time ran out and it was kept pending; no more reminders.
    #[serde(default)]
    pub expired_at: Option<Timestamp>,
    /// The review's Slack message, so that an answer from anywhere can show
    /// on it who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_message: Option<SlackMessage>,
    /// Incremented on every write; conditional writes compare it.
    pub version: u64,
}

/// Where Slack keeps a message: its channel and timestamp (`ts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
}

impl RequestRecord {
    /// A request as first decided by `actor` at `at`: no reasons, CIDRs or
    /// region yet, nothing acted on or sent, version 1.
    pub fn new(
        service: ServiceId,
        endpoint: EndpointId,
        owner: AccountId,
        state: RequestState,
        actor: impl Into<String>,
        at: Timestamp,
    ) -> Self {
        Self {
            service,
            endpoint,
            owner,
            state,
            reasons: Vec::new(),
            consumer_cidrs: Vec::new(),
            region: None,
            actor: actor.into(),
            decided_at: at,
            acted_at: None,
            notified_at: None,
            reminders: 0,
            expired_at: None,
            slack_message: None,
            version: 1,
        }
    }

    /// True when the connection still needs its Accept/Reject call.
    pub fn action_outstanding(&self) -> Option<Action> {
        if self.acted_at.is_some() { None } else { self.state.action() }
    }
}

/// What a review still waiting for an answer needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    /// Remind the approvers.
    Remind,
    /// The approval time ran out; the policy says what happens.
    Expire(OnExpiry),
}

/// The next step of a review, if one is due: expiry after the policy's
/// approval TTL, otherwise a reminder every reminder interval.
pub fn review_step(rec: &RequestRecord, policy: &ServicePolicy, now: Timestamp) -> Option<ReviewStep> {
    if rec.state != RequestState::Review || rec.expired_at.is_some() {
        return None;
    }
    let notified = rec.notified_at?;
    if now >= rec.decided_at.plus_secs(policy.approval_ttl_secs) {
        return Some(ReviewStep::Expire(policy.on_expiry));
    }
    (now >= notified.plus_secs(policy.reminder_interval_secs)).then_some(ReviewStep::Remind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the states an action leaves a connection in count as the
    /// action done: never one that is gone, failed or still waiting.
    #[test]
    fn an_action_is_done_only_in_the_states_it_leaves() {
        use ConnectionState::*;
        let all = [PendingAcceptance, Pending, Available, Deleting, Deleted, Rejected, Failed, Expired];
        let done = |action: Action| all.iter().filter(|s| action.is_done_in(s)).cloned().collect::<Vec<_>>();
        assert_eq!(done(Action::Accept), [Pending, Available]);
        assert_eq!(done(Action::Reject), [Rejected]);
        assert!(!Action::Accept.is_done_in(&Other("weird".into())));
    }

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
        let all = [Accepted, Rejected, Review, Approved, Denied, Expired, Revoked];
        for from in all {
            for to in all {
                let ok = (from == Review && matches!(to, Approved | Denied | Expired))
                    || (from != Revoked && to == Revoked);
                assert_eq!(from.can_become(to), ok, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn states_round_trip_their_names() {
        use RequestState::*;
        for s in [Accepted, Rejected, Review, Approved, Denied, Expired, Revoked] {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestState::parse("Accepted"), None);
    }
}

#[cfg(test)]
mod review_tests {
    use super::*;
    use crate::id::Scope;

    fn rec(notified: Option<i64>) -> RequestRecord {
        RequestRecord {
            notified_at: notified.map(Timestamp::from_unix),
            version: 2,
            ..RequestRecord::new(
                "vpce-svc-0abc1234".parse().expect("svc"),
                "vpce-0123456789abcdef0".parse().expect("endpoint"),
                "222233334444".parse().expect("owner"),
                RequestState::Review,
                "endpoint-gate",
                Timestamp::from_unix(0),
            )
        }
    }

    #[test]
    fn reminders_then_expiry_as_the_policy_says() {
        let mut policy = ServicePolicy::cautious(Scope::Any);
        policy.reminder_interval_secs = 100;
        policy.approval_ttl_secs = 1000;
        let t = Timestamp::from_unix;
        assert_eq!(review_step(&rec(Some(0)), &policy, t(99)), None);
        assert_eq!(review_step(&rec(Some(0)), &policy, t(100)), Some(ReviewStep::Remind));
        assert_eq!(review_step(&rec(Some(900)), &policy, t(950)), None, "reminded recently");
        assert_eq!(
            review_step(&rec(Some(900)), &policy, t(1000)),
            Some(ReviewStep::Expire(OnExpiry::KeepPending))
        );
        policy.on_expiry = OnExpiry::Reject;
        assert_eq!(review_step(&rec(Some(0)), &policy, t(5000)), Some(ReviewStep::Expire(OnExpiry::Reject)));
        // Not yet notified: the first notice comes first. Already expired: nothing more.
        assert_eq!(review_step(&rec(None), &policy, t(5000)), None);
        let kept = RequestRecord { expired_at: Some(t(1000)), ..rec(Some(0)) };
        assert_eq!(review_step(&kept, &policy, t(5000)), None);
        let answered = RequestRecord { state: RequestState::Approved, ..rec(Some(0)) };
        assert_eq!(review_step(&answered, &policy, t(5000)), None);
    }
}
