//! Revocation end to end (issue 14): an allowlisted account's connection
//! is accepted and available; the policy file gains a deny with
//! `revoke: reject`; `endpoint-gate plan` names the connection before
//! anything happens; after `apply` the next sweep rejects it in EC2, and
//! the audit, the registry, the approvers and the consumer's contact all
//! say so, once.

use gate_app::ports::{Audit, AuditKind, ConfigStore, Registry};
use gate_app::record::Hint;
use gate_core::{ConnectionState, Contact, Effect, EndpointId};
use gate_e2e::{Result, allow_entry};
use gate_lambdas::decide::handle_at;
use serde_json::{Value, json};

use crate::approvals::{APPROVER, setup};
use crate::cli::common::cli;

fn sweep() -> Value {
    json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
}

fn text(mail: &Value) -> String {
    format!(
        "{}\n{}",
        mail["Subject"].as_str().unwrap_or_default(),
        mail["Message"].as_str().unwrap_or_default()
    )
}

#[tokio::test]
async fn a_deny_with_revoke_reject_is_planned_then_revoked_by_the_next_sweep() -> Result<()> {
    const A: &str = "270000000001";
    let s = setup().await?;
    let table = s.store.table().to_owned();
    s.store.put_entry(&allow_entry("*", A, Effect::Allow, &[])?).await?;
    let contact =
        Contact { account: A.parse()?, email: Some("team-a@example.com".into()), slack_channel: None };
    s.store.write_contact(&contact, None).await?;
    let mailbox = s.local.contact_inbox(&s.consumer_topic, &[A]).await?;

    // Accepted as allowlisted, and recorded in the registry as available.
    let consumer = s.local.consumer(A, "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    handle_at(&s.decider, &sweep(), gate_e2e::now()).await?;
    assert_eq!(s.local.state(&endpoint).await?, "available");
    let id: EndpointId = endpoint.parse()?;
    let recorder = s.local.recorder(&table, &[&s.service]);
    let hint = || vec![Hint { endpoint: id.clone(), accepted_by: None }];
    recorder.record(&hint(), gate_e2e::now()).await;
    assert_eq!(Registry::get(&s.store, &id).await?.map(|e| e.state), Some(ConnectionState::Available));
    s.local.drain(&mailbox).await?;
    s.local.drain(&s.inbox).await?;

    // The edit: the service's policy now revokes, and A is denied.
    let dir = std::env::temp_dir().join(gate_e2e::unique("revocation"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("policy.yaml");
    std::fs::write(
        &file,
        format!(
            r##"version: 1
policies:
  - service: {svc}
    approvers: [netops@example.com, "slack:{APPROVER}"]
    slack_channel: "#netops-approvals"
    revoke: reject
allow:
  - account: "{A}"
    service: {svc}
    effect: deny
    owner: secops
    note: offboarded
"##,
            svc = s.service.id
        ),
    )?;
    let path = file.to_str().ok_or("path")?;

    let (code, out, err) = cli(&table, &["plan", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("~ policy") && out.contains("revoke: keep → reject"), "{out}");
    assert!(out.contains("Available connections the next sweep revokes after this apply"), "{out}");
    assert!(out.contains(&format!("  - {endpoint} (account {A}, {})", s.service.id)), "{out}");
    assert_eq!(s.local.state(&endpoint).await?, "available", "plan changes nothing");

    let (code, out, err) = cli(&table, &["apply", path]);
    assert_eq!(code, 0, "{out}\n{err}");
    let _ = std::fs::remove_dir_all(&dir);

    // The next sweep revokes it.
    let summary = handle_at(&s.decider, &sweep(), gate_e2e::now()).await?;
    let counts = summary.report.counts;
    assert_eq!((counts.revoked, counts.failed), (1, 0), "{:?}", summary.report);
    assert_eq!(s.local.state(&endpoint).await?, "rejected");

    // Audited with its reason.
    let history = Audit::history(&s.store, &id).await?;
    let revoked: Vec<_> = history.iter().filter(|e| e.kind == AuditKind::Revoked).collect();
    assert_eq!(revoked.len(), 1, "{history:?}");
    assert!(revoked[0].detail.contains(&format!("account {A} is denied")), "{}", revoked[0].detail);
    assert!(revoked[0].detail.contains("revoke: reject"), "{}", revoked[0].detail);

    // The registry says rejected, and why.
    recorder.record(&hint(), gate_e2e::now()).await;
    let entry = Registry::get(&s.store, &id).await?.ok_or("no registry entry")?;
    assert_eq!(entry.state, ConnectionState::Rejected);
    assert!(entry.why.starts_with("revoked by endpoint-gate"), "{}", entry.why);
    assert!(!entry.why.contains("offboarded"), "consumer wording only: {}", entry.why);

    // Announced to the approvers: email through the review topic, and Slack.
    let mail = s.local.drain(&s.inbox).await?;
    let announced: Vec<String> = mail.iter().map(text).filter(|t| t.contains("revoked")).collect();
    assert_eq!(announced.len(), 1, "{mail:?}");
    assert!(announced[0].contains(&endpoint) && announced[0].contains("Why:"), "{}", announced[0]);
    let slack: Vec<Value> = s
        .local
        .slack_log()?
        .into_iter()
        .filter(|m| m["channel"] == "#netops-approvals" && m["body"].to_string().contains(&endpoint))
        .filter(|m| m["body"].to_string().contains("revoked"))
        .collect();
    assert_eq!(slack.len(), 1, "{slack:?}");

    // The consumer's contact is told, in its own wording.
    let mail = s.local.drain(&mailbox).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let told = text(&mail[0]);
    assert!(told.contains(&format!("your endpoint {endpoint} revoked")), "{told}");
    for secret in ["secops", "offboarded"] {
        assert!(!told.contains(secret), "{secret} reached the consumer: {told}");
    }

    // Once: the next sweep finds nothing more to revoke.
    let again = handle_at(&s.decider, &sweep(), gate_e2e::now()).await?;
    assert_eq!(again.report.counts.revoked, 0);
    assert!(s.local.drain(&mailbox).await?.is_empty());
    Ok(())
}
