//! record: keeps the registry of endpoints, their DNS names and who accepted them.

use gate_aws::wiring::Wiring;
use std::time::SystemTime;

use gate_core::Timestamp;
use gate_lambdas::config::RecordConfig;
use gate_lambdas::invocation::sweep_deadline;
use gate_lambdas::record::{handle_within, own_account};
use gate_lambdas::sdk::CallLimits;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

// One thread: at 128 MB a function has a fraction of one vCPU, and worker
// threads would only add wake-ups between them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gate_lambdas::logging::init();
    let config = RecordConfig::from_env()?;
    let sdk = gate_lambdas::sdk::load(CallLimits::BACKGROUND).await;
    let recorder = Wiring::new(&sdk, &config.table_name).recorder(config.service_ids.clone());
    run(service_fn(|event: LambdaEvent<Value>| {
        let recorder = &recorder;
        let provider = own_account(&event.context.invoked_function_arn);
        let now = Timestamp::from(SystemTime::now());
        let deadline = sweep_deadline(event.context.deadline);
        // The error stays an InvocationError, so Lambda is told whether to retry.
        async move {
            handle_within(recorder, &event.payload, provider.as_ref(), now, deadline)
                .await
                .map(|r| serde_json::json!(r))
        }
    }))
    .await
}
