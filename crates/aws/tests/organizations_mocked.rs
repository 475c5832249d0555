//! The Organizations adapter against modelled responses: the walk up
//! ListParents to the root across pages, OUs cached between accounts,
//! counting under an OU, and each documented failure an error (never a
//! guessed path).

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_sdk_organizations::Client;
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
use aws_sdk_organizations::operation::describe_organizational_unit::DescribeOrganizationalUnitOutput;
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
use aws_sdk_organizations::operation::list_parents::ListParentsOutput;
use aws_sdk_organizations::types::{Account, Organization, OrganizationalUnit, Parent, ParentType};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use gate_app::ports::Organizations;
use gate_aws::AwsOrganizations;
use gate_core::AccountId;

const ORG: &str = "o-abcdef1234";
const ROOT: &str = "r-ab12";
const WORKLOADS: &str = "ou-ab12-11111111";
const PROD: &str = "ou-ab12-22222222";
const ACCOUNT: &str = "210000000001";
const NEIGHBOUR: &str = "210000000002";

fn account(id: &str) -> AccountId {
    id.parse().expect("account")
}

fn parent(id: &str, kind: ParentType) -> Parent {
    Parent::builder().id(id).r#type(kind).build()
}

fn describe_org() -> Rule {
    mock!(Client::describe_organization).then_output(|| {
        DescribeOrganizationOutput::builder().organization(Organization::builder().id(ORG).build()).build()
    })
}

fn parent_of(child: &'static str, id: &'static str, kind: ParentType) -> Rule {
    mock!(Client::list_parents)
        .match_requests(move |r| r.child_id() == Some(child))
        .then_output(move || ListParentsOutput::builder().parents(parent(id, kind.clone())).build())
}

fn describe_ou(id: &'static str, name: &'static str) -> Rule {
    mock!(Client::describe_organizational_unit)
        .match_requests(move |r| r.organizational_unit_id() == Some(id))
        .then_output(move || {
            DescribeOrganizationalUnitOutput::builder()
                .organizational_unit(OrganizationalUnit::builder().id(id).name(name).build())
                .build()
        })
}

/// An AWS JSON 1.1 error, as Organizations sends it.
fn error_response(status: u16, code: &str) -> aws_smithy_runtime_api::http::Response {
    let body = format!(r#"{{"__type":"{code}","Message":"modelled {code}"}}"#);
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("status"),
        aws_smithy_types::body::SdkBody::from(body),
    )
}

#[tokio::test]
async fn the_path_is_walked_to_the_root_across_empty_pages_and_named() {
    // "List* operations can occasionally return an empty set of results
    // even when more are available": the first page is empty with a token.
    let empty_first = mock!(Client::list_parents)
        .match_requests(|r| r.child_id() == Some(ACCOUNT) && r.next_token().is_none())
        .then_output(|| ListParentsOutput::builder().next_token("more").build());
    let then_prod = mock!(Client::list_parents)
        .match_requests(|r| r.child_id() == Some(ACCOUNT) && r.next_token() == Some("more"))
        .then_output(|| {
            ListParentsOutput::builder().parents(parent(PROD, ParentType::OrganizationalUnit)).build()
        });
    let rules = [
        describe_org(),
        empty_first,
        then_prod,
        describe_ou(PROD, "Prod"),
        parent_of(PROD, WORKLOADS, ParentType::OrganizationalUnit),
        describe_ou(WORKLOADS, "Workloads"),
        parent_of(WORKLOADS, ROOT, ParentType::Root),
    ];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let placement =
        AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect("reads").expect("a member");
    assert_eq!(placement.org.as_str(), ORG);
    let path: Vec<(&str, &str)> = placement.path.iter().map(|s| (s.id.as_str(), s.name.as_str())).collect();
    assert_eq!(path, vec![(WORKLOADS, "Workloads"), (PROD, "Prod")]);
    assert_eq!((rules[1].num_calls(), rules[2].num_calls()), (1, 1), "both pages read");
}

#[tokio::test]
async fn a_neighbour_in_a_known_ou_costs_one_list_parents() {
    let rules = [
        describe_org(),
        parent_of(ACCOUNT, PROD, ParentType::OrganizationalUnit),
        parent_of(NEIGHBOUR, PROD, ParentType::OrganizationalUnit),
        describe_ou(PROD, "Prod"),
        parent_of(PROD, ROOT, ParentType::Root),
    ];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let orgs = AwsOrganizations::new(client);
    let first = orgs.placement(account(ACCOUNT)).await.expect("reads").expect("a member");
    let second = orgs.placement(account(NEIGHBOUR)).await.expect("reads").expect("a member");
    assert_eq!(first.path, second.path);
    let calls: Vec<usize> = rules.iter().map(Rule::num_calls).collect();
    assert_eq!(calls, vec![1, 1, 1, 1, 1], "the organization and Prod were read once");
}

#[tokio::test]
async fn an_account_under_the_root_has_an_empty_path() {
    let rules = [describe_org(), parent_of(ACCOUNT, ROOT, ParentType::Root)];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let placement =
        AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect("reads").expect("a member");
    assert!(placement.path.is_empty());
}

#[tokio::test]
async fn an_account_organizations_does_not_hold_is_outside_not_an_error() {
    for code in ["ChildNotFoundException", "AccountNotFoundException"] {
        let unknown = mock!(Client::list_parents).then_http_response(move || error_response(400, code));
        let rules = [describe_org(), unknown];
        let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
        let placement = AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect(code);
        assert_eq!(placement, None, "{code}");
    }
}

#[tokio::test]
async fn access_denied_is_a_permanent_error_naming_the_call() {
    let denied =
        mock!(Client::list_parents).then_http_response(|| error_response(400, "AccessDeniedException"));
    let rules = [describe_org(), denied];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let err = AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect_err("denied");
    assert!(!err.transient, "{}", err.chain());
    assert_eq!(err.what, format!("ListParents of {ACCOUNT} failed (AccessDeniedException)"));
    assert_eq!(rules[1].num_calls(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn throttling_that_outlasts_retries_is_a_transient_error() {
    let throttled = mock!(Client::list_parents)
        .sequence()
        .http_response(|| error_response(400, "TooManyRequestsException"))
        .repeatedly()
        .build();
    let rules = [describe_org(), throttled];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let err = AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect_err("gives up");
    assert!(err.transient, "{}", err.chain());
    assert!(err.what.contains("TooManyRequestsException"), "{}", err.what);
    assert!(rules[1].num_calls() > 1, "the SDK retried throttling");
}

#[tokio::test]
async fn a_caller_outside_any_organization_gets_an_error() {
    let not_in_use = mock!(Client::describe_organization)
        .then_http_response(|| error_response(400, "AWSOrganizationsNotInUseException"));
    let client = mock_client!(aws_sdk_organizations, [&not_in_use]);
    let err = AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect_err("no organization");
    assert_eq!(err.what, "DescribeOrganization failed (AWSOrganizationsNotInUseException)");
}

#[tokio::test]
async fn more_than_one_parent_is_refused_rather_than_guessed() {
    let two = mock!(Client::list_parents).then_output(|| {
        ListParentsOutput::builder()
            .parents(parent(PROD, ParentType::OrganizationalUnit))
            .parents(parent(WORKLOADS, ParentType::OrganizationalUnit))
            .build()
    });
    let rules = [describe_org(), two];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let err = AwsOrganizations::new(client).placement(account(ACCOUNT)).await.expect_err("two parents");
    assert!(err.what.contains("gave 2 parents, not one"), "{}", err.what);
}

#[tokio::test]
async fn accounts_under_an_ou_include_every_ou_below_it() {
    let accounts = |ids: &'static [&'static str]| {
        move || {
            let mut out = ListAccountsForParentOutput::builder();
            for id in ids {
                out = out.accounts(Account::builder().id(*id).build());
            }
            out.build()
        }
    };
    let ous = |ids: &'static [&'static str]| {
        move || {
            let mut out = ListOrganizationalUnitsForParentOutput::builder();
            for id in ids {
                out = out.organizational_units(OrganizationalUnit::builder().id(*id).build());
            }
            out.build()
        }
    };
    let rules = [
        mock!(Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some(WORKLOADS))
            .then_output(accounts(&["210000000001"])),
        mock!(Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some(PROD))
            .then_output(accounts(&["210000000002", "210000000003"])),
        mock!(Client::list_organizational_units_for_parent)
            .match_requests(|r| r.parent_id() == Some(WORKLOADS))
            .then_output(ous(&[PROD])),
        mock!(Client::list_organizational_units_for_parent)
            .match_requests(|r| r.parent_id() == Some(PROD))
            .then_output(ous(&[])),
    ];
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules);
    let ou = gate_core::Principal::Ou(WORKLOADS.parse().expect("ou"));
    let members = AwsOrganizations::new(client).members(&ou).await.expect("lists");
    let ids: Vec<String> = members.iter().map(ToString::to_string).collect();
    assert_eq!(ids, ["210000000001", "210000000002", "210000000003"]);
}
