//! The registry from a terminal against moto and DynamoDB Local: a backfill
//! of endpoints accepted before Endpoint Gate, then endpoints, one endpoint
//! and the catalogue, as tables and as JSON.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::cli;

use gate_e2e::Local;

#[tokio::test]
async fn backfill_then_look_up_endpoints_dns_names_and_services() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let table = store.table().to_owned();
    // Accepted by hand before Endpoint Gate existed.
    let a = local.consumer("280000000001", "10.0.0.0/16", &[], true).await.expect("consumer");
    let ea = local.request(&a, &service).await.expect("endpoint");
    let eb = local.request(&a, &service).await.expect("endpoint");
    local
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&service.id)
        .vpc_endpoint_ids(&ea)
        .send()
        .await
        .expect("accept");

    let (code, out, err) = cli(&table, &["backfill", "--service", &service.id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Backfill: 2 recorded"), "{out}");
    assert!(err.contains("backfill: 2/2 connections"), "progress on stderr: {err}");
    let (code, out, _) = cli(&table, &["backfill", "--service", &service.id]);
    assert_eq!((code, out.contains("0 recorded, 2 already up to date")), (0, true), "{out}");

    let (code, out, err) = cli(&table, &["endpoints", "--account", "280000000001"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&ea) && out.contains(&eb) && out.contains(".vpce.amazonaws.com"), "{out}");
    let (_, out, _) = cli(&table, &["--output", "json", "endpoints", "--service", &service.id]);
    let rows: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{out}");

    let (code, out, _) = cli(&table, &["endpoint", &ea]);
    assert_eq!(code, 0);
    assert!(out.contains("state available") && out.contains("accepted") && out.contains("dns "), "{out}");
    let (code, _, err) = cli(&table, &["endpoint", "vpce-0000000000000dead"]);
    assert_eq!(code, 4, "{err}");

    let (code, out, _) = cli(&table, &["services", "--service", &service.id]);
    assert_eq!(code, 0);
    assert!(out.contains(&service.name) && out.contains("required"), "{out}");

    let (code, _, err) = cli(&table, &["endpoints"]);
    assert_eq!(code, 2, "an unfiltered listing is refused: {err}");
    let (code, _, err) = cli(&table, &["endpoints", "--account", "12345"]);
    assert_eq!(code, 2);
    assert!(err.contains("12345"), "{err}");
}
