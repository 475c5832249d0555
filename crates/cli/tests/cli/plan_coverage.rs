//! `plan` says how many accounts each OU entry covers now, and says so
//! plainly when Organizations cannot tell.

use gate_app::memory::InMemoryOrganizations;
use gate_cli::plan::{self, Coverage, Plan};
use gate_core::{AccountId, OuStep, Placement, Timestamp};

const WORKLOADS: &str = "ou-ab12-11111111";
const PROD: &str = "ou-ab12-22222222";
const SANDBOX: &str = "ou-ab12-33333333";

fn placement(path: &[&str]) -> Placement {
    Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: path.iter().map(|id| OuStep { id: id.parse().expect("ou"), name: (*id).into() }).collect(),
    }
}

fn account(n: u64) -> AccountId {
    format!("{:012}", 210_000_000_000 + n).parse().expect("account")
}

const FILE: &str = r#"
allow:
  - ou: ou-ab12-11111111
    owner: team-a
  - ou: ou-ab12-11111111
    service: vpce-svc-0abc1234def567890
    effect: deny
    owner: secops
  - ou: ou-ab12-22222222
    owner: team-b
  - organization: o-abcdef1234
    effect: deny
    owner: secops
"#;

#[tokio::test]
async fn plan_counts_the_accounts_under_each_ou_entry_once() {
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("time");
    let desired = gate_inputs::policy_file::parse("policy.yaml", FILE, now).expect("valid");
    // Two accounts in Workloads itself, three in Workloads/Prod, one elsewhere.
    let orgs = InMemoryOrganizations::with(
        (0..2)
            .map(|n| (account(n), placement(&[WORKLOADS])))
            .chain((2..5).map(|n| (account(n), placement(&[WORKLOADS, PROD]))))
            .chain([(account(9), placement(&[SANDBOX]))]),
    );
    let coverage = plan::coverage(&desired, &orgs).await;
    let counts: Vec<(String, Option<usize>)> =
        coverage.iter().map(|c| (c.ou.to_string(), c.accounts)).collect();
    assert_eq!(counts, vec![(WORKLOADS.to_owned(), Some(5)), (PROD.to_owned(), Some(3))]);

    let shown = Plan { coverage, ..Plan::default() }.to_string();
    assert!(shown.contains("OU ou-ab12-11111111 covers 5 accounts now"), "{shown}");
    assert!(shown.contains("OU ou-ab12-22222222 covers 3 accounts now"), "{shown}");
}

#[tokio::test]
async fn a_count_organizations_refuses_is_shown_not_guessed() {
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("time");
    let desired = gate_inputs::policy_file::parse("policy.yaml", FILE, now).expect("valid");
    let orgs = InMemoryOrganizations::default();
    *orgs.fail.lock().expect("lock") = Some("ListAccountsForParent failed (AccessDeniedException)".into());
    let coverage = plan::coverage(&desired, &orgs).await;
    assert!(coverage.iter().all(|c: &Coverage| c.accounts.is_none()), "{coverage:?}");
    let shown = Plan { coverage, ..Plan::default() }.to_string();
    assert!(
        shown.contains(
            "! OU ou-ab12-11111111: its accounts could not be counted (ListAccountsForParent failed (AccessDeniedException))"
        ),
        "{shown}"
    );
}
