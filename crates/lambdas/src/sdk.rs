//! The SDK configuration every function starts from.
//!
//! Lambda hands a function its execution role's credentials and its region
//! as environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`: Lambda Developer Guide, "Defined
//! runtime environment variables",
//! <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>).
//! The functions read exactly those. The SDK's default chains would find the
//! same values, but only after building a web-identity STS client and an
//! instance-metadata client on every cold start, and they would fall back to
//! a profile or instance metadata where the variables are missing; here a
//! missing variable is an error on the first call, which names it.

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{BehaviorVersion, SdkConfig};

/// The configuration for a function's clients, from Lambda's environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await
}
