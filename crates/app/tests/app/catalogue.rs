//! The catalogue a consumer reads before connecting: every published
//! service with what a request from its account would meet, in the
//! consumer's wording, from the same policy book decide reads.

use std::sync::Arc;

use gate_app::lookup::{Lookup, LookupError, ServiceOffer};
use gate_app::memory::*;
use gate_app::organizations::Placements;
use gate_app::ports::ServiceInfo;
use gate_app::{Decide, Settings};
use gate_core::caller::Caller;
use gate_core::*;

use crate::fixtures::*;

const PAYMENTS: &str = "vpce-svc-0aaa1234def567890";
const LEDGER: &str = "vpce-svc-0bbb1234def567890";
const OPEN: &str = "vpce-svc-0ccc1234def567890";
const A: &str = "222233334444";
const PROD: &str = "ou-ab12-22222222";

fn consumer(account: &str) -> Caller {
    Caller {
        account: account.parse().expect("acct"),
        arn: format!("arn:aws:iam::{account}:role/dev"),
        operator: false,
    }
}

fn info(id: &str) -> ServiceInfo {
    ServiceInfo {
        id: id.parse().expect("svc"),
        name: format!("com.amazonaws.vpce.us-east-1.{id}"),
        kind: "Interface".into(),
        acceptance_required: true,
        state: "Available".into(),
    }
}

fn allow(principal: &str, scope: &str) -> AllowEntry {
    AllowEntry {
        scope: scope.parse().expect("scope"),
        principal: principal.parse().expect("principal"),
        effect: Effect::Allow,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "team-payments".into(),
        note: "escalation: pager 555-0100".into(),
        added_by: "test".into(),
        added_at: None,
    }
}

/// Payments checks CIDRs (the cautious default); the open service trusts
/// any VPC; the ledger has no entry for anyone.
fn policies() -> Vec<ServicePolicy> {
    let open = ServicePolicy {
        overlap: OverlapMode::Ignore,
        unknown_cidr: UnknownCidr::Allow,
        ..ServicePolicy::cautious(OPEN.parse().expect("scope"))
    };
    vec![ServicePolicy::cautious(Scope::Any), open]
}

fn lookup(policies: Arc<InMemoryPolicies>, placements: Option<Arc<Placements>>) -> Lookup {
    Lookup {
        registry: Arc::new(InMemoryRegistry::default()),
        requests: Arc::new(InMemoryRequests::default()),
        audit: Arc::new(InMemoryAudit::default()),
        catalogue: Arc::new(StaticCatalogue(vec![info(PAYMENTS), info(LEDGER), info(OPEN)])),
        policies,
        placements,
        services: [PAYMENTS, LEDGER, OPEN].iter().map(|s| s.parse().expect("svc")).collect(),
        managed: None,
    }
}

fn offer<'a>(offers: &'a [ServiceOffer], id: &str) -> &'a ServiceOffer {
    offers.iter().find(|o| o.service.id.as_str() == id).expect("listed")
}

#[tokio::test]
async fn the_catalogue_says_what_the_account_meets_in_its_own_words() {
    let book = InMemoryPolicies::new(policies(), vec![allow(A, PAYMENTS), allow(A, OPEN)]);
    let offers = lookup(Arc::new(book), None).services(&consumer(A), None, now()).await.expect("reads");

    let payments = offer(&offers, PAYMENTS);
    assert_eq!((payments.for_account, payments.cidrs_checked), (Outcome::Accept, true));
    assert_eq!(payments.verdict(), "accepted automatically if your VPC's CIDRs pass the service's checks");
    assert_eq!(offer(&offers, OPEN).verdict(), "accepted automatically");
    let ledger = offer(&offers, LEDGER);
    assert_eq!(ledger.verdict(), "reviewed by the provider's approvers");
    assert!(ledger.reasons.iter().any(|r| r.contains("not on the allowlist")), "{:?}", ledger.reasons);

    let text = serde_json::to_string(&offers).expect("json");
    for secret in ["team-payments", "555-0100"] {
        assert!(!text.contains(secret), "the consumer reads the allowlist's {secret}: {text}");
    }
}

#[tokio::test]
async fn an_ou_allow_shows_once_organizations_is_read_and_promises_nothing_when_it_is_not() {
    let in_prod = Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: vec![OuStep { id: PROD.parse().expect("ou"), name: "Prod".into() }],
    };
    let orgs = Arc::new(InMemoryOrganizations::with([(A.parse().expect("acct"), in_prod)]));
    let placements = Arc::new(Placements::new(orgs.clone(), 900));
    let book = Arc::new(InMemoryPolicies::new(policies(), vec![allow(PROD, OPEN)]));

    let offers =
        lookup(book.clone(), Some(placements)).services(&consumer(A), None, now()).await.expect("reads");
    let open = offer(&offers, OPEN);
    assert_eq!(open.verdict(), "accepted automatically");
    assert!(open.reasons.iter().any(|r| r.contains("OU Prod")), "the OU path is named: {:?}", open.reasons);

    *orgs.fail.lock().unwrap() = Some("throttled".into());
    let cold = Arc::new(Placements::new(orgs, 900));
    let offers = lookup(book, Some(cold)).services(&consumer(A), None, now()).await.expect("reads");
    let open = offer(&offers, OPEN);
    assert_ne!(open.for_account, Outcome::Accept, "{:?}", open.reasons);
    assert!(
        open.reasons.iter().any(|r| r.contains("could not read AWS Organizations")),
        "{:?}",
        open.reasons
    );
}

#[tokio::test]
async fn an_unreadable_policy_book_is_an_error_never_a_promise() {
    let book = Arc::new(InMemoryPolicies::new(policies(), vec![allow(A, PAYMENTS)]));
    *book.fail.lock().unwrap() = true;
    let got = lookup(book, None).services(&consumer(A), None, now()).await;
    assert!(matches!(got, Err(LookupError::Port(_))), "{got:?}");
}

#[tokio::test]
async fn a_waiting_review_says_until_when_and_what_then() {
    let endpoint: EndpointId = "vpce-0000000000000000a".parse().expect("endpoint");
    let connections = Arc::new(InMemoryConnections::with([Connection {
        service: LEDGER.parse().expect("svc"),
        endpoint: endpoint.clone(),
        owner: A.parse().expect("acct"),
        state: ConnectionState::PendingAcceptance,
        dns_entries: vec![],
        created_at: None,
        region: None,
    }]));
    let audit = Arc::new(InMemoryAudit::default());
    let requests = Arc::new(InMemoryRequests::with_audit(audit.clone()));
    let book = Arc::new(InMemoryPolicies::new(policies(), vec![]));
    let decide = Decide::new(
        connections,
        Arc::new(StaticNetworks::default()),
        book.clone(),
        requests.clone(),
        audit.clone(),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    );
    decide.decide_endpoint(&endpoint, now()).await.expect("decides");
    let lookup = Lookup { requests, audit, ..lookup(book, None) };

    let view = lookup.endpoint(&consumer(A), &endpoint, now()).await.expect("its own");
    let request = view.request.expect("decided");
    assert_eq!(request.state, "review");
    assert_eq!(
        request.review_ends.as_deref(),
        Some("2026-11-25T12:00:00Z; then it stays pending and an answer still counts")
    );
    let later = lookup.endpoint(&consumer(A), &endpoint, now().plus_secs(4 * 86_400)).await.expect("reads");
    let ends = later.request.and_then(|r| r.review_ends).expect("still waiting");
    assert!(ends.starts_with("the review ran out at 2026-11-25T12:00:00Z"), "{ends}");
}

#[tokio::test]
async fn the_catalogue_lists_the_services_the_policy_file_manages_and_fails_without_the_list() {
    use gate_app::services::memory::InMemoryManagedServices;
    let book = Arc::new(InMemoryPolicies::new(policies(), vec![allow(A, OPEN)]));
    let list = Arc::new(InMemoryManagedServices::with([OPEN.parse().expect("svc")]));
    let stack_only = Lookup {
        services: vec![PAYMENTS.parse().expect("svc")],
        managed: Some(list.clone()),
        ..lookup(book, None)
    };
    let offers = stack_only.services(&consumer(A), None, now()).await.expect("reads");
    let mut ids: Vec<&str> = offers.iter().map(|o| o.service.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![PAYMENTS, OPEN];
    expected.sort_unstable();
    assert_eq!(ids, expected, "the stack's service and the file's");
    assert_eq!(offer(&offers, OPEN).verdict(), "accepted automatically");

    list.fail(true);
    assert!(stack_only.services(&consumer(A), None, now()).await.is_err(), "no guess at the catalogue");
}
