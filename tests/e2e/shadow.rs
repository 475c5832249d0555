//! Shadow mode end to end (issue 14): a `mode: shadow` service gets two
//! connections, one allowlisted and one not. Decide runs on the
//! notification and the sweep; both stay pendingAcceptance in EC2, no
//! approver and no consumer hears a thing. A person accepts the one the
//! gate would have rejected, in EC2 as the console does, and record sees
//! it through CloudTrail's event. `endpoint-gate report` then lists the
//! disagreement first, with the person, and the other as still pending.

use gate_app::ports::{Audit, AuditKind, ConfigStore, Registry};
use gate_core::{ConnectionState, Contact, Effect, Mode, ServicePolicy, Unlisted};
use gate_e2e::{PROVIDER, Result, allow_entry, connect_event};
use gate_lambdas::decide::handle_at;
use gate_lambdas::record::handle;
use serde_json::{Value, json};

use crate::approvals::{APPROVER, setup};
use crate::cli::common::cli;

const ALLOWED: &str = "280000000001";
const UNLISTED: &str = "280000000002";
const PERSON: &str = "arn:aws:sts::111122223333:assumed-role/NetworkAdmin/alice";

#[tokio::test]
async fn a_shadow_service_leaves_connections_pending_and_report_sets_them_beside_what_people_did()
-> Result<()> {
    let s = setup().await?;
    let table = s.store.table().to_owned();
    let svc = s.service.id.clone();
    let mut policy = ServicePolicy::cautious(svc.parse()?);
    policy.approvers = vec!["netops@example.com".into(), format!("slack:{APPROVER}")];
    policy.slack_channel = Some("#netops-approvals".into());
    policy.unlisted = Unlisted::Reject;
    policy.mode = Mode::Shadow;
    s.store.put_policy(&policy).await?;
    s.store.put_entry(&allow_entry("*", ALLOWED, Effect::Allow, &[])?).await?;
    for account in [ALLOWED, UNLISTED] {
        let contact = Contact {
            account: account.parse()?,
            email: Some(format!("team-{account}@example.com")),
            slack_channel: None,
        };
        s.store.write_contact(&contact, None).await?;
    }
    let mailbox = s.local.contact_inbox(&s.consumer_topic, &[ALLOWED, UNLISTED]).await?;

    let allowed = s.local.consumer(ALLOWED, "172.31.0.0/16", &[], true).await?;
    let unlisted = s.local.consumer(UNLISTED, "172.30.0.0/16", &[], true).await?;
    let a = s.local.request(&allowed, &s.service).await?;
    let b = s.local.request(&unlisted, &s.service).await?;

    // The notification, twice (SNS delivers at least once), then the sweep.
    for _ in 0..2 {
        let summary = handle_at(&s.decider, &connect_event(&svc, &a, ALLOWED), gate_e2e::now()).await?;
        assert_eq!(
            (summary.report.counts.shadowed, summary.report.counts.decided),
            (1, 0),
            "{:?}",
            summary.report
        );
    }
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let summary = handle_at(&s.decider, &sweep, gate_e2e::now()).await?;
    let counts = summary.report.counts;
    assert_eq!(
        (counts.shadowed, counts.decided, counts.acted, counts.failed),
        (2, 0, 0, 0),
        "{:?}",
        summary.report
    );

    // Nothing was done: both pending in EC2, nobody asked or told.
    for endpoint in [&a, &b] {
        assert_eq!(s.local.state(endpoint).await?, "pendingAcceptance", "{endpoint}");
        let calls = s.local.endpoint_calls(endpoint)?;
        for action in ["AcceptVpcEndpointConnections", "RejectVpcEndpointConnections"] {
            assert_eq!(calls.get(action).copied().unwrap_or(0), 0, "{endpoint}: {action} {calls:?}");
        }
    }
    assert!(s.local.drain(&s.inbox).await?.is_empty(), "approvers were mailed");
    assert!(s.local.drain(&mailbox).await?.is_empty(), "a consumer was told");
    let slack: Vec<Value> = s
        .local
        .slack_log()?
        .into_iter()
        .filter(|m| [&a, &b].iter().any(|e| m["body"].to_string().contains(e.as_str())))
        .collect();
    assert!(slack.is_empty(), "{slack:?}");
    // One shadow line per endpoint, however often it was seen.
    for endpoint in [&a, &b] {
        let history = Audit::history(&s.store, &endpoint.parse()?).await?;
        let kinds: Vec<AuditKind> = history.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![AuditKind::ShadowDecided], "{endpoint}: {history:?}");
    }

    // A person accepts the unlisted one in the console; CloudTrail tells record.
    s.local.ec2().accept_vpc_endpoint_connections().service_id(&svc).vpc_endpoint_ids(&b).send().await?;
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/record/cloudtrail-console-accept.json"
    ))?;
    let event: Value = serde_json::from_str(
        &sample
            .replace("vpce-svc-0a1b2c3d4e5f60718", &svc)
            .replace("vpce-0f1e2d3c4b5a69788", &b)
            .replace("\"account\": \"111122223333\"", &format!("\"account\": \"{PROVIDER}\"")),
    )?;
    let recorder = s.local.recorder(&table, &[&s.service]);
    handle(&recorder, &event, Some(&PROVIDER.parse()?), gate_e2e::now()).await?;
    let entry = Registry::get(&s.store, &b.parse()?).await?.ok_or("not recorded")?;
    assert_eq!((entry.state, entry.accepted_by.as_deref()), (ConnectionState::Available, Some(PERSON)));
    // The next sweep still leaves the allowlisted one alone.
    handle_at(&s.decider, &sweep, gate_e2e::now()).await?;
    assert_eq!(s.local.state(&a).await?, "pendingAcceptance");

    // The report: the disagreement first, with the person; then the pending one.
    let (code, out, err) = cli(&table, &["report", "--since", "1d", "--service", &svc]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("agreement"), "{out}");
    assert!(lines[1].starts_with("disagree") && lines[1].contains(&b), "{out}");
    assert!(lines[1].contains("reject") && lines[1].contains(&format!("accepted by {PERSON}")), "{out}");
    assert!(lines[3].starts_with("pending") && lines[3].contains(&a) && lines[3].contains("accept"), "{out}");
    assert!(lines[3].ends_with("still pending"), "{out}");
    assert!(out.contains("0 agree, 1 disagree, 0 decided by a person"), "{out}");
    assert!(out.trim_end().ends_with("1 still pending"), "{out}");

    let (code, out, err) = cli(&table, &["--output", "json", "report", "--service", &svc]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out)?;
    assert_eq!((json["disagree"].as_u64(), json["pending"].as_u64()), (Some(1), Some(1)), "{json}");
    assert_eq!(json["rows"][0]["endpoint"], b.as_str(), "{json}");
    assert_eq!(json["rows"][0]["actual"]["by"], PERSON, "{json}");
    assert_eq!(json["rows"][1]["would"], "accept", "{json}");
    Ok(())
}
