//! Decision notices to the requesting team, end to end: decide and respond
//! publish to a consumer topic in moto, each contact's mailbox is an SQS
//! queue subscribed with the filter policy `endpoint-gate apply` gives its
//! email subscription, and moto's SNS applies that filter. Slack notices go
//! to the local Slack recorder.

use gate_app::ports::{Audit, AuditKind, ConfigStore};
use gate_core::{Contact, Effect};
use gate_e2e::{Result, allow_entry, connect_event};
use gate_lambdas::decide::handle_at;
use serde_json::{Value, json};

use crate::approvals::{APPROVER, Setup, setup};

fn contact(account: &str, email: &str, slack: Option<&str>) -> Result<Contact> {
    Ok(Contact {
        account: account.parse()?,
        email: Some(email.to_owned()),
        slack_channel: slack.map(str::to_owned),
    })
}

fn sweep() -> Value {
    json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
}

fn body(mail: &Value) -> String {
    format!(
        "{}\n{}",
        mail["Subject"].as_str().unwrap_or_default(),
        mail["Message"].as_str().unwrap_or_default()
    )
}

/// A message this test's endpoint posted to `channel` (the Slack recorder
/// is shared by the tests running beside this one).
fn mine(m: &Value, channel: &str, endpoint: &str) -> bool {
    m["kind"] == "message" && m["channel"] == channel && m["body"].to_string().contains(endpoint)
}

/// The DNS names EC2 reports for the endpoint.
async fn dns_names(s: &Setup, endpoint: &str) -> Result<Vec<String>> {
    let out = s
        .local
        .ec2()
        .describe_vpc_endpoint_connections()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-endpoint-id").values(endpoint).build())
        .send()
        .await?;
    let conn = out.vpc_endpoint_connections().first().ok_or("no connection")?;
    Ok(conn.dns_entries().iter().filter_map(|d| d.dns_name().map(str::to_owned)).collect())
}

#[tokio::test]
async fn consumer_b_hears_why_it_waits_and_then_who_approved_it_with_its_dns_names() -> Result<()> {
    const B: &str = "260000000002";
    let s = setup().await?;
    s.store.write_contact(&contact(B, "team-b@example.com", Some("#team-b"))?, None).await?;
    let mailbox = s.local.contact_inbox(&s.consumer_topic, &[B]).await?;
    let endpoint = s.reviewed(B).await?;

    let mail = s.local.drain(&mailbox).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["MessageAttributes"]["account"]["Value"], B);
    let text = body(&mail[0]);
    assert!(text.contains(&format!("your endpoint {endpoint} waits for review")), "{text}");
    let why = format!("account {B} is not on the allowlist for {} → review", s.service.id);
    assert!(text.contains(&why), "{text}");
    assert!(text.contains(&format!("Asked to review: netops@example.com, Slack user {APPROVER}")), "{text}");
    assert!(text.contains("Without an answer by"), "{text}");
    assert!(text.contains(&format!("endpoint-gate endpoint {endpoint}")), "{text}");
    let in_channel: Vec<Value> =
        s.local.slack_log()?.into_iter().filter(|m| mine(m, "#team-b", &endpoint)).collect();
    assert_eq!(in_channel.len(), 1, "B's channel hears it too: {in_channel:?}");
    assert!(in_channel[0]["body"].to_string().contains("waits for review"));

    let review = s
        .local
        .slack_log()?
        .into_iter()
        .find(|m| mine(m, "#netops-approvals", &endpoint))
        .ok_or("no review message")?;
    let (status, _) = s.click(&review, "approve", APPROVER, "payments onboarding, ticket 42").await?;
    assert_eq!(status, 200);
    assert_eq!(s.local.state(&endpoint).await?, "available");

    let mail = s.local.drain(&mailbox).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let text = body(&mail[0]);
    assert!(
        text.contains(&format!("Approved by Slack user {APPROVER} (ana): payments onboarding, ticket 42")),
        "{text}"
    );
    let names = dns_names(&s, &endpoint).await?;
    assert!(!names.is_empty(), "moto's interface endpoint has DNS names");
    for name in &names {
        assert!(text.contains(name), "{name} missing: {text}");
    }
    Ok(())
}

#[tokio::test]
async fn c_is_told_of_its_rejection_naming_no_one_else_and_d_without_a_contact_hears_nothing() -> Result<()> {
    const B: &str = "260000000012";
    const C: &str = "260000000013";
    const D: &str = "260000000014";
    let s = setup().await?;
    let mut deny = allow_entry("*", C, Effect::Deny, &[])?;
    deny.note = format!("offboarded after the incident with {B}");
    s.store.put_entry(&deny).await?;
    s.store.put_entry(&allow_entry("*", D, Effect::Allow, &[])?).await?;
    s.store.write_contact(&contact(B, "team-b@example.com", None)?, None).await?;
    s.store.write_contact(&contact(C, "team-c@example.com", None)?, None).await?;
    let b_mailbox = s.local.contact_inbox(&s.consumer_topic, &[B]).await?;
    let c_mailbox = s.local.contact_inbox(&s.consumer_topic, &[C]).await?;

    let c = s.local.consumer(C, "172.31.0.0/16", &[], true).await?;
    let d = s.local.consumer(D, "172.30.0.0/16", &[], true).await?;
    let ec = s.local.request(&c, &s.service).await?;
    let ed = s.local.request(&d, &s.service).await?;
    let summary = handle_at(&s.decider, &sweep(), gate_e2e::now()).await?;
    assert_eq!(s.local.state(&ec).await?, "rejected");
    assert_eq!(s.local.state(&ed).await?, "available", "no contact: accepted all the same");
    let counts = summary.report.counts;
    assert_eq!((counts.failed, counts.noticed, counts.notice_failed), (0, 1, 0), "{counts:?}");

    let mail = s.local.drain(&c_mailbox).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let attributes = mail[0]["MessageAttributes"].as_object().ok_or("no attributes")?;
    let mut names: Vec<&String> = attributes.keys().collect();
    names.sort();
    assert_eq!(names, ["account", "event"], "nothing but its own account and the kind");
    assert_eq!(attributes["account"]["Value"], C);
    let text = body(&mail[0]);
    assert!(text.contains(&format!("account {C} is denied for all services → reject")), "{text}");
    for other in [B, D, ed.as_str(), "offboarded", "incident", "e2e"] {
        assert!(!text.contains(other), "{other} in C's notice: {text}");
    }
    assert!(s.local.drain(&b_mailbox).await?.is_empty(), "B's filter lets none of C's notices through");

    let history = s.store.history(&ed.parse()?).await?;
    let notices = [AuditKind::ConsumerNotified, AuditKind::NoticeFailed];
    assert!(!history.iter().any(|e| notices.contains(&e.kind)), "{history:?}");
    Ok(())
}

#[tokio::test]
async fn five_duplicate_deliveries_send_one_notice_each() -> Result<()> {
    const E: &str = "260000000025";
    const F: &str = "260000000026";
    let s = setup().await?;
    s.store.put_entry(&allow_entry("*", F, Effect::Allow, &[])?).await?;
    s.store.write_contact(&contact(E, "team-e@example.com", None)?, None).await?;
    s.store.write_contact(&contact(F, "team-f@example.com", None)?, None).await?;
    let e_mailbox = s.local.contact_inbox(&s.consumer_topic, &[E]).await?;
    let f_mailbox = s.local.contact_inbox(&s.consumer_topic, &[F]).await?;
    let e = s.local.consumer(E, "172.31.0.0/16", &[], true).await?;
    let f = s.local.consumer(F, "172.30.0.0/16", &[], true).await?;
    let ee = s.local.request(&e, &s.service).await?;
    let ef = s.local.request(&f, &s.service).await?;

    let events = [connect_event(&s.service.id, &ee, E), connect_event(&s.service.id, &ef, F)];
    let deliveries =
        (0..5).flat_map(|_| events.iter()).map(|event| handle_at(&s.decider, event, gate_e2e::now()));
    for result in futures_util::future::join_all(deliveries).await {
        result?;
    }
    let e_mail = s.local.drain(&e_mailbox).await?;
    let f_mail = s.local.drain(&f_mailbox).await?;
    assert_eq!(e_mail.len(), 1, "{e_mail:?}");
    assert_eq!(f_mail.len(), 1, "{f_mail:?}");
    assert!(body(&e_mail[0]).contains("waits for review"));
    assert!(body(&f_mail[0]).contains("was accepted"));
    assert_eq!(s.local.drain(&s.inbox).await?.len(), 1, "and one review email");
    Ok(())
}

#[tokio::test]
async fn the_ledger_lets_each_notice_out_once_and_a_released_claim_again() -> Result<()> {
    use gate_app::ports::NoticeLedger;
    use gate_core::NoticeKind;
    let local = gate_e2e::Local::from_env().await;
    let store = local.table().await?;
    let endpoint: gate_core::EndpointId = "vpce-0123456789abcdef0".parse()?;
    let now = gate_e2e::now();
    let claims =
        futures_util::future::join_all((0..5).map(|_| store.first(&endpoint, NoticeKind::Accepted, now)))
            .await;
    let won = claims.into_iter().collect::<std::result::Result<Vec<bool>, _>>().map_err(|e| e.chain())?;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(
        store.first(&endpoint, NoticeKind::InReview, now).await.map_err(|e| e.chain())?,
        "kinds are apart"
    );
    store.forget(&endpoint, NoticeKind::Accepted).await.map_err(|e| e.chain())?;
    assert!(store.first(&endpoint, NoticeKind::Accepted, now).await.map_err(|e| e.chain())?, "released");
    assert!(
        !store.first(&endpoint, NoticeKind::Accepted, now).await.map_err(|e| e.chain())?,
        "claimed again"
    );
    Ok(())
}

#[tokio::test]
async fn the_sweep_finds_consumer_subscriptions_no_contact_accounts_for() -> Result<()> {
    use gate_app::consumer_topic::ConsumerTopic;
    let local = gate_e2e::Local::from_env().await;
    let store = local.table().await?;
    const B: &str = "260000000032";
    const C: &str = "260000000033";
    store.write_contact(&contact(B, "team-b@example.com", None)?, None).await?;
    // An unfiltered SQS subscription, as someone might add by hand.
    let (topic, _) = local.topic_with_queue("consumers-watched").await?;
    let sns = gate_aws::SnsConsumerTopic::new(aws_sdk_sns::Client::new(&local.sdk), topic.clone());
    sns.subscribe("team-b@example.com", &[B.parse()?]).await.map_err(|e| e.chain())?;
    // B's address, filtering on C's account too.
    sns.subscribe("team-b@example.com", &[B.parse()?, C.parse()?]).await.map_err(|e| e.chain())?;
    let watch = gate_aws::wiring::Wiring::new(&local.sdk, store.table()).consumer_topic_watch(&topic);

    let found = watch.check().await.map_err(|e| e.chain())?;
    let mut seen: Vec<(String, Option<Vec<String>>)> =
        found.into_iter().map(|s| (s.protocol, s.accounts)).collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![("email".to_owned(), Some(vec![B.to_owned(), C.to_owned()])), ("sqs".to_owned(), None)],
        "B's own subscription is not among them"
    );
    Ok(())
}
