//! lookup: consumers' view of their endpoints and requests (Function URL, IAM auth).

use gate_aws::wiring::Wiring;
use gate_lambdas::config::LookupConfig;
use gate_lambdas::lookup::LookupFn;
use gate_lambdas::sdk::CallLimits;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

// One thread: at 128 MB a function has a fraction of one vCPU, and worker
// threads would only add wake-ups between them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    gate_lambdas::logging::init();
    let config = LookupConfig::from_env()?;
    let sdk = gate_lambdas::sdk::load(CallLimits::INTERACTIVE).await;
    let lookup = LookupFn::build(&config, &Wiring::new(&sdk, &config.table_name)).await;
    run(service_fn(|event: LambdaEvent<_>| async { Ok::<_, Error>(lookup.handle(event.payload).await) }))
        .await
}
