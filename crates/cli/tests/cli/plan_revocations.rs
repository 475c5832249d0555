//! `plan` names the available connections an edit would revoke, judged as
//! the sweep judges them, before anything is applied.

use gate_app::memory::InMemoryConnections;
use gate_app::ports::{LiveConfig, Versioned};
use gate_cli::plan::{self, Plan};
use gate_core::{Connection, ConnectionState, Effect, Revoke, Timestamp};

const SVC: &str = "vpce-svc-0abc1234def567890";

fn conn(n: u32, owner: &str, state: ConnectionState) -> Connection {
    Connection {
        service: SVC.parse().expect("service"),
        endpoint: format!("vpce-{n:017x}").parse().expect("endpoint"),
        owner: owner.parse().expect("owner"),
        state,
        dns_entries: vec![],
        created_at: None,
        region: None,
    }
}

const FILE: &str = r#"
policies:
  - service: "*"
    revoke: reject
allow:
  - account: "210000000001"
    owner: team-a
  - account: "210000000002"
    effect: deny
    owner: secops
    note: offboarded
"#;

#[tokio::test]
async fn plan_names_the_available_connections_a_deny_revokes() {
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("time");
    let desired = gate_inputs::policy_file::parse("policy.yaml", FILE, now).expect("valid");
    let ec2 = InMemoryConnections::with([
        conn(1, "210000000001", ConnectionState::Available),
        conn(2, "210000000002", ConnectionState::Available),
        // Pending: a request, decided by the sweep, not revoked.
        conn(3, "210000000002", ConnectionState::PendingAcceptance),
    ]);
    let live = LiveConfig::default();
    let found = plan::revocations(&desired, &live, false, &ec2, None, now).await.expect("listed");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].endpoint.as_str(), "vpce-00000000000000002");
    assert!(found[0].revoked && found[0].why.contains("denied"), "{:?}", found[0]);

    let shown = Plan { revocations: found, ..Plan::default() }.to_string();
    assert!(shown.contains("Available connections the next sweep revokes after this apply"), "{shown}");
    assert!(shown.contains("  - vpce-00000000000000002 (account 210000000002"), "{shown}");
}

#[tokio::test]
async fn keep_or_a_live_allow_left_in_place_revokes_nothing() {
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().expect("time");
    let ec2 = InMemoryConnections::with([conn(4, "210000000004", ConnectionState::Available)]);
    // Without revoke: reject nothing is listed at all.
    let keep =
        gate_inputs::policy_file::parse("policy.yaml", &FILE.replace("revoke: reject", "revoke: keep"), now)
            .expect("valid");
    let found =
        plan::revocations(&keep, &LiveConfig::default(), false, &ec2, None, now).await.expect("listed");
    assert!(found.is_empty(), "{found:?}");

    // 210000000004's allow lives only in the table: kept without --prune,
    // removed (and so revoked) with it.
    let desired = gate_inputs::policy_file::parse("policy.yaml", FILE, now).expect("valid");
    let mut entry = desired.entries[0].clone();
    entry.principal = "210000000004".parse().expect("account");
    assert_eq!(entry.effect, Effect::Allow);
    let live = LiveConfig { entries: vec![Versioned { value: entry, revision: 1 }], ..LiveConfig::default() };
    assert!(plan::revocations(&desired, &live, false, &ec2, None, now).await.expect("listed").is_empty());
    let pruned = plan::revocations(&desired, &live, true, &ec2, None, now).await.expect("listed");
    assert_eq!(pruned.len(), 1);
    assert_eq!(desired.policies[0].revoke, Revoke::Reject);
}
