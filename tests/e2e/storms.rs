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

type Run<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<(), String>> + Send + 'a>>;

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
    let mut order: Vec<(bool, Value)> = Vec::new();
    for round in 0..5 {
        for (i, e) in endpoints.iter().enumerate() {
            let idx = (i * 5 + round * 7) % endpoints.len();
            order.push((round % 2 == 0, connect_event(&service.id, &endpoints[idx], ACCOUNT)));
            order.push((round % 2 == 1, connect_event(&service.id, e, ACCOUNT)));
        }
    }
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let (decider, recorder, sweep) = (&decider, &recorder, &sweep);
    let mut runs: Vec<Run<'_>> = Vec::new();
    for (n, (to_decide, event)) in order.into_iter().enumerate() {
        runs.push(Box::pin(async move {
            if to_decide {
                handle_at(decider, &event, gate_e2e::now()).await.map(drop).map_err(|e| e.to_string())
            } else {
                gate_lambdas::record::handle(recorder, &event, None, gate_e2e::now())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }));
        if n == 60 {
            runs.push(Box::pin(async move {
                handle_at(decider, sweep, gate_e2e::now()).await.map(drop).map_err(|e| e.to_string())
            }));
        }
    }
    let failures: Vec<String> =
        join_all(runs).await.into_iter().filter_map(std::result::Result::err).collect();
    // Conflicting concurrent claims may fail an invocation; Lambda would retry it.
    for event in local.drain(&inbox).await? {
        gate_lambdas::record::handle(recorder, &lambda_sns_event(&event), None, gate_e2e::now()).await?;
    }

    let accepts = local.calls(Some(&service.id))?.get("AcceptVpcEndpointConnections").copied().unwrap_or(0);
    assert!(accepts <= endpoints.len() as u64, "{accepts} Accept calls for {} endpoints", endpoints.len());
    for e in &endpoints {
        assert_eq!(local.state(e).await?, "available", "{e} (failures: {failures:?})");
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
