//! decide with OU and organization entries: the path read once per sweep
//! and cached for a bounded age, and nothing accepted through an OU entry
//! when Organizations cannot be read.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::organizations::Placements;
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const PROD: &str = "ou-ab12-22222222";

fn account(n: u32) -> AccountId {
    format!("{:012}", 210_000_000_000u64 + u64::from(n)).parse().expect("account")
}

fn conn(n: u32, owner: AccountId) -> Connection {
    connection(n, SVC, owner.as_str(), ConnectionState::PendingAcceptance)
}

fn in_prod() -> Placement {
    Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: vec![
            OuStep { id: "ou-ab12-11111111".parse().expect("ou"), name: "Workloads".into() },
            OuStep { id: PROD.parse().expect("ou"), name: "Prod".into() },
        ],
    }
}

struct World {
    connections: Arc<InMemoryConnections>,
    orgs: Arc<InMemoryOrganizations>,
    decider: Decide,
}

/// `owners` accounts in Workloads/Prod, an allow entry on Prod, and
/// `per_owner` pending connections from each.
fn world(owners: u32, per_owner: u32) -> World {
    let conns = (0..owners * per_owner).map(|n| conn(n, account(n % owners)));
    let connections = Arc::new(InMemoryConnections::with(conns));
    let orgs = Arc::new(InMemoryOrganizations::with((0..owners).map(|n| (account(n), in_prod()))));
    let entry = AllowEntry {
        scope: Scope::Any,
        principal: PROD.parse().expect("ou"),
        effect: Effect::Allow,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "team-a".into(),
        note: String::new(),
        added_by: "test".into(),
        added_at: None,
    };
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.unknown_cidr = UnknownCidr::Allow;
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(HashMap::new())),
        Arc::new(InMemoryPolicies::new(vec![policy], vec![entry])),
        Arc::new(InMemoryRequests::default()),
        Arc::new(InMemoryAudit::default()),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    )
    .with_placements(Arc::new(Placements::new(orgs.clone(), 15 * 60)));
    World { connections, orgs, decider }
}

#[tokio::test]
async fn an_ou_entry_accepts_with_the_path_in_the_reasons() {
    let w = world(1, 1);
    let report = w.decider.sweep(now()).await.expect("sweeps");
    assert_eq!(report.decided[0].outcome, Outcome::Accept, "{}", report.decided[0].reasons);
    assert!(
        report.decided[0].reasons.starts_with(
            "account 210000000000 is in OU Workloads/Prod (ou-ab12-22222222), allowed for all services by team-a"
        ),
        "{}",
        report.decided[0].reasons
    );
    assert_eq!(w.connections.state(&conn(0, account(0)).endpoint), Some(ConnectionState::Available));
}

#[tokio::test]
async fn a_sweep_of_ten_thousand_reads_each_accounts_path_once_and_the_cache_ages_out() {
    let w = world(10, 1_000);
    let report = w.decider.sweep(now()).await.expect("sweeps");
    assert_eq!(report.counts.decided, 10_000);
    let states =
        w.connections.connections.lock().unwrap().values().map(|c| c.state.clone()).collect::<Vec<_>>();
    assert!(states.iter().all(|s| *s == ConnectionState::Available), "{states:?}");
    let reads = w.orgs.reads.lock().unwrap().clone();
    assert_eq!(reads.len(), 10);
    assert!(reads.values().all(|n| *n == 1), "{reads:?}");

    // New connections from the same accounts: within the bounded age the
    // cached paths serve, after it they are read again.
    let later = |secs: i64| Timestamp::from_unix(now().unix() + secs);
    w.connections.connections.lock().unwrap().extend((10_000..10_010).map(|n| {
        let c = conn(n, account(n % 10));
        (c.endpoint.clone(), c)
    }));
    w.decider.sweep(later(14 * 60)).await.expect("sweeps");
    assert!(w.orgs.reads.lock().unwrap().values().all(|n| *n == 1));
    w.connections.connections.lock().unwrap().extend((10_010..10_020).map(|n| {
        let c = conn(n, account(n % 10));
        (c.endpoint.clone(), c)
    }));
    w.decider.sweep(later(16 * 60)).await.expect("sweeps");
    assert!(w.orgs.reads.lock().unwrap().values().all(|n| *n == 2));
}

#[tokio::test]
async fn unreadable_organizations_accept_nothing_through_an_ou_entry() {
    let w = world(3, 2);
    *w.orgs.fail.lock().unwrap() =
        Some("ListParents for 210000000000 was refused (AccessDeniedException)".into());
    let report = w.decider.sweep(now()).await.expect("the sweep itself goes on");
    assert_eq!(report.decided.len(), 6);
    for d in &report.decided {
        assert_eq!(d.outcome, Outcome::Review, "{}", d.reasons);
        assert!(d.reasons.contains("AWS Organizations could not be read"), "{}", d.reasons);
    }
    let states =
        w.connections.connections.lock().unwrap().values().map(|c| c.state.clone()).collect::<Vec<_>>();
    assert!(states.iter().all(|s| *s == ConnectionState::PendingAcceptance), "{states:?}");

    // The next sweeps within the pause do not ask again; after it, they do.
    let asked = |w: &World| w.orgs.reads.lock().unwrap().values().sum::<usize>();
    let first = asked(&w);
    let later = |secs: i64| Timestamp::from_unix(now().unix() + secs);
    let add = |w: &World, from: u32| {
        w.connections.connections.lock().unwrap().extend((from..from + 3).map(|n| {
            let c = conn(n, account(n % 3));
            (c.endpoint.clone(), c)
        }))
    };
    add(&w, 100);
    let report = w.decider.sweep(later(30)).await.expect("sweeps");
    assert_eq!(report.counts.decided, 3);
    for d in &report.decided {
        assert_eq!(d.outcome, Outcome::Review, "{}", d.reasons);
        assert!(
            d.reasons.contains("(ListParents for 210000000000 was refused (AccessDeniedException))"),
            "{}",
            d.reasons
        );
    }
    assert_eq!(asked(&w), first, "paused after the failure");
    add(&w, 103);
    w.decider.sweep(later(61)).await.expect("sweeps");
    assert!(asked(&w) > first, "asked again after the pause");
}

#[tokio::test]
async fn a_partner_outside_the_organization_is_judged_on_its_own_entry() {
    let partner: AccountId = "333344445555".parse().expect("account");
    let connections = Arc::new(InMemoryConnections::with([conn(1, partner)]));
    let orgs = Arc::new(InMemoryOrganizations::with([(account(0), in_prod())]));
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.unknown_cidr = UnknownCidr::Allow;
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(HashMap::new())),
        Arc::new(InMemoryPolicies::new(
            vec![policy],
            vec![entry("333344445555", Effect::Allow), entry("o-abcdef1234", Effect::Deny)],
        )),
        Arc::new(InMemoryRequests::default()),
        Arc::new(InMemoryAudit::default()),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    )
    .with_placements(Arc::new(Placements::new(orgs.clone(), 15 * 60)));
    let report = decider.sweep(now()).await.expect("sweeps");
    assert_eq!(report.decided[0].outcome, Outcome::Accept, "{}", report.decided[0].reasons);
    assert_eq!(orgs.reads.lock().unwrap().get(&partner), Some(&1), "Organizations was asked");
}
