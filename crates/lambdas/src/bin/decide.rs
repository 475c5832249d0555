//! decide: accepts, rejects or escalates endpoint connection requests.

use gate_lambdas::config::DecideConfig;
use gate_lambdas::decide;
use lambda_runtime::{Error, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = DecideConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let decider = decide::build(&config, &sdk).await?;
    let watch = decide::topic_watch(&config, &sdk);
    run(service_fn(|event| decide::handle(&decider, &watch, event))).await
}
