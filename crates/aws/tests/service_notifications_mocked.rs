//! The managed services' EC2 adapter against modelled responses: the
//! service filter, the events it asks for, only the managing tag counts,
//! and a refused deletion is an error.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_vpc_endpoint_connection_notification::CreateVpcEndpointConnectionNotificationOutput;
use aws_sdk_ec2::operation::delete_vpc_endpoint_connection_notifications::DeleteVpcEndpointConnectionNotificationsOutput;
use aws_sdk_ec2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connection_notifications::DescribeVpcEndpointConnectionNotificationsOutput;
use aws_sdk_ec2::types::{ConnectionNotification, TagDescription, UnsuccessfulItem, UnsuccessfulItemError};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use gate_app::services::ServiceNotifications;
use gate_aws::Ec2ServiceNotifications;
use gate_core::ServiceId;

const SVC: &str = "vpce-svc-0abc1234def567890";
const OTHER: &str = "vpce-svc-0fff1234def567890";
const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:endpoint-gate-connections";

fn svc() -> ServiceId {
    SVC.parse().expect("svc")
}

fn has_filter(filters: &[aws_sdk_ec2::types::Filter], name: &str, value: &str) -> bool {
    filters.iter().any(|f| f.name() == Some(name) && f.values().iter().any(|v| v == value))
}

fn notification(id: &str, service: &str) -> ConnectionNotification {
    ConnectionNotification::builder()
        .connection_notification_id(id)
        .service_id(service)
        .connection_notification_arn(TOPIC)
        .build()
}

#[tokio::test]
async fn notifications_are_asked_for_by_service_and_another_services_are_ignored() {
    let rule = mock!(Client::describe_vpc_endpoint_connection_notifications)
        .match_requests(|r| has_filter(r.filters(), "service-id", SVC))
        .then_output(|| {
            DescribeVpcEndpointConnectionNotificationsOutput::builder()
                .connection_notification_set(notification("vpce-nfn-00000000000000001", SVC))
                .connection_notification_set(notification("vpce-nfn-00000000000000002", OTHER))
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]);
    let found = Ec2ServiceNotifications::new(client).notifications(&svc()).await.expect("reads");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id.as_str(), found[0].topic.as_str()), ("vpce-nfn-00000000000000001", TOPIC));
}

#[tokio::test]
async fn a_notification_is_created_for_the_four_events_the_stack_uses() {
    let rule = mock!(Client::create_vpc_endpoint_connection_notification)
        .match_requests(|r| {
            r.service_id() == Some(SVC)
                && r.connection_notification_arn() == Some(TOPIC)
                && r.connection_events() == ["Connect", "Accept", "Reject", "Delete"]
        })
        .then_output(|| {
            CreateVpcEndpointConnectionNotificationOutput::builder()
                .connection_notification(notification("vpce-nfn-00000000000000003", SVC))
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]);
    let id = Ec2ServiceNotifications::new(client).create(&svc(), TOPIC).await.expect("creates");
    assert_eq!(id, "vpce-nfn-00000000000000003");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn only_the_managing_tag_with_its_value_counts() {
    let tag =
        |key: &str, value: &str| TagDescription::builder().resource_id(SVC).key(key).value(value).build();
    let tagged = mock!(Client::describe_tags)
        .match_requests(|r| {
            has_filter(r.filters(), "resource-id", SVC)
                && has_filter(r.filters(), "key", "endpoint-gate:managed")
        })
        .then_output(move || {
            DescribeTagsOutput::builder().tags(tag("endpoint-gate:managed", "false")).build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&tagged]);
    assert!(!Ec2ServiceNotifications::new(client).tagged(&svc()).await.expect("reads"));

    let tagged = mock!(Client::describe_tags).then_output(move || {
        DescribeTagsOutput::builder().tags(tag("endpoint-gate:managed", "true")).build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&tagged]);
    assert!(Ec2ServiceNotifications::new(client).tagged(&svc()).await.expect("reads"));
}

#[tokio::test]
async fn a_deletion_ec2_refuses_is_an_error() {
    let rule = mock!(Client::delete_vpc_endpoint_connection_notifications).then_output(|| {
        DeleteVpcEndpointConnectionNotificationsOutput::builder()
            .unsuccessful(
                UnsuccessfulItem::builder()
                    .resource_id("vpce-nfn-00000000000000004")
                    .error(
                        UnsuccessfulItemError::builder()
                            .code("InvalidConnectionNotification")
                            .message("gone")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]);
    let e =
        Ec2ServiceNotifications::new(client).delete("vpce-nfn-00000000000000004").await.expect_err("refused");
    assert!(e.chain().contains("gone"), "{}", e.chain());
}
