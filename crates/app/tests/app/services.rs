//! Services as code: plan and apply over in-memory EC2 and table, and
//! decide and record on a service only the managed list names.

use std::sync::Arc;

use gate_app::memory::*;
use gate_app::ports::Registry;
use gate_app::record::{Hint, Recorder};
use gate_app::services::memory::{InMemoryManagedServices, InMemoryNotifications};
use gate_app::services::{self, ServiceNotifications};
use gate_app::{Decide, Settings};
use gate_core::*;

use crate::fixtures::*;

const STACK_SVC: &str = "vpce-svc-0abc1234def567890";
const NEW_SVC: &str = "vpce-svc-0fed1234def567890";
const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:endpoint-gate-connections";

fn svc(s: &str) -> ServiceId {
    s.parse().expect("service")
}

#[tokio::test]
async fn apply_tags_notifies_and_lists_a_new_service_and_a_second_plan_is_empty() {
    let store = InMemoryManagedServices::default();
    let ec2 = InMemoryNotifications::default();
    let file = [svc(NEW_SVC)];
    let plan =
        services::plan(Some(&file), &store, &ec2, Some(TOPIC), false).await.expect("plan").expect("managed");
    assert_eq!(
        (plan.add.clone(), plan.tag.clone(), plan.notify.clone()),
        (vec![svc(NEW_SVC)], vec![svc(NEW_SVC)], vec![svc(NEW_SVC)])
    );
    assert_eq!(plan.write, Some(vec![svc(NEW_SVC)]));

    let done = services::apply(&plan, &store, &ec2).await.expect("apply");
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(ec2.is_tagged(&svc(NEW_SVC)));
    assert_eq!(ec2.topics_of(&svc(NEW_SVC)), [TOPIC]);
    assert_eq!(store.list(), [svc(NEW_SVC)]);

    let again =
        services::plan(Some(&file), &store, &ec2, Some(TOPIC), false).await.expect("plan").expect("managed");
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_file_without_services_changes_nothing_and_without_a_topic_notifications_are_not_planned() {
    let store = InMemoryManagedServices::with([svc(NEW_SVC)]);
    let ec2 = InMemoryNotifications::default();
    assert_eq!(services::plan(None, &store, &ec2, Some(TOPIC), true).await.expect("plan"), None);

    let plan = services::plan(Some(&[svc(NEW_SVC)]), &store, &ec2, None, false)
        .await
        .expect("plan")
        .expect("managed");
    assert!(plan.notify.is_empty() && plan.topic.is_none());
    assert_eq!(plan.tag, [svc(NEW_SVC)], "the tag is planned without the topic");
}

#[tokio::test]
async fn a_service_left_out_is_kept_until_prune_which_removes_only_its_notification_to_our_topic() {
    let store = InMemoryManagedServices::with([svc(NEW_SVC)]);
    let ec2 = InMemoryNotifications::default();
    ec2.set_tag(&svc(NEW_SVC), true).await.expect("tag");
    ec2.create(&svc(NEW_SVC), TOPIC).await.expect("ours");
    let theirs = "arn:aws:sns:eu-west-1:111122223333:another-team";
    ec2.create(&svc(NEW_SVC), theirs).await.expect("theirs");

    let kept =
        services::plan(Some(&[]), &store, &ec2, Some(TOPIC), false).await.expect("plan").expect("managed");
    assert_eq!(kept.unmanaged, [svc(NEW_SVC)]);
    assert!(kept.write.is_none() && kept.untag.is_empty() && kept.unnotify.is_empty());

    let pruned =
        services::plan(Some(&[]), &store, &ec2, Some(TOPIC), true).await.expect("plan").expect("managed");
    assert_eq!(pruned.remove, [svc(NEW_SVC)]);
    assert_eq!(pruned.write, Some(vec![]));
    services::apply(&pruned, &store, &ec2).await.expect("apply");
    assert!(store.list().is_empty());
    assert!(!ec2.is_tagged(&svc(NEW_SVC)));
    assert_eq!(ec2.topics_of(&svc(NEW_SVC)), [theirs], "another topic's notification is not ours to remove");
}

#[tokio::test]
async fn a_service_ec2_cannot_be_read_for_is_not_added_and_a_failed_apply_says_what_it_did() {
    let store = InMemoryManagedServices::default();
    let ec2 = InMemoryNotifications::default();
    ec2.fail(true);
    let plan = services::plan(Some(&[svc(NEW_SVC)]), &store, &ec2, Some(TOPIC), false)
        .await
        .expect("plan")
        .expect("managed");
    assert!(plan.add.is_empty() && plan.write.is_none(), "{plan:?}");
    assert_eq!(plan.errors.len(), 1);
    assert!(!plan.is_empty(), "an error is something to show");

    ec2.fail(false);
    let plan = services::plan(Some(&[svc(NEW_SVC)]), &store, &ec2, Some(TOPIC), false)
        .await
        .expect("plan")
        .expect("managed");
    store.fail(true);
    let (done, e) = services::apply(&plan, &store, &ec2).await.expect_err("the list write fails");
    assert_eq!(done.len(), 2, "tag and notification came first: {done:?}");
    assert!(e.chain().contains("managed services"));
}

fn decider(ec2: Arc<InMemoryConnections>, managed: Arc<InMemoryManagedServices>) -> Decide {
    friendly_decider(ec2, Settings { services: vec![svc(STACK_SVC)], ..Settings::default() })
        .with_managed(managed)
}

fn pending(service: &str, n: u32) -> Connection {
    connection(n, service, FRIEND, ConnectionState::PendingAcceptance)
}

#[tokio::test]
async fn decide_accepts_on_a_service_only_the_managed_list_names() {
    let ec2 = Arc::new(InMemoryConnections::with([pending(NEW_SVC, 1)]));
    let unmanaged = decider(ec2.clone(), Arc::new(InMemoryManagedServices::default()));
    let report = unmanaged.decide_endpoint(&pending(NEW_SVC, 1).endpoint, now()).await.expect("decide");
    assert_eq!(report.counts.skipped, 1, "not the stack's and not managed");
    assert_eq!(ec2.act_call_count(), 0);

    let managed = decider(ec2.clone(), Arc::new(InMemoryManagedServices::with([svc(NEW_SVC)])));
    managed.decide_endpoint(&pending(NEW_SVC, 1).endpoint, now()).await.expect("decide");
    assert_eq!(ec2.state(&pending(NEW_SVC, 1).endpoint), Some(ConnectionState::Available));
}

#[tokio::test]
async fn an_unreadable_managed_list_decides_nothing_outside_the_stack_services() {
    let ec2 = Arc::new(InMemoryConnections::with([pending(NEW_SVC, 1), pending(STACK_SVC, 2)]));
    let list = Arc::new(InMemoryManagedServices::with([svc(NEW_SVC)]));
    list.fail(true);
    let decide = decider(ec2.clone(), list.clone());
    assert!(decide.decide_endpoint(&pending(NEW_SVC, 1).endpoint, now()).await.is_err());
    assert_eq!(ec2.act_call_count(), 0, "fail closed: nothing accepted");

    // The stack's own service needs no list.
    decide.decide_endpoint(&pending(STACK_SVC, 2).endpoint, now()).await.expect("decide");
    assert_eq!(ec2.state(&pending(STACK_SVC, 2).endpoint), Some(ConnectionState::Available));
}

#[tokio::test]
async fn a_sweep_covers_managed_services_reading_the_list_once_and_without_it_sweeps_the_stack_ones_and_fails()
 {
    let ec2 = Arc::new(InMemoryConnections::with([pending(NEW_SVC, 1), pending(STACK_SVC, 2)]));
    let list = Arc::new(InMemoryManagedServices::with([svc(NEW_SVC)]));
    list.fail(true);
    let decide = decider(ec2.clone(), list.clone());
    assert!(decide.sweep(now()).await.is_err(), "the unreadable list is reported");
    assert_eq!(ec2.state(&pending(STACK_SVC, 2).endpoint), Some(ConnectionState::Available));
    assert_eq!(ec2.state(&pending(NEW_SVC, 1).endpoint), Some(ConnectionState::PendingAcceptance));

    list.fail(false);
    let reads = list.read_count();
    let report = decide.sweep(now()).await.expect("sweep");
    assert_eq!(list.read_count(), reads + 1, "one read per sweep");
    assert_eq!(report.counts.accepted, 1);
    assert_eq!(ec2.state(&pending(NEW_SVC, 1).endpoint), Some(ConnectionState::Available));
}

fn recorder(
    ec2: Arc<InMemoryConnections>,
    managed: Arc<InMemoryManagedServices>,
) -> (Recorder, Arc<InMemoryRegistry>) {
    let audit = Arc::new(InMemoryAudit::default());
    let registry = Arc::new(InMemoryRegistry::default());
    let recorder = Recorder {
        connections: ec2,
        requests: Arc::new(InMemoryRequests::with_audit(audit.clone())),
        registry: registry.clone(),
        audit,
        services: vec![svc(STACK_SVC)],
        checkpoints: None,
        managed: Some(managed),
        together: None,
    };
    (recorder, registry)
}

#[tokio::test]
async fn record_enters_a_managed_services_endpoints_and_records_nothing_outside_the_stack_ones_without_the_list()
 {
    let mut accepted = pending(NEW_SVC, 1);
    accepted.state = ConnectionState::Available;
    let ec2 = Arc::new(InMemoryConnections::with([accepted.clone()]));
    let hint = Hint { endpoint: accepted.endpoint.clone(), accepted_by: None };

    let list = Arc::new(InMemoryManagedServices::with([svc(NEW_SVC)]));
    list.fail(true);
    let (failing, registry) = recorder(ec2.clone(), list.clone());
    let report = failing.record(std::slice::from_ref(&hint), now()).await;
    assert_eq!(report.counts.failed, 1, "{report:?}");
    assert!(registry.get(&accepted.endpoint).await.expect("reads").is_none());
    assert!(failing.sweep(&|_, _| {}, now()).await.is_err(), "the sweep reports the unreadable list");
    assert!(registry.get(&accepted.endpoint).await.expect("reads").is_none());

    list.fail(false);
    let (managed, registry) = recorder(ec2.clone(), list);
    let report = managed.record(std::slice::from_ref(&hint), now()).await;
    assert_eq!(report.written, [accepted.endpoint.clone()], "{report:?}");
    let (swept, registry2) = recorder(ec2, Arc::new(InMemoryManagedServices::with([svc(NEW_SVC)])));
    swept.sweep(&|_, _| {}, now()).await.expect("sweeps");
    for r in [registry, registry2] {
        let entry = r.get(&accepted.endpoint).await.expect("reads").expect("recorded");
        assert_eq!(entry.state, ConnectionState::Available);
    }
}
