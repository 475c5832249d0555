//! `make bench` (cold start): the world both the Rust decide function and
//! the Python peer decide in. One endpoint service, pending connections
//! from an allowlisted account without a reader role (declared CIDRs
//! apply), a table with the `*` policy and the allow entry, a review topic.
//! Prints one JSON line: {table, topic, service, events: [SNS event, ...]}.

use gate_aws::DynamoStore;
use gate_core::{Effect, Scope, ServicePolicy};
use gate_e2e::{Local, Result, allow_entry, connect_event, http_post};
use serde_json::json;

const OWNER: &str = "222222222222";

#[tokio::main]
async fn main() -> Result<()> {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(60);
    let local = Local::from_env().await;
    let service = local.service().await?;
    let seeded = http_post(
        &local.moto_url,
        "/_gate/seed",
        &json!({"service_id": service.id, "owner": OWNER, "count": count}).to_string(),
    )?;
    let seeded: serde_json::Value = serde_json::from_str(&seeded)?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), gate_e2e::unique("coldstart"));
    store.ensure_table().await?;
    store.put_policy(&ServicePolicy::cautious(Scope::Any)).await?;
    store.put_entry(&allow_entry("*", OWNER, Effect::Allow, &["172.20.0.0/16"])?).await?;
    let (topic, _) = local.topic_with_queue("review").await?;
    let events: Vec<serde_json::Value> = seeded["endpoint_ids"]
        .as_array()
        .ok_or("no endpoints seeded")?
        .iter()
        .map(|e| connect_event(&service.id, e.as_str().unwrap_or_default(), OWNER))
        .collect();
    println!("{}", json!({"table": store.table(), "topic": topic, "service": service.id, "events": events}));
    Ok(())
}
