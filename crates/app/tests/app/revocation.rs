//! Revocation over in-memory ports: an available connection whose
//! allowance is gone is rejected once, audited, announced and told to its
//! consumer where the policy says `revoke: reject`; never on `keep`, never
//! on a failed read, never because of CIDRs.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::notices::Notices;
use gate_app::organizations::Placements;
use gate_app::ports::{AuditKind, Nudge, Requests};
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const OU: &str = "ou-ab12-22222222";

fn later(secs: i64) -> Timestamp {
    now().plus_secs(secs)
}

fn conn(n: u32, state: ConnectionState) -> Connection {
    connection(n, SVC, FRIEND, state)
}

fn incident_entry(principal: &str, effect: Effect, expires: Option<Timestamp>) -> AllowEntry {
    AllowEntry {
        expires_at: expires,
        owner: "secops".into(),
        note: "incident 42 with 999988887777".into(),
        ..entry(principal, effect)
    }
}

fn policy(revoke: Revoke) -> ServicePolicy {
    ServicePolicy {
        approvers: vec!["netops@example.com".into()],
        revoke,
        ..ServicePolicy::cautious(Scope::Any)
    }
}

struct World {
    connections: Arc<InMemoryConnections>,
    policies: Arc<InMemoryPolicies>,
    requests: Arc<InMemoryRequests>,
    audit: Arc<InMemoryAudit>,
    notifier: Arc<RecordingNotifier>,
    email: Arc<RecordingNoticeSender>,
    orgs: Arc<InMemoryOrganizations>,
    networks: HashMap<AccountId, Vec<Cidr>>,
    ledger: Arc<InMemoryNoticeLedger>,
}

impl World {
    /// One more decider over the same ports, as a concurrent invocation is.
    fn decider(&self) -> Decide {
        let notices = Notices {
            contacts: Arc::new(InMemoryContacts::with([Contact {
                account: FRIEND.parse().expect("account"),
                email: Some("team-a@example.com".into()),
                slack_channel: None,
            }])),
            channels: vec![("email", self.email.clone())],
            ledger: self.ledger.clone(),
        };
        Decide::new(
            self.connections.clone(),
            Arc::new(StaticNetworks(self.networks.clone())),
            self.policies.clone(),
            self.requests.clone(),
            self.audit.clone(),
            self.notifier.clone(),
            Settings::default(),
        )
        .with_notices(notices)
        .with_placements(Arc::new(Placements::new(self.orgs.clone(), 900)))
    }

    fn state(&self, n: u32) -> Option<ConnectionState> {
        self.connections.state(&endpoint(n))
    }

    fn count(&self, kind: AuditKind) -> usize {
        self.audit.all().iter().filter(|e| e.kind == kind).count()
    }

    fn rejects(&self) -> usize {
        lock_len(&self.connections.act_calls, |(a, _, _)| *a == Action::Reject)
    }

    fn set(&self, policies: Vec<ServicePolicy>, entries: Vec<AllowEntry>) {
        *self.policies.policies.lock().expect("lock") = policies;
        *self.policies.entries.lock().expect("lock") = entries;
    }
}

fn lock_len<T>(m: &std::sync::Mutex<Vec<T>>, keep: impl Fn(&T) -> bool) -> usize {
    m.lock().expect("lock").iter().filter(|x| keep(x)).count()
}

/// FRIEND's connection 1, accepted by Endpoint Gate as allowlisted, and
/// available; its VPC overlaps nothing.
async fn accepted_world() -> World {
    let w = World {
        connections: Arc::new(InMemoryConnections::with([conn(1, ConnectionState::PendingAcceptance)])),
        policies: Arc::new(InMemoryPolicies::new(
            vec![policy(Revoke::Keep)],
            vec![incident_entry(FRIEND, Effect::Allow, None)],
        )),
        requests: Arc::new(InMemoryRequests::default()),
        audit: Arc::new(InMemoryAudit::default()),
        notifier: Arc::new(RecordingNotifier::default()),
        email: Arc::new(RecordingNoticeSender::for_channel(NoticeChannel::Email)),
        orgs: Arc::new(InMemoryOrganizations::default()),
        networks: HashMap::from([(
            FRIEND.parse().expect("acct"),
            vec!["172.31.0.0/16".parse().expect("cidr")],
        )]),
        ledger: Arc::new(InMemoryNoticeLedger::default()),
    };
    let w = World { requests: Arc::new(InMemoryRequests::with_audit(w.audit.clone())), ..w };
    w.decider().sweep(now()).await.expect("sweeps");
    assert_eq!(w.state(1), Some(ConnectionState::Available));
    assert_eq!(w.requests.get(&endpoint(1)).map(|r| r.state), Some(RequestState::Accepted));
    w
}

#[tokio::test]
async fn a_deny_with_revoke_reject_revokes_the_available_connection_once() {
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Deny, None)]);

    let report = w.decider().sweep(later(10)).await.expect("sweeps");
    assert_eq!(report.counts.revoked, 1, "{report:?}");
    assert_eq!(report.revoked[0].endpoint, endpoint(1));
    assert_eq!(w.state(1), Some(ConnectionState::Rejected));

    // The request says revoked, and why, in both wordings.
    let rec = w.requests.get(&endpoint(1)).expect("record");
    assert_eq!((rec.state, rec.version), (RequestState::Revoked, 2));
    assert_eq!(rec.reasons.iter().map(|r| r.rule).collect::<Vec<_>>(), vec![Rule::Denied, Rule::Revoked]);
    // Audited with the reason; approvers told; the consumer's contact told once.
    let revoked: Vec<_> = w.audit.all().into_iter().filter(|e| e.kind == AuditKind::Revoked).collect();
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0].detail.contains("denied") && revoked[0].detail.contains("revoke: reject"),
        "{}",
        revoked[0].detail
    );
    assert_eq!(*w.notifier.nudges.lock().expect("lock"), vec![(endpoint(1), Nudge::Revoked)]);
    let notices = w.email.notices();
    let kinds: Vec<NoticeKind> = notices.iter().map(|(n, _)| n.kind).collect();
    assert_eq!(kinds, vec![NoticeKind::Accepted, NoticeKind::Revoked]);
    let text = notices[1].0.body();
    assert!(text.contains("was revoked") && text.contains("no longer admitted"), "{text}");
    for secret in ["secops", "incident", "999988887777"] {
        assert!(!text.contains(secret), "{secret} reached the consumer: {text}");
    }

    // The next sweep finds nothing available to revoke.
    let again = w.decider().sweep(later(200)).await.expect("sweeps");
    assert_eq!((again.counts.revoked, w.rejects()), (0, 1));
}

#[tokio::test]
async fn keep_leaves_a_denied_accounts_connection_alone() {
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Keep)], vec![incident_entry(FRIEND, Effect::Deny, None)]);
    let report = w.decider().sweep(later(10)).await.expect("sweeps");
    assert_eq!(report.counts.revoked, 0);
    assert_eq!(w.state(1), Some(ConnectionState::Available));
    assert_eq!((w.rejects(), w.count(AuditKind::Revoked)), (0, 0));
}

#[tokio::test]
async fn an_expired_or_removed_allow_revokes_even_a_connection_accepted_outside_the_gate() {
    // Accepted in the console: Endpoint Gate holds no request for it.
    let w = accepted_world().await;
    w.connections.connections.lock().expect("lock").insert(endpoint(2), conn(2, ConnectionState::Available));
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Allow, Some(later(5)))]);
    let before = w.decider().sweep(later(1)).await.expect("sweeps");
    assert_eq!(before.counts.revoked, 0, "still live");

    let report = w.decider().sweep(later(10)).await.expect("sweeps");
    assert_eq!(report.counts.revoked, 2, "{report:?}");
    let rec = w.requests.get(&endpoint(2)).expect("a record of the revocation");
    assert_eq!((rec.state, rec.version), (RequestState::Revoked, 1));
    assert_eq!(rec.reasons.first().map(|r| r.rule), Some(Rule::EntryExpired));

    // Removed altogether: the same.
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Reject)], vec![]);
    assert_eq!(w.decider().sweep(later(10)).await.expect("sweeps").counts.revoked, 1);
}

#[tokio::test]
async fn no_revocation_on_any_failed_read() {
    // The policy table, the request table, EC2: the sweep fails, nothing moves.
    for fail in ["policies", "requests", "ec2"] {
        let w = accepted_world().await;
        w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Deny, None)]);
        match fail {
            "policies" => *w.policies.fail.lock().expect("lock") = true,
            "requests" => *w.requests.fail_reads.lock().expect("lock") = true,
            _ => *w.connections.fail_with.lock().expect("lock") = Some("EC2 throttled".into()),
        }
        let result = w.decider().sweep(later(10)).await;
        assert!(result.is_err(), "{fail}: a failed read must be an error");
        *w.connections.fail_with.lock().expect("lock") = None;
        assert_eq!(w.state(1), Some(ConnectionState::Available), "{fail}");
        assert_eq!((w.rejects(), w.count(AuditKind::Revoked)), (0, 0), "{fail}");
        assert!(w.email.notices().iter().all(|(n, _)| n.kind != NoticeKind::Revoked), "{fail}");
    }
}

#[tokio::test]
async fn an_unreadable_organization_never_revokes_an_ou_admitted_connection() {
    let w = accepted_world().await;
    // Admitted through its OU only; Organizations now refuses us.
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(OU, Effect::Allow, None)]);
    *w.orgs.fail.lock().expect("lock") = Some("AccessDeniedException".into());
    let report = w.decider().sweep(later(10)).await.expect("sweeps");
    assert_eq!(report.counts.revoked, 0);
    assert_eq!(w.state(1), Some(ConnectionState::Available));
    assert!(
        report.skipped.iter().any(|s| s.endpoint == endpoint(1) && s.why.contains("Organizations")),
        "{report:?}"
    );
    assert_eq!(w.rejects(), 0);
}

#[tokio::test]
async fn cidr_rules_that_would_review_or_reject_a_request_never_revoke() {
    let w = accepted_world().await;
    // Its VPC now overlaps a protected range, its CIDRs cannot be read, and
    // consumers must be unique: a new request would be rejected or reviewed.
    let strict = ServicePolicy {
        overlap: OverlapMode::Reject,
        unknown_cidr: UnknownCidr::Reject,
        unique_consumer_cidrs: true,
        protected_cidrs: vec![ProtectedRange {
            cidr: "172.16.0.0/12".parse().expect("cidr"),
            label: "vpn".into(),
        }],
        ..policy(Revoke::Reject)
    };
    w.set(vec![strict], vec![incident_entry(FRIEND, Effect::Allow, None)]);
    let report = w.decider().sweep(later(10)).await.expect("sweeps");
    assert_eq!(report.counts.revoked, 0, "{report:?}");
    assert_eq!(w.state(1), Some(ConnectionState::Available));
    assert_eq!(w.rejects(), 0);
}

#[tokio::test]
async fn two_concurrent_sweeps_revoke_announce_and_notify_once() {
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Deny, None)]);
    let (a, b) = (w.decider(), w.decider());
    let (ra, rb) = tokio::join!(a.sweep(later(10)), b.sweep(later(10)));
    let revoked = ra.expect("a").counts.revoked + rb.expect("b").counts.revoked;
    assert_eq!(revoked, 1);
    assert_eq!(w.rejects(), 1);
    assert_eq!(w.count(AuditKind::Revoked), 1);
    assert_eq!(w.notifier.nudges.lock().expect("lock").len(), 1);
    assert_eq!(w.email.notices().iter().filter(|(n, _)| n.kind == NoticeKind::Revoked).count(), 1);
}

#[tokio::test]
async fn a_revocation_whose_reject_failed_is_finished_after_its_lease() {
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Deny, None)]);
    // Claimed, but EC2 fails the Reject: the connection stays available.
    let d = w.decider();
    let claim = d.revoke_page(vec![conn(1, ConnectionState::Available)], later(10));
    *w.connections.fail_with.lock().expect("lock") = Some("EC2 throttled".into());
    let report = claim.await.expect("judged");
    *w.connections.fail_with.lock().expect("lock") = None;
    assert_eq!((report.counts.revoked, report.counts.failed), (0, 1), "{report:?}");
    assert_eq!(w.state(1), Some(ConnectionState::Available));
    // Within the lease another sweep leaves it to the claimant; after it, finishes it.
    let within = w.decider().sweep(later(20)).await.expect("sweeps");
    assert_eq!((within.counts.revoked, w.state(1)), (0, Some(ConnectionState::Available)));
    let after = w.decider().sweep(later(100)).await.expect("sweeps");
    assert_eq!(after.counts.revoked, 1);
    assert_eq!(w.state(1), Some(ConnectionState::Rejected));
    assert_eq!(w.count(AuditKind::Revoked), 1, "claimed once");
}

#[tokio::test]
async fn two_runs_past_the_lease_finish_a_revocation_once() {
    let w = accepted_world().await;
    w.set(vec![policy(Revoke::Reject)], vec![incident_entry(FRIEND, Effect::Deny, None)]);
    let d = w.decider();
    let claim = d.revoke_page(vec![conn(1, ConnectionState::Available)], later(10));
    *w.connections.fail_with.lock().expect("lock") = Some("EC2 throttled".into());
    claim.await.expect("judged");
    *w.connections.fail_with.lock().expect("lock") = None;
    let announced = w.notifier.nudges.lock().expect("lock").len();

    // A scheduled sweep and a retry, both past the lease, reading at once.
    let reads: Arc<dyn Requests> = Arc::new(Slow { inner: w.requests.clone(), lagging: false });
    let run = || {
        let mut run = w.decider();
        run.requests = reads.clone();
        run
    };
    let (a, b) = (run(), run());
    let (ra, rb) = tokio::join!(a.sweep(later(100)), b.sweep(later(100)));
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(w.rejects(), 1, "one Reject reached EC2: {ra:?} {rb:?}");
    assert_eq!(w.state(1), Some(ConnectionState::Rejected));
    assert_eq!(w.notifier.nudges.lock().expect("lock").len(), announced + 1, "announced once");
}
