//! Storms: every notification delivered five times, to decide and to record
//! at once, in a scrambled order, while the emulator's Accept notifications
//! and a sweep race them. Each request is decided once and acted on once;
//! the registry ends at EC2's truth and its history never steps back.

use futures_util::future::join_all;
use gate_app::ports::{Audit, AuditKind, Registry};
use gate_core::{ConnectionState, Effect, Scope, ServicePolicy};
use gate_e2e::{Local, Result, allow_entry, connect_event, lambda_sns_event};
use gate_lambdas::decide::handle_at;
use serde_json::{Value, json};

const ACCOUNT: &str = "291000000001";

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Decide,
    Record,
}

/// An invocation's failure as the Lambda runtime reports it.
type Failure = lambda_runtime::Diagnostic;

/// Lambda retries a failed asynchronous invocation this often
/// (MaximumRetryAttempts in infra/template.yaml).
const RETRIES: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_scrambled_deliveries_to_decide_and_record_at_once() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    store.put_policy(&ServicePolicy::cautious(Scope::Any)).await?;
    store.put_entry(&allow_entry("*", ACCOUNT, Effect::Allow, &[])?).await?;
    let (connections, inbox) = local.topic_with_queue("storm-connections").await?;
    local.notify(&service, &connections).await?;
    let (review, _) = local.topic_with_queue("storm-review").await?;
    let decider = local.decider(&local.decide_config(store.table(), &review, &[&service])).await;
    let recorder = local.recorder(store.table(), &[&service]);

    let consumer = local.consumer(ACCOUNT, "10.0.0.0/16", &[], true).await?;
    let mut endpoints = Vec::new();
    for _ in 0..12 {
        endpoints.push(local.request(&consumer, &service).await?);
    }
    local.drain(&inbox).await?; // the Connect notifications; rebuilt below, five times each

    // 60 deliveries to decide and 60 to record, interleaved, plus a sweep in the middle.
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let mut deliveries: Vec<(To, Value)> = Vec::new();
    for round in 0..5 {
        let (first, second) =
            if round % 2 == 0 { (To::Decide, To::Record) } else { (To::Record, To::Decide) };
        for (i, e) in endpoints.iter().enumerate() {
            let idx = (i * 5 + round * 7) % endpoints.len();
            deliveries.push((first, connect_event(&service.id, &endpoints[idx], ACCOUNT)));
            deliveries.push((second, connect_event(&service.id, e, ACCOUNT)));
            if deliveries.len() == 60 {
                deliveries.push((To::Decide, sweep.clone()));
            }
        }
    }
    let invoke = |to: To, event: &Value| {
        let (decider, recorder) = (&decider, &recorder);
        let event = event.clone();
        async move {
            match to {
                To::Decide => {
                    handle_at(decider, &event, gate_e2e::now()).await.map(drop).map_err(Failure::from)
                }
                To::Record => gate_lambdas::record::handle(recorder, &event, None, gate_e2e::now())
                    .await
                    .map(drop)
                    .map_err(Failure::from),
            }
        }
    };
    let results = join_all(deliveries.iter().map(|(to, event)| invoke(*to, event))).await;

    // Conflicting concurrent claims may fail an invocation: it must say it
    // is worth retrying, and Lambda's retries must then succeed.
    let mut failed = 0;
    for ((to, event), result) in deliveries.iter().zip(results) {
        let Err(first) = result else { continue };
        failed += 1;
        assert_eq!(first.error_type, "Retryable", "{to:?} failed for good: {}", first.error_message);
        let mut last = Err(first);
        for _ in 0..RETRIES {
            if last.is_ok() {
                break;
            }
            last = invoke(*to, event).await;
        }
        if let Err(e) = last {
            panic!("{to:?} still fails after {RETRIES} retries: {} ({event})", e.error_message);
        }
    }
    println!("storm: {failed} of {} deliveries failed at first and succeeded when retried", deliveries.len());
    for event in local.drain(&inbox).await? {
        gate_lambdas::record::handle(&recorder, &lambda_sns_event(&event), None, gate_e2e::now()).await?;
    }

    for e in &endpoints {
        assert_eq!(local.state(e).await?, "available", "{e}");
        let calls = local.endpoint_calls(e)?;
        assert_eq!(
            calls.get("AcceptVpcEndpointConnections"),
            Some(&1),
            "{e} accepted other than once: {calls:?}"
        );
        assert_eq!(calls.get("RejectVpcEndpointConnections"), None, "{e}: {calls:?}");
        let decided = store
            .history(&e.parse()?)
            .await?
            .iter()
            .filter(|a| a.kind == AuditKind::Decided && a.actor == "endpoint-gate")
            .count();
        assert_eq!(decided, 1, "{e} decided {decided} times");
        let entry = store.get(&e.parse()?).await?.ok_or("not in the registry")?;
        assert_eq!(entry.state, ConnectionState::Available, "{e}");
        let states: Vec<ConnectionState> =
            store.changes(&e.parse()?).await?.into_iter().map(|c| c.state).collect();
        let back = states
            .windows(2)
            .any(|w| w[0] == ConnectionState::Available && w[1] == ConnectionState::PendingAcceptance);
        assert!(!back, "{e}: the registry stepped back: {states:?}");
    }
    Ok(())
}
