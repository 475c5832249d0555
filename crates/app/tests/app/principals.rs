//! Allowed principals as code over the in-memory ports: the allowlist with
//! its OUs resolved becomes each service's allowed principals, apply
//! converges, and nothing changes where a read failed.

use std::sync::Arc;

use gate_app::memory::*;
use gate_app::principals::{PrincipalsWatch, apply, plan};
use gate_core::principals::PrincipalsSpec;
use gate_core::*;

use crate::fixtures::*;

const PAYMENTS: &str = "vpce-svc-0aaa1234def567890";
const LEDGER: &str = "vpce-svc-0bbb1234def567890";
const PROD: &str = "ou-ab12-22222222";

fn svc(id: &str) -> ServiceId {
    id.parse().expect("svc")
}

fn scoped(principal: &str, scope: &str, effect: Effect) -> AllowEntry {
    AllowEntry { scope: scope.parse().expect("scope"), ..entry(principal, effect) }
}

fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// Accounts 2…1 and 2…2 in Workloads/Prod.
fn orgs() -> Arc<InMemoryOrganizations> {
    let prod = Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: vec![OuStep { id: PROD.parse().expect("ou"), name: "Prod".into() }],
    };
    Arc::new(InMemoryOrganizations::with(
        ["210000000001", "210000000002"].map(|a| (a.parse().expect("acct"), prod.clone())),
    ))
}

#[tokio::test]
async fn the_allowlist_becomes_the_allowed_principals_and_apply_converges() {
    let entries = [
        scoped("210000000009", PAYMENTS, Effect::Allow),
        scoped(PROD, "*", Effect::Allow),
        scoped("210000000002", PAYMENTS, Effect::Deny),
    ];
    let specs = [(svc(PAYMENTS), PrincipalsSpec::Allowlist)];
    let perms = InMemoryPermissions::default();
    perms.allowed.lock().unwrap().insert(svc(PAYMENTS), vec![root("210000000009"), "*".into()]);
    let orgs = orgs();

    let planned = plan(&specs, &entries, Some(orgs.as_ref()), &perms, now()).await;
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].add, vec![root("210000000001")], "the OU's account, not the denied one");
    assert_eq!(planned[0].remove, vec!["*".to_owned()], "everyone is more than the allowlist");
    let record = InMemoryPrincipalsRecord::default();
    let applied = apply(&planned, &perms, &record, now()).await.map_err(|(_, e)| e.chain());
    assert_eq!(applied, Ok(vec![svc(PAYMENTS)]));

    let again = plan(&specs, &entries, Some(orgs.as_ref()), &perms, now()).await;
    assert!(again.iter().all(|p| p.is_empty()), "converged: {again:?}");
    assert_eq!(*perms.changes.lock().unwrap(), 1);
}

#[tokio::test]
async fn the_sweep_sees_a_list_changed_outside_the_file() {
    let specs = [(svc(PAYMENTS), PrincipalsSpec::Listed(vec![root("210000000009")]))];
    let perms = Arc::new(InMemoryPermissions::default());
    let record = Arc::new(InMemoryPrincipalsRecord::default());
    let planned = plan(&specs, &[], None, perms.as_ref(), now()).await;
    apply(&planned, perms.as_ref(), record.as_ref(), now())
        .await
        .map_err(|(_, e)| e.chain())
        .expect("applies");
    let watch = PrincipalsWatch { record: record.clone(), permissions: perms.clone() };
    assert_eq!(watch.drift().await.map_err(|e| e.chain()), Ok(vec![]), "as applied");

    // Someone opens the service to everyone in the console.
    perms.allowed.lock().unwrap().get_mut(&svc(PAYMENTS)).expect("set").push("*".into());
    let drift = watch.drift().await.map_err(|e| e.chain()).expect("reads");
    assert_eq!(drift.len(), 1);
    assert_eq!((drift[0].service.as_str(), drift[0].applied, drift[0].live), (PAYMENTS, 1, 2));

    // Unreadable is an error, never "no drift".
    *perms.fail.lock().unwrap() = true;
    assert!(watch.drift().await.is_err());
}

#[tokio::test]
async fn an_unreadable_organization_changes_nothing_for_the_services_that_need_it() {
    let entries = [scoped(PROD, PAYMENTS, Effect::Allow), scoped("210000000009", LEDGER, Effect::Allow)];
    let specs = [
        (svc(PAYMENTS), PrincipalsSpec::Allowlist),
        (svc(LEDGER), PrincipalsSpec::Listed(vec![root("210000000009")])),
    ];
    let perms = InMemoryPermissions::default();
    perms.allowed.lock().unwrap().insert(svc(PAYMENTS), vec![root("210000000001")]);
    let orgs = orgs();
    *orgs.fail.lock().unwrap() = Some("AccessDenied".into());

    let planned = plan(&specs, &entries, Some(orgs.as_ref()), &perms, now()).await;
    let payments = &planned[0];
    assert!(payments.add.is_empty() && payments.remove.is_empty(), "{payments:?}");
    let error = payments.error.as_deref().unwrap_or_default();
    assert!(error.contains(PROD) && error.contains("AccessDenied"), "{error}");
    assert_eq!(planned[1].add, vec![root("210000000009")], "the listed service still converges");
    let record = InMemoryPrincipalsRecord::default();
    let applied = apply(&planned, &perms, &record, now()).await.map_err(|(_, e)| e.chain());
    assert_eq!(applied, Ok(vec![svc(LEDGER)]));
    assert_eq!(perms.allowed.lock().unwrap()[&svc(PAYMENTS)], vec![root("210000000001")], "untouched");
    let recorded: Vec<ServiceId> = record.0.lock().unwrap().keys().cloned().collect();
    assert_eq!(recorded, vec![svc(LEDGER)], "only what was set is recorded");

    let without_role = plan(&specs, &entries, None, &perms, now()).await;
    let error = without_role[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("no Organizations role"), "{error}");
}

#[tokio::test]
async fn an_unreadable_service_is_an_error_never_an_empty_list() {
    let specs = [(svc(PAYMENTS), PrincipalsSpec::Everyone)];
    let perms = InMemoryPermissions::default();
    *perms.fail.lock().unwrap() = true;
    let planned = plan(&specs, &[], None, &perms, now()).await;
    assert!(planned[0].error.as_deref().unwrap_or_default().contains("refused"), "{planned:?}");
    let record = InMemoryPrincipalsRecord::default();
    assert_eq!(apply(&planned, &perms, &record, now()).await.map_err(|(_, e)| e.chain()), Ok(vec![]));
    assert!(record.0.lock().unwrap().is_empty());
}
