//! Shadow mode over in-memory ports: a `mode: shadow` service is judged
//! and its verdicts kept, once per verdict, and nothing else happens: no
//! Accept or Reject, no approver asked, no consumer told, no revocation,
//! no claim that would stop a later enforce decision. The report sets the
//! verdicts beside what people did, disagreements first.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::notices::Notices;
use gate_app::ports::{AuditKind, Registry, Shadows};
use gate_app::shadow::report;
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
/// A service in enforce mode, decided in the same runs.
const ENFORCED: &str = "vpce-svc-0eee1234def567890";
const STRANGER: &str = "333344445555";
const ENEMY: &str = "444455556666";

/// `*` enforces; SVC's own policy says `mode` and `revoke`.
fn policies(mode: Mode, revoke: Revoke) -> Vec<ServicePolicy> {
    let star = ServicePolicy {
        approvers: vec!["netops@example.com".into()],
        slack_channel: Some("#netops".into()),
        ..ServicePolicy::cautious(Scope::Any)
    };
    let svc =
        ServicePolicy { scope: Scope::Service(SVC.parse().expect("svc")), mode, revoke, ..star.clone() };
    vec![star, svc]
}

struct World {
    connections: Arc<InMemoryConnections>,
    policies: Arc<InMemoryPolicies>,
    requests: Arc<InMemoryRequests>,
    audit: Arc<InMemoryAudit>,
    notifier: Arc<RecordingNotifier>,
    email: Arc<RecordingNoticeSender>,
    shadows: Arc<InMemoryShadows>,
}

impl World {
    fn new(conns: Vec<Connection>, revoke: Revoke) -> Self {
        let audit = Arc::new(InMemoryAudit::default());
        Self {
            connections: Arc::new(InMemoryConnections::with(conns)),
            policies: Arc::new(InMemoryPolicies::new(
                policies(Mode::Shadow, revoke),
                vec![entry(FRIEND, Effect::Allow), entry(ENEMY, Effect::Deny)],
            )),
            requests: Arc::new(InMemoryRequests::with_audit(audit.clone())),
            notifier: Arc::new(RecordingNotifier::default()),
            email: Arc::new(RecordingNoticeSender::for_channel(NoticeChannel::Email)),
            shadows: Arc::new(InMemoryShadows::with_audit(audit.clone())),
            audit,
        }
    }

    /// A decider over the same ports, as each invocation builds one.
    fn bare_decider(&self) -> Decide {
        let networks = HashMap::from([
            (FRIEND.parse().expect("acct"), vec!["172.31.0.0/16".parse().expect("cidr")]),
            (STRANGER.parse().expect("acct"), vec!["172.30.0.0/16".parse().expect("cidr")]),
        ]);
        let contacts = [FRIEND, STRANGER, ENEMY].map(|a| Contact {
            account: a.parse().expect("account"),
            email: Some(format!("team-{a}@example.com")),
            slack_channel: None,
        });
        Decide::new(
            self.connections.clone(),
            Arc::new(StaticNetworks(networks)),
            self.policies.clone(),
            self.requests.clone(),
            self.audit.clone(),
            self.notifier.clone(),
            Settings::default(),
        )
        .with_notices(Notices {
            contacts: Arc::new(InMemoryContacts::with(contacts)),
            channels: vec![("email", self.email.clone())],
            ledger: Arc::new(InMemoryNoticeLedger::default()),
        })
    }

    fn decider(&self) -> Decide {
        self.bare_decider().with_shadows(self.shadows.clone())
    }

    fn kinds(&self) -> Vec<AuditKind> {
        self.audit.all().iter().map(|e| e.kind).collect()
    }

    fn would(&self, n: u32) -> Option<Would> {
        self.shadows.get(&endpoint(n)).map(|v| v.would)
    }

    /// Nothing reached EC2's Accept/Reject, approvers or consumers.
    fn assert_nothing_done(&self) {
        assert_eq!(self.connections.act_call_count(), 0, "Accept/Reject called");
        assert!(self.notifier.sent.lock().expect("lock").is_empty(), "approvers asked");
        assert!(self.notifier.nudges.lock().expect("lock").is_empty(), "approvers nudged");
        assert!(self.notifier.settled.lock().expect("lock").is_empty(), "review settled");
        assert!(self.email.notices().is_empty(), "consumer told: {:?}", self.email.notices());
    }
}

fn pending_world() -> World {
    use ConnectionState::PendingAcceptance as P;
    World::new(
        vec![
            connection(1, SVC, FRIEND, P),
            connection(2, SVC, ENEMY, P),
            connection(3, SVC, STRANGER, P),
            connection(4, ENFORCED, FRIEND, P),
        ],
        Revoke::Keep,
    )
}

#[tokio::test]
async fn shadow_decides_and_records_but_never_acts_asks_or_tells() {
    let w = pending_world();
    let report = w.decider().sweep(now()).await.expect("sweeps");
    // The enforced service beside it is decided and accepted as usual.
    assert_eq!(w.connections.state(&endpoint(4)), Some(ConnectionState::Available));
    assert_eq!((report.counts.decided, report.counts.shadowed), (1, 3), "{:?}", report.counts);
    // Take the enforced service's own accept and notice out of the picture.
    w.connections.act_calls.lock().expect("lock").clear();
    w.email.sent.lock().expect("lock").clear();
    w.assert_nothing_done();
    for n in 1..=3 {
        assert_eq!(w.connections.state(&endpoint(n)), Some(ConnectionState::PendingAcceptance), "{n}");
        assert!(w.requests.get(&endpoint(n)).is_none(), "{n}: a shadow verdict never claims the request");
    }
    assert_eq!(
        (w.would(1), w.would(2), w.would(3)),
        (Some(Would::Accept), Some(Would::Reject), Some(Would::Review))
    );
    let shadow_lines: Vec<_> =
        w.audit.all().into_iter().filter(|e| e.kind == AuditKind::ShadowDecided).collect();
    assert_eq!(shadow_lines.len(), 3);
    assert!(
        shadow_lines.iter().all(|e| e.detail.starts_with("shadow mode, nothing done: would ")),
        "{shadow_lines:?}"
    );
}

#[tokio::test]
async fn duplicate_deliveries_and_every_sweep_keep_one_verdict_until_it_changes() {
    let w = pending_world();
    let d = w.decider();
    d.sweep(now()).await.expect("sweeps");
    let lines = |w: &World| w.kinds().iter().filter(|k| **k == AuditKind::ShadowDecided).count();
    assert_eq!(lines(&w), 3);
    // The sweep every five minutes, and a notification delivered twice.
    for i in 1..=3 {
        let r = d.sweep(now().plus_secs(300 * i)).await.expect("sweeps");
        assert_eq!(r.counts.shadowed, 3);
        assert!(r.shadowed.iter().all(|s| !s.new), "{:?}", r.shadowed);
    }
    let one = endpoint(1);
    let (a, b) = tokio::join!(d.decide_endpoint(&one, now()), d.decide_endpoint(&one, now()));
    a.expect("runs");
    b.expect("runs");
    assert_eq!(lines(&w), 3, "nothing new was decided");
    assert_eq!(w.shadows.get(&endpoint(1)).map(|v| v.at), Some(now()), "the first time of the verdict stays");

    // The allowlist changes: the friend is denied now. One new line.
    *w.policies.entries.lock().expect("lock") = vec![entry(FRIEND, Effect::Deny), entry(ENEMY, Effect::Deny)];
    d.sweep(now().plus_secs(3_600)).await.expect("sweeps");
    d.sweep(now().plus_secs(3_900)).await.expect("sweeps");
    assert_eq!(w.would(1), Some(Would::Reject));
    assert_eq!(lines(&w), 4, "only the friend's verdict changed: {:?}", w.audit.all());
    w.connections.act_calls.lock().expect("lock").retain(|(_, s, _)| s.as_str() != ENFORCED);
    assert_eq!(w.connections.act_call_count(), 0);
}

#[tokio::test]
async fn switching_to_enforce_decides_the_still_pending_connections_normally() {
    let w = pending_world();
    w.decider().sweep(now()).await.expect("sweeps");
    *w.policies.policies.lock().expect("lock") = policies(Mode::Enforce, Revoke::Keep);
    let report = w.decider().sweep(now().plus_secs(300)).await.expect("sweeps");
    assert_eq!((report.counts.decided, report.counts.shadowed), (3, 0), "{:?}", report.counts);
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available));
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Rejected));
    assert_eq!(w.connections.state(&endpoint(3)), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.requests.get(&endpoint(3)).map(|r| r.state), Some(RequestState::Review));
    let asked: Vec<EndpointId> =
        w.notifier.sent.lock().expect("lock").iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(asked, vec![endpoint(3)], "approvers asked about the review, once");
}

#[tokio::test]
async fn shadow_revocation_records_would_revoke_and_never_rejects() {
    // The friend's connection is available (a person accepted it); its
    // allowance is then removed, and the service's policy says revoke: reject.
    let w = World::new(vec![connection(1, SVC, FRIEND, ConnectionState::Available)], Revoke::Reject);
    *w.policies.entries.lock().expect("lock") = vec![];
    let d = w.decider();
    let report = d.sweep(now()).await.expect("sweeps");
    assert_eq!((report.counts.revoked, report.counts.shadowed), (0, 1), "{:?}", report.counts);
    d.sweep(now().plus_secs(300)).await.expect("sweeps again");
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available));
    w.assert_nothing_done();
    assert!(w.requests.get(&endpoint(1)).is_none(), "no revocation claimed");
    assert_eq!(w.would(1), Some(Would::Revoke));
    assert_eq!(w.kinds(), vec![AuditKind::ShadowDecided], "one line, no revoked entry");
}

#[tokio::test]
async fn without_a_verdict_store_shadow_connections_are_skipped_not_acted_on() {
    let w = pending_world();
    let report = w.bare_decider().sweep(now()).await.expect("sweeps");
    assert_eq!(report.counts.skipped, 3, "{:?}", report.skipped);
    w.connections.act_calls.lock().expect("lock").retain(|(_, s, _)| s.as_str() != ENFORCED);
    w.email.sent.lock().expect("lock").clear();
    w.assert_nothing_done();
    assert!((1..=3).all(|n| w.requests.get(&endpoint(n)).is_none()));
}

fn registry_entry(n: u32, state: ConnectionState, by: Option<&str>) -> RegistryEntry {
    RegistryEntry {
        endpoint: endpoint(n),
        service: SVC.parse().expect("svc"),
        owner: FRIEND.parse().expect("owner"),
        state,
        dns_entries: vec![],
        accepted_at: by.map(|_| now()),
        accepted_by: by.map(str::to_owned),
        why: String::new(),
        first_seen: now(),
        observed_at: now(),
        region: None,
        version: 1,
    }
}

#[tokio::test]
async fn the_report_sets_verdicts_beside_what_people_did_disagreements_first() {
    let shadows = InMemoryShadows::default();
    let registry = InMemoryRegistry::default();
    let ana = "arn:aws:iam::111111111111:user/ana";
    use ConnectionState as S;
    let cases = [
        (1, Would::Accept, Some(registry_entry(1, S::Available, Some(ana)))),
        (2, Would::Reject, Some(registry_entry(2, S::Available, Some(ana)))),
        (3, Would::Review, Some(registry_entry(3, S::Rejected, None))),
        (4, Would::Accept, None),
        (5, Would::Accept, Some(registry_entry(5, S::Rejected, None))),
        (6, Would::Reject, Some(registry_entry(6, S::PendingAcceptance, None))),
    ];
    for (n, would, entry) in cases {
        let v = ShadowVerdict {
            endpoint: endpoint(n),
            service: SVC.parse().expect("svc"),
            owner: FRIEND.parse().expect("owner"),
            would,
            reasons: "r".into(),
            at: now(),
        };
        let event = gate_app::ports::AuditEvent {
            at: now(),
            kind: AuditKind::ShadowDecided,
            actor: "test".into(),
            endpoint: Some(endpoint(n)),
            service: None,
            owner: None,
            outcome: None,
            detail: String::new(),
        };
        assert!(shadows.keep(&v, &event).await.expect("keeps"));
        if let Some(e) = entry {
            assert!(registry.put(&e).await.expect("puts"));
        }
    }
    let r = report(&shadows, &registry, &[], now()).await.expect("reports");
    let order: Vec<(u32, Agreement)> = r
        .rows
        .iter()
        .map(|row| (u32::from_str_radix(&row.endpoint.as_str()[5..], 16).expect("n"), row.agreement))
        .collect();
    assert_eq!(
        order,
        vec![
            (2, Agreement::Disagree),
            (5, Agreement::Disagree),
            (3, Agreement::PersonDecided),
            (1, Agreement::Agree),
            (4, Agreement::Pending),
            (6, Agreement::Pending),
        ]
    );
    assert_eq!(r.rows[0].actual, Actual::Accepted { by: Some(ana.into()) });
    assert_eq!((r.agree, r.disagree, r.person_decided, r.pending), (1, 2, 1, 2));
    assert!(r.summary().starts_with("1 agree, 2 disagree, 1 decided by a person"), "{}", r.summary());
    // Verdicts older than --since, or of another service, are left out.
    assert!(report(&shadows, &registry, &[], now().plus_secs(1)).await.expect("reports").rows.is_empty());
    let other: ServiceId = ENFORCED.parse().expect("svc");
    assert!(report(&shadows, &registry, &[other], now()).await.expect("reports").rows.is_empty());
}
