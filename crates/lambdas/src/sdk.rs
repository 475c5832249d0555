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
//!
//! Every client of a function shares one HTTPS client: the SDK's default
//! (hyper, rustls, the OS's trusted roots, proxies from the environment).
//! Left to itself, each service client builds its own, and builds its TLS
//! setup twice: once as a check when the client is constructed, and again
//! on its first call. Each build parses every trusted root certificate
//! (about a tenth of decide's cold-start samples under `perf`). Shared,
//! the TLS setup is built once, on the first call ("Service clients can be
//! expensive to construct and are generally meant to be shared": AWS SDK
//! for Rust Developer Guide, "Configuring AWS SDK for Rust service clients
//! in code").

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime::client::defaults::default_http_client_plugin_v2;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_runtime_api::shared::IntoShared;

/// The configuration for a function's clients, from Lambda's environment.
pub async fn load() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new());
    match shared_https_client() {
        Some(client) => loader.http_client(client),
        None => loader,
    }
    .load()
    .await
}

/// The SDK's default HTTPS client, to be shared by every service client.
fn shared_https_client() -> Option<SharedHttpClient> {
    let plugin = default_http_client_plugin_v2(BehaviorVersion::latest())?;
    let components = plugin.runtime_components(&RuntimeComponentsBuilder::new("endpoint-gate"));
    Some(BuiltOnFirstCall(components.http_client()?).into_shared())
}

/// An HTTP client whose connector (and TLS setup) is built when a call
/// first needs it, not also as a check each time a service client is
/// constructed (the SDK's default builds one there and drops it).
#[derive(Debug)]
struct BuiltOnFirstCall(SharedHttpClient);

impl HttpClient for BuiltOnFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::Region;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::config_bag::ConfigBag;

    use super::*;

    /// An HTTP client that counts the connectors (TLS setups) built from it.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    #[derive(Debug)]
    struct Refuse;

    impl HttpConnector for Refuse {
        fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Err(ConnectorError::other("no network in this test".into(), None)))
        }
    }

    impl HttpClient for Counting {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            self.0.fetch_add(1, Ordering::SeqCst);
            Refuse.into_shared()
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            // What the SDK's default client does here: build a connector.
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn sdk_over(client: SharedHttpClient) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(client)
            .build()
    }

    #[test]
    fn constructing_service_clients_builds_no_connector_when_shared() {
        let built = Arc::new(AtomicUsize::new(0));
        let sdk = sdk_over(BuiltOnFirstCall(Counting(built.clone()).into_shared()).into_shared());
        let _ = (
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_ec2::Client::new(&sdk),
            aws_sdk_sns::Client::new(&sdk),
        );
        assert_eq!(built.load(Ordering::SeqCst), 0);

        // The SDK's own behaviour, which the wrapper removes: one per client.
        let plain = Arc::new(AtomicUsize::new(0));
        let sdk = sdk_over(Counting(plain.clone()).into_shared());
        let _ = (
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_ec2::Client::new(&sdk),
            aws_sdk_sns::Client::new(&sdk),
        );
        assert_eq!(plain.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_functions_clients_share_the_sdk_default_https_client() {
        let sdk = load().await;
        let client = sdk.http_client().expect("an HTTP client for every service client");
        assert!(format!("{client:?}").contains("BuiltOnFirstCall"), "{client:?}");
        // The connector the first call gets is the SDK's default (hyper).
        let metadata = client.connector_metadata().expect("the SDK's client describes itself");
        assert_eq!(metadata.name(), "hyper");
    }
}
