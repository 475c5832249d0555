//! record: keeps the registry of endpoints, their DNS names and who accepted them.

use std::time::SystemTime;

use gate_core::Timestamp;
use gate_lambdas::config::RecordConfig;
use gate_lambdas::record;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = RecordConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let recorder = record::build(&config, &sdk);
    run(service_fn(|event: LambdaEvent<Value>| {
        let recorder = &recorder;
        let provider = record::own_account(&event.context.invoked_function_arn);
        let now = Timestamp::from(SystemTime::now());
        async move {
            record::handle(recorder, &event.payload, provider.as_ref(), now)
                .await
                .map(|r| serde_json::json!(r))
        }
    }))
    .await
}
