//! Sweeps cut short: an invocation that runs out of time or fails part way
//! leaves a cursor, and the next goes on from it, skipping nothing and
//! acting on nothing twice.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use gate_app::memory::*;
use gate_app::ports::{Checkpoints, Connections, Page, Refused, Registry};
use gate_app::record::Recorder;
use gate_app::{Decide, PortError, Settings};
use gate_core::*;

use crate::fixtures::*;

const SVC: &str = "vpce-svc-0abc1234def567890";
const STRANGER: &str = "333344445555";

fn conn(n: u32, state: ConnectionState) -> Connection {
    conn_of(n, FRIEND, state)
}

fn conn_of(n: u32, owner: &str, state: ConnectionState) -> Connection {
    connection(n, SVC, owner, state)
}

/// EC2 whose listing fails once, at the page that starts after `fail_at`:
/// an invocation killed or failing part way through a sweep.
struct Interrupted {
    ec2: Arc<InMemoryConnections>,
    fail_at: Mutex<Option<String>>,
}

impl Interrupted {
    fn new(ec2: Arc<InMemoryConnections>, fail_at: &EndpointId) -> Self {
        Self { ec2, fail_at: Mutex::new(Some(fail_at.to_string())) }
    }

    fn check(&self, cursor: Option<&str>) -> Result<(), PortError> {
        let mut fail_at = self.fail_at.lock().unwrap();
        if cursor.is_some() && fail_at.as_deref() == cursor {
            *fail_at = None;
            return Err(PortError::plain(
                "DescribeVpcEndpointConnections failed (RequestLimitExceeded)",
                true,
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Connections for Interrupted {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<Connection>, PortError> {
        self.ec2.get(endpoint).await
    }
    async fn pending(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        self.ec2.pending(services).await
    }
    async fn pending_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        self.check(cursor.as_deref())?;
        self.ec2.pending_page(services, cursor).await
    }
    async fn all(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        self.ec2.all(services).await
    }
    async fn all_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        self.check(cursor.as_deref())?;
        self.ec2.all_page(services, cursor).await
    }
    async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        endpoints: &[EndpointId],
    ) -> Result<Vec<Refused>, PortError> {
        self.ec2.act(action, service, endpoints).await
    }
}

fn paged(conns: impl IntoIterator<Item = Connection>) -> Arc<InMemoryConnections> {
    let ec2 = Arc::new(InMemoryConnections::with(conns));
    *ec2.page_size.lock().unwrap() = Some(2);
    ec2
}

fn decider(connections: Arc<dyn Connections>, checkpoints: Arc<InMemoryCheckpoints>) -> Decide {
    friendly_decider(connections, Settings::default()).resuming(checkpoints)
}

#[tokio::test]
async fn a_decide_sweep_that_fails_part_way_goes_on_from_its_last_page() {
    // 1 and 2 go to review and stay pending: a sweep starting over would
    // read them again; 3 to 5 are accepted.
    let owners = [STRANGER, STRANGER, FRIEND, FRIEND, FRIEND];
    let ec2 = paged((1..=5).map(|n| conn_of(n, owners[n as usize - 1], ConnectionState::PendingAcceptance)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    let decide = decider(Arc::new(Interrupted::new(ec2.clone(), &endpoint(2))), checkpoints.clone());

    decide.sweep(now()).await.expect_err("the second page fails");
    assert_eq!(checkpoints.load("decide").await.unwrap(), Some(endpoint(2).to_string()), "where it got to");
    let accepted = |ec2: &InMemoryConnections| {
        (1..=5).filter(|n| ec2.state(&endpoint(*n)) == Some(ConnectionState::Available)).count()
    };
    assert_eq!(accepted(&ec2), 0, "the first page went to review");

    let resumed = decide.sweep(now()).await.expect("the next invocation");
    assert!(resumed.resumed);
    assert_eq!(
        (resumed.counts.decided, resumed.counts.skipped, resumed.counts.pages),
        (3, 0, 2),
        "only what was left, the reviews not read again: {resumed:?}"
    );
    assert_eq!(accepted(&ec2), 3);
    assert_eq!(checkpoints.load("decide").await.unwrap(), None, "a finished sweep forgets its cursor");

    let mut acted: Vec<EndpointId> =
        ec2.act_calls.lock().unwrap().iter().flat_map(|(_, _, ids)| ids.clone()).collect();
    acted.sort();
    assert_eq!(acted, (3..=5).map(endpoint).collect::<Vec<_>>(), "each accepted exactly once");

    let again = decide.sweep(now()).await.expect("a fresh sweep");
    assert!(!again.resumed, "starts from the first page");
    assert_eq!(again.counts.skipped, 2, "and meets the reviews again");
}

#[tokio::test]
async fn a_decide_sweep_out_of_time_stops_before_a_page_and_keeps_its_cursor() {
    let ec2 = paged((1..=5).map(|n| conn(n, ConnectionState::PendingAcceptance)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    checkpoints.save("decide", Some(&endpoint(2).to_string()), now()).await.unwrap();
    let decide = decider(ec2.clone(), checkpoints.clone());

    let report = decide.sweep_until(now(), Some(Instant::now())).await.expect("runs");
    assert!(report.stopped_early && report.resumed);
    assert_eq!(report.counts.decided, 0);
    assert_eq!(checkpoints.load("decide").await.unwrap(), Some(endpoint(2).to_string()));
    assert!(ec2.act_calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_long_decide_sweep_saves_its_cursor_after_every_page() {
    let ec2 = paged((1..=5).map(|n| conn(n, ConnectionState::PendingAcceptance)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    decider(ec2, checkpoints.clone()).sweep(now()).await.expect("runs");
    let saves: Vec<Option<String>> =
        checkpoints.saves.lock().unwrap().iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(saves, vec![Some(endpoint(2).to_string()), Some(endpoint(4).to_string()), None]);
}

#[tokio::test]
async fn a_one_page_sweep_writes_no_cursor() {
    let ec2 = Arc::new(InMemoryConnections::with([conn(1, ConnectionState::PendingAcceptance)]));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    decider(ec2, checkpoints.clone()).sweep(now()).await.expect("runs");
    assert!(checkpoints.saves.lock().unwrap().is_empty());
}

fn recorder(
    connections: Arc<dyn Connections>,
    checkpoints: Arc<InMemoryCheckpoints>,
) -> (Recorder, Arc<InMemoryRegistry>) {
    let audit = Arc::new(InMemoryAudit::default());
    let registry = Arc::new(InMemoryRegistry::default());
    let recorder = Recorder {
        connections,
        requests: Arc::new(InMemoryRequests::with_audit(audit.clone())),
        registry: registry.clone(),
        audit,
        services: vec![SVC.parse().expect("svc")],
        checkpoints: Some(checkpoints),
        managed: None,
        together: None,
    };
    (recorder, registry)
}

#[tokio::test]
async fn a_registry_sweep_that_fails_part_way_goes_on_and_still_notices_vanished_endpoints() {
    let ec2 = paged((1..=5).map(|n| conn(n, ConnectionState::Available)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    let (recorder, registry) =
        recorder(Arc::new(Interrupted::new(ec2.clone(), &endpoint(2))), checkpoints.clone());

    recorder.sweep(&|_, _| {}, now()).await.expect_err("the second page fails");
    assert!(registry.get(&endpoint(2)).await.unwrap().is_some());
    assert!(registry.get(&endpoint(3)).await.unwrap().is_none(), "not reached yet");
    let saved = checkpoints.load("record").await.unwrap().expect("a cursor");
    assert!(saved.contains(endpoint(2).as_str()), "{saved}");

    // Between invocations, endpoint 1 is deleted and EC2 stops listing it.
    ec2.connections.lock().unwrap().remove(&endpoint(1));
    let report = recorder.sweep(&|_, _| {}, now()).await.expect("the next invocation");
    assert!(report.resumed);
    let mut written = report.written.clone();
    written.sort();
    assert_eq!(written, vec![endpoint(1), endpoint(3), endpoint(4), endpoint(5)], "{report:?}");
    assert_eq!(report.unchanged, 0, "pages already recorded are not read again");
    assert_eq!(registry.get(&endpoint(1)).await.unwrap().expect("kept").state, ConnectionState::Deleted);
    assert_eq!(checkpoints.load("record").await.unwrap(), None);
}

/// Sweeping every service, a service deleted with all its connections is
/// no longer in EC2's listing: its entries are still compared, because the
/// last pass kept the services with active entries.
#[tokio::test]
async fn a_sweep_of_every_service_notices_a_service_deleted_whole() {
    const GONE_SVC: &str = "vpce-svc-0ddd1234def567890";
    let mut conns: Vec<Connection> = (1..=3).map(|n| conn(n, ConnectionState::Available)).collect();
    conns.extend((4..=5).map(|n| connection(n, GONE_SVC, FRIEND, ConnectionState::Available)));
    let ec2 = paged(conns);
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    let (mut recorder, registry) = recorder(ec2.clone(), checkpoints.clone());
    recorder.services = Vec::new();
    recorder.sweep(&|_, _| {}, now()).await.expect("runs");
    assert_eq!(
        registry.get(&endpoint(4)).await.unwrap().expect("recorded").state,
        ConnectionState::Available
    );

    // The service is deleted: EC2 lists none of its connections any more.
    ec2.connections.lock().unwrap().retain(|_, c| c.service.as_str() != GONE_SVC);
    let report = recorder.sweep(&|_, _| {}, now().plus_secs(60)).await.expect("runs");
    let mut written = report.written.clone();
    written.sort();
    assert_eq!(written, vec![endpoint(4), endpoint(5)], "{report:?}");
    for n in [4, 5] {
        assert_eq!(registry.get(&endpoint(n)).await.unwrap().expect("kept").state, ConnectionState::Deleted);
    }
    // With no active entries left, the service is dropped after one more pass.
    recorder.sweep(&|_, _| {}, now().plus_secs(120)).await.expect("runs");
    let carried = checkpoints.load("record-services").await.unwrap().expect("kept");
    assert_eq!(carried, format!("[\"{SVC}\"]"));
}

#[tokio::test]
async fn a_registry_sweep_out_of_time_stops_cleanly() {
    let ec2 = paged((1..=3).map(|n| conn(n, ConnectionState::Available)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    let (recorder, registry) = recorder(ec2, checkpoints.clone());
    let report = recorder.sweep_until(&|_, _| {}, now(), Some(Instant::now())).await.expect("runs");
    assert!(report.stopped_early);
    assert!(registry.get(&endpoint(1)).await.unwrap().is_none());

    let report = recorder.sweep(&|_, _| {}, now()).await.expect("runs");
    assert_eq!((report.counts.written, report.stopped_early), (3, false));
}

#[tokio::test]
async fn an_unreadable_registry_cursor_means_starting_again() {
    let ec2 = paged((1..=3).map(|n| conn(n, ConnectionState::Available)));
    let checkpoints = Arc::new(InMemoryCheckpoints::default());
    checkpoints.save("record", Some("{\"pass\":\"sideways\"}"), now()).await.unwrap();
    let (recorder, _) = recorder(ec2, checkpoints);
    let report = recorder.sweep(&|_, _| {}, now()).await.expect("runs");
    assert_eq!((report.counts.written, report.resumed), (3, false));
}

/// A stored record that cannot be read fails its own connection only: the
/// rest of the page is decided or recorded, and the sweep goes on, instead
/// of failing on that page in every invocation from then on.
#[tokio::test]
async fn one_unreadable_stored_request_fails_its_connection_and_not_the_sweep() {
    let ec2 =
        Arc::new(InMemoryConnections::with((1..=3).map(|n| conn(n, ConnectionState::PendingAcceptance))));
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    requests.unreadable.lock().unwrap().push(endpoint(2));
    let decide = friendly_decider_over(ec2.clone(), requests.clone(), audit, Settings::default());

    let report = decide.sweep(now()).await.expect("the sweep goes on");
    assert_eq!(report.counts.decided, 2, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].endpoint, endpoint(2));
    assert!(report.failed[0].why.contains(endpoint(2).as_str()), "names the item: {:?}", report.failed);
    assert_eq!(ec2.state(&endpoint(1)), Some(ConnectionState::Available));
    assert_eq!(ec2.state(&endpoint(3)), Some(ConnectionState::Available));
    assert_eq!(ec2.state(&endpoint(2)), Some(ConnectionState::PendingAcceptance), "never acted on blind");

    // The registry sweep likewise.
    let available = Arc::new(InMemoryConnections::with((1..=3).map(|n| conn(n, ConnectionState::Available))));
    let registry = Arc::new(InMemoryRegistry::default());
    let recorder = Recorder {
        connections: available,
        requests,
        registry: registry.clone(),
        audit: Arc::new(InMemoryAudit::default()),
        services: vec![SVC.parse().expect("svc")],
        checkpoints: None,
        managed: None,
        together: None,
    };
    let recorded = recorder.sweep(&|_, _| {}, now()).await.expect("the sweep goes on");
    let mut written = recorded.written.clone();
    written.sort();
    assert_eq!(written, vec![endpoint(1), endpoint(3)], "{recorded:?}");
    assert_eq!(recorded.failed.len(), 1, "{recorded:?}");
    assert_eq!(recorded.failed[0].0, endpoint(2));
    assert!(registry.get(&endpoint(2)).await.unwrap().is_none());
}
