//! Cross-region consumers: the CIDRs are read in the region EC2 says the
//! endpoint lives in, and a policy's `consumer_regions` sends the others to
//! its `unlisted` outcome.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";

fn region(name: &str) -> Region {
    name.parse().expect("region")
}

fn conn(n: u32, at: Option<&str>) -> Connection {
    Connection { region: at.map(region), ..connection(n, SVC, FRIEND, ConnectionState::PendingAcceptance) }
}

struct World {
    connections: Arc<InMemoryConnections>,
    networks: Arc<RegionalNetworks>,
    decider: Decide,
}

/// FRIEND is allowlisted; its VPC is 10.1.0.0/16 in eu-west-1 and
/// 172.31.0.0/16 in us-east-1; 10.0.0.0/8 is protected.
fn world(conns: Vec<Connection>, edit: impl FnOnce(&mut ServicePolicy)) -> World {
    let owner: AccountId = FRIEND.parse().expect("account");
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.overlap = OverlapMode::Reject;
    policy.protected_cidrs =
        vec![ProtectedRange { cidr: "10.0.0.0/8".parse().expect("cidr"), label: "on-prem".into() }];
    edit(&mut policy);
    let allow = entry(FRIEND, Effect::Allow);
    let networks = Arc::new(RegionalNetworks {
        vpcs: HashMap::from([
            ((owner, region("eu-west-1")), vec!["10.1.0.0/16".parse().expect("cidr")]),
            ((owner, region("us-east-1")), vec!["172.31.0.0/16".parse().expect("cidr")]),
        ]),
        ..Default::default()
    });
    let connections = Arc::new(InMemoryConnections::with(conns));
    let decider = Decide::new(
        connections.clone(),
        networks.clone(),
        Arc::new(InMemoryPolicies::new(vec![policy], vec![allow])),
        Arc::new(InMemoryRequests::default()),
        Arc::new(InMemoryAudit::default()),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    );
    World { connections, networks, decider }
}

#[tokio::test]
async fn cidrs_are_read_in_the_connections_region_and_the_overlap_rule_applies() {
    let w = world(vec![conn(1, Some("eu-west-1")), conn(2, Some("us-east-1"))], |_| {});
    let report = w.decider.sweep(now()).await.expect("sweeps");
    let outcome = |n: u32| {
        let endpoint: EndpointId = format!("vpce-{n:017x}").parse().expect("endpoint");
        report.decided.iter().find(|d| d.endpoint == endpoint).map(|d| (d.outcome, d.reasons.clone()))
    };
    let (eu, why) = outcome(1).expect("decided");
    assert_eq!(eu, Outcome::Reject, "{why}");
    assert!(why.contains("consumer VPC 10.1.0.0/16 overlaps protected 10.0.0.0/8 (on-prem)"), "{why}");
    assert_eq!(outcome(2).map(|o| o.0), Some(Outcome::Accept), "the same account's VPC at home is clean");
    let mut reads = w.networks.reads.lock().unwrap().clone();
    reads.sort_by_key(|(_, r)| r.clone());
    let owner: AccountId = FRIEND.parse().expect("account");
    assert_eq!(reads, vec![(owner, Some(region("eu-west-1"))), (owner, Some(region("us-east-1")))]);
    assert_eq!(w.connections.state(&conn(1, None).endpoint), Some(ConnectionState::Rejected));
}

#[tokio::test]
async fn a_region_the_policy_does_not_list_follows_unlisted() {
    for (unlisted, expected, state) in [
        (Unlisted::Review, Outcome::Review, ConnectionState::PendingAcceptance),
        (Unlisted::Reject, Outcome::Reject, ConnectionState::Rejected),
    ] {
        // ap-south-1 holds no VPC of the account here: unknown CIDRs would
        // go to review too, so the clean VPC in us-east-1 carries the test.
        let w = world(vec![conn(1, Some("us-east-1"))], |p| {
            p.consumer_regions = vec![region("eu-west-1")];
            p.unlisted = unlisted;
        });
        let report = w.decider.sweep(now()).await.expect("sweeps");
        let d = &report.decided[0];
        assert_eq!(d.outcome, expected, "{unlisted:?}: {}", d.reasons);
        assert!(
            d.reasons
                .contains("consumer region us-east-1 is not in the policy's consumer_regions (eu-west-1)"),
            "{}",
            d.reasons
        );
        assert_eq!(w.connections.state(&conn(1, None).endpoint), Some(state));
    }
}

#[tokio::test]
async fn a_listed_region_is_accepted_and_an_unknown_one_is_not() {
    let w = world(vec![conn(1, Some("us-east-1")), conn(2, None)], |p| {
        p.consumer_regions = vec![region("us-east-1")];
    });
    let report = w.decider.sweep(now()).await.expect("sweeps");
    let mut outcomes: Vec<(String, Outcome)> =
        report.decided.iter().map(|d| (d.endpoint.to_string(), d.outcome)).collect();
    outcomes.sort();
    assert_eq!(outcomes[0].1, Outcome::Accept, "{outcomes:?}");
    assert_eq!(outcomes[1].1, Outcome::Review, "no region is no listed region: {outcomes:?}");
}
