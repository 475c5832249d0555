//! Adapters from Endpoint Gate's ports to AWS. The SDK stays in here:
//! nothing outside this crate sees an SDK type.

pub mod catalogue;
mod checkpoint_store;
pub mod consumer_topic;
pub mod dynamo;
pub mod ec2;
pub mod error;
mod items;
mod managed_services;
pub mod networks;
pub mod on_first_use;
pub mod organizations;
pub mod permissions;
mod principals_store;
pub mod registry_store;
pub mod review_topic;
pub mod secrets;
pub mod service_notifications;
pub mod slack;
pub mod slack_messages;
pub mod sns;
mod table;
#[cfg(feature = "test-util")]
mod test_util;
mod topic_subscriptions;
pub mod wiring;

pub use catalogue::Ec2Catalogue;
pub use consumer_topic::{SnsConsumerNotices, SnsConsumerTopic};
pub use dynamo::DynamoStore;
pub use ec2::Ec2Connections;
pub use networks::AssumeRoleNetworks;
pub use on_first_use::OnFirstUse;
pub use organizations::AwsOrganizations;
pub use permissions::Ec2ServicePermissions;
pub use review_topic::SnsReviewTopic;
pub use secrets::{LinkKeyRing, LinkKeys, SlackSecrets};
pub use service_notifications::Ec2ServiceNotifications;
pub use slack::{SLACK_API, SlackHooks, SlackNotifier};
pub use sns::{EmailLinks, SnsNotifier};

/// Where the functions may send requests or point people: https only, or a
/// local stand-in on loopback for local runs. The host is parsed, so
/// `http://127.0.0.1.evil.example` or `http://127.0.0.1@evil.example` is
/// neither.
pub fn is_https_or_loopback(url: &str) -> bool {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => {
            v6.split_once(']').filter(|(_, port)| port.is_empty() || port.starts_with(':')).map(|(h, _)| h)
        }
        None => authority.split(':').next(),
    };
    let Some(host) = host.filter(|h| !h.is_empty()) else { return false };
    https || matches!(host, "127.0.0.1" | "localhost" | "::1")
}

#[cfg(test)]
mod tests {
    use super::is_https_or_loopback;

    #[test]
    fn only_https_or_a_loopback_host_is_trusted() {
        for good in [
            "https://hooks.slack.com/actions/",
            "https://abc.lambda-url.eu-west-1.on.aws",
            "http://127.0.0.1:9000/hooks/",
            "http://127.0.0.1",
            "http://localhost:8080",
            "http://[::1]:9000/x",
        ] {
            assert!(is_https_or_loopback(good), "{good}");
        }
        for bad in [
            "http://127.0.0.1.evil.example/",
            "http://127.0.0.1@evil.example/",
            "http://evil.example/?http://127.0.0.1",
            "http://127.0.0.10/",
            "http://[::1].evil.example/",
            "http://",
            "https://",
            "ftp://127.0.0.1/",
            "HTTP://127.0.0.1.evil.example",
            "http://127.0.0.1 .evil.example",
            "",
        ] {
            assert!(!is_https_or_loopback(bad), "{bad}");
        }
    }
}
