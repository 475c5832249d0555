//! `make watch` runs this first: the table, approvers' topic, link-keys
//! secret and a default policy that the locally emulated Lambda functions
//! use, with the names given in `[package.metadata.lambda.env]` of
//! crates/lambdas. Safe to run again.

use aws_sdk_sns::Client as Sns;
use gate_aws::DynamoStore;
use gate_core::{Scope, ServicePolicy};
use gate_e2e::{Local, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let local = Local::from_env().await;
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "endpoint-gate".into());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), table.clone());
    store.ensure_table().await?;
    store.put_policy(&ServicePolicy::cautious(Scope::Any)).await?;
    let topic = Sns::new(&local.sdk).create_topic().name("endpoint-gate-review").send().await?;
    let secrets = aws_sdk_secretsmanager::Client::new(&local.sdk);
    let keys = std::env::var("LINK_KEYS_SECRET_ARN").unwrap_or_else(|_| "endpoint-gate-link-keys".into());
    if secrets.describe_secret().secret_id(&keys).send().await.is_err() {
        let value = serde_json::json!({"current": gate_e2e::unique("local-link-key-0123456789abcdef"), "previous": null});
        secrets.create_secret().name(&keys).secret_string(value.to_string()).send().await?;
    }
    println!("local setup: table {table}, topic {}, link keys {keys}", topic.topic_arn().unwrap_or_default());
    Ok(())
}
