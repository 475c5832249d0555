//! The EC2 adapter against modelled responses: the requests it sends,
//! pagination, the camelCase state quirk, `Unsuccessful` items, and retries.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::accept_vpc_endpoint_connections::AcceptVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsOutput;
use aws_sdk_ec2::types::{DnsEntry, State, UnsuccessfulItem, UnsuccessfulItemError, VpcEndpointConnection};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use gate_app::ports::Connections;
use gate_aws::Ec2Connections;
use gate_core::{Action, ConnectionState, EndpointId, ServiceId};

const SVC: &str = "vpce-svc-0abc1234def567890";

fn endpoint(n: u32) -> String {
    format!("vpce-{n:017x}")
}

fn connection(n: u32, state: &str) -> VpcEndpointConnection {
    VpcEndpointConnection::builder()
        .service_id(SVC)
        .vpc_endpoint_id(endpoint(n))
        .vpc_endpoint_owner("222233334444")
        // What EC2 really sends: camelCase, unknown to the SDK enum.
        .vpc_endpoint_state(State::from(state))
        .dns_entries(
            DnsEntry::builder()
                .dns_name(format!("{}-abcd.{SVC}.us-east-1.vpce.amazonaws.com", endpoint(n)))
                .hosted_zone_id("Z7HUB22UULQXV")
                .build(),
        )
        .build()
}

fn has_filter(filters: &[aws_sdk_ec2::types::Filter], name: &str, value: &str) -> bool {
    filters.iter().any(|f| f.name() == Some(name) && f.values().iter().any(|v| v == value))
}

#[tokio::test]
async fn pending_reads_every_page_with_state_and_service_filters() {
    let first = mock!(Client::describe_vpc_endpoint_connections)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.max_results() == Some(1000)
                && has_filter(r.filters(), "vpc-endpoint-state", "pendingAcceptance")
                && has_filter(r.filters(), "service-id", SVC)
        })
        .then_output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection(1, "pendingAcceptance"))
                .vpc_endpoint_connections(connection(2, "pendingAcceptance"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::describe_vpc_endpoint_connections)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection(3, "pendingAcceptance"))
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&first, &second]);
    let conns = Ec2Connections::new(client).pending(&[SVC.parse().expect("svc")]).await.expect("reads");
    assert_eq!(conns.len(), 3);
    assert!(conns.iter().all(|c| c.state == ConnectionState::PendingAcceptance));
    assert_eq!(conns[2].endpoint.as_str(), endpoint(3));
    assert_eq!(conns[0].dns_entries[0].hosted_zone_id, "Z7HUB22UULQXV");
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_saved_cursor_that_is_not_ours_starts_the_pass_again() {
    let first = mock!(Client::describe_vpc_endpoint_connections)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection(1, "pendingAcceptance"))
                .next_token("page-2")
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&first]);
    let ec2 = Ec2Connections::new(client);
    let services = [SVC.parse().expect("svc")];
    // Hand edits and older formats; a sweep that refused them would stop for good.
    for cursor in ["", "abc", "x:token", "-1:token", "\u{202e}1:t"] {
        let page = ec2.pending_page(&services, Some(cursor.to_owned())).await.expect("reads");
        assert_eq!(page.connections[0].endpoint.as_str(), endpoint(1), "{cursor:?}");
        assert_eq!(page.next.as_deref(), Some("0:page-2"), "{cursor:?}");
    }
    assert_eq!(first.num_calls(), 5);
}

#[tokio::test]
async fn available_pages_filter_on_the_available_state() {
    let rule = mock!(Client::describe_vpc_endpoint_connections)
        .match_requests(|r| {
            has_filter(r.filters(), "vpc-endpoint-state", "available")
                && has_filter(r.filters(), "service-id", SVC)
        })
        .then_output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection(1, "available"))
                .next_token("page-2")
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]);
    let page =
        Ec2Connections::new(client).available_page(&[SVC.parse().expect("svc")], None).await.expect("reads");
    assert_eq!(page.connections.len(), 1);
    assert_eq!(page.connections[0].state, ConnectionState::Available);
    assert!(page.next.is_some(), "the cursor is handed on");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_connection_with_an_unusable_id_is_left_out() {
    let rule = mock!(Client::describe_vpc_endpoint_connections).then_output(|| {
        DescribeVpcEndpointConnectionsOutput::builder()
            .vpc_endpoint_connections(connection(1, "available"))
            .vpc_endpoint_connections(
                VpcEndpointConnection::builder()
                    .service_id(SVC)
                    .vpc_endpoint_id("vpce-bogus")
                    .vpc_endpoint_owner("12")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let conns = Ec2Connections::new(client).pending(&[]).await.expect("reads");
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].state, ConnectionState::Available);
}

#[tokio::test]
async fn get_filters_by_endpoint_and_answers_none_when_absent() {
    let rule = mock!(Client::describe_vpc_endpoint_connections)
        .match_requests(|r| has_filter(r.filters(), "vpc-endpoint-id", &endpoint(9)))
        .then_output(|| DescribeVpcEndpointConnectionsOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let id: EndpointId = endpoint(9).parse().expect("id");
    assert_eq!(Ec2Connections::new(client).get(&id).await.expect("reads"), None);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn unsuccessful_items_come_back_as_refusals() {
    let rule = mock!(Client::accept_vpc_endpoint_connections)
        .match_requests(|r| r.service_id() == Some(SVC) && r.vpc_endpoint_ids().len() == 2)
        .then_output(|| {
            AcceptVpcEndpointConnectionsOutput::builder()
                .unsuccessful(
                    UnsuccessfulItem::builder()
                        .resource_id(endpoint(2))
                        .error(
                            UnsuccessfulItemError::builder()
                                .code("InvalidState")
                                .message("not pending")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let svc: ServiceId = SVC.parse().expect("svc");
    let ids: Vec<EndpointId> = [1, 2].map(|n| endpoint(n).parse().expect("id")).to_vec();
    let refused = Ec2Connections::new(client).act(Action::Accept, &svc, &ids).await.expect("calls");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].endpoint.as_str(), refused[0].code.as_str()),
        (endpoint(2).as_str(), "InvalidState")
    );
}

const THROTTLED: &str = "<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
    <Message>Request limit exceeded.</Message></Error></Errors><RequestID>1</RequestID></Response>";

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let rule = mock!(Client::reject_vpc_endpoint_connections)
        .sequence()
        .http_status(503, Some(THROTTLED.into()))
        .times(2)
        .output(|| aws_sdk_ec2::operation::reject_vpc_endpoint_connections::RejectVpcEndpointConnectionsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let svc: ServiceId = SVC.parse().expect("svc");
    let ids = [endpoint(1).parse().expect("id")];
    let refused =
        Ec2Connections::new(client).act(Action::Reject, &svc, &ids).await.expect("succeeds after retries");
    assert!(refused.is_empty());
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_outlasts_retries_is_a_transient_error() {
    let rule = mock!(Client::accept_vpc_endpoint_connections)
        .sequence()
        .http_status(503, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let svc: ServiceId = SVC.parse().expect("svc");
    let ids = [endpoint(1).parse().expect("id")];
    let err = Ec2Connections::new(client).act(Action::Accept, &svc, &ids).await.expect_err("gives up");
    assert!(err.transient, "{}", err.chain());
    assert!(err.what.contains("RequestLimitExceeded"), "{}", err.what);
}

#[tokio::test]
async fn access_denied_is_permanent() {
    let body = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>";
    let rule = mock!(Client::accept_vpc_endpoint_connections).then_http_response(move || {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).expect("status"),
            aws_smithy_types::body::SdkBody::from(body),
        )
    });
    let client = mock_client!(aws_sdk_ec2, [&rule]);
    let svc: ServiceId = SVC.parse().expect("svc");
    let ids = [endpoint(1).parse().expect("id")];
    let err = Ec2Connections::new(client).act(Action::Accept, &svc, &ids).await.expect_err("denied");
    assert!(!err.transient);
    assert_eq!(rule.num_calls(), 1);
}

/// `VpcEndpointRegion` is where a cross-region consumer's endpoint lives;
/// absent, the provider's region; not a region name, no region at all.
#[tokio::test]
async fn the_endpoint_region_is_ec2s_or_the_providers_and_never_a_bad_one() {
    let listed = mock!(Client::describe_vpc_endpoint_connections).then_output(|| {
        let with = |n: u32, region: &str| {
            let mut c = connection(n, "pendingAcceptance");
            c.vpc_endpoint_region = Some(region.to_owned());
            c
        };
        DescribeVpcEndpointConnectionsOutput::builder()
            .vpc_endpoint_connections(with(1, "eu-west-1"))
            .vpc_endpoint_connections(connection(2, "pendingAcceptance"))
            .vpc_endpoint_connections(with(3, "eu-west-1.attacker.example"))
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, [&listed]);
    let home = client.config().region().map(|r| r.to_string());
    let conns = Ec2Connections::new(client).pending(&[]).await.expect("reads");
    let regions: Vec<Option<String>> =
        conns.iter().map(|c| c.region.as_ref().map(|r| r.to_string())).collect();
    assert_eq!(regions, vec![Some("eu-west-1".to_owned()), home, None]);
    assert!(regions[1].is_some(), "the mock client has a region: {regions:?}");
}
