//! The golden items in `tests/golden/` and the domain values they hold.
//! They were written by the code before the adapter owned its schema.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::ports::{AuditEvent, AuditKind, Versioned};
use gate_core::{
    AllowEntry, ConnectionState, Contact, DeclaredCidrs, DnsEntry, Effect, OnExpiry, Outcome, OverlapMode,
    ProtectedRange, Reason, RegistryEntry, RequestRecord, RequestState, Rule, Scope, ServicePolicy,
    SlackMessage, Timestamp, UnknownCidr, Unlisted,
};
use serde_json::Value;

use super::Item;

pub(super) const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// One stored kind's expected value. Audit events carry the clock and
/// counter that their sort key was made of.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Golden {
    Policy(Versioned<ServicePolicy>),
    Entry(Versioned<AllowEntry>),
    Request(RequestRecord),
    Audit(AuditEvent, u128, u32),
    Registry(RegistryEntry),
    Change(RegistryEntry),
    Contact(Versioned<Contact>),
}

/// DynamoDB's JSON form of an attribute value, as the console and the CLI
/// show items.
pub(super) fn attribute(v: &Value) -> Result<AttributeValue, String> {
    let (tag, inner) =
        v.as_object().and_then(|o| o.iter().next()).ok_or(format!("not a typed value: {v}"))?;
    let text = || inner.as_str().map(str::to_owned).ok_or(format!("{tag} wants a string: {inner}"));
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL wants a bool")?),
        "NULL" => AttributeValue::Null(true),
        "L" => AttributeValue::L(
            inner.as_array().ok_or("L wants a list")?.iter().map(attribute).collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item(inner)?),
        other => return Err(format!("unexpected type {other}")),
    })
}

pub(super) fn item(v: &Value) -> Result<Item, String> {
    let map = v.as_object().ok_or(format!("not an item: {v}"))?;
    map.iter().map(|(k, v)| Ok((k.clone(), attribute(v)?))).collect()
}

pub(super) fn load(name: &str) -> Item {
    let text =
        std::fs::read_to_string(format!("{DIR}/{name}.json")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    item(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("a test timestamp")
}

const SVC: &str = "vpce-svc-0abc1234def567890";
const VPCE: &str = "vpce-0123456789abcdef0";
const OWNER: &str = "222233334444";

fn record(state: RequestState) -> RequestRecord {
    RequestRecord {
        service: SVC.parse().expect("service"),
        endpoint: VPCE.parse().expect("endpoint"),
        owner: OWNER.parse().expect("owner"),
        state,
        reasons: vec![
            Reason {
                rule: Rule::Unlisted,
                pushes: Some(Outcome::Review),
                text: "account 222233334444 has no allow entry".into(),
                consumer: Some("your account is not on the allowlist".into()),
            },
            Reason {
                rule: Rule::CidrsDiscovered,
                pushes: None,
                text: "VPC CIDRs: 172.20.0.0/16".into(),
                consumer: None,
            },
        ],
        consumer_cidrs: vec!["172.20.0.0/16".parse().expect("cidr"), "10.8.0.0/24".parse().expect("cidr")],
        region: None,
        actor: "endpoint-gate".into(),
        decided_at: t("2026-01-02T03:04:05Z"),
        acted_at: None,
        notified_at: None,
        reminders: 0,
        expired_at: None,
        slack_message: None,
        version: 1,
    }
}

fn registry(state: ConnectionState, accepted: bool, version: u64) -> RegistryEntry {
    let dns = |name: &str| DnsEntry {
        dns_name: format!(
            "vpce-0123456789abcdef0-abcdefgh{name}.vpce-svc-0abc1234def567890.eu-west-1.vpce.amazonaws.com"
        ),
        hosted_zone_id: "Z7HUB22UULQXV".into(),
    };
    RegistryEntry {
        endpoint: VPCE.parse().expect("endpoint"),
        service: SVC.parse().expect("service"),
        owner: OWNER.parse().expect("owner"),
        state,
        dns_entries: vec![dns(""), dns("-eu-west-1a")],
        accepted_at: accepted.then(|| t("2026-01-02T03:04:06Z")),
        accepted_by: accepted.then(|| "endpoint-gate".to_owned()),
        why: if accepted { "account 222233334444 is allowlisted".into() } else { String::new() },
        first_seen: t("2026-01-02T03:04:00Z"),
        observed_at: t("2026-01-02T03:05:00Z"),
        version,
        region: None,
    }
}

fn policies() -> Vec<(&'static str, Golden)> {
    let policy = ServicePolicy {
        scope: SVC.parse().expect("scope"),
        unlisted: Unlisted::Reject,
        overlap: OverlapMode::Reject,
        protected_cidrs: vec![
            ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() },
            ProtectedRange { cidr: "192.168.0.0/16".parse().expect("cidr"), label: String::new() },
        ],
        unknown_cidr: UnknownCidr::Allow,
        declared_cidrs: DeclaredCidrs::Trust,
        unique_consumer_cidrs: true,
        approvers: vec!["netops@example.com".into(), "slack:U024BE7LH".into()],
        slack_channel: Some("#netops-approvals".into()),
        approval_ttl_secs: 172_800,
        reminder_interval_secs: 3_600,
        on_expiry: OnExpiry::Reject,
        revoke: gate_core::Revoke::Keep,
        mode: gate_core::Mode::Enforce,
        consumer_regions: Vec::new(),
    };
    let regions = ServicePolicy {
        consumer_regions: vec!["us-east-1".parse().expect("region"), "eu-west-1".parse().expect("region")],
        ..ServicePolicy::cautious("vpce-svc-0fff1234def567890".parse().expect("scope"))
    };
    let entry = AllowEntry {
        scope: SVC.parse().expect("scope"),
        principal: OWNER.parse().expect("account"),
        effect: Effect::Allow,
        declared_cidrs: vec!["172.20.0.0/16".parse().expect("cidr")],
        expires_at: Some(t("2027-01-01T00:00:00Z")),
        owner: "team-payments".into(),
        note: "JIRA-123".into(),
        added_by: "arn:aws:sts::111122223333:assumed-role/netops/alice".into(),
        added_at: Some(t("2026-01-01T12:00:00Z")),
    };
    let deny = AllowEntry {
        scope: Scope::Any,
        principal: "210000000002".parse().expect("account"),
        effect: Effect::Deny,
        declared_cidrs: vec![],
        expires_at: None,
        owner: String::new(),
        note: String::new(),
        added_by: String::new(),
        added_at: None,
    };
    vec![
        ("policy_service", Golden::Policy(Versioned { value: policy, revision: 4 })),
        (
            "policy_any_cautious",
            Golden::Policy(Versioned { value: ServicePolicy::cautious(Scope::Any), revision: 1 }),
        ),
        ("policy_consumer_regions", Golden::Policy(Versioned { value: regions, revision: 1 })),
        ("entry_service_allow", Golden::Entry(Versioned { value: entry, revision: 2 })),
        ("entry_any_deny", Golden::Entry(Versioned { value: deny, revision: 1 })),
    ]
}

fn requests() -> Vec<(&'static str, Golden)> {
    let slack = || Some(SlackMessage { channel: "C0123ABCD".into(), ts: "1767323047.000100".into() });
    let review = RequestRecord {
        notified_at: Some(t("2026-01-02T03:04:07Z")),
        reminders: 2,
        slack_message: slack(),
        version: 4,
        ..record(RequestState::Review)
    };
    let kept = RequestRecord {
        notified_at: Some(t("2026-01-03T03:04:07Z")),
        reminders: 3,
        expired_at: Some(t("2026-01-05T03:04:05Z")),
        version: 6,
        ..record(RequestState::Review)
    };
    let mut accepted = RequestRecord {
        acted_at: Some(t("2026-01-02T03:04:06Z")),
        version: 2,
        ..record(RequestState::Accepted)
    };
    accepted.reasons[0] = Reason {
        rule: Rule::Allowlisted,
        pushes: Some(Outcome::Accept),
        text: "account 222233334444 is allowlisted (team-payments: JIRA-123)".into(),
        consumer: Some("your account is on the allowlist for this service".into()),
    };
    let approved = RequestRecord {
        actor: "slack:U024BE7LH (alice)".into(),
        notified_at: Some(t("2026-01-02T03:04:07Z")),
        acted_at: Some(t("2026-01-02T05:00:00Z")),
        slack_message: slack(),
        version: 5,
        ..record(RequestState::Approved)
    };
    let rejected = RequestRecord {
        reasons: vec![Reason {
            rule: Rule::Denied,
            pushes: Some(Outcome::Reject),
            text: "account 222233334444 is denied".into(),
            consumer: None,
        }],
        consumer_cidrs: vec![],
        region: None,
        ..record(RequestState::Rejected)
    };
    vec![
        (
            "request_review_cross_region",
            Golden::Request(RequestRecord {
                region: Some("ap-south-1".parse().expect("region")),
                ..review.clone()
            }),
        ),
        ("request_review_slack", Golden::Request(review)),
        ("request_review_expired_kept", Golden::Request(kept)),
        ("request_accepted_acted", Golden::Request(accepted)),
        ("request_approved", Golden::Request(approved)),
        ("request_rejected_unacted", Golden::Request(rejected)),
    ]
}

fn events() -> Vec<(&'static str, Golden)> {
    let decided = AuditEvent {
        at: t("2026-01-02T03:04:05Z"),
        kind: AuditKind::Decided,
        actor: "endpoint-gate".into(),
        endpoint: Some(VPCE.parse().expect("endpoint")),
        service: Some(SVC.parse().expect("service")),
        owner: Some(OWNER.parse().expect("owner")),
        outcome: Some(Outcome::Review),
        detail: "account 222233334444 has no allow entry → review".into(),
    };
    let bad = AuditEvent {
        kind: AuditKind::BadInput,
        endpoint: None,
        service: None,
        owner: None,
        outcome: None,
        detail: "a notification that names no endpoint".into(),
        ..decided.clone()
    };
    let refused = AuditEvent {
        kind: AuditKind::ActionRefused,
        outcome: Some(Outcome::Accept),
        detail: "EC2 refused: InvalidState".into(),
        ..decided.clone()
    };
    let active = registry(ConnectionState::Available, true, 3);
    vec![
        ("audit_decided", Golden::Audit(decided, 1_767_323_045_000_000_000, 0)),
        ("audit_bad_input", Golden::Audit(bad, 1_767_323_045_000_000_001, 1)),
        ("audit_action_refused", Golden::Audit(refused, 1_767_323_046_000_000_000, 2)),
        ("registry_entry_active", Golden::Registry(active.clone())),
        ("registry_entry_history", Golden::Registry(registry(ConnectionState::Deleted, true, 5))),
        (
            "registry_entry_other_state",
            Golden::Registry(registry(ConnectionState::Other("partiallyAvailable".into()), false, 1)),
        ),
        (
            "registry_entry_cross_region",
            Golden::Registry(RegistryEntry {
                region: Some("eu-west-1".parse().expect("region")),
                ..active.clone()
            }),
        ),
        ("registry_change", Golden::Change(active)),
    ]
}

/// Every golden item by its file name, with what it holds.
pub(super) fn all() -> HashMap<&'static str, Golden> {
    let contact = Contact {
        account: "210000000002".parse().expect("account"),
        email: Some("team-b@example.com".into()),
        slack_channel: Some("#team-b".into()),
    };
    let contacts = [("contact_email_slack", Golden::Contact(Versioned { value: contact, revision: 2 }))];
    policies().into_iter().chain(requests()).chain(events()).chain(contacts).collect()
}
