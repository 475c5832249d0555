//! The floor `make bench-coldstart` measures the functions against: the same
//! runtime and the same SDK clients, built the same way, and one DynamoDB
//! call per invocation. What a function spends above it is its own work.

use gate_app::ports::Requests;
use gate_aws::wiring::Wiring;
use gate_core::EndpointId;
use gate_lambdas::sdk::CallLimits;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gate_lambdas::logging::init();
    let table = std::env::var("TABLE_NAME")?;
    let sdk = gate_lambdas::sdk::load(CallLimits::INTERACTIVE).await;
    let wiring = Wiring::new(&sdk, &table);
    let probe: EndpointId = "vpce-00000000000000000".parse()?;
    run(service_fn(|_event: LambdaEvent<Value>| {
        let (store, probe) = (wiring.store(), &probe);
        async move {
            let found = store.get_many(std::slice::from_ref(probe)).await.map_err(|e| e.chain())?;
            Ok::<_, Error>(json!({"found": found.len()}))
        }
    }))
    .await
}
