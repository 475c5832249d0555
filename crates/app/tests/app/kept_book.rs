//! Deciding an event's connection on a policy book kept from an earlier
//! decision: only a claim that held on the book's items may act on it;
//! every other outcome reads the book again or fails closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gate_app::memory::*;
use gate_app::ports::{
    AuditEvent, BookItem, BookStamps, DecisionReads, KeptBook, KeptClaim, PolicySource, Requests,
};
use gate_app::{Decide, PortError, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";

/// What the store answers to a claim on the kept book.
#[derive(Clone, Copy)]
enum Answer {
    /// As a store whose check held: the request is created unless one exists.
    Held,
    /// An item of the book was written since it was read.
    Changed,
    /// Refused, permanently (a role without the permission) or transiently.
    Fails { transient: bool },
}

/// The store: `kept` hands out a book of its own, whatever the table now
/// holds; `read` reads the table.
struct KeptReads {
    kept: PolicyBook,
    table: Arc<InMemoryPolicies>,
    requests: Arc<InMemoryRequests>,
    answer: Answer,
    reads: AtomicUsize,
    claims_on_kept: Mutex<Vec<BookStamps>>,
}

#[async_trait::async_trait]
impl DecisionReads for KeptReads {
    async fn read(
        &self,
        endpoints: &[EndpointId],
        pairs: &[(ServiceId, Principal)],
    ) -> Result<(HashMap<EndpointId, RequestRecord>, PolicyBook), PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok((self.requests.get_many(endpoints).await?, self.table.load_book(pairs).await?))
    }

    fn kept(&self, _pairs: &[(ServiceId, Principal)]) -> Option<KeptBook> {
        let stamps = BookStamps(vec![(BookItem::Policy(Scope::Any), Some("as-read".into()))]);
        Some(KeptBook { book: self.kept.clone(), stamps })
    }

    async fn create_on(
        &self,
        record: &RequestRecord,
        decided: &AuditEvent,
        stamps: &BookStamps,
    ) -> Result<KeptClaim, PortError> {
        self.claims_on_kept.lock().expect("claims").push(stamps.clone());
        match self.answer {
            Answer::Held if self.requests.create(record, decided).await? => Ok(KeptClaim::Claimed),
            Answer::Held => Ok(KeptClaim::AlreadyDecided),
            Answer::Changed => Ok(KeptClaim::BookChanged),
            Answer::Fails { transient } => Err(PortError::plain("TransactWriteItems failed", transient)),
        }
    }
}

struct World {
    connections: Arc<InMemoryConnections>,
    requests: Arc<InMemoryRequests>,
    reads: Arc<KeptReads>,
    decider: Decide,
}

/// FRIEND asks; the kept book allows it, the table may say otherwise.
fn world(table_says: Effect, answer: Answer) -> World {
    let policies = vec![ServicePolicy::cautious(Scope::Any)];
    let connections = Arc::new(InMemoryConnections::with(vec![connection(
        1,
        SVC,
        FRIEND,
        ConnectionState::PendingAcceptance,
    )]));
    let table = Arc::new(InMemoryPolicies::new(policies.clone(), vec![entry(FRIEND, table_says)]));
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let reads = Arc::new(KeptReads {
        kept: PolicyBook::new(policies, vec![entry(FRIEND, Effect::Allow)]),
        table: table.clone(),
        requests: requests.clone(),
        answer,
        reads: AtomicUsize::new(0),
        claims_on_kept: Mutex::new(Vec::new()),
    });
    let networks =
        HashMap::from([(FRIEND.parse().expect("account"), vec!["172.31.0.0/16".parse().expect("cidr")])]);
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(networks)),
        table,
        requests.clone(),
        audit,
        Arc::new(RecordingNotifier::default()),
        Settings { batch: 100, ..Settings::default() },
    )
    .reading_together(reads.clone());
    World { connections, requests, reads, decider }
}

impl World {
    async fn decide(&self) -> gate_app::Report {
        self.decider.decide_endpoint(&endpoint(1), now()).await.expect("runs")
    }

    fn state(&self) -> Option<ConnectionState> {
        self.connections.state(&endpoint(1))
    }

    fn reads(&self) -> usize {
        self.reads.reads.load(Ordering::SeqCst)
    }

    fn claims_on_kept(&self) -> usize {
        self.reads.claims_on_kept.lock().expect("claims").len()
    }
}

#[tokio::test]
async fn a_claim_that_held_on_the_kept_book_accepts_without_reading_it() {
    let w = world(Effect::Allow, Answer::Held);
    let report = w.decide().await;
    assert_eq!(report.decided.first().map(|d| d.outcome), Some(Outcome::Accept), "{report:?}");
    assert_eq!(w.state(), Some(ConnectionState::Available));
    assert_eq!((w.reads(), w.claims_on_kept()), (0, 1));
    let stamps = w.reads.claims_on_kept.lock().expect("claims")[0].clone();
    assert_eq!(
        stamps.0,
        vec![(BookItem::Policy(Scope::Any), Some("as-read".to_owned()))],
        "the book's own stamps"
    );
}

#[tokio::test]
async fn a_book_changed_since_it_was_kept_is_read_again_and_its_deny_holds() {
    let w = world(Effect::Deny, Answer::Changed);
    let report = w.decide().await;
    assert_eq!(report.decided.first().map(|d| d.outcome), Some(Outcome::Reject), "{report:?}");
    assert_eq!(w.state(), Some(ConnectionState::Rejected));
    assert_eq!((w.reads(), w.claims_on_kept()), (1, 1));
}

#[tokio::test]
async fn a_connection_decided_before_is_read_and_left_to_its_decision() {
    let w = world(Effect::Allow, Answer::Held);
    let earlier = RequestRecord::new(
        SVC.parse().expect("service"),
        endpoint(1),
        FRIEND.parse().expect("account"),
        RequestState::Review,
        "endpoint-gate",
        now(),
    );
    let decided = AuditEvent {
        at: now(),
        kind: gate_app::ports::AuditKind::Decided,
        actor: "endpoint-gate".into(),
        endpoint: Some(endpoint(1)),
        service: None,
        owner: None,
        outcome: None,
        detail: String::new(),
    };
    assert!(w.requests.create(&earlier, &decided).await.expect("stored"));
    let report = w.decide().await;
    assert!(report.decided.is_empty(), "{report:?}");
    assert_eq!(w.state(), Some(ConnectionState::PendingAcceptance));
    assert_eq!(w.requests.get(&endpoint(1)).map(|r| r.state), Some(RequestState::Review));
    assert_eq!((w.reads(), w.claims_on_kept()), (1, 1));
}

#[tokio::test]
async fn a_claim_refused_for_good_costs_the_read_not_the_decision() {
    let w = world(Effect::Allow, Answer::Fails { transient: false });
    let report = w.decide().await;
    assert_eq!(report.decided.first().map(|d| d.outcome), Some(Outcome::Accept), "{report:?}");
    assert_eq!(w.state(), Some(ConnectionState::Available));
    assert_eq!((w.reads(), w.claims_on_kept()), (1, 1));
}

#[tokio::test]
async fn a_claim_that_failed_for_now_accepts_nothing_and_is_tried_again() {
    let w = world(Effect::Allow, Answer::Fails { transient: true });
    let report = w.decide().await;
    assert!(report.decided.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(w.state(), Some(ConnectionState::PendingAcceptance));
    assert!(w.requests.get(&endpoint(1)).is_none(), "nothing claimed");
}
