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
//! (hyper, rustls, proxies from the environment), trusting the roots of
//! [`crate::trust`]. Left to itself, each service client builds its own,
//! and builds its TLS setup twice: once as a check when the client is
//! constructed, and again on its first call. Shared, the TLS setup is
//! built once, on the first call ("Service clients can be
//! expensive to construct and are generally meant to be shared": AWS SDK
//! for Rust Developer Guide, "Configuring AWS SDK for Rust service clients
//! in code").
//!
//! How long a function waits on AWS is bounded by its [`CallLimits`]. The
//! SDK limits the time to connect (3.1 s) and sets no limit on the wait for
//! an answer, per attempt or per call (AWS SDK for Rust Developer Guide,
//! "Configuring timeouts"): a call whose answer never came held the
//! invocation, billed, until Lambda's own timeout (300 s for decide). A
//! timed-out attempt is a transient error, which the SDK's retries try
//! again on another connection. The attempt limit also makes stalled-stream
//! protection redundant: every operation the functions call reads its whole
//! answer inside the attempt, so it is turned off, and with it the timer
//! and throughput log it kept for every call.

use std::time::Duration;

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::Provider;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

use crate::trust::Roots;

/// The configuration for a function's clients, from Lambda's environment.
pub async fn load(limits: CallLimits) -> SdkConfig {
    let roots = Roots::for_env(|name| std::env::var(name).ok());
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .http_client(shared_https_client(roots));
    limits.on(loader).load().await
}

/// The longest a function waits on one attempt of an AWS call (its answer
/// read) and on the call with its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub attempt: Duration,
    pub call: Duration,
}

impl CallLimits {
    /// decide and record (300 s): well above what their calls take (a page
    /// of 1,000 connections, an Accept of 100 endpoints), with room for a
    /// second attempt.
    pub const BACKGROUND: Self = Self { attempt: Duration::from_secs(8), call: Duration::from_secs(20) };

    /// respond and lookup answer a person inside Lambda's 10 s: a second
    /// attempt fits, and a call that cannot finish ends with an answer that
    /// says so, not with Lambda's timeout.
    pub const INTERACTIVE: Self = Self { attempt: Duration::from_secs(3), call: Duration::from_secs(7) };

    /// `loader` with these limits and stalled-stream protection off, as
    /// [`load`] configures every function (and tests configure theirs).
    pub fn on(self, loader: ConfigLoader) -> ConfigLoader {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build();
        loader.timeout_config(timeouts).stalled_stream_protection(StalledStreamProtectionConfig::disabled())
    }
}

/// The SDK's default HTTPS client (hyper, rustls with aws-lc, proxies from
/// the environment: aws-smithy-runtime's `default_https_client` builds it
/// the same way), trusting `roots`, to be shared by every service client.
/// `build_with_connector_fn` is hidden from the crate's docs but is what
/// the SDK itself uses; the public `build_https` would drop the proxies.
fn shared_https_client(roots: Roots) -> SharedHttpClient {
    let tls = roots.tls_context();
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector =
            Connector::builder().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    BuiltOnFirstCall(client).into_shared()
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
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::list_tables::ListTablesError;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
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
        let sdk = load(CallLimits::BACKGROUND).await;
        let client = sdk.http_client().expect("an HTTP client for every service client");
        assert!(format!("{client:?}").contains("BuiltOnFirstCall"), "{client:?}");
        // The connector the first call gets is the SDK's default (hyper).
        let metadata = client.connector_metadata().expect("the SDK's client describes itself");
        assert_eq!(metadata.name(), "hyper");
    }

    /// The first bytes a DynamoDB call through `client` sends to a local
    /// listener at `scheme`; the listener then hangs up.
    async fn first_bytes(client: SharedHttpClient, scheme: &str) -> Vec<u8> {
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        use aws_sdk_dynamodb::config::{Credentials, Region};
        use std::io::Read;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().expect("its address").port();
        let reader = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("the client connects");
            let mut buf = [0u8; 16];
            let n = stream.read(&mut buf).expect("the client writes");
            buf[..n].to_vec()
        });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "test"))
            .endpoint_url(format!("{scheme}://127.0.0.1:{port}"))
            .retry_config(RetryConfig::disabled())
            .http_client(client)
            .build();
        let call = aws_sdk_dynamodb::Client::from_conf(config).list_tables().send().await;
        assert!(call.is_err(), "the listener never answers");
        reader.join().expect("the listener's thread")
    }

    /// What the functions load: both limits, the SDK's connect timeout
    /// kept, stalled-stream protection off.
    #[tokio::test]
    async fn the_functions_wait_on_aws_within_their_limits() {
        for limits in [CallLimits::BACKGROUND, CallLimits::INTERACTIVE] {
            let sdk = load(limits).await;
            let timeouts = sdk.timeout_config().expect("timeouts");
            assert_eq!(timeouts.operation_attempt_timeout(), Some(limits.attempt));
            assert_eq!(timeouts.operation_timeout(), Some(limits.call));
            assert_eq!(timeouts.connect_timeout(), Some(Duration::from_millis(3100)));
            let stalled = sdk.stalled_stream_protection().expect("stalled-stream protection set");
            assert!(!stalled.is_enabled());
        }
        let respond_and_lookup = Duration::from_secs(10);
        assert!(CallLimits::INTERACTIVE.call < respond_and_lookup);
        assert!(CallLimits::INTERACTIVE.attempt * 2 < CallLimits::INTERACTIVE.call);
        assert!(CallLimits::BACKGROUND.attempt * 2 < CallLimits::BACKGROUND.call);
    }

    /// A DynamoDB call, configured as a function loads it with `limits`,
    /// to a listener that accepts and never answers: how long it took, the
    /// connections it opened, and its error.
    async fn never_answered(
        limits: CallLimits,
    ) -> (Duration, usize, SdkError<ListTablesError, HttpResponse>) {
        use aws_sdk_dynamodb::config::{Credentials, Region};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().expect("its address").port();
        let opened = Arc::new(AtomicUsize::new(0));
        let counted = opened.clone();
        // Reads nothing, answers nothing, hangs up only when the test ends.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept() {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        let config = aws_sdk_dynamodb::config::Builder::from(&load(limits).await)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "test"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .build();
        let started = std::time::Instant::now();
        let call = aws_sdk_dynamodb::Client::from_conf(config).list_tables().send();
        let answer = tokio::time::timeout(limits.call + Duration::from_secs(10), call)
            .await
            .expect("the call ends by itself, not by this test's patience");
        let err = answer.expect_err("the listener never answers");
        (started.elapsed(), opened.load(Ordering::SeqCst), err)
    }

    /// A call whose answer never comes is tried again on another
    /// connection, then ends as a timeout at the call's limit, transient,
    /// instead of holding the function until Lambda stops it.
    async fn a_call_never_answered_ends_at_its_limit(limits: CallLimits) {
        let (waited, connections, err) = never_answered(limits).await;
        assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
        assert!(gate_aws::error::is_transient(&err, None), "a timeout is worth trying again");
        assert!(waited >= limits.call && waited < limits.call + Duration::from_secs(2), "waited {waited:?}");
        assert!(connections >= 2, "tried again on another connection: {connections} opened");
    }

    #[tokio::test]
    async fn respond_and_lookup_give_up_on_a_silent_call_before_lambda_stops_them() {
        a_call_never_answered_ends_at_its_limit(CallLimits::INTERACTIVE).await;
    }

    #[tokio::test]
    async fn decide_and_record_give_up_on_a_silent_call_in_twenty_seconds() {
        a_call_never_answered_ends_at_its_limit(CallLimits::BACKGROUND).await;
    }

    /// The TLS setup, with its five roots, is built when the first call
    /// needs a connector: a root that did not parse would panic there.
    #[tokio::test]
    async fn the_amazon_rooted_client_makes_calls_and_opens_tls() {
        let http = first_bytes(shared_https_client(Roots::AmazonTrustServices), "http").await;
        assert!(http.starts_with(b"POST / HTTP/1.1"), "{:?}", String::from_utf8_lossy(&http));
        let https = first_bytes(shared_https_client(Roots::AmazonTrustServices), "https").await;
        // A TLS handshake record (0x16) carrying a ClientHello (0x01).
        assert_eq!((https.first(), https.get(5)), (Some(&0x16), Some(&0x01)), "{https:?}");
    }
}
