//! Adapters from Endpoint Gate's ports to AWS. The SDK stays in here:
//! nothing outside this crate sees an SDK type.

pub mod dynamo;
pub mod ec2;
pub mod error;
pub mod networks;
pub mod registry_store;
pub mod secrets;
pub mod slack;
pub mod slack_messages;
pub mod sns;
pub mod wiring;

pub use dynamo::DynamoStore;
pub use ec2::Ec2Connections;
pub use networks::AssumeRoleNetworks;
pub use secrets::{LinkKeyRing, LinkKeys, SlackSecrets};
pub use slack::{SLACK_API, SlackHooks, SlackNotifier};
pub use sns::{EmailLinks, SnsNotifier};

/// Where the functions may send requests or point people: https only, or a
/// local stand-in on loopback for local runs.
pub fn is_https_or_loopback(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://127.0.0.1")
}
