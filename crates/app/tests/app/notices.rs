//! Decision notices over in-memory ports: each consumer's contact hears
//! about its own endpoint once, in consumer wording, and a notice that
//! cannot be sent changes nothing about the decision.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::notices::Notices;
use gate_app::ports::AuditKind;
use gate_app::{Answer, Answered, Decide, Settings, Verdict};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
/// Allowlisted, with a contact.
const A: &str = "210000000001";
/// Unlisted: goes to review; has a contact.
const B: &str = "220000000002";
/// Denied; has a contact.
const C: &str = "230000000003";
/// Allowlisted, no contact.
const D: &str = "240000000004";

fn dns(n: u32) -> String {
    format!("vpce-{n:017x}-abcd.{SVC}.us-east-1.vpce.amazonaws.com")
}

fn conn(n: u32, owner: &str) -> Connection {
    Connection {
        dns_entries: vec![DnsEntry { dns_name: dns(n), hosted_zone_id: "Z7HUB22UULQXV".into() }],
        ..connection(n, SVC, owner, ConnectionState::PendingAcceptance)
    }
}

fn noted_entry(account: &str, effect: Effect, note: &str) -> AllowEntry {
    AllowEntry { owner: "secops".into(), note: note.into(), ..entry(account, effect) }
}

fn contact(account: &str, email: &str, slack: Option<&str>) -> Contact {
    Contact {
        account: account.parse().expect("account"),
        email: Some(email.into()),
        slack_channel: slack.map(str::to_owned),
    }
}

struct World {
    connections: Arc<InMemoryConnections>,
    policies: Arc<InMemoryPolicies>,
    audit: Arc<InMemoryAudit>,
    email: Arc<RecordingNoticeSender>,
    slack: Arc<RecordingNoticeSender>,
    ledger: Arc<InMemoryNoticeLedger>,
    decider: Decide,
    answer: Answer,
}

fn world(conns: Vec<Connection>) -> World {
    let connections = Arc::new(InMemoryConnections::with(conns));
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.approvers = vec!["netops@example.com".into(), "slack:U0123ABCD".into()];
    let policies = Arc::new(InMemoryPolicies::new(
        vec![policy],
        vec![
            noted_entry(A, Effect::Allow, ""),
            noted_entry(D, Effect::Allow, ""),
            // An operator's note naming another tenant must never reach C.
            noted_entry(C, Effect::Deny, "compromised; see incident with 210000000001"),
        ],
    ));
    let networks = HashMap::from([
        (A.parse().expect("acct"), vec!["10.1.0.0/16".parse().expect("cidr")]),
        (B.parse().expect("acct"), vec!["10.2.0.0/16".parse().expect("cidr")]),
        (D.parse().expect("acct"), vec!["10.4.0.0/16".parse().expect("cidr")]),
    ]);
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let email = Arc::new(RecordingNoticeSender::for_channel(NoticeChannel::Email));
    let slack = Arc::new(RecordingNoticeSender::for_channel(NoticeChannel::Slack));
    let ledger = Arc::new(InMemoryNoticeLedger::default());
    let notices = Notices {
        contacts: Arc::new(InMemoryContacts::with([
            contact(A, "team-a@example.com", None),
            contact(B, "team-b@example.com", Some("#team-b")),
            contact(C, "team-c@example.com", None),
        ])),
        channels: vec![("email", email.clone()), ("slack", slack.clone())],
        ledger: ledger.clone(),
    };
    let notifier = Arc::new(RecordingNotifier::default());
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(networks)),
        policies.clone(),
        requests.clone(),
        audit.clone(),
        notifier.clone(),
        Settings::default(),
    )
    .with_notices(notices.clone());
    let answer = Answer::new(connections.clone(), policies.clone(), requests, audit.clone(), Some(notifier))
        .with_notices(notices);
    World { connections, policies: policies.clone(), audit, email, slack, ledger, decider, answer }
}

fn kinds(sent: &[(Notice, Contact)]) -> Vec<(AccountId, NoticeKind)> {
    sent.iter().map(|(n, c)| (c.account, n.kind)).collect()
}

#[tokio::test]
async fn review_then_approval_tells_the_requesting_team_why_who_and_the_dns_names() {
    let w = world(vec![conn(2, B)]);
    let report = w.decider.decide_endpoint(&endpoint(2), now()).await.expect("runs");
    assert_eq!(report.counts.noticed, 1);

    let sent = w.email.notices();
    assert_eq!(kinds(&sent), vec![(B.parse().expect("b"), NoticeKind::InReview)]);
    let (notice, to) = &sent[0];
    assert_eq!(to.email.as_deref(), Some("team-b@example.com"));
    let body = notice.body();
    assert!(body.contains(&format!("account {B} is not on the allowlist for {SVC} → review")), "{body}");
    assert!(body.contains("Asked to review: netops@example.com, Slack user U0123ABCD"), "{body}");
    assert!(body.contains("Without an answer by 2026-11-25T12:00:00Z"), "{body}");
    assert!(body.contains("endpoint-gate endpoint"), "{body}");
    assert_eq!(w.slack.notices().len(), 1, "B's channel hears it in Slack too");

    let who = Answerer::Email("netops@example.com".into());
    let later = now().plus_secs(600);
    let answered =
        w.answer.answer(&endpoint(2), Verdict::Approve, &who, Some("payments onboarding"), later).await;
    assert!(matches!(answered, Ok(Answered::Done { .. })), "{answered:?}");
    let sent = w.email.notices();
    assert_eq!(sent.len(), 2);
    let (approved, _) = &sent[1];
    assert_eq!(approved.kind, NoticeKind::Approved);
    let body = approved.body();
    assert!(body.contains("Approved by netops@example.com: payments onboarding"), "{body}");
    assert!(body.contains(&dns(2)), "{body}");
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Available));
}

#[tokio::test]
async fn an_accept_tells_its_team_the_dns_names() {
    let w = world(vec![conn(1, A)]);
    w.decider.decide_endpoint(&endpoint(1), now()).await.expect("runs");
    let sent = w.email.notices();
    assert_eq!(kinds(&sent), vec![(A.parse().expect("a"), NoticeKind::Accepted)]);
    assert_eq!(sent[0].0.dns_names, vec![dns(1)]);
    assert!(w.slack.notices().is_empty(), "A names no channel");
    assert_eq!(w.audit.all().iter().filter(|e| e.kind == AuditKind::ConsumerNotified).count(), 1);
}

#[tokio::test]
async fn a_rejection_names_no_other_account_and_no_operator_note() {
    let w = world(vec![conn(3, C), conn(1, A)]);
    w.decider.sweep(now()).await.expect("runs");
    let sent = w.email.notices();
    let (notice, to) = sent.iter().find(|(n, _)| n.kind == NoticeKind::Rejected).expect("C told");
    assert_eq!(to.account.as_str(), C);
    assert_eq!(notice.account.as_str(), C);
    let text = format!("{}\n{}", notice.subject(), notice.body());
    assert!(text.contains("denied for all services → reject"), "{text}");
    for other in [A, B, D, "incident", "secops", &endpoint(1).to_string()] {
        assert!(!text.contains(other), "{other} in C's notice: {text}");
    }
    // A's own notice went to A's contact only.
    let (_, to_a) = sent.iter().find(|(n, _)| n.kind == NoticeKind::Accepted).expect("A told");
    assert_eq!(to_a.email.as_deref(), Some("team-a@example.com"));
}

#[tokio::test]
async fn an_account_without_a_contact_gets_nothing_and_nothing_fails() {
    let w = world(vec![conn(4, D)]);
    let report = w.decider.decide_endpoint(&endpoint(4), now()).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(4)), Some(ConnectionState::Available));
    assert!(w.email.notices().is_empty() && w.slack.notices().is_empty());
    assert_eq!((report.counts.failed, report.counts.noticed, report.counts.notice_failed), (0, 0, 0));
    assert!(w.ledger.0.lock().expect("lock").is_empty(), "nothing claimed for nobody");
}

#[tokio::test]
async fn five_duplicate_deliveries_send_one_notice_each() {
    let w = world(vec![conn(1, A), conn(2, B), conn(3, C)]);
    let runs = (0..5).map(|_| async {
        for n in 1..=3 {
            w.decider.decide_endpoint(&endpoint(n), now()).await.expect("runs");
        }
    });
    futures_util::future::join_all(runs).await;
    let mut got = kinds(&w.email.notices());
    got.sort();
    let mut want = vec![
        (A.parse().expect("a"), NoticeKind::Accepted),
        (B.parse().expect("b"), NoticeKind::InReview),
        (C.parse().expect("c"), NoticeKind::Rejected),
    ];
    want.sort();
    assert_eq!(got, want);
    // The ledger alone stops a repeat, whatever path asks again.
    let (notice, _) = w.email.notices().remove(0);
    for _ in 0..5 {
        let told = w.decider.review.actions.tell(&notice, now()).await;
        assert!(matches!(told, Some(gate_app::Told::AlreadySent)), "{told:?}");
    }
    assert_eq!(w.email.notices().len(), 3);
}

#[tokio::test]
async fn a_notice_that_cannot_be_sent_changes_nothing_about_the_decision() {
    let w = world(vec![conn(1, A)]);
    *w.email.fail.lock().expect("lock") = true;
    let report = w.decider.decide_endpoint(&endpoint(1), now()).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(1)), Some(ConnectionState::Available), "accepted all the same");
    assert_eq!((report.counts.failed, report.counts.notice_failed), (0, 1));
    let failed: Vec<_> = w.audit.all().into_iter().filter(|e| e.kind == AuditKind::NoticeFailed).collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].detail.contains("accepted notice not sent"), "{}", failed[0].detail);
    assert!(w.ledger.0.lock().expect("lock").is_empty(), "the claim is given back for a later try");
}

#[tokio::test]
async fn a_failing_notice_never_turns_a_review_into_an_accept() {
    let w = world(vec![conn(2, B)]);
    *w.email.fail.lock().expect("lock") = true;
    *w.slack.fail.lock().expect("lock") = true;
    let report = w.decider.decide_endpoint(&endpoint(2), now()).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.connections.act_call_count(), 0);
    assert_eq!((report.counts.failed, report.counts.notice_failed), (0, 1));
}

#[tokio::test]
async fn a_review_nobody_answered_in_time_tells_the_team_it_was_rejected() {
    let w = world(vec![conn(2, B)]);
    {
        let mut policies = w.policies.policies.lock().expect("lock");
        policies[0].approval_ttl_secs = 3600;
        policies[0].reminder_interval_secs = 86_400;
        policies[0].on_expiry = OnExpiry::Reject;
    }
    w.decider.sweep(now()).await.expect("runs");
    w.decider.sweep(now().plus_secs(3700)).await.expect("runs");
    assert_eq!(w.connections.state(&endpoint(2)), Some(ConnectionState::Rejected));
    let sent = w.email.notices();
    assert_eq!(
        kinds(&sent),
        vec![(B.parse().expect("b"), NoticeKind::InReview), (B.parse().expect("b"), NoticeKind::Rejected)]
    );
    assert!(
        sent[0].0.body().contains("the request is rejected and you may request again"),
        "{}",
        sent[0].0.body()
    );
    assert!(sent[1].0.body().contains("nobody answered the review in time"), "{}", sent[1].0.body());
}
