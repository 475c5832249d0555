//! Services as code, end to end: a service the stack does not name is
//! added to the policy file; `plan` shows its tag and notification,
//! `apply` makes them in the emulator and writes the managed list; the
//! consumer's connection notification reaches the connection topic, and
//! decide, configured without the service, decides it; so does its sweep,
//! and record enters them in the registry.

use gate_app::ports::Registry;
use gate_e2e::{Local, Result, lambda_sns_event};
use gate_lambdas::decide::handle_at;
use serde_json::json;

use crate::cli::common::cli;

/// Whether EC2 has the managing tag on the service.
async fn tagged(local: &Local, service: &str) -> Result<bool> {
    let out = local
        .ec2()
        .describe_tags()
        .filters(aws_sdk_ec2::types::Filter::builder().name("resource-id").values(service).build())
        .send()
        .await?;
    Ok(out.tags().iter().any(|t| t.key() == Some("endpoint-gate:managed") && t.value() == Some("true")))
}

#[tokio::test]
async fn a_service_added_to_the_file_is_notified_tagged_and_decided_without_a_stack_update() -> Result<()> {
    let local = Local::from_env().await;
    let stack_service = local.service().await?; // the only one in SERVICE_IDS
    let service = local.service().await?;
    let store = local.table().await?;
    let (review_topic, _review_queue) = local.topic_with_queue("review").await?;
    let (connection_topic, connections) = local.topic_with_queue("connections").await?;
    let (friend, other) = ("210000000071", "210000000072");
    let dir = std::env::temp_dir().join(gate_e2e::unique("services"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("policy.yaml");
    std::fs::write(
        &file,
        format!(
            "services:\n  - {svc}\npolicies:\n  - service: \"*\"\nallow:\n  - account: \"{friend}\"\n    service: {svc}\n    owner: team-a\n\
             \x20 - account: \"{other}\"\n    service: {svc}\n    owner: team-b\n",
            svc = service.id
        ),
    )?;
    let path = file.to_str().ok_or("path")?;
    let run = |verb: &str| cli(store.table(), &[verb, path, "--connection-topic-arn", &connection_topic]);

    let (code, out, err) = run("plan");
    assert_eq!(code, 0, "{err}");
    for line in [
        format!("+ service {}", service.id),
        format!("+ tag endpoint-gate:managed=true on {}", service.id),
        format!("+ notification of {} to {connection_topic}", service.id),
    ] {
        assert!(out.contains(&line), "{line} in: {out}");
    }
    assert!(!tagged(&local, &service.id).await?, "plan changes nothing");

    let (code, out, err) = run("apply");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(tagged(&local, &service.id).await?);
    let (code, out, _) = run("plan");
    assert_eq!(code, 0);
    assert!(!out.contains("notification of") && !out.contains("+ tag"), "converged: {out}");

    // A consumer connects: EC2 publishes Connect to the topic apply named.
    let consumer = local.consumer(friend, "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let published = local.drain(&connections).await?;
    let connect = published
        .iter()
        .find(|m| m["Message"].as_str().is_some_and(|b| b.contains(&endpoint) && b.contains("\"Connect\"")))
        .ok_or_else(|| format!("no Connect for {endpoint} in {published:?}"))?;

    let config = local.decide_config(store.table(), &review_topic, &[&stack_service]);
    assert!(!config.service_ids.iter().any(|s| s.as_str() == service.id), "not in SERVICE_IDS");
    let decider = local.decider(&config).await;
    let out = handle_at(&decider, &lambda_sns_event(connect), gate_e2e::now()).await?;
    assert_eq!(out.report.counts.accepted, 1, "{:?}", out.report);
    assert_eq!(local.state(&endpoint).await?, "available");

    // The scheduled sweep sees the managed service too.
    let second = local.consumer(other, "172.30.0.0/16", &[], true).await?;
    let swept = local.request(&second, &service).await?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = handle_at(&decider, &sweep, gate_e2e::now()).await?;
    assert!(out.report.decided.iter().any(|d| d.endpoint.as_str() == swept), "{:?}", out.report);
    assert_eq!(local.state(&swept).await?, "available");

    // record, configured without the service too, enters both in the registry.
    let recorder = local.recorder(store.table(), &[&stack_service]);
    recorder.sweep(&|_, _| {}, gate_e2e::now()).await?;
    for id in [&endpoint, &swept] {
        let entry = store.get(&id.parse()?).await?.ok_or_else(|| format!("{id} not in the registry"))?;
        assert_eq!(entry.state, gate_core::ConnectionState::Available, "{id}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
