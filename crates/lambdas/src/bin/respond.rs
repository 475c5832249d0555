//! respond: approvers answer reviews from the email links and Slack (Function URL).

use gate_aws::wiring::Wiring;
use std::time::SystemTime;

use gate_core::Timestamp;
use gate_lambdas::config::RespondConfig;
use gate_lambdas::respond::Responder;
use gate_lambdas::sdk::CallLimits;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

// One thread: at 128 MB a function has a fraction of one vCPU, and worker
// threads would only add wake-ups between them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gate_lambdas::logging::init();
    let config = RespondConfig::from_env()?;
    let sdk = gate_lambdas::sdk::load(CallLimits::INTERACTIVE).await;
    let wiring = Wiring::new(&sdk, &config.table_name);
    let responder = Responder::build(&config, &wiring, Timestamp::from(SystemTime::now())).await?;
    run(service_fn(|event: LambdaEvent<_>| async { Ok::<_, Error>(responder.handle(event.payload).await) }))
        .await
}
