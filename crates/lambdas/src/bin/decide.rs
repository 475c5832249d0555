//! decide: accepts, rejects or escalates endpoint connection requests.

use gate_aws::wiring::Wiring;
use std::time::SystemTime;

use gate_core::Timestamp;
use gate_lambdas::config::DecideConfig;
use gate_lambdas::decide::{DecideFn, handle};
use gate_lambdas::sdk::CallLimits;
use lambda_runtime::{Error, run, service_fn};

// One thread: at 128 MB a function has a fraction of one vCPU, and worker
// threads would only add wake-ups between them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gate_lambdas::logging::init();
    let config = DecideConfig::from_env()?;
    let sdk = gate_lambdas::sdk::load(CallLimits::BACKGROUND).await;
    let decide = DecideFn::build(&config, &Wiring::new(&sdk, &config.table_name)).await?;
    run(service_fn(|event| handle(&decide, event, Timestamp::from(SystemTime::now())))).await
}
