//! A plan saved by `plan --out` is applied later, perhaps by another build
//! of `endpoint-gate`: its format is a stored format. `golden/plan.json`
//! was saved by the CLI before this test existed and must keep loading as
//! the same plan, and a plan must still be saved in that form.

use gate_app::subscriptions::Subscription;
use gate_cli::plan::{Change, FieldChange, Kind, Plan, SubscriptionPlan, Target};
use gate_core::{AllowEntry, Effect, ProtectedRange, Scope, ServicePolicy};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/plan.json");

fn field(name: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
    FieldChange { field: name.into(), before: before.map(Into::into), after: after.map(Into::into) }
}

fn expected() -> Plan {
    let svc: Scope = "vpce-svc-0abc1234def567890".parse().expect("scope");
    let mut policy = ServicePolicy::cautious(svc.clone());
    policy.protected_cidrs =
        vec![ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() }];
    policy.approvers = vec!["netops@example.com".into(), "slack:U024BE7LH".into()];
    policy.slack_channel = Some("#netops-approvals".into());
    let entry = AllowEntry {
        scope: Scope::Any,
        principal: "210000000001".parse().expect("account"),
        effect: Effect::Allow,
        declared_cidrs: vec!["172.20.0.0/16".parse().expect("cidr")],
        expires_at: Some("2027-01-01T00:00:00Z".parse().expect("time")),
        owner: "team-a-payments".into(),
        note: "JIRA-123".into(),
        added_by: "arn:aws:sts::111122223333:assumed-role/netops/alice".into(),
        added_at: Some("2026-01-01T12:00:00Z".parse().expect("time")),
    };
    Plan {
        changes: vec![
            Change {
                kind: Kind::Add,
                target: Target::Policy { scope: svc.clone() },
                fields: vec![field("approvers", None, Some("netops@example.com, slack:U024BE7LH"))],
                revision: None,
                policy: Some(policy),
                entry: None,
                contact: None,
            },
            Change {
                kind: Kind::Change,
                target: Target::Entry { scope: Scope::Any, principal: entry.principal.clone() },
                fields: vec![field("owner", Some("team-a"), Some("team-a-payments"))],
                revision: Some(3),
                policy: None,
                entry: Some(entry),
                contact: None,
            },
            Change {
                kind: Kind::Remove,
                target: Target::Entry { scope: svc, principal: "210000000009".parse().expect("account") },
                fields: vec![field("effect", Some("deny"), None)],
                revision: Some(1),
                policy: None,
                entry: None,
                contact: None,
            },
        ],
        unmanaged: vec![Target::Policy { scope: Scope::Any }],
        subscriptions: Some(SubscriptionPlan {
            topic: "arn:aws:sns:eu-west-1:111122223333:endpoint-gate-review".into(),
            subscribe: vec!["netops@example.com".into()],
            pending: vec![],
            unknown: vec![Subscription {
                arn: Some("arn:aws:sns:eu-west-1:111122223333:endpoint-gate-review:0b1c".into()),
                protocol: "email".into(),
                endpoint: "someone@example.com".into(),
                approver_filter: None,
            }],
            unsubscribe: vec!["arn:aws:sns:eu-west-1:111122223333:endpoint-gate-review:0b1c".into()],
        }),
        consumer_subscriptions: None,
        coverage: vec![],
        principals: vec![],
        revocations: vec![],
        services: None,
    }
}

fn golden() -> String {
    std::fs::read_to_string(GOLDEN).expect("the golden plan")
}

#[test]
fn a_saved_plan_loads_as_the_same_plan() {
    let plan: Plan = serde_json::from_str(&golden()).expect("a plan saved by `plan --out` loads");
    assert_eq!(plan, expected());
}

#[test]
fn a_plan_is_saved_in_the_same_form() {
    let saved: serde_json::Value =
        serde_json::from_str(&serde_json::to_string_pretty(&expected()).expect("saves")).expect("JSON");
    let golden: serde_json::Value = serde_json::from_str(&golden()).expect("JSON");
    assert_eq!(saved, golden);
}

#[test]
fn a_plan_saved_before_subscriptions_were_planned_still_loads() {
    let mut older: serde_json::Value = serde_json::from_str(&golden()).expect("JSON");
    older.as_object_mut().expect("an object").remove("subscriptions");
    let plan: Plan = serde_json::from_value(older).expect("loads");
    assert_eq!(plan, Plan { subscriptions: None, ..expected() });
}

/// OU and organization entries are saved beside the scope under the key
/// the policy file uses, and read back.
#[test]
fn a_plan_with_ou_and_organization_entries_round_trips() {
    let mut plan = expected();
    let mut ou_entry = plan.changes[1].entry.clone().expect("an entry");
    ou_entry.principal = "ou-ab12-cd34ef56".parse().expect("ou");
    plan.changes[1].target = Target::Entry { scope: Scope::Any, principal: ou_entry.principal.clone() };
    plan.changes[1].entry = Some(ou_entry);
    plan.changes[2].target =
        Target::Entry { scope: Scope::Any, principal: "o-abcdef1234".parse().expect("org") };
    let saved = serde_json::to_value(&plan).expect("saves");
    assert_eq!(
        saved["changes"][1]["target"],
        serde_json::json!({"type": "entry", "scope": "*", "ou": "ou-ab12-cd34ef56"})
    );
    assert_eq!(saved["changes"][1]["entry"]["ou"], "ou-ab12-cd34ef56");
    assert!(saved["changes"][1]["entry"].get("account").is_none());
    assert_eq!(saved["changes"][2]["target"]["organization"], "o-abcdef1234");
    let read: Plan = serde_json::from_value(saved).expect("reads");
    assert_eq!(read, plan);
}
