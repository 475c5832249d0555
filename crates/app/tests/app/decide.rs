//! The decide use case over in-memory ports: outcomes, exactly-once under
//! concurrency, failing closed, and finishing work that a failure left.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::cidr_claims::{CidrClaims, ClaimedCidrs, GuardedClaim};
use gate_app::memory::*;
use gate_app::ports::{AuditKind, Connections, Nudge, Requests};
use gate_app::{Answer, Answered, Decide, Settings, Verdict};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const STRANGER: &str = "333344445555";
const ENEMY: &str = "444455556666";

fn conn(n: u32, owner: &str) -> Connection {
    connection(n, SVC, owner, ConnectionState::PendingAcceptance)
}

struct World {
    connections: Arc<InMemoryConnections>,
    policies: Arc<InMemoryPolicies>,
    requests: Arc<InMemoryRequests>,
    audit: Arc<InMemoryAudit>,
    notifier: Arc<RecordingNotifier>,
    decider: Decide,
    answer: Answer,
}

fn world(conns: Vec<Connection>) -> World {
    let connections = Arc::new(InMemoryConnections::with(conns));
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.approvers = vec!["netops@example.com".into(), "ana@example.com".into()];
    let policies = Arc::new(InMemoryPolicies::new(
        vec![policy],
        vec![entry(FRIEND, Effect::Allow), entry(ENEMY, Effect::Deny)],
    ));
    let networks = HashMap::from([
        (FRIEND.parse().expect("acct"), vec!["172.31.0.0/16".parse().expect("cidr")]),
        (STRANGER.parse().expect("acct"), vec!["172.30.0.0/16".parse().expect("cidr")]),
    ]);
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let notifier = Arc::new(RecordingNotifier::default());
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(networks)),
        policies.clone(),
        requests.clone(),
        audit.clone(),
        notifier.clone(),
        Settings { batch: 100, ..Settings::default() },
    );
    let answer = Answer::new(
        connections.clone(),
        policies.clone(),
        requests.clone(),
        audit.clone(),
        Some(notifier.clone()),
    );
    World { connections, policies, requests, audit, notifier, decider, answer }
}

fn operator(arn: &str) -> Answerer {
    Answerer::Operator(arn.into())
}

fn email(address: &str) -> Answerer {
    Answerer::Email(address.into())
}

fn count(w: &World, kind: AuditKind) -> usize {
    w.audit.all().iter().filter(|e| e.kind == kind).count()
}

#[tokio::test]
async fn allowlisted_consumer_is_accepted_and_audited() {
    let w = world(vec![conn(1, FRIEND)]);
    let report = w.decider.decide_endpoint(&endpoint(1), now()).await.expect("runs");
    assert_eq!(report.decided.len(), 1);
    assert_eq!(report.decided[0].outcome, Outcome::Accept);
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available));
    let rec = w.requests.get(&endpoint(1)).expect("recorded");
    assert_eq!(rec.state, RequestState::Accepted);
    // The claim is the only write: EC2's state says the Accept is done.
    assert_eq!((rec.version, rec.acted_at), (1, None));
    assert_eq!(w.audit.all().iter().map(|e| e.kind).collect::<Vec<_>>(), vec![AuditKind::Decided]);
}

#[tokio::test]
async fn denied_consumer_is_rejected() {
    let w = world(vec![conn(2, ENEMY)]);
    w.decider.decide_endpoint(&endpoint(2), now()).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Rejected));
    let decided = w.audit.all();
    assert_eq!(
        decided.iter().map(|e| (e.kind, e.outcome)).collect::<Vec<_>>(),
        vec![(AuditKind::Decided, Some(Outcome::Reject))]
    );
}

#[tokio::test]
async fn unlisted_consumer_goes_to_review_and_approvers_are_told() {
    let w = world(vec![conn(3, STRANGER)]);
    w.decider.decide_endpoint(&endpoint(3), now()).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(3)), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.connections.act_call_count(), 0);
    let sent = w.notifier.sent.lock().expect("lock").clone();
    assert_eq!(
        sent,
        vec![(endpoint(3), vec!["netops@example.com".to_string(), "ana@example.com".to_string()])]
    );
    assert!(w.requests.get(&endpoint(3)).expect("recorded").notified_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_connect_event_accepts_once() {
    let w = world(vec![conn(4, FRIEND)]);
    let runs = (0..5).map(|_| {
        let d = w.decider.clone();
        tokio::spawn(async move { d.decide_endpoint(&endpoint(4), now()).await })
    });
    let mut decided = 0;
    for r in runs {
        decided += r.await.expect("joins").expect("runs").decided.len();
    }
    assert_eq!(decided, 1);
    assert_eq!(w.connections.act_call_count(), 1);
    assert_eq!(count(&w, AuditKind::Decided), 1);
}

#[tokio::test]
async fn unreadable_policy_accepts_nothing() {
    let w = world(vec![conn(5, FRIEND)]);
    *w.policies.fail.lock().expect("lock") = true;
    let err = w.decider.decide_endpoint(&endpoint(5), now()).await.expect_err("fails closed");
    assert!(err.transient);
    assert_eq!(w.connections.state(&endpoint(5)), Some(ConnectionState::PendingAcceptance));
    assert!(w.requests.get(&endpoint(5)).is_none());
}

#[tokio::test]
async fn connection_no_longer_pending_is_left_alone() {
    let mut c = conn(6, FRIEND);
    c.state = ConnectionState::Deleted;
    let w = world(vec![c]);
    let report = w.decider.decide_endpoint(&endpoint(6), now()).await.expect("runs");
    assert!(report.decided.is_empty());
    assert!(report.skipped[0].why.contains("deleted"), "{:?}", report.skipped);
    assert!(
        w.decider.decide_endpoint(&endpoint(99), now()).await.expect("runs").skipped[0]
            .why
            .contains("no connection")
    );
}

#[tokio::test]
async fn failed_accept_is_finished_by_a_later_run_after_the_lease() {
    let w = world(vec![conn(7, FRIEND)]);
    // The connection was read; then EC2 throttles the Accept call.
    *w.connections.fail_with.lock().expect("lock") = Some("throttled".into());
    let first = w.decider.run(vec![conn(7, FRIEND)], now()).await.expect("runs");
    assert_eq!(first.failed.len(), 1);
    *w.connections.fail_with.lock().expect("lock") = None;
    assert_eq!(w.connections.state(&endpoint(7)), Some(ConnectionState::PendingAcceptance));

    // A duplicate right away leaves the work to its claimant.
    let soon = w.decider.sweep(now().plus_secs(5)).await.expect("runs");
    assert!(soon.skipped[0].why.contains("already decided"));
    assert_eq!(w.connections.state(&endpoint(7)), Some(ConnectionState::PendingAcceptance));

    // After the lease the sweep finishes it, without deciding again.
    let later = w.decider.sweep(now().plus_secs(120)).await.expect("runs");
    assert_eq!(later.acted.len(), 1);
    assert_eq!(w.connections.state(&endpoint(7)), Some(ConnectionState::Available));
    assert_eq!(count(&w, AuditKind::Decided), 1);
}

/// An operator denies an account after its request was decided: a deny
/// wins over every allow and every approver, however old the decision.
fn deny_now(w: &World, account: &str) {
    let mut deny = entry(account, Effect::Deny);
    deny.note = "off-boarded".into();
    w.policies.entries.lock().expect("lock").push(deny);
}

#[tokio::test]
async fn an_approval_cannot_accept_an_account_denied_since_its_review_began() {
    let w = world(vec![conn(60, STRANGER)]);
    w.decider.sweep(now()).await.expect("runs");
    let before = w.requests.get(&endpoint(60)).expect("in review");
    assert_eq!(before.state, RequestState::Review);
    deny_now(&w, STRANGER);

    let netops = email("netops@example.com");
    let refused =
        w.answer.answer(&endpoint(60), Verdict::Approve, &netops, None, now()).await.expect("answers");
    let Answered::Denied(why) = refused else { panic!("refused for the deny: {refused:?}") };
    assert!(why.contains("333344445555 is denied") && why.contains("off-boarded"), "{why}");
    // The email link's confirmation page says the same before any POST.
    let check = w.answer.answerable(&endpoint(60), &netops, Verdict::Approve, now()).await.expect("reads");
    assert!(matches!(check, Err(Answered::Denied(_))), "{check:?}");
    assert_eq!(w.requests.get(&endpoint(60)), Some(before), "nothing changed");
    assert_eq!(w.connections.state(&endpoint(60)), Some(ConnectionState::PendingAcceptance));

    // Rejecting is what the deny asks for, and stays open to approvers.
    let done = w.answer.answer(&endpoint(60), Verdict::Deny, &netops, None, now()).await.expect("answers");
    assert!(matches!(done, Answered::Done { .. }), "{done:?}");
    assert_eq!(w.connections.state(&endpoint(60)), Some(ConnectionState::Rejected));
}

#[tokio::test]
async fn with_the_organization_read_an_ou_deny_since_the_review_refuses_the_approval() {
    let w = world(vec![conn(63, STRANGER)]);
    w.decider.sweep(now()).await.expect("runs");
    let suspended: OuId = "ou-ab12-99999999".parse().expect("ou");
    let placement = Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: vec![OuStep { id: suspended.clone(), name: "Suspended".into() }],
    };
    let orgs = Arc::new(InMemoryOrganizations::with([(STRANGER.parse().expect("acct"), placement)]));
    let answer = w
        .answer
        .clone()
        .with_placements(Arc::new(gate_app::organizations::Placements::new(orgs.clone(), 900)));
    let mut deny = entry(suspended.as_str(), Effect::Deny);
    deny.note = "suspended accounts".into();
    w.policies.entries.lock().expect("lock").push(deny);

    // Someone who is not an approver makes us read nothing of the organization.
    let eve = email("eve@example.com");
    let refused = answer.answer(&endpoint(63), Verdict::Approve, &eve, None, now()).await.expect("answers");
    assert!(matches!(refused, Answered::NotAnApprover), "{refused:?}");
    assert!(orgs.reads.lock().expect("lock").is_empty(), "no Organizations call");

    let netops = email("netops@example.com");
    // Without the organization, the OU deny is not seen at answer time.
    let check = w.answer.answerable(&endpoint(63), &netops, Verdict::Approve, now()).await.expect("reads");
    assert!(check.is_ok(), "{check:?}");
    let refused =
        answer.answer(&endpoint(63), Verdict::Approve, &netops, None, now()).await.expect("answers");
    let Answered::Denied(why) = refused else { panic!("refused for the OU deny: {refused:?}") };
    assert!(why.contains("ou-ab12-99999999") && why.contains("suspended accounts"), "{why}");

    // An organization that cannot be read cannot rule the deny out: the approval waits.
    *orgs.fail.lock().expect("lock") = Some("AccessDenied".into());
    let fresh = answer.clone().with_placements(Arc::new(gate_app::organizations::Placements::new(orgs, 900)));
    let waits = fresh.answer(&endpoint(63), Verdict::Approve, &netops, None, now()).await;
    assert!(
        waits.as_ref().is_err_and(|e| e.transient && e.what.contains("cannot be ruled out")),
        "{waits:?}"
    );
    assert_eq!(w.requests.get(&endpoint(63)).expect("kept").state, RequestState::Review);
    assert_eq!(w.connections.state(&endpoint(63)), Some(ConnectionState::PendingAcceptance));
}

#[tokio::test]
async fn an_unfinished_accept_is_not_finished_once_its_account_is_denied() {
    let w = world(vec![conn(61, FRIEND)]);
    *w.connections.fail_with.lock().expect("lock") = Some("throttled".into());
    w.decider.run(vec![conn(61, FRIEND)], now()).await.expect("runs");
    *w.connections.fail_with.lock().expect("lock") = None;
    assert_eq!(w.requests.get(&endpoint(61)).expect("decided").state, RequestState::Accepted);
    deny_now(&w, FRIEND);

    let later = w.decider.sweep(now().plus_secs(120)).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(61)), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.connections.act_call_count(), 0, "no Accept reached EC2");
    assert!(later.skipped[0].why.contains("reject it or lift the deny"), "{:?}", later.skipped);
}

#[tokio::test]
async fn a_review_of_a_denied_account_sends_no_more_links() {
    let w = world(vec![conn(62, STRANGER)]);
    w.decider.sweep(now()).await.expect("runs");
    assert_eq!(w.notifier.sent.lock().expect("lock").len(), 1, "the review went out");
    // Without the deny, a day later the approvers are reminded (new links).
    let control = world(vec![conn(62, STRANGER)]);
    control.decider.sweep(now()).await.expect("runs");
    control.decider.sweep(now().plus_secs(25 * 3600)).await.expect("runs");
    assert_eq!(control.notifier.nudges.lock().expect("lock").len(), 1, "reminded");

    deny_now(&w, STRANGER);
    for hours in [25, 49] {
        w.decider.sweep(now().plus_secs(hours * 3600)).await.expect("runs");
    }
    assert!(w.notifier.nudges.lock().expect("lock").is_empty(), "no reminder carried new links");
    assert_eq!(w.notifier.sent.lock().expect("lock").len(), 1);
    assert_eq!(w.requests.get(&endpoint(62)).expect("kept").state, RequestState::Review);
}

#[tokio::test]
async fn two_runs_past_the_lease_finish_left_over_work_once() {
    let w = world(vec![conn(70, FRIEND), conn(71, STRANGER)]);
    // The Accept and the review's notification both fail the first time.
    *w.connections.fail_with.lock().expect("lock") = Some("throttled".into());
    *w.notifier.fail.lock().expect("lock") = true;
    w.decider.run(vec![conn(70, FRIEND), conn(71, STRANGER)], now()).await.expect("runs");
    *w.connections.fail_with.lock().expect("lock") = None;
    *w.notifier.fail.lock().expect("lock") = false;
    assert_eq!((w.connections.act_call_count(), w.notifier.sent.lock().expect("lock").len()), (0, 0));

    // A scheduled sweep and a retry, both past the lease, at once.
    let reads: Arc<dyn Requests> = Arc::new(Slow { inner: w.requests.clone(), lagging: false });
    let run = || {
        let mut run = w.decider.clone();
        run.requests = reads.clone();
        run
    };
    let (first, second) = (run(), run());
    let later = now().plus_secs(120);
    let (a, b) = tokio::join!(first.sweep(later), second.sweep(later));
    let (a, b) = (a.expect("runs"), b.expect("runs"));
    assert_eq!(w.connections.act_call_count(), 1, "one Accept: {a:?} {b:?}");
    assert_eq!(w.notifier.sent.lock().expect("lock").len(), 1, "one review email");
    assert_eq!(w.connections.state(&endpoint(70)), Some(ConnectionState::Available));
    let taken = [&a, &b].iter().flat_map(|r| &r.skipped).filter(|s| s.why.contains("taken over")).count();
    assert_eq!(taken, 2, "the other run stood aside for both: {a:?} {b:?}");
}

/// Consumer reads that let other claims run before they answer.
struct YieldingNetworks(StaticNetworks);

#[async_trait::async_trait]
impl gate_app::ports::ConsumerNetworks for YieldingNetworks {
    async fn vpc_cidrs(
        &self,
        owner: AccountId,
        region: Option<&Region>,
        endpoint: &EndpointId,
    ) -> Result<Discovery, gate_app::PortError> {
        tokio::task::yield_now().await;
        self.0.vpc_cidrs(owner, region, endpoint).await
    }
}

/// Where consumers' CIDRs must be unique, two allowlisted accounts asking
/// in the same batch from overlapping VPCs are not both accepted, though
/// their reads run at once and the store's index lags: such claims go one
/// at a time, and each accept of the run joins the CIDRs the next is
/// judged against.
const OTHER: &str = "555566667777";

/// A decider of a service whose consumer CIDRs must be unique, where FRIEND
/// and OTHER are both allowed and ask from the same 10.0.0.0/16, over a
/// store whose index of accepted CIDRs lags.
fn unique_decider(connections: Arc<InMemoryConnections>, requests: Arc<InMemoryRequests>) -> Decide {
    let overlapping: Vec<Cidr> = vec!["10.0.0.0/16".parse().expect("cidr")];
    let unique = ServicePolicy { unique_consumer_cidrs: true, ..ServicePolicy::cautious(Scope::Any) };
    let audit = Arc::new(InMemoryAudit::default());
    Decide::new(
        connections,
        Arc::new(YieldingNetworks(StaticNetworks(HashMap::from([
            (FRIEND.parse().expect("acct"), overlapping.clone()),
            (OTHER.parse().expect("acct"), overlapping),
        ])))),
        Arc::new(InMemoryPolicies::new(
            vec![unique],
            vec![entry(FRIEND, Effect::Allow), entry(OTHER, Effect::Allow)],
        )),
        Arc::new(Slow { inner: requests, lagging: true }),
        audit,
        Arc::new(RecordingNotifier::default()),
        Settings { concurrency: 16, ..Settings::default() },
    )
}

fn accepted(connections: &InMemoryConnections, endpoints: &[u32]) -> usize {
    endpoints.iter().filter(|n| connections.state(&endpoint(**n)) == Some(ConnectionState::Available)).count()
}

#[tokio::test]
async fn overlapping_consumers_in_one_batch_are_not_both_accepted() {
    let (a, b) = (conn(80, FRIEND), conn(81, OTHER));
    let connections = Arc::new(InMemoryConnections::with([a.clone(), b.clone()]));
    let decider = unique_decider(connections.clone(), Arc::new(InMemoryRequests::default()));
    let report = decider.run(vec![a, b], now()).await.expect("runs");
    assert_eq!(accepted(&connections, &[80, 81]), 1, "{report:?}");
    let held = report.decided.iter().find(|d| d.outcome != Outcome::Accept).expect("one held back");
    assert!(held.reasons.contains("overlaps"), "{}", held.reasons);
}

#[tokio::test]
async fn overlapping_consumers_in_two_runs_at_once_are_not_both_accepted() {
    let (a, b) = (conn(82, FRIEND), conn(83, OTHER));
    let connections = Arc::new(InMemoryConnections::with([a.clone(), b.clone()]));
    let requests = Arc::new(InMemoryRequests::default());
    // Two invocations, each with one notification, both reading before
    // either claims, over an index that shows neither accept.
    let (first, second) = (
        unique_decider(connections.clone(), requests.clone()),
        unique_decider(connections.clone(), requests.clone()),
    );
    let (one, two) = tokio::join!(first.run(vec![a], now()), second.run(vec![b.clone()], now()));
    let (one, two) = (one.expect("runs"), two.expect("runs"));
    assert_eq!(accepted(&connections, &[82, 83]), 1, "{one:?} {two:?}");
    let came_second = if one.failed.is_empty() { &two } else { &one };
    assert_eq!(came_second.failed.len(), 1, "the second claim fails, for a retry: {came_second:?}");
    assert!(came_second.failed[0].why.contains("another run accepted"), "{came_second:?}");

    // The retry judges again, against the guard's claims the index still
    // does not show, and holds the overlap back.
    let retried = first.run(vec![b], now().plus_secs(5)).await.expect("runs");
    assert_eq!(accepted(&connections, &[82, 83]), 1, "{retried:?}");
    let held = retried.decided.first().expect("decided");
    assert_ne!(held.outcome, Outcome::Accept);
    assert!(held.reasons.contains("overlaps"), "{}", held.reasons);
}

#[tokio::test]
async fn failed_notification_is_sent_by_a_later_sweep() {
    let w = world(vec![conn(8, STRANGER)]);
    *w.notifier.fail.lock().expect("lock") = true;
    let first = w.decider.sweep(now()).await.expect("runs");
    assert_eq!(first.failed.len(), 1);
    *w.notifier.fail.lock().expect("lock") = false;
    w.decider.sweep(now().plus_secs(120)).await.expect("runs");
    assert_eq!(w.notifier.sent.lock().expect("lock").len(), 1);
    // Once sent, it is not sent again.
    w.decider.sweep(now().plus_secs(240)).await.expect("runs");
    assert_eq!(w.notifier.sent.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn sweep_batches_accepts_per_service() {
    let conns: Vec<Connection> = (100..350).map(|n| conn(n, FRIEND)).collect();
    let w = world(conns);
    let report = w.decider.sweep(now()).await.expect("runs");
    assert_eq!(report.counts.decided, 250);
    assert_eq!(report.decided.len(), gate_app::report::REPORT_DETAILS, "the answer stays small");
    assert_eq!(w.connections.act_call_count(), 3);
    assert!(w.connections.pending(&[]).await.expect("reads").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approve_and_deny_racing_make_one_decision() {
    let w = world(vec![conn(20, STRANGER)]);
    w.decider.decide_endpoint(&endpoint(20), now()).await.expect("runs");
    let answers =
        [(Verdict::Approve, "alice"), (Verdict::Deny, "bob"), (Verdict::Approve, "carol")].map(|(v, who)| {
            let d = w.answer.clone();
            tokio::spawn(async move {
                d.answer(&endpoint(20), v, &operator(who), Some("looks fine"), now().plus_secs(60)).await
            })
        });
    let mut done = Vec::new();
    for a in answers {
        if let Answered::Done { record, .. } = a.await.expect("joins").expect("answers") {
            done.push(record);
        }
    }
    assert_eq!(done.len(), 1, "exactly one answer decides");
    let winner = &done[0];
    let expected = if winner.state == RequestState::Approved {
        ConnectionState::Available
    } else {
        ConnectionState::Rejected
    };
    assert_eq!(w.connections.state(&endpoint(20)), Some(expected));
    assert_eq!(w.connections.act_call_count(), 1);
    let stored = w.requests.get(&endpoint(20)).expect("recorded");
    assert_eq!(stored.actor, winner.actor);
    let decided: Vec<_> = w.audit.all().into_iter().filter(|e| e.kind == AuditKind::Decided).collect();
    assert_eq!(decided.len(), 2, "the review, then one answer");
    assert_eq!(decided[1].actor, winner.actor);
    assert!(decided[1].detail.contains("looks fine"));
}

#[tokio::test]
async fn answering_a_request_not_in_review_changes_nothing() {
    let w = world(vec![conn(21, FRIEND)]);
    w.decider.decide_endpoint(&endpoint(21), now()).await.expect("runs");
    let answer = w
        .answer
        .answer(&endpoint(21), Verdict::Deny, &operator("mallory"), None, now())
        .await
        .expect("answers");
    assert!(
        matches!(answer, Answered::AlreadyDecided(ref r) if r.state == RequestState::Accepted),
        "{answer:?}"
    );
    assert_eq!(w.connections.state(&endpoint(21)), Some(ConnectionState::Available));
    let unknown = w
        .answer
        .answer(&endpoint(22), Verdict::Approve, &operator("alice"), None, now())
        .await
        .expect("answers");
    assert!(matches!(unknown, Answered::Unknown));
}

#[tokio::test]
async fn endpoints_of_services_this_deployment_does_not_manage_are_left_alone() {
    let mut w = world(vec![conn(30, FRIEND)]);
    w.decider.settings.services = vec!["vpce-svc-0fff0000fff000000".parse().expect("svc")];
    let report = w.decider.decide_endpoint(&endpoint(30), now()).await.expect("runs");
    assert!(report.decided.is_empty());
    assert!(report.skipped[0].why.contains("not one of this deployment's services"), "{:?}", report.skipped);
    assert_eq!(w.connections.state(&endpoint(30)), Some(ConnectionState::PendingAcceptance));
}

fn review_world(on_expiry: OnExpiry) -> World {
    let w = world(vec![conn(40, STRANGER)]);
    let mut policies = w.policies.policies.lock().expect("lock");
    policies[0].reminder_interval_secs = 3600;
    policies[0].approval_ttl_secs = 3 * 3600 + 60;
    policies[0].on_expiry = on_expiry;
    drop(policies);
    w
}

fn nudges(w: &World) -> Vec<Nudge> {
    w.notifier.nudges.lock().expect("lock").iter().map(|(_, n)| *n).collect()
}

#[tokio::test]
async fn unanswered_reviews_get_reminders_then_expire_into_a_reject() {
    let w = review_world(OnExpiry::Reject);
    w.decider.sweep(now()).await.expect("runs");
    // Sweeps every few minutes: one reminder per interval, not per sweep.
    for minutes in (5..=185).step_by(5) {
        w.decider.sweep(now().plus_secs(minutes * 60)).await.expect("runs");
    }
    assert_eq!(
        nudges(&w),
        vec![Nudge::Reminder(1), Nudge::Reminder(2), Nudge::Reminder(3), Nudge::ExpiredRejected]
    );
    let rec = w.requests.get(&endpoint(40)).expect("recorded");
    assert_eq!(rec.state, RequestState::Expired);
    assert_eq!(w.connections.state(&endpoint(40)), Some(ConnectionState::Rejected));
    // Too late to answer.
    let late = w
        .answer
        .answer(&endpoint(40), Verdict::Approve, &operator("alice"), None, now().plus_secs(99_999))
        .await
        .expect("answers");
    assert!(matches!(late, Answered::AlreadyDecided(_)), "{late:?}");
}

#[tokio::test]
async fn an_expired_review_kept_pending_stops_reminding_and_still_takes_an_answer() {
    let w = review_world(OnExpiry::KeepPending);
    w.decider.sweep(now()).await.expect("runs");
    for minutes in (5..=600).step_by(5) {
        w.decider.sweep(now().plus_secs(minutes * 60)).await.expect("runs");
    }
    assert_eq!(
        nudges(&w),
        vec![Nudge::Reminder(1), Nudge::Reminder(2), Nudge::Reminder(3), Nudge::ExpiredKeptPending]
    );
    assert_eq!(w.connections.state(&endpoint(40)), Some(ConnectionState::PendingAcceptance));
    let answer = w
        .answer
        .answer(&endpoint(40), Verdict::Approve, &operator("alice"), None, now().plus_secs(40_000))
        .await
        .expect("answers");
    assert!(matches!(answer, Answered::Done { .. }), "{answer:?}");
    assert_eq!(w.connections.state(&endpoint(40)), Some(ConnectionState::Available));
}

fn slack_world() -> World {
    let w = review_world(OnExpiry::Reject);
    w.policies.policies.lock().expect("lock")[0].slack_channel = Some("#netops".into());
    w
}

fn settled(w: &World) -> Vec<(RequestState, String, String)> {
    let settled = w.notifier.settled.lock().expect("lock");
    settled.iter().map(|(rec, note)| (rec.state, rec.actor.clone(), note.clone())).collect()
}

#[tokio::test]
async fn an_answer_from_anywhere_shows_on_the_review_message() {
    let w = slack_world();
    w.decider.sweep(now()).await.expect("runs");
    let posted = w.requests.get(&endpoint(40)).expect("recorded").slack_message.expect("message kept");
    assert_eq!((posted.channel.as_str(), posted.ts.as_str()), ("#netops", "1.0"));

    let later = now().plus_secs(600);
    let (ana, ep) = (email("ana@example.com"), endpoint(40));
    let answer = w.answer.answer(&ep, Verdict::Deny, &ana, Some(" dup "), later).await.expect("answers");
    assert!(matches!(answer, Answered::Done { .. }));
    assert_eq!(
        settled(&w),
        vec![(
            RequestState::Denied,
            "email:ana@example.com".to_string(),
            "Reason: dup. The connection is rejected.".to_string()
        )]
    );
    // The message is what the record says: a second answer settles nothing more.
    let again = w
        .answer
        .answer(&endpoint(40), Verdict::Approve, &operator("bob"), None, later)
        .await
        .expect("answers");
    assert!(matches!(again, Answered::AlreadyDecided(_)), "{again:?}");
    assert_eq!(settled(&w).len(), 1);
}

#[tokio::test]
async fn an_expired_review_shows_it_was_rejected_on_its_message() {
    let w = slack_world();
    w.decider.sweep(now()).await.expect("runs");
    for minutes in (5..=185).step_by(5) {
        w.decider.sweep(now().plus_secs(minutes * 60)).await.expect("runs");
    }
    let settled = settled(&w);
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0].0, RequestState::Expired);
    assert!(settled[0].2.contains("Nobody answered in time"), "{settled:?}");
    // Reminders did not replace the message the outcome is shown on.
    assert!(w.requests.get(&endpoint(40)).expect("recorded").slack_message.is_some());
}

#[tokio::test]
async fn a_failing_message_update_never_undoes_the_answer() {
    let w = slack_world();
    w.decider.sweep(now()).await.expect("runs");
    *w.notifier.fail.lock().expect("lock") = true;
    let ep = endpoint(40);
    let answer = w.answer.answer(&ep, Verdict::Approve, &email("ana@example.com"), None, now()).await;
    assert!(matches!(answer.expect("answers"), Answered::Done { .. }));
    assert_eq!(w.connections.state(&endpoint(40)), Some(ConnectionState::Available));
    assert_eq!(w.requests.get(&endpoint(40)).expect("recorded").state, RequestState::Approved);
}

#[tokio::test]
async fn only_the_services_current_approvers_may_answer() {
    let w = world(vec![conn(50, STRANGER)]);
    w.decider.decide_endpoint(&endpoint(50), now()).await.expect("runs");
    let before = w.requests.get(&endpoint(50)).expect("in review");
    assert_eq!(before.state, RequestState::Review);

    // Someone who never was an approver, a Slack user not listed, and an
    // approver the policy dropped since the email went out.
    let stranger = email("eve@example.com");
    let slacker = Answerer::Slack { user_id: "U0EVE".into(), user_name: "eve".into() };
    w.policies.policies.lock().expect("lock")[0].approvers = vec!["netops@example.com".into()];
    let dropped = email("ana@example.com");
    for who in [&stranger, &slacker, &dropped] {
        let refused =
            w.answer.answer(&endpoint(50), Verdict::Approve, who, None, now()).await.expect("answers");
        assert!(matches!(refused, Answered::NotAnApprover), "{who:?}: {refused:?}");
        let check = w.answer.answerable(&endpoint(50), who, Verdict::Approve, now()).await.expect("reads");
        assert!(matches!(check, Err(Answered::NotAnApprover)), "{who:?}: {check:?}");
    }
    assert_eq!(w.requests.get(&endpoint(50)), Some(before), "nothing changed");
    assert_eq!(w.connections.state(&endpoint(50)), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.connections.act_call_count(), 0);

    let netops = email("netops@example.com");
    let ok = w.answer.answer(&endpoint(50), Verdict::Approve, &netops, None, now()).await;
    assert!(matches!(ok.expect("answers"), Answered::Done { .. }));
    assert_eq!(w.connections.state(&endpoint(50)), Some(ConnectionState::Available));
}

#[tokio::test]
async fn an_approver_of_one_service_cannot_answer_for_another() {
    const PAYMENTS: &str = "vpce-svc-0fff0000fff000000";
    let mut other = conn(51, STRANGER);
    other.service = PAYMENTS.parse().expect("svc");
    let w = world(vec![conn(50, STRANGER), other]);
    let mut payments = ServicePolicy::cautious(Scope::Service(PAYMENTS.parse().expect("svc")));
    payments.approvers = vec!["payments-owners@example.com".into()];
    w.policies.policies.lock().expect("lock").push(payments);
    w.decider.sweep(now()).await.expect("runs");

    let netops = email("netops@example.com");
    let refused =
        w.answer.answer(&endpoint(51), Verdict::Approve, &netops, None, now()).await.expect("answers");
    assert!(matches!(refused, Answered::NotAnApprover), "{refused:?}");
    assert_eq!(w.requests.get(&endpoint(51)).expect("recorded").state, RequestState::Review);
    let owners = email("payments-owners@example.com");
    let refused = w.answer.answer(&endpoint(50), Verdict::Deny, &owners, None, now()).await.expect("answers");
    assert!(matches!(refused, Answered::NotAnApprover), "{refused:?}");
    let done = w.answer.answer(&endpoint(51), Verdict::Approve, &owners, None, now()).await.expect("answers");
    assert!(matches!(done, Answered::Done { .. }), "{done:?}");
    assert_eq!(w.connections.state(&endpoint(50)), Some(ConnectionState::PendingAcceptance));
}

/// What lands between an answer's read and its write.
enum Race {
    /// A reminder, moving the request's version on.
    Reminder,
    /// Another consumer's accept from the same CIDRs, moving the guard on.
    OverlappingAccept,
}

/// A store in which `race` lands once, between an answer's read and its write.
struct AnswerRaces {
    inner: Arc<InMemoryRequests>,
    race: Race,
    raced: std::sync::atomic::AtomicBool,
}

impl AnswerRaces {
    fn new(inner: Arc<InMemoryRequests>, race: Race) -> Self {
        Self { inner, race, raced: Default::default() }
    }

    async fn race_once(&self, answer: &RequestRecord) -> Result<(), gate_app::PortError> {
        if answer.state != RequestState::Approved
            || self.raced.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        match self.race {
            Race::Reminder => {
                let mut reminded = self.inner.get(&answer.endpoint).expect("recorded");
                reminded.reminders += 1;
                reminded.version += 1;
                assert!(self.inner.update(&reminded).await?, "the reminder lands first");
            }
            Race::OverlappingAccept => {
                let mut other = RequestRecord::new(
                    answer.service.clone(),
                    endpoint(99),
                    FRIEND.parse().expect("account"),
                    RequestState::Accepted,
                    "endpoint-gate",
                    now(),
                );
                other.consumer_cidrs = answer.consumer_cidrs.clone();
                let claim = ClaimedCidrs {
                    endpoint: other.endpoint.clone(),
                    owner: other.owner,
                    cidrs: other.consumer_cidrs.clone(),
                    at: now(),
                };
                let next = self.inner.cidr_claims(&answer.service).await?.after(claim);
                let decided = gate_app::ports::AuditEvent {
                    at: now(),
                    kind: AuditKind::Decided,
                    actor: "endpoint-gate".into(),
                    endpoint: Some(other.endpoint.clone()),
                    service: Some(other.service.clone()),
                    owner: Some(other.owner),
                    outcome: Some(Outcome::Accept),
                    detail: "allowlisted".into(),
                };
                let claimed = self.inner.create_guarded(&other, &decided, &next).await?;
                assert_eq!(claimed, GuardedClaim::Claimed, "the other accept lands first");
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Requests for AnswerRaces {
    async fn get_many(
        &self,
        e: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RequestRecord>, gate_app::PortError> {
        self.inner.get_many(e).await
    }
    async fn create(
        &self,
        r: &RequestRecord,
        d: &gate_app::ports::AuditEvent,
    ) -> Result<bool, gate_app::PortError> {
        self.inner.create(r, d).await
    }
    async fn update(&self, r: &RequestRecord) -> Result<bool, gate_app::PortError> {
        self.race_once(r).await?;
        self.inner.update(r).await
    }
    async fn accepted_cidrs(
        &self,
        s: &ServiceId,
    ) -> Result<Vec<(Cidr, AccountId, EndpointId)>, gate_app::PortError> {
        self.inner.accepted_cidrs(s).await
    }
    async fn cidr_claims(&self, s: &ServiceId) -> Result<CidrClaims, gate_app::PortError> {
        self.inner.cidr_claims(s).await
    }
    async fn create_guarded(
        &self,
        r: &RequestRecord,
        d: &gate_app::ports::AuditEvent,
        next: &CidrClaims,
    ) -> Result<GuardedClaim, gate_app::PortError> {
        self.inner.create_guarded(r, d, next).await
    }
    async fn update_guarded(
        &self,
        r: &RequestRecord,
        next: &CidrClaims,
    ) -> Result<bool, gate_app::PortError> {
        self.race_once(r).await?;
        self.inner.update_guarded(r, next).await
    }
}

#[tokio::test]
async fn an_answer_racing_a_reminder_is_taken_once_not_lost() {
    let mut w = world(vec![conn(52, STRANGER)]);
    w.decider.decide_endpoint(&endpoint(52), now()).await.expect("runs");
    let racing = Arc::new(AnswerRaces::new(w.requests.clone(), Race::Reminder));
    w.answer.actions.requests = racing.clone();
    let netops = email("netops@example.com");
    let answer =
        w.answer.answer(&endpoint(52), Verdict::Approve, &netops, None, now()).await.expect("answers");
    assert!(racing.raced.load(std::sync::atomic::Ordering::SeqCst), "the race happened");
    assert!(matches!(answer, Answered::Done { .. }), "{answer:?}");
    let rec = w.requests.get(&endpoint(52)).expect("recorded");
    assert_eq!(
        (rec.state, rec.reminders),
        (RequestState::Approved, 1),
        "the answer and the reminder both stand"
    );
    assert_eq!(w.connections.state(&endpoint(52)), Some(ConnectionState::Available));
    assert_eq!(w.connections.act_call_count(), 1);
}

/// The world's service requiring unique consumer CIDRs.
fn unique_cidrs(w: &World) {
    for policy in w.policies.policies.lock().expect("lock").iter_mut() {
        policy.unique_consumer_cidrs = true;
    }
}

#[tokio::test]
async fn an_approval_cannot_accept_a_consumer_overlapping_one_accepted_since() {
    let mut w = world(vec![conn(66, STRANGER)]);
    unique_cidrs(&w);
    w.decider.sweep(now()).await.expect("runs");
    let before = w.requests.get(&endpoint(66)).expect("in review");
    assert_eq!(before.state, RequestState::Review);
    // Another consumer from the same 172.30.0.0/16 is accepted while the
    // review waits: the approval's write finds the guard moved, reads
    // again, and is refused.
    let racing = Arc::new(AnswerRaces::new(w.requests.clone(), Race::OverlappingAccept));
    w.answer.actions.requests = racing.clone();
    let netops = email("netops@example.com");
    let refused =
        w.answer.answer(&endpoint(66), Verdict::Approve, &netops, None, now()).await.expect("answers");
    assert!(racing.raced.load(std::sync::atomic::Ordering::SeqCst), "the race happened");
    let Answered::Overlaps(why) = refused else { panic!("refused for the overlap: {refused:?}") };
    assert!(why.contains("172.30.0.0/16 overlaps") && why.contains("unique consumer CIDRs"), "{why}");
    assert_eq!(w.requests.get(&endpoint(66)), Some(before), "nothing changed");
    assert_eq!(w.connections.state(&endpoint(66)), Some(ConnectionState::PendingAcceptance));
    // The email link's confirmation page says the same before any POST.
    let check = w.answer.answerable(&endpoint(66), &netops, Verdict::Approve, now()).await.expect("reads");
    assert!(matches!(check, Err(Answered::Overlaps(_))), "{check:?}");
    // Rejecting stays open.
    let done = w.answer.answer(&endpoint(66), Verdict::Deny, &netops, None, now()).await.expect("answers");
    assert!(matches!(done, Answered::Done { .. }), "{done:?}");
}

#[tokio::test]
async fn an_approval_of_a_unique_cidr_service_moves_its_guard() {
    let w = world(vec![conn(67, STRANGER)]);
    unique_cidrs(&w);
    w.decider.sweep(now()).await.expect("runs");
    let service = w.requests.get(&endpoint(67)).expect("in review").service;
    let netops = email("netops@example.com");
    let done = w.answer.answer(&endpoint(67), Verdict::Approve, &netops, None, now()).await.expect("answers");
    assert!(matches!(done, Answered::Done { .. }), "{done:?}");
    // Its CIDRs count for the next consumer before any index shows them.
    let guard = w.requests.cidr_claims(&service).await.expect("reads");
    assert_eq!(guard.version, 1);
    assert_eq!(guard.recent[0].endpoint, endpoint(67));
    assert_eq!(guard.recent[0].cidrs, vec!["172.30.0.0/16".parse::<Cidr>().expect("cidr")]);
}

/// EC2 as it pages: `size` connections a page, the first taking `delay`.
struct Paged {
    inner: Arc<InMemoryConnections>,
    size: usize,
    delay: std::time::Duration,
}

#[async_trait::async_trait]
impl Connections for Paged {
    async fn get(&self, e: &EndpointId) -> Result<Option<Connection>, gate_app::PortError> {
        self.inner.get(e).await
    }
    async fn pending(&self, s: &[ServiceId]) -> Result<Vec<Connection>, gate_app::PortError> {
        self.inner.pending(s).await
    }
    async fn all(&self, s: &[ServiceId]) -> Result<Vec<Connection>, gate_app::PortError> {
        self.inner.all(s).await
    }
    async fn act(
        &self,
        a: Action,
        s: &ServiceId,
        e: &[EndpointId],
    ) -> Result<Vec<gate_app::ports::Refused>, gate_app::PortError> {
        self.inner.act(a, s, e).await
    }
    async fn pending_page(
        &self,
        s: &[ServiceId],
        cursor: Option<String>,
    ) -> Result<gate_app::ports::Page, gate_app::PortError> {
        if cursor.is_none() {
            tokio::time::sleep(self.delay).await;
        }
        let mut all = self.inner.pending(s).await?;
        all.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        // The cursor is the last endpoint of the previous page, as a token would be.
        let start = cursor
            .map_or(0, |c| all.iter().position(|x| x.endpoint.as_str() > c.as_str()).unwrap_or(all.len()));
        let connections: Vec<Connection> = all.iter().skip(start).take(self.size).cloned().collect();
        let next = (start + self.size < all.len())
            .then(|| connections.last().map(|c| c.endpoint.to_string()))
            .flatten();
        Ok(gate_app::ports::Page { connections, next })
    }
}

#[tokio::test]
async fn a_sweep_reads_page_by_page_and_answers_in_counts() {
    let mut w = world((1000..1250).map(|n| conn(n, FRIEND)).collect());
    let paged = Arc::new(Paged { inner: w.connections.clone(), size: 100, delay: Default::default() });
    w.decider.connections = paged;
    let report = w.decider.sweep(now()).await.expect("runs");
    assert!(!report.stopped_early);
    assert_eq!((report.counts.pages, report.counts.decided, report.counts.accepted), (3, 250, 250));
    assert_eq!(report.decided.len(), gate_app::report::REPORT_DETAILS);
    let answer = serde_json::to_string(&report).expect("json");
    assert!(answer.len() < 64 * 1024, "{} bytes", answer.len());
    assert!(w.connections.pending(&[]).await.expect("reads").is_empty());
}

/// Time runs out after the first page: the sweep stops cleanly, and the
/// next one finishes the rest; every connection is accepted once.
#[tokio::test]
async fn a_sweep_out_of_time_stops_between_pages_and_the_next_one_goes_on() {
    let mut w = world((2000..2250).map(|n| conn(n, FRIEND)).collect());
    // The deadline passes while the first page is read, whatever else the machine is doing.
    let delay = std::time::Duration::from_millis(1500);
    w.decider.connections = Arc::new(Paged { inner: w.connections.clone(), size: 100, delay });
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let first = w.decider.sweep_until(now(), Some(deadline)).await.expect("runs");
    assert!(first.stopped_early);
    assert_eq!((first.counts.pages, first.counts.decided), (1, 100));
    assert_eq!(w.connections.pending(&[]).await.expect("reads").len(), 150, "the rest still waits");

    let second = w.decider.sweep(now().plus_secs(300)).await.expect("runs");
    assert!(!second.stopped_early);
    assert_eq!(second.counts.decided, 150, "only the rest is decided");
    assert!(w.connections.pending(&[]).await.expect("reads").is_empty());
    let mut accepted: Vec<EndpointId> =
        w.connections.act_calls.lock().unwrap().iter().flat_map(|(_, _, ids)| ids.clone()).collect();
    accepted.sort();
    accepted.dedup();
    assert_eq!((accepted.len(), w.connections.act_call_count()), (250, 3), "each connection accepted once");
    assert_eq!(count(&w, AuditKind::Decided), 250, "each connection decided once");
}

/// What happens to the connections around an Accept call, as EC2 and the
/// SDK would have it.
enum AroundTheCall {
    /// The call took effect and its reply was lost (or timed out): the SDK
    /// sends the same call again, and its answer is the second one.
    ReplyLostOnce,
    /// The same, and then EC2 cannot be read.
    ReplyLostOnceThenUnreadable,
    /// The consumer deleted its endpoint between the describe and the call.
    DeletedBefore,
}

struct Ec2With(Arc<InMemoryConnections>, AroundTheCall);

#[async_trait::async_trait]
impl Connections for Ec2With {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<Connection>, gate_app::PortError> {
        self.0.get(endpoint).await
    }
    async fn pending(&self, services: &[ServiceId]) -> Result<Vec<Connection>, gate_app::PortError> {
        self.0.pending(services).await
    }
    async fn all(&self, services: &[ServiceId]) -> Result<Vec<Connection>, gate_app::PortError> {
        self.0.all(services).await
    }
    async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        endpoints: &[EndpointId],
    ) -> Result<Vec<gate_app::ports::Refused>, gate_app::PortError> {
        match self.1 {
            AroundTheCall::ReplyLostOnce => {
                self.0.act(action, service, endpoints).await?;
            }
            AroundTheCall::ReplyLostOnceThenUnreadable => {
                self.0.act(action, service, endpoints).await?;
                let repeat = self.0.act(action, service, endpoints).await;
                *self.0.fail_with.lock().expect("lock") = Some("EC2 unreachable".into());
                return repeat;
            }
            AroundTheCall::DeletedBefore => {
                let mut connections = self.0.connections.lock().expect("lock");
                for endpoint in endpoints {
                    if let Some(c) = connections.get_mut(endpoint) {
                        c.state = ConnectionState::Deleted;
                    }
                }
            }
        }
        self.0.act(action, service, endpoints).await
    }
}

/// A decider of FRIEND's connection `n` over EC2 `around` the Accept: its
/// report, the connection's state after, the audit, and how many Accept
/// calls reached EC2.
async fn decided_with(
    n: u32,
    around: AroundTheCall,
) -> (gate_app::Report, Option<ConnectionState>, Vec<gate_app::ports::AuditEvent>, usize) {
    let ec2 = Arc::new(InMemoryConnections::with([conn(n, FRIEND)]));
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let decider = friendly_decider_over(
        Arc::new(Ec2With(ec2.clone(), around)),
        requests,
        audit.clone(),
        Settings::default(),
    );
    let report = decider.decide_endpoint(&endpoint(n), now()).await.expect("runs");
    let calls = ec2.act_calls.lock().expect("lock").len();
    (report, ec2.state(&endpoint(n)), audit.all(), calls)
}

/// The repeat of an Accept that took effect is refused (the connection is
/// no longer pending); EC2 shows it accepted, so it is booked as done,
/// not audited as refused.
#[tokio::test]
async fn an_accept_whose_repeat_ec2_refuses_is_done_when_ec2_shows_it_accepted() {
    let (report, state, audit, calls) = decided_with(7, AroundTheCall::ReplyLostOnce).await;
    assert_eq!((state, calls), (Some(ConnectionState::Available), 2), "accepted, by the first of two calls");
    assert_eq!(report.acted.len(), 1, "{report:?}");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(!audit.iter().any(|e| e.kind == AuditKind::ActionRefused), "{audit:?}");
    let shown =
        audit.iter().find(|e| e.kind == AuditKind::Accepted).expect("the audit says how it was booked");
    assert!(shown.detail.contains("available") && shown.detail.contains("InvalidState"), "{}", shown.detail);
}

/// When EC2 cannot be read after the refusal, the refusal stands, as it
/// did: nothing is booked done that EC2 was not seen to show.
#[tokio::test]
async fn a_refused_repeat_stays_refused_when_ec2_cannot_be_read() {
    let (report, _, audit, calls) = decided_with(9, AroundTheCall::ReplyLostOnceThenUnreadable).await;
    assert_eq!(calls, 2);
    assert!(report.acted.is_empty(), "{report:?}");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    let refused = audit.iter().find(|e| e.kind == AuditKind::ActionRefused).expect("audited as refused");
    assert!(refused.detail.contains("unread"), "{}", refused.detail);
}

/// A refusal EC2's state does not explain stands: a connection deleted
/// before the Accept is skipped and audited as refused.
#[tokio::test]
async fn an_accept_refused_for_a_connection_ec2_shows_otherwise_stays_refused() {
    let (report, state, audit, calls) = decided_with(8, AroundTheCall::DeletedBefore).await;
    assert_eq!((state, calls), (Some(ConnectionState::Deleted), 1));
    assert!(report.acted.is_empty(), "{report:?}");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(audit.iter().any(|e| e.kind == AuditKind::ActionRefused), "{audit:?}");
}
