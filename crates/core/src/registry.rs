//! The endpoint registry: what each consumer's endpoint is, which DNS names
//! it has, and who accepted it. Events arrive late, twice and out of order;
//! [`merge`] decides whether an observation of EC2 changes the entry, so a
//! stale read never rolls back a newer one and a deleted endpoint never
//! comes back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{AccountId, EndpointId, IdError, Region, ServiceId};
use crate::request::{Connection, ConnectionState, DnsEntry};
use crate::time::Timestamp;

/// One endpoint as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    pub state: ConnectionState,
    /// Regional name first, then one per Availability Zone, as EC2 lists them.
    pub dns_entries: Vec<DnsEntry>,
    pub accepted_at: Option<Timestamp>,
    /// Who accepted it: Endpoint Gate, an approver, or a person in the console.
    pub accepted_by: Option<String>,
    /// Why, in words: the decision's reasons or how the acceptance was seen.
    pub why: String,
    pub first_seen: Timestamp,
    /// When EC2 was read for the state held here; newer reads win.
    pub observed_at: Timestamp,
    /// Incremented on every write; writes are conditional on it.
    pub version: u64,
    /// Where the consumer's endpoint and VPC live (cross-region
    /// PrivateLink), as EC2 said when the entry was made; `None` in entries
    /// made before, which are not rewritten for it (an endpoint never moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

impl RegistryEntry {
    /// Whether the endpoint belongs in the active view (it is, or may still
    /// become, usable). Deleted, rejected and failed endpoints are history.
    pub fn is_active(&self) -> bool {
        is_active(&self.state)
    }
}

pub fn is_active(state: &ConnectionState) -> bool {
    matches!(
        state,
        ConnectionState::PendingAcceptance | ConnectionState::Pending | ConnectionState::Available
    )
}

/// How far along its life a connection is. A connection only moves
/// forward (pending → available → rejected → deleting → deleted; endpoint
/// ids are never reused), so an observation of a lower rank is stale.
fn rank(state: &ConnectionState) -> u8 {
    match state {
        ConnectionState::PendingAcceptance | ConnectionState::Pending | ConnectionState::Other(_) => 0,
        ConnectionState::Available => 1,
        ConnectionState::Rejected | ConnectionState::Failed | ConnectionState::Expired => 2,
        ConnectionState::Deleting => 3,
        ConnectionState::Deleted => 4,
    }
}

/// Who acted, when an event says so (CloudTrail's caller, or Endpoint
/// Gate's own request record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    pub actor: String,
    pub why: String,
    /// Endpoint Gate revoked the connection: `why` explains its rejection.
    pub revoked: bool,
}

/// One read of EC2 about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub endpoint: EndpointId,
    /// `None`: EC2 no longer lists the connection.
    pub connection: Option<Connection>,
    pub observed_at: Timestamp,
    pub attribution: Option<Attribution>,
}

/// What an observation does to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// Write this entry (its `version` is one more than the stored one).
    Write(Box<RegistryEntry>),
    /// Nothing new.
    Unchanged,
    /// Older than what is stored, or a step back in the connection's life.
    Stale(&'static str),
    /// A connection EC2 does not list and the registry never held.
    Unknown,
}

/// The registry's answer to one observation. Pure; the store writes the
/// result conditionally on `existing.version`, and on a conflict the caller
/// reads again and merges again.
pub fn merge(existing: Option<&RegistryEntry>, obs: &Observation) -> Merge {
    if let Some(old) = existing
        && obs.observed_at < old.observed_at
    {
        return Merge::Stale("an older read than the one stored");
    }
    let next = match (existing, &obs.connection) {
        (None, None) => return Merge::Unknown,
        (Some(old), None) => {
            if old.state == ConnectionState::Deleted {
                return Merge::Unchanged;
            }
            // Gone from EC2's list: deleted, whatever came before.
            RegistryEntry { state: ConnectionState::Deleted, observed_at: obs.observed_at, ..old.clone() }
        }
        (None, Some(conn)) => RegistryEntry {
            endpoint: conn.endpoint.clone(),
            service: conn.service.clone(),
            owner: conn.owner,
            state: conn.state.clone(),
            dns_entries: conn.dns_entries.clone(),
            accepted_at: None,
            accepted_by: None,
            why: String::new(),
            first_seen: obs.observed_at,
            observed_at: obs.observed_at,
            version: 0,
            region: conn.region.clone(),
        },
        (Some(old), Some(conn)) => {
            if rank(&conn.state) < rank(&old.state) {
                return Merge::Stale("a step back in the connection's life");
            }
            RegistryEntry {
                state: conn.state.clone(),
                // DNS names vanish with the endpoint; keep the last known ones.
                dns_entries: if conn.dns_entries.is_empty() {
                    old.dns_entries.clone()
                } else {
                    conn.dns_entries.clone()
                },
                observed_at: obs.observed_at,
                ..old.clone()
            }
        }
    };
    let next = attribute(next, existing, obs);
    match existing {
        Some(old) if same_facts(old, &next) => Merge::Unchanged,
        Some(old) => Merge::Write(Box::new(RegistryEntry { version: old.version + 1, ..next })),
        None => Merge::Write(Box::new(RegistryEntry { version: 1, ..next })),
    }
}

/// Records who accepted, once the endpoint is seen available: the event's
/// attribution if it has one, else "seen available". A later event that
/// knows the actor fills in an acceptance first seen without one.
fn attribute(mut next: RegistryEntry, existing: Option<&RegistryEntry>, obs: &Observation) -> RegistryEntry {
    // A revocation explains the rejection: it replaces the acceptance's why.
    if next.state == ConnectionState::Rejected
        && let Some(a) = obs.attribution.as_ref().filter(|a| a.revoked)
    {
        next.why = a.why.clone();
        return next;
    }
    let accepted = next.state == ConnectionState::Available || next.accepted_at.is_some();
    if !accepted {
        return next;
    }
    if next.accepted_at.is_none() {
        next.accepted_at = Some(obs.observed_at);
    }
    let known = existing.and_then(|e| e.accepted_by.as_deref()).is_some_and(|a| a != UNKNOWN_ACTOR);
    match &obs.attribution {
        // A revocation's attribution explains a rejection, not an acceptance.
        Some(a) if !known && !a.actor.is_empty() && !a.revoked => {
            next.accepted_by = Some(a.actor.clone());
            next.why = a.why.clone();
        }
        _ if next.accepted_by.is_none() => {
            next.accepted_by = Some(UNKNOWN_ACTOR.to_owned());
            next.why = "seen available; who accepted it is not known".to_owned();
        }
        _ => {}
    }
    next
}

/// The actor of an acceptance no event explained.
pub const UNKNOWN_ACTOR: &str = "unknown";

/// Equal but for when EC2 was read: nothing worth a write.
fn same_facts(a: &RegistryEntry, b: &RegistryEntry) -> bool {
    RegistryEntry { observed_at: b.observed_at, version: b.version, ..a.clone() } == *b
}

/// Where a page of an account's or a service's endpoints ended; the next
/// page starts after it. A view lists its active endpoints first, then
/// (with history) the others, each part in id order, so a position names
/// its part: `active:vpce-…` or `history:vpce-…`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ViewPosition {
    /// In the history part, which follows the active part (`false` < `true`).
    pub history: bool,
    pub endpoint: EndpointId,
}

impl ViewPosition {
    /// The position of `entry` in its view.
    pub fn of(entry: &RegistryEntry) -> Self {
        Self { history: !entry.is_active(), endpoint: entry.endpoint.clone() }
    }

    /// Whether `entry` comes after this position in its view.
    pub fn precedes(&self, entry: &RegistryEntry) -> bool {
        *self < Self::of(entry)
    }

    fn part(&self) -> &'static str {
        if self.history { "history" } else { "active" }
    }
}

impl fmt::Display for ViewPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.part(), self.endpoint)
    }
}

impl FromStr for ViewPosition {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        const KIND: &str = "page position";
        let (part, endpoint) = s
            .split_once(':')
            .ok_or_else(|| IdError::new(KIND, s, "must be active:<vpce-…> or history:<vpce-…>"))?;
        let history = match part {
            "active" => false,
            "history" => true,
            _ => return Err(IdError::new(KIND, s, "must start with active: or history:")),
        };
        let endpoint = endpoint.parse().map_err(|_| IdError::new(KIND, s, "must end in an endpoint id"))?;
        Ok(Self { history, endpoint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + secs)
    }

    fn conn(state: ConnectionState, dns: bool) -> Connection {
        Connection {
            service: "vpce-svc-0123456789abcdef0".parse().expect("service"),
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            owner: "210000000001".parse().expect("account"),
            state,
            dns_entries: if dns {
                vec![DnsEntry {
                    dns_name: "vpce-0123-abcd.vpce-svc-0123.us-east-1.vpce.amazonaws.com".into(),
                    hosted_zone_id: "Z7HUB22UULQXV".into(),
                }]
            } else {
                vec![]
            },
            created_at: None,
            region: None,
        }
    }

    #[test]
    fn the_region_is_kept_from_the_first_sight_of_the_endpoint() {
        let mut first = conn(ConnectionState::PendingAcceptance, false);
        first.region = Some("eu-west-1".parse().expect("region"));
        let seen = Observation {
            endpoint: first.endpoint.clone(),
            connection: Some(first),
            observed_at: t(1),
            attribution: None,
        };
        let Merge::Write(entry) = merge(None, &seen) else { panic!("a new endpoint is written") };
        assert_eq!(entry.region.as_ref().map(ToString::to_string).as_deref(), Some("eu-west-1"));
        let later = obs(Some(ConnectionState::Available), 2, Some("endpoint-gate"));
        let Merge::Write(next) = merge(Some(&entry), &later) else { panic!("an acceptance is written") };
        assert_eq!(next.region, entry.region, "an endpoint never moves");
        let json = serde_json::to_value(&*next).expect("json");
        assert_eq!(json["region"], "eu-west-1", "lookup's JSON shows it");
        let old = RegistryEntry { region: None, ..(*next).clone() };
        assert!(
            serde_json::to_value(&old).expect("json").get("region").is_none(),
            "entries from before keep their form"
        );
    }

    fn obs(state: Option<ConnectionState>, at: i64, actor: Option<&str>) -> Observation {
        Observation {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            connection: state.map(|s| conn(s, true)),
            observed_at: t(at),
            attribution: actor.map(|a| Attribution {
                actor: a.into(),
                why: format!("by {a}"),
                revoked: false,
            }),
        }
    }

    fn apply(entry: Option<RegistryEntry>, o: &Observation) -> Option<RegistryEntry> {
        match merge(entry.as_ref(), o) {
            Merge::Write(next) => Some(*next),
            _ => entry,
        }
    }

    #[test]
    fn an_accepted_endpoint_is_recorded_with_its_dns_names_and_who_accepted_it() {
        let e =
            apply(None, &obs(Some(ConnectionState::Available), 0, Some("endpoint-gate"))).expect("written");
        assert_eq!(e.state, ConnectionState::Available);
        assert_eq!(e.dns_entries.len(), 1);
        assert_eq!((e.accepted_by.as_deref(), e.accepted_at), (Some("endpoint-gate"), Some(t(0))));
        assert!(e.is_active());
    }

    #[test]
    fn late_and_repeated_events_change_nothing() {
        let e = apply(None, &obs(Some(ConnectionState::Available), 10, None)).expect("written");
        assert_eq!(
            merge(Some(&e), &obs(Some(ConnectionState::PendingAcceptance), 5, None)),
            Merge::Stale("an older read than the one stored")
        );
        assert_eq!(merge(Some(&e), &obs(Some(ConnectionState::Available), 20, None)), Merge::Unchanged);
    }

    #[test]
    fn a_deleted_endpoint_never_comes_back() {
        let e = apply(None, &obs(Some(ConnectionState::Available), 0, None)).expect("written");
        let gone = apply(Some(e), &obs(None, 10, None)).expect("deleted");
        assert_eq!(gone.state, ConnectionState::Deleted);
        assert!(!gone.is_active());
        assert_eq!(gone.dns_entries.len(), 1, "the last DNS names stay in history");
        // A read taken later but answered from a lagging replica.
        assert!(matches!(
            merge(Some(&gone), &obs(Some(ConnectionState::Available), 20, None)),
            Merge::Stale(_)
        ));
    }

    #[test]
    fn a_console_actor_fills_in_an_acceptance_seen_without_one() {
        let seen = apply(None, &obs(Some(ConnectionState::Available), 0, None)).expect("written");
        assert_eq!(seen.accepted_by.as_deref(), Some(UNKNOWN_ACTOR));
        let told = apply(
            Some(seen),
            &obs(Some(ConnectionState::Available), 5, Some("arn:aws:sts::1:assumed-role/Admin/alice")),
        )
        .expect("written");
        assert_eq!(told.accepted_by.as_deref(), Some("arn:aws:sts::1:assumed-role/Admin/alice"));
        assert_eq!(told.accepted_at, Some(t(0)), "accepted when first seen available");
        // A known actor is not overwritten by a later event.
        assert_eq!(
            merge(Some(&told), &obs(Some(ConnectionState::Available), 9, Some("someone-else"))),
            Merge::Unchanged
        );
    }

    #[test]
    fn a_revocation_says_why_the_accepted_endpoint_was_rejected() {
        let e =
            apply(None, &obs(Some(ConnectionState::Available), 0, Some("endpoint-gate"))).expect("written");
        let mut revoked = obs(Some(ConnectionState::Rejected), 10, Some("endpoint-gate"));
        revoked.attribution = Some(Attribution {
            actor: "endpoint-gate".into(),
            why: "revoked by endpoint-gate: your account is no longer admitted".into(),
            revoked: true,
        });
        let r = apply(Some(e.clone()), &revoked).expect("written");
        assert_eq!(r.state, ConnectionState::Rejected);
        assert_eq!(r.why, "revoked by endpoint-gate: your account is no longer admitted");
        assert_eq!((r.accepted_by, r.accepted_at), (e.accepted_by.clone(), e.accepted_at), "kept as history");
        // A rejection nobody explains as a revocation keeps the acceptance's why.
        let plain = apply(Some(e.clone()), &obs(Some(ConnectionState::Rejected), 10, None)).expect("written");
        assert_eq!(plain.why, e.why);
        // Seen available while the revocation is under way: not who accepted it.
        let during = Observation {
            attribution: revoked.attribution.clone(),
            ..obs(Some(ConnectionState::Available), 5, None)
        };
        let seen = apply(None, &during).expect("written");
        assert_eq!(seen.accepted_by.as_deref(), Some(UNKNOWN_ACTOR));
    }

    #[test]
    fn a_connection_neither_listed_nor_known_is_not_invented() {
        assert_eq!(merge(None, &obs(None, 0, None)), Merge::Unknown);
    }

    fn lifecycle() -> Vec<Option<ConnectionState>> {
        vec![
            Some(ConnectionState::PendingAcceptance),
            Some(ConnectionState::Available),
            Some(ConnectionState::Deleting),
            Some(ConnectionState::Deleted),
            None,
        ]
    }

    proptest! {
        /// Reads of a real lifecycle, delivered in any order and any number
        /// of times, end where the newest read says.
        #[test]
        fn any_delivery_order_ends_at_the_newest_truth(
            order in Just((0..5usize).collect::<Vec<_>>()).prop_shuffle(),
            repeats in prop::collection::vec(0..5usize, 0..6),
        ) {
            let states = lifecycle();
            let mut entry = None;
            for i in order.iter().chain(repeats.iter()) {
                entry = apply(entry, &obs(states[*i].clone(), *i as i64, None));
            }
            let entry = entry.expect("something was recorded");
            prop_assert_eq!(&entry.state, &ConnectionState::Deleted);
            prop_assert!(!entry.is_active());
        }

        #[test]
        fn a_rejected_endpoint_is_never_shown_active(order in Just((0..3usize).collect::<Vec<_>>()).prop_shuffle()) {
            let states = [ConnectionState::PendingAcceptance, ConnectionState::Rejected, ConnectionState::Rejected];
            let mut entry = None;
            for i in &order {
                entry = apply(entry, &obs(Some(states[*i].clone()), *i as i64, None));
            }
            let entry = entry.expect("recorded");
            prop_assert_eq!(&entry.state, &ConnectionState::Rejected);
            prop_assert_eq!(entry.accepted_by, None);
        }
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;

    #[test]
    fn states_only_move_forward() {
        let life = [
            ConnectionState::PendingAcceptance,
            ConnectionState::Available,
            ConnectionState::Rejected,
            ConnectionState::Deleting,
            ConnectionState::Deleted,
        ];
        assert!(life.windows(2).all(|w| rank(&w[0]) < rank(&w[1])));
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn a_position_reads_back_what_it_writes() {
        for text in ["active:vpce-0123456789abcdef0", "history:vpce-0abc1234"] {
            let position: ViewPosition = text.parse().expect("valid");
            assert_eq!(position.to_string(), text);
        }
    }

    #[test]
    fn a_hostile_position_is_refused_and_named() {
        for text in [
            "",
            ":",
            "vpce-0123456789abcdef0",
            "active:",
            "active:vpce-svc-0123456789abcdef0",
            "ACTIVE:vpce-0123456789abcdef0",
            "active:vpce-0123456789abcdef0:x",
            "history:vpce-0123456789abcdef0#ENTRY",
            "pending:vpce-0123456789abcdef0",
            &format!("active:vpce-{}", "0".repeat(10_000)),
        ] {
            let err = text.parse::<ViewPosition>().expect_err(text);
            assert_eq!(err.kind, "page position");
            assert!(err.input.chars().count() <= 80, "the message keeps a prefix of {} chars", text.len());
            assert!(text.starts_with(&err.input), "{err}");
        }
    }

    #[test]
    fn the_active_part_comes_before_history_and_ids_order_each_part() {
        let at = |text: &str| text.parse::<ViewPosition>().expect("valid");
        assert!(at("active:vpce-0000000000000000f") < at("history:vpce-00000000000000000"));
        assert!(at("active:vpce-00000000000000001") < at("active:vpce-00000000000000002"));
        assert!(at("history:vpce-00000000000000001") < at("history:vpce-00000000000000002"));
    }
}
