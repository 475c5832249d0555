//! The record and lookup use cases over in-memory ports: the registry
//! follows EC2 whatever order events come in, knows who accepted, and a
//! consumer sees only its own account through every route.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::lookup::{Filter, Lookup, LookupError};
use gate_app::memory::*;
use gate_app::ports::{PageAsk, Registry, ServiceInfo};
use gate_app::record::{Hint, Recorder};
use gate_app::{Decide, Settings};
use gate_core::caller::Caller;
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const OTHER_SVC: &str = "vpce-svc-0fff1234def567890";
const A: &str = "222233334444";
const B: &str = "333344445555";

fn conn(n: u32, owner: &str, service: &str, state: ConnectionState) -> Connection {
    let dns_entries = if state == ConnectionState::Available {
        vec![DnsEntry {
            dns_name: format!("{}-x.{SVC}.us-east-1.vpce.amazonaws.com", endpoint(n)),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        }]
    } else {
        vec![]
    };
    Connection { dns_entries, ..connection(n, service, owner, state) }
}

struct World {
    connections: Arc<InMemoryConnections>,
    requests: Arc<InMemoryRequests>,
    audit: Arc<InMemoryAudit>,
    registry: Arc<InMemoryRegistry>,
    recorder: Recorder,
}

fn world(conns: Vec<Connection>) -> World {
    let connections = Arc::new(InMemoryConnections::with(conns));
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let registry = Arc::new(InMemoryRegistry::default());
    let recorder = Recorder {
        connections: connections.clone(),
        requests: requests.clone(),
        registry: registry.clone(),
        audit: audit.clone(),
        services: vec![SVC.parse().expect("svc")],
        checkpoints: None,
        managed: None,
        together: None,
    };
    World { connections, requests, audit, registry, recorder }
}

fn hint(n: u32) -> Hint {
    Hint { endpoint: endpoint(n), accepted_by: None }
}

fn set_state(w: &World, n: u32, state: ConnectionState) {
    let mut conns = w.connections.connections.lock().unwrap();
    let c = conns.get_mut(&endpoint(n)).expect("known");
    *c = conn(n, &c.owner.to_string(), c.service.as_str(), state);
}

#[tokio::test]
async fn shuffled_concurrent_replays_end_at_ec2s_truth() {
    let states = [
        ConnectionState::Available,
        ConnectionState::Rejected,
        ConnectionState::Deleted,
        ConnectionState::PendingAcceptance,
    ];
    let w = world((0..25).map(|n| conn(n, A, SVC, ConnectionState::PendingAcceptance)).collect());
    // First deliveries while everything is pending, then the lives move on.
    w.recorder.record(&(0..25).map(hint).collect::<Vec<_>>(), now()).await;
    for n in 0..25 {
        let last = &states[n as usize % states.len()];
        if *last == ConnectionState::Deleted {
            set_state(&w, n, ConnectionState::Available);
            w.recorder.record(&[hint(n)], now()).await;
        }
        set_state(&w, n, last.clone());
    }
    // 100 events, four per endpoint, in a scrambled order, delivered at once.
    let mut order: Vec<u32> = (0..100).map(|i| (i * 37) % 25).collect();
    order.rotate_left(13);
    let runs = order.chunks(10).map(|chunk| {
        let hints: Vec<Hint> = chunk.iter().map(|n| hint(*n)).collect();
        let recorder = w.recorder.clone();
        async move { recorder.record(&hints, now()).await }
    });
    let reports = futures_util::future::join_all(runs).await;
    assert!(reports.iter().all(|r| r.failed.is_empty()), "{reports:?}");

    let registry = w.registry.snapshot();
    for n in 0..25 {
        let truth = w.connections.state(&endpoint(n)).expect("listed");
        let entry = registry.get(&endpoint(n)).expect("recorded");
        assert_eq!(entry.state, truth, "endpoint {n}");
        assert_eq!(
            entry.is_active(),
            matches!(truth, ConnectionState::Available | ConnectionState::PendingAcceptance)
        );
    }
    // Deleted endpoints keep the DNS names they had, as history.
    let deleted = registry.get(&endpoint(2)).expect("recorded");
    assert_eq!((deleted.state.clone(), deleted.dns_entries.len()), (ConnectionState::Deleted, 1));
}

#[tokio::test]
async fn an_endpoint_gate_accept_is_attributed_with_its_reasons() {
    let w = world(vec![conn(1, A, SVC, ConnectionState::PendingAcceptance)]);
    // Trusting declared CIDRs is the policy's explicit opt-in: the VPC is unreadable here.
    let trusting =
        ServicePolicy { declared_cidrs: DeclaredCidrs::Trust, ..ServicePolicy::cautious(Scope::Any) };
    let policies = InMemoryPolicies::new(
        vec![trusting],
        vec![AllowEntry {
            scope: Scope::Any,
            principal: A.parse().expect("acct"),
            effect: Effect::Allow,
            declared_cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
            expires_at: None,
            owner: "team-a".into(),
            note: "consumers of payments, ticket NET-7".into(),
            added_by: "test".into(),
            added_at: None,
        }],
    );
    let decider = Decide::new(
        w.connections.clone(),
        Arc::new(StaticNetworks::default()),
        Arc::new(policies),
        w.requests.clone(),
        w.audit.clone(),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    );
    decider.decide_endpoint(&endpoint(1), now()).await.expect("decides");
    w.recorder.record(&[hint(1)], now()).await;
    let entry = w.registry.get(&endpoint(1)).await.expect("reads").expect("recorded");
    assert_eq!(entry.accepted_by.as_deref(), Some("endpoint-gate"));
    assert!(entry.why.contains("allowlisted"), "{}", entry.why);
    // Consumers read the registry: the allowlist's owner and note stay out.
    assert!(!entry.why.contains("team-a") && !entry.why.contains("NET-7"), "{}", entry.why);
}

#[tokio::test]
async fn a_console_accept_names_the_person_and_other_services_are_left_alone() {
    let w = world(vec![
        conn(1, A, SVC, ConnectionState::Available),
        conn(2, A, OTHER_SVC, ConnectionState::Available),
    ]);
    let console = Hint {
        endpoint: endpoint(1),
        accepted_by: Some("arn:aws:sts::123456789012:assumed-role/Admin/alice".into()),
    };
    let report = w.recorder.record(&[console, hint(2), hint(99)], now()).await;
    assert_eq!((report.written.len(), report.skipped.len(), report.unknown.len()), (1, 1, 1), "{report:?}");
    let entry = w.registry.get(&endpoint(1)).await.expect("reads").expect("recorded");
    assert_eq!(entry.accepted_by.as_deref(), Some("arn:aws:sts::123456789012:assumed-role/Admin/alice"));
    assert!(entry.why.contains("outside Endpoint Gate"), "{}", entry.why);
}

#[tokio::test]
async fn the_sweep_backfills_and_notices_vanished_endpoints() {
    let w = world((0..5).map(|n| conn(n, A, SVC, ConnectionState::Available)).collect());
    let seen = std::sync::Mutex::new(Vec::new());
    let report = w
        .recorder
        .sweep(&|done, total| seen.lock().unwrap().push((done, total)), now())
        .await
        .expect("sweeps");
    assert_eq!(report.written.len(), 5);
    assert_eq!(seen.lock().unwrap().last(), Some(&(5, 5)), "progress reaches the end");
    w.connections.connections.lock().unwrap().remove(&endpoint(3));
    let report = w.recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    assert_eq!((report.written.clone(), report.unchanged), (vec![endpoint(3)], 4));
    let gone = w.registry.get(&endpoint(3)).await.expect("reads").expect("kept");
    assert_eq!(gone.state, ConnectionState::Deleted);
    let active = w
        .registry
        .by_account(A.parse().expect("acct"), false, &PageAsk::default())
        .await
        .expect("reads")
        .entries;
    assert_eq!(active.len(), 4, "deleted endpoints leave the active view");
    let all = w
        .registry
        .by_account(A.parse().expect("acct"), true, &PageAsk::default())
        .await
        .expect("reads")
        .entries;
    assert_eq!(all.len(), 5, "and stay in history");
}

fn caller(account: &str, operator: bool) -> Caller {
    Caller {
        account: account.parse().expect("acct"),
        arn: format!("arn:aws:iam::{account}:role/x"),
        operator,
    }
}

/// What consumers and operators ask, over the world's registry.
fn lookup_of(w: &World) -> Lookup {
    Lookup {
        registry: w.registry.clone(),
        requests: w.requests.clone(),
        audit: w.audit.clone(),
        catalogue: Arc::new(StaticCatalogue(vec![ServiceInfo {
            id: SVC.parse().expect("svc"),
            name: "com.amazonaws.vpce.us-east-1.vpce-svc-0abc1234def567890".into(),
            kind: "Interface".into(),
            acceptance_required: true,
            state: "Available".into(),
        }])),
        policies: Arc::new(InMemoryPolicies::default()),
        placements: None,
        services: vec![SVC.parse().expect("svc")],
        managed: None,
    }
}

#[tokio::test]
async fn a_consumer_pages_through_its_whole_view_and_no_position_reaches_another_account() {
    // Seven of A's endpoints, two of which are deleted by the second sweep
    // (history), and one of B's.
    let mut conns: Vec<_> = (0..7).map(|n| conn(n, A, SVC, ConnectionState::Available)).collect();
    conns.push(conn(9, B, SVC, ConnectionState::Available));
    let w = world(conns);
    w.recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    for gone in [1, 4] {
        w.connections.connections.lock().unwrap().remove(&endpoint(gone));
    }
    w.recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    let lookup = lookup_of(&w);
    let a = caller(A, false);

    let mut filter = Filter { history: true, page: PageAsk { after: None, limit: 2 }, ..Filter::default() };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = lookup.endpoints(&a, &filter).await.expect("a page");
        assert!(page.entries.len() <= 2, "a page holds at most its limit");
        seen.extend(page.entries.iter().map(|e| (e.is_active(), e.endpoint.clone())));
        pages += 1;
        match page.next {
            Some(next) => filter.page.after = Some(next),
            None => break,
        }
    }
    let active = [0, 2, 3, 5, 6].map(|n| (true, endpoint(n)));
    let history = [1, 4].map(|n| (false, endpoint(n)));
    assert_eq!(seen, [&active[..], &history[..]].concat(), "every endpoint once: active by id, then history");
    assert_eq!(pages, 4);

    // B's position in A's view only moves A's page along.
    let b_position = ViewPosition { history: false, endpoint: endpoint(9) };
    let after_b = Filter { page: PageAsk { after: Some(b_position), limit: 10 }, ..Filter::default() };
    let got = lookup.endpoints(&a, &after_b).await.expect("a page");
    assert!(got.entries.iter().all(|e| e.owner.to_string() == A), "{:?}", got.entries);
    // Past the active part, an active view has nothing more.
    let past = PageAsk { after: Some(ViewPosition { history: true, endpoint: endpoint(0) }), limit: 10 };
    let got = lookup.endpoints(&a, &Filter { page: past, ..Filter::default() }).await.expect("a page");
    assert_eq!((got.entries.len(), got.next), (0, None));

    for limit in [0, PageAsk::MAX + 1] {
        let asked = Filter { page: PageAsk { after: None, limit }, ..Filter::default() };
        let got = lookup.endpoints(&a, &asked).await;
        assert!(
            matches!(&got, Err(LookupError::BadRequest(why)) if why.contains(&limit.to_string())),
            "{got:?}"
        );
    }
}

#[tokio::test]
async fn a_consumer_sees_only_its_own_account_through_every_route() {
    let w = world(vec![
        conn(1, A, SVC, ConnectionState::Available),
        conn(2, B, SVC, ConnectionState::Available),
        conn(3, B, SVC, ConnectionState::PendingAcceptance),
    ]);
    w.recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    let lookup = lookup_of(&w);
    let a = caller(A, false);
    let mine = lookup.endpoints(&a, &Filter::default()).await.expect("own").entries;
    assert_eq!(mine.iter().map(|e| e.endpoint.clone()).collect::<Vec<_>>(), vec![endpoint(1)]);
    let by_service = lookup
        .endpoints(&a, &Filter { service: Some(SVC.parse().expect("svc")), ..Filter::default() })
        .await
        .expect("own")
        .entries;
    assert!(by_service.iter().all(|e| e.owner.to_string() == A), "a service filter does not widen the view");
    let asked_b =
        lookup.endpoints(&a, &Filter { account: Some(B.parse().expect("acct")), ..Filter::default() }).await;
    assert!(matches!(asked_b, Err(LookupError::Forbidden(_))), "{asked_b:?}");
    for n in [2, 3, 99] {
        let got = lookup.endpoint(&a, &endpoint(n), now()).await;
        assert!(matches!(got, Err(LookupError::NotFound(_))), "endpoint {n}: {got:?}");
    }
    assert!(lookup.endpoint(&a, &endpoint(1), now()).await.is_ok());
    assert_eq!(lookup.services(&a, None, now()).await.expect("catalogue").len(), 1);
    let b_offers = lookup.services(&a, Some(B.parse().expect("acct")), now()).await;
    assert!(matches!(b_offers, Err(LookupError::Forbidden(_))), "what B meets is B's: {b_offers:?}");

    let ops = caller("123456789012", true);
    assert_eq!(
        lookup
            .endpoints(&ops, &Filter { account: Some(B.parse().expect("acct")), ..Filter::default() })
            .await
            .expect("ops")
            .entries
            .len(),
        2
    );
    assert!(lookup.endpoint(&ops, &endpoint(2), now()).await.is_ok());
    assert!(
        matches!(lookup.endpoints(&ops, &Filter::default()).await, Err(LookupError::BadRequest(_))),
        "no scans"
    );
}

#[tokio::test]
async fn a_consumer_reads_why_it_was_rejected_without_another_tenants_data() {
    let w = world(vec![
        conn(1, B, SVC, ConnectionState::PendingAcceptance),
        conn(2, A, SVC, ConnectionState::PendingAcceptance),
    ]);
    let unique = ServicePolicy { unique_consumer_cidrs: true, ..ServicePolicy::cautious(Scope::Any) };
    let allow = |account: &str| AllowEntry {
        scope: Scope::Any,
        principal: account.parse().expect("acct"),
        effect: Effect::Allow,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "team-payments".into(),
        note: "escalation: pager 555-0100".into(),
        added_by: "test".into(),
        added_at: None,
    };
    let overlapping: Vec<Cidr> = vec!["10.0.0.0/16".parse().expect("cidr")];
    let decider = Decide::new(
        w.connections.clone(),
        Arc::new(StaticNetworks(HashMap::from([
            (A.parse().expect("acct"), overlapping.clone()),
            (B.parse().expect("acct"), overlapping),
        ]))),
        Arc::new(InMemoryPolicies::new(vec![unique], vec![allow(A), allow(B)])),
        w.requests.clone(),
        w.audit.clone(),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    );
    // B is accepted first; A's VPC then overlaps B's.
    decider.decide_endpoint(&endpoint(1), now()).await.expect("decides");
    decider.decide_endpoint(&endpoint(2), now()).await.expect("decides");
    w.recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    let lookup = Lookup {
        registry: w.registry.clone(),
        requests: w.requests.clone(),
        audit: w.audit.clone(),
        catalogue: Arc::new(StaticCatalogue(vec![])),
        policies: Arc::new(InMemoryPolicies::default()),
        placements: None,
        services: vec![SVC.parse().expect("svc")],
        managed: None,
    };

    let seen = lookup.endpoint(&caller(A, false), &endpoint(2), now()).await.expect("its own endpoint");
    let request = seen.request.expect("decided");
    assert_eq!(request.state, "rejected");
    let text = serde_json::to_string(&(&request, &seen.entry)).expect("json");
    for secret in [B, endpoint(1).as_str(), "team-payments", "555-0100"] {
        assert!(!text.contains(secret), "consumer A reads {secret}: {text}");
    }
    assert!(text.contains("overlaps another consumer's CIDR"), "{text}");

    let ops =
        lookup.endpoint(&caller("123456789012", true), &endpoint(2), now()).await.expect("operators see all");
    let text = ops.request.expect("decided").reasons.join("; ");
    assert!(text.contains(B) && text.contains(endpoint(1).as_str()), "{text}");
}
