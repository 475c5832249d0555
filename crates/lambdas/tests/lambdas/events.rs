//! Every sample in `events/decide/` run through the real handler over
//! in-memory ports: what each trigger does, and that malformed ones change
//! nothing.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::ports::AuditKind;
use gate_app::{Decide, Settings};
use gate_core::*;
use gate_lambdas::decide::handle_at;
use serde_json::Value;

const SVC: &str = "vpce-svc-0a1b2c3d4e5f60718";
const ENDPOINT: &str = "vpce-0f1e2d3c4b5a69788";
const OWNER: &str = "222233334444";

struct World {
    connections: Arc<InMemoryConnections>,
    audit: Arc<InMemoryAudit>,
    decider: Decide,
}

fn world() -> World {
    let connections = Arc::new(InMemoryConnections::with([Connection {
        service: SVC.parse().expect("svc"),
        endpoint: ENDPOINT.parse().expect("endpoint"),
        owner: OWNER.parse().expect("owner"),
        state: ConnectionState::PendingAcceptance,
        dns_entries: vec![],
        created_at: None,
        region: None,
    }]));
    let entry = AllowEntry {
        scope: Scope::Any,
        principal: OWNER.parse().expect("account"),
        effect: Effect::Allow,
        declared_cidrs: vec!["172.16.0.0/16".parse().expect("cidr")],
        expires_at: None,
        owner: "netops".into(),
        note: String::new(),
        added_by: "test".into(),
        added_at: None,
    };
    let audit = Arc::new(InMemoryAudit::default());
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks(
            [(OWNER.parse().expect("account"), vec!["172.16.0.0/16".parse().expect("cidr")])].into(),
        )),
        Arc::new(InMemoryPolicies::new(vec![ServicePolicy::cautious(Scope::Any)], vec![entry])),
        Arc::new(InMemoryRequests::default()),
        audit.clone(),
        Arc::new(RecordingNotifier::default()),
        Settings::default(),
    );
    World { connections, audit, decider }
}

fn samples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/decide");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("events/decide exists")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            (name, std::fs::read_to_string(&path).expect("readable"))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 8, "expected the sample events, found {}", out.len());
    out
}

#[tokio::test]
async fn every_sample_event_does_what_its_name_says() {
    let now: Timestamp = "2026-11-22T10:16:00Z".parse().expect("time");
    let endpoint: EndpointId = ENDPOINT.parse().expect("endpoint");
    for (name, text) in samples() {
        let w = world();
        let event: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                // The runtime refuses bytes that are not JSON before any handler runs.
                assert!(name.starts_with("malformed-not-json"), "{name} is not JSON: {e}");
                continue;
            }
        };
        let out = handle_at(&w.decider, &event, now).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let state = w.connections.state(&endpoint);
        if name.starts_with("malformed-") {
            assert!(!out.rejected_input.is_empty(), "{name}: not rejected");
            assert_eq!(state, Some(ConnectionState::PendingAcceptance), "{name} changed the connection");
            let recorded = w.audit.all().iter().filter(|e| e.kind == AuditKind::BadInput).count();
            assert_eq!(recorded, out.rejected_input.len(), "{name}: bad input not recorded");
        } else if name.contains("-failed") {
            assert!(!out.ignored.is_empty(), "{name}: not ignored");
            assert_eq!(state, Some(ConnectionState::PendingAcceptance), "{name}");
        } else {
            assert_eq!(
                state,
                Some(ConnectionState::Available),
                "{name}: {}",
                serde_json::to_string(&out).unwrap_or_default()
            );
            assert_eq!(out.sweep, name.starts_with("scheduled"), "{name}");
        }
    }
}
