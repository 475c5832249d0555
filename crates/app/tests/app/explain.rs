//! `explain` (what the CLI shows) agrees with what decide does, on a table
//! of scenarios crossing policies (in enforce and shadow mode), allow
//! entries, consumer CIDRs, AWS Organizations and the consumer's region.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::explain::explain;
use gate_app::memory::*;
use gate_app::organizations::Placements;
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const ACCOUNT: &str = "222233334444";

const ORG: &str = "o-abcdef1234";
const WORKLOADS: &str = "ou-ab12-11111111";
const PROD: &str = "ou-ab12-22222222";

/// The account sits in Workloads/Prod.
fn placement() -> Placement {
    Placement {
        org: ORG.parse().expect("org"),
        path: [(WORKLOADS, "Workloads"), (PROD, "Prod")]
            .iter()
            .map(|(id, name)| OuStep { id: id.parse().expect("ou"), name: (*name).into() })
            .collect(),
    }
}

fn group(principal: &str, scope: &str, effect: Effect) -> AllowEntry {
    AllowEntry { principal: principal.parse().expect("principal"), ..entry(scope, effect, false, &[]) }
}

fn entry(scope: &str, effect: Effect, expired: bool, declared: &[&str]) -> AllowEntry {
    AllowEntry {
        scope: scope.parse().expect("scope"),
        principal: ACCOUNT.parse().expect("account"),
        effect,
        declared_cidrs: declared.iter().map(|c| c.parse().expect("cidr")).collect(),
        expires_at: Some(if expired { "2026-01-01" } else { "2030-01-01" }.parse().expect("date")),
        owner: "netops".into(),
        note: String::new(),
        added_by: "test".into(),
        added_at: None,
    }
}

#[tokio::test]
async fn explain_agrees_with_decide_on_every_scenario() {
    let policies: Vec<(&str, ServicePolicy)> = vec![
        ("cautious", ServicePolicy::cautious(Scope::Any)),
        ("strict", {
            let mut p = ServicePolicy::cautious(Scope::Any);
            p.unlisted = Unlisted::Reject;
            p.overlap = OverlapMode::Reject;
            p.unknown_cidr = UnknownCidr::Reject;
            p.protected_cidrs =
                vec![ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() }];
            p
        }),
        ("relaxed", {
            let mut p = ServicePolicy::cautious(SVC.parse().expect("scope"));
            p.overlap = OverlapMode::Ignore;
            p.unknown_cidr = UnknownCidr::Allow;
            p.unique_consumer_cidrs = true;
            p.protected_cidrs =
                vec![ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() }];
            p
        }),
        ("regional", {
            let mut p = ServicePolicy::cautious(Scope::Any);
            p.overlap = OverlapMode::Reject;
            p.consumer_regions = vec!["us-east-1".parse().expect("region")];
            p.protected_cidrs =
                vec![ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() }];
            p
        }),
    ];
    // Where the consumer's VPC lives; `None` when EC2 said nothing.
    let regions: Vec<(&str, Option<Region>)> = vec![
        ("us-east-1", Some("us-east-1".parse().expect("region"))),
        ("eu-west-1", Some("eu-west-1".parse().expect("region"))),
        ("region unknown", None),
    ];
    let entry_sets: Vec<(&str, Vec<AllowEntry>)> = vec![
        ("none", vec![]),
        ("allow svc", vec![entry(SVC, Effect::Allow, false, &[])]),
        ("allow * declared", vec![entry("*", Effect::Allow, false, &["10.20.0.0/16"])]),
        ("allow expired", vec![entry(SVC, Effect::Allow, true, &[])]),
        ("deny *", vec![entry(SVC, Effect::Allow, false, &[]), entry("*", Effect::Deny, false, &[])]),
        ("deny expired", vec![entry(SVC, Effect::Allow, false, &[]), entry("*", Effect::Deny, true, &[])]),
        ("allow ou", vec![group(PROD, SVC, Effect::Allow)]),
        ("allow org", vec![group(ORG, "*", Effect::Allow)]),
        ("deny parent ou", vec![group(PROD, SVC, Effect::Allow), group(WORKLOADS, "*", Effect::Deny)]),
        ("deny ou over account", vec![entry(SVC, Effect::Allow, false, &[]), group(PROD, "*", Effect::Deny)]),
    ];
    // Organizations off, readable, or failing as a refused role does.
    let orgs: Vec<(&str, Option<Option<&str>>)> = vec![
        ("no organizations", None),
        ("in Workloads/Prod", Some(None)),
        ("organizations unreadable", Some(Some("ListParents was refused: AccessDeniedException"))),
    ];
    let networks: Vec<(&str, Option<Vec<&str>>)> = vec![
        ("unreadable", None),
        ("clean", Some(vec!["172.31.0.0/16"])),
        ("protected", Some(vec!["10.1.0.0/16"])),
    ];

    let mut scenarios = 0;
    let mut outcomes = HashMap::new();
    let mut org_outcomes = HashMap::new();
    let mut region_outcomes = HashMap::new();
    let places = networks.iter().flat_map(|n| orgs.iter().map(move |o| (n, o)));
    let places: Vec<_> = places.flat_map(|p| regions.iter().map(move |r| (p, r))).collect();
    // Every scenario in enforce mode, and again in shadow mode, where the
    // verdict kept must be explain's and nothing may be done.
    let modes = policies.iter().flat_map(|(n, p)| {
        [Mode::Enforce, Mode::Shadow].map(|mode| (*n, ServicePolicy { mode, ..p.clone() }))
    });
    for (pname, policy) in modes {
        for (ename, entries) in &entry_sets {
            for (((nname, cidrs), (oname, org)), (rname, region)) in places.iter().copied() {
                let owner: AccountId = ACCOUNT.parse().expect("account");
                let endpoint: EndpointId = format!("vpce-{:017x}", scenarios).parse().expect("endpoint");
                let conn = Connection {
                    service: SVC.parse().expect("svc"),
                    endpoint: endpoint.clone(),
                    owner,
                    state: ConnectionState::PendingAcceptance,
                    dns_entries: vec![],
                    created_at: None,
                    region: region.clone(),
                };
                // The VPC exists in the connection's region only, as in AWS.
                let vpcs: HashMap<(AccountId, Region), Vec<Cidr>> = cidrs
                    .iter()
                    .zip(region)
                    .map(|(c, r)| ((owner, r.clone()), c.iter().map(|x| x.parse().expect("cidr")).collect()))
                    .collect();
                let requests = Arc::new(InMemoryRequests::default());
                // Another consumer already accepted on 10.1.0.0/24, for the uniqueness rule.
                let other = RequestRecord {
                    service: SVC.parse().expect("svc"),
                    endpoint: "vpce-0fffffffffffffff0".parse().expect("endpoint"),
                    owner: "999988887777".parse().expect("account"),
                    state: RequestState::Accepted,
                    reasons: vec![],
                    consumer_cidrs: vec!["10.1.0.0/24".parse().expect("cidr")],
                    region: None,
                    actor: "endpoint-gate".into(),
                    decided_at: now(),
                    acted_at: Some(now()),
                    notified_at: None,
                    reminders: 0,
                    expired_at: None,
                    slack_message: None,
                    version: 2,
                };
                requests.records.lock().unwrap().insert(other.endpoint.clone(), other);
                let policies_port = Arc::new(InMemoryPolicies::new(vec![policy.clone()], entries.clone()));
                let placements = org.map(|failure| {
                    let port = InMemoryOrganizations::with([(owner, placement())]);
                    *port.fail.lock().unwrap() = failure.map(str::to_owned);
                    Arc::new(Placements::new(Arc::new(port), 900))
                });
                let connections = Arc::new(InMemoryConnections::with([conn]));
                let notifier = Arc::new(RecordingNotifier::default());
                let shadows = Arc::new(InMemoryShadows::default());
                let mut decider = Decide::new(
                    connections.clone(),
                    Arc::new(RegionalNetworks { vpcs: vpcs.clone(), ..Default::default() }),
                    policies_port.clone(),
                    requests.clone(),
                    Arc::new(InMemoryAudit::default()),
                    notifier.clone(),
                    Settings::default(),
                )
                .with_shadows(shadows.clone());
                if let Some(p) = &placements {
                    decider = decider.with_placements(p.clone());
                }

                let discovery = match vpcs.values().next() {
                    Some(c) => Discovery::Read(c.clone()),
                    None => {
                        Discovery::Unavailable(format!("endpoint {endpoint} not found in account {owner}"))
                    }
                };
                let explained = explain(
                    policies_port.as_ref(),
                    requests.as_ref(),
                    placements.as_deref(),
                    &conn_service(),
                    owner,
                    region.as_ref(),
                    &discovery,
                    now(),
                )
                .await
                .expect("explains");
                let report = decider.decide_endpoint(&endpoint, now()).await.expect("decides");
                let name = format!("{pname} ({:?}) / {ename} / {nname} / {oname} / {rname}", policy.mode);
                assert_eq!(explained.mode, policy.mode, "{name}");
                let (outcome, reasons) = match policy.mode {
                    Mode::Enforce => (report.decided[0].outcome, report.decided[0].reasons.clone()),
                    Mode::Shadow => {
                        assert!(report.decided.is_empty(), "{name}");
                        assert_eq!(connections.act_call_count(), 0, "{name}");
                        assert!(notifier.sent.lock().unwrap().is_empty(), "{name}");
                        assert!(requests.get(&endpoint).is_none(), "{name}");
                        let v = shadows.get(&endpoint).expect("a verdict is kept");
                        assert_eq!(v.would, Would::from(explained.decision.outcome), "{name}");
                        (explained.decision.outcome, v.reasons)
                    }
                };
                assert_eq!(explained.decision.outcome, outcome, "{name}");
                assert_eq!(explained.decision.summary(), reasons, "{name}");
                if oname.contains("unreadable") {
                    assert_ne!(outcome, Outcome::Accept, "{name}: {reasons}");
                }
                if ename.contains("ou") || ename.contains("org") {
                    *org_outcomes.entry((*oname, outcome)).or_insert(0) += 1;
                }
                if pname == "regional" {
                    *region_outcomes.entry((*rname, outcome)).or_insert(0) += 1;
                }
                *outcomes.entry((policy.mode, outcome)).or_insert(0) += 1;
                scenarios += 1;
            }
        }
    }
    assert!(scenarios >= 50, "{scenarios} scenarios");
    // The table is only worth something if it reaches every outcome, in both modes.
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    // OU entries accept and reject when the organization is read, and
    // never accept when it is not.
    for reached in [("in Workloads/Prod", Outcome::Accept), ("in Workloads/Prod", Outcome::Reject)] {
        assert!(org_outcomes.contains_key(&reached), "{reached:?} in {org_outcomes:?}");
    }
    assert!(!org_outcomes.contains_key(&("organizations unreadable", Outcome::Accept)), "{org_outcomes:?}");
    // A policy listing consumer regions accepts and rejects in them, and
    // never accepts from elsewhere or from nowhere known.
    for reached in
        [("us-east-1", Outcome::Accept), ("us-east-1", Outcome::Reject), ("eu-west-1", Outcome::Review)]
    {
        assert!(region_outcomes.contains_key(&reached), "{reached:?} in {region_outcomes:?}");
    }
    for elsewhere in ["eu-west-1", "region unknown"] {
        assert!(!region_outcomes.contains_key(&(elsewhere, Outcome::Accept)), "{region_outcomes:?}");
    }
}

fn conn_service() -> ServiceId {
    SVC.parse().expect("svc")
}
