//! Every sample in `events/record/` through the record handler over
//! in-memory ports: what each trigger records, and that malformed or failed
//! calls record nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use gate_app::memory::*;
use gate_app::ports::{AuditKind, Registry};
use gate_app::record::Recorder;
use gate_core::*;
use gate_lambdas::record::handle;

use super::common::now;
use serde_json::Value;

const SVC: &str = "vpce-svc-0a1b2c3d4e5f60718";
const ENDPOINT: &str = "vpce-0f1e2d3c4b5a69788";

fn world(state: ConnectionState) -> (Arc<InMemoryRegistry>, Recorder, Arc<InMemoryAudit>) {
    let connections = Arc::new(InMemoryConnections::with([Connection {
        service: SVC.parse().expect("svc"),
        endpoint: ENDPOINT.parse().expect("endpoint"),
        owner: "222233334444".parse().expect("owner"),
        state,
        dns_entries: vec![DnsEntry {
            dns_name: format!("{ENDPOINT}-abc.{SVC}.us-east-1.vpce.amazonaws.com"),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        }],
        created_at: None,
        region: None,
    }]));
    let registry = Arc::new(InMemoryRegistry::default());
    let audit = Arc::new(InMemoryAudit::default());
    let recorder = Recorder {
        connections,
        requests: Arc::new(InMemoryRequests::default()),
        registry: registry.clone(),
        audit: audit.clone(),
        services: vec![SVC.parse().expect("svc")],
        checkpoints: None,
        managed: None,
        together: None,
    };
    (registry, recorder, audit)
}

#[tokio::test]
async fn every_record_sample_does_what_its_name_says() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/record");
    let mut seen = 0;
    for file in std::fs::read_dir(&dir).expect("events/record") {
        let path = file.expect("entry").path();
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let state =
            if name.contains("delete") { ConnectionState::Deleted } else { ConnectionState::Available };
        let (registry, recorder, audit) = world(state.clone());
        let report = handle(&recorder, &event, Some(&"111122223333".parse().expect("account")), now())
            .await
            .expect(&name);
        // Malformed input is acknowledged, and the operator can see it was dropped.
        let dropped = audit.all().iter().filter(|e| e.kind == AuditKind::BadInput).count();
        assert_eq!(dropped > 0, name.starts_with("malformed"), "{name}: {dropped} bad-input audit events");
        let entry = registry.get(&ENDPOINT.parse().expect("endpoint")).await.expect("reads");
        // Malformed events, failed calls, endpoints the call did not succeed
        // for, and another account's forwarded CloudTrail event: nothing.
        if name.starts_with("malformed") || name.starts_with("forged") || name.contains("failed") {
            assert!(entry.is_none(), "{name} recorded something");
            continue;
        }
        let entry = entry.unwrap_or_else(|| panic!("{name} recorded nothing: {report:?}"));
        assert_eq!(entry.state, state, "{name}");
        assert_eq!(entry.dns_entries.len(), 1, "{name}");
        if name == "cloudtrail-console-accept" {
            assert_eq!(
                entry.accepted_by.as_deref(),
                Some("arn:aws:sts::111122223333:assumed-role/NetworkAdmin/alice")
            );
        }
        seen += 1;
    }
    assert!(seen >= 4, "only {seen} samples recorded");
}
