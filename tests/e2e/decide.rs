use gate_app::ports::{Audit, AuditKind};
use gate_aws::DynamoStore;
use gate_core::{
    AllowEntry, DeclaredCidrs, Effect, OverlapMode, ProtectedRange, Scope, ServicePolicy, Unlisted,
};
use gate_e2e::{Local, Result, Service, connect_event};
use gate_lambdas::decide::handle_at;
use gate_lambdas::invocation::InvocationError;
use serde_json::{Value, json};

/// A test's world: one service, a table, a review topic with a queue.
struct Setup {
    local: Local,
    service: Service,
    store: DynamoStore,
    queue: String,
    decider: gate_app::Decide,
}

async fn setup(policy: impl FnOnce(&mut ServicePolicy)) -> Result<Setup> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let (topic, queue) = local.topic_with_queue("review").await?;
    let mut p = ServicePolicy::cautious(service.id.parse()?);
    p.protected_cidrs = vec![ProtectedRange { cidr: "10.0.0.0/8".parse()?, label: "on-prem".into() }];
    p.approvers = vec!["netops@example.com".into()];
    policy(&mut p);
    store.put_policy(&p).await?;
    let config = local.decide_config(store.table(), &topic, &[&service]);
    let decider = local.decider(&config).await;
    Ok(Setup { local, service, store, queue, decider })
}

fn entry(scope: &str, account: &str, effect: Effect, declared: &[&str]) -> Result<AllowEntry> {
    Ok(AllowEntry {
        scope: scope.parse()?,
        principal: account.parse()?,
        effect,
        declared_cidrs: declared.iter().map(|c| c.parse()).collect::<std::result::Result<_, _>>()?,
        expires_at: Some("2099-01-01".parse()?),
        owner: "netops".into(),
        note: "e2e".into(),
        added_by: "e2e".into(),
        added_at: None,
    })
}

async fn decide(s: &Setup, event: &Value) -> Result<gate_lambdas::decide::Summary> {
    Ok(handle_at(&s.decider, event, gate_e2e::now()).await?)
}

async fn audit_kinds(store: &DynamoStore, endpoint: &str) -> Result<Vec<AuditKind>> {
    Ok(store.history(&endpoint.parse()?).await?.into_iter().map(|e| e.kind).collect())
}

#[tokio::test]
async fn allowlisted_consumer_is_accepted() -> Result<()> {
    let s = setup(|_| {}).await?;
    s.store.put_entry(&entry(&s.service.id, "210000000001", Effect::Allow, &[])?).await?;
    let consumer = s.local.consumer("210000000001", "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    assert_eq!(s.local.state(&endpoint).await?, "pendingAcceptance");

    let out = decide(&s, &connect_event(&s.service.id, &endpoint, "210000000001")).await?;
    assert_eq!(out.report.decided.len(), 1, "{:?}", out.report);
    assert!(out.report.decided[0].reasons.contains("172.31.0.0/16"), "{}", out.report.decided[0].reasons);
    assert_eq!(s.local.state(&endpoint).await?, "available");
    // The claim's audit is the only write; EC2's state says the Accept is done.
    assert_eq!(audit_kinds(&s.store, &endpoint).await?, vec![AuditKind::Decided]);
    assert!(s.local.drain(&s.queue).await?.is_empty(), "an accept notifies nobody");
    Ok(())
}

#[tokio::test]
async fn denied_consumer_is_rejected_even_with_a_service_allow() -> Result<()> {
    let s = setup(|_| {}).await?;
    s.store.put_entry(&entry(&s.service.id, "210000000002", Effect::Allow, &[])?).await?;
    s.store.put_entry(&entry("*", "210000000002", Effect::Deny, &[])?).await?;
    let consumer = s.local.consumer("210000000002", "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    decide(&s, &connect_event(&s.service.id, &endpoint, "210000000002")).await?;
    assert_eq!(s.local.state(&endpoint).await?, "rejected");
    Ok(())
}

#[tokio::test]
async fn unlisted_consumer_goes_to_review_and_approvers_get_an_email() -> Result<()> {
    let s = setup(|_| {}).await?;
    let consumer = s.local.consumer("210000000003", "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    decide(&s, &connect_event(&s.service.id, &endpoint, "210000000003")).await?;
    assert_eq!(s.local.state(&endpoint).await?, "pendingAcceptance");

    let mail = s.local.drain(&s.queue).await?;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let subject = mail[0]["Subject"].as_str().unwrap_or_default();
    let body = mail[0]["Message"].as_str().unwrap_or_default();
    assert!(subject.contains(&endpoint) && subject.contains("210000000003"), "{subject}");
    assert!(body.contains("not on the allowlist"), "{body}");
    assert!(body.contains("What happens next"), "{body}");
    assert_eq!(mail[0]["MessageAttributes"]["service_id"]["Value"], json!(s.service.id));
    assert_eq!(audit_kinds(&s.store, &endpoint).await?, vec![AuditKind::Decided, AuditKind::Notified]);
    Ok(())
}

#[tokio::test]
async fn overlapping_cidr_follows_each_overlap_mode() -> Result<()> {
    // Consumer VPCs of 10.0.0.0/16: fine for PrivateLink, inside protected 10.0.0.0/8.
    for (mode, state, mails) in [
        (OverlapMode::Ignore, "available", 0),
        (OverlapMode::Review, "pendingAcceptance", 1),
        (OverlapMode::Reject, "rejected", 0),
    ] {
        let s = setup(|p| p.overlap = mode).await?;
        let account = "210000000004";
        s.store.put_entry(&entry("*", account, Effect::Allow, &[])?).await?;
        let consumer = s.local.consumer(account, "10.0.0.0/16", &[], true).await?;
        let endpoint = s.local.request(&consumer, &s.service).await?;
        let out = decide(&s, &connect_event(&s.service.id, &endpoint, account)).await?;
        assert_eq!(s.local.state(&endpoint).await?, state, "{mode:?}: {:?}", out.report);
        assert!(
            out.report.decided[0].reasons.contains("overlaps protected 10.0.0.0/8 (on-prem)"),
            "{mode:?}"
        );
        assert_eq!(s.local.drain(&s.queue).await?.len(), mails, "{mode:?}");
    }
    Ok(())
}

#[tokio::test]
async fn secondary_cidr_blocks_are_checked_too() -> Result<()> {
    let s = setup(|p| p.overlap = OverlapMode::Reject).await?;
    let account = "210000000005";
    s.store.put_entry(&entry("*", account, Effect::Allow, &[])?).await?;
    let consumer = s.local.consumer(account, "172.31.0.0/16", &["10.50.0.0/16"], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    let out = decide(&s, &connect_event(&s.service.id, &endpoint, account)).await?;
    assert_eq!(s.local.state(&endpoint).await?, "rejected", "{:?}", out.report);
    assert!(out.report.decided[0].reasons.contains("10.50.0.0/16 overlaps"));
    Ok(())
}

#[tokio::test]
async fn unreadable_consumer_role_falls_back_to_declared_cidrs_only_where_the_policy_trusts_them()
-> Result<()> {
    let s = setup(|p| {
        p.overlap = OverlapMode::Reject;
        p.declared_cidrs = DeclaredCidrs::Trust;
    })
    .await?;
    // Two consumers without the reader role: one declares a clean range,
    // the other a protected one.
    let clean = "210000000006";
    let risky = "210000000007";
    s.store.put_entry(&entry("*", clean, Effect::Allow, &["192.168.0.0/16"])?).await?;
    s.store.put_entry(&entry("*", risky, Effect::Allow, &["10.9.0.0/16"])?).await?;
    let a = s.local.consumer(clean, "192.168.0.0/16", &[], false).await?;
    let b = s.local.consumer(risky, "10.9.0.0/16", &[], false).await?;
    let ea = s.local.request(&a, &s.service).await?;
    let eb = s.local.request(&b, &s.service).await?;

    let out = decide(&s, &connect_event(&s.service.id, &ea, clean)).await?;
    assert_eq!(s.local.state(&ea).await?, "available");
    assert!(out.report.decided[0].reasons.contains("using declared 192.168.0.0/16"), "{:?}", out.report);

    let out = decide(&s, &connect_event(&s.service.id, &eb, risky)).await?;
    assert_eq!(s.local.state(&eb).await?, "rejected");
    assert!(out.report.decided[0].reasons.contains("using declared 10.9.0.0/16"), "{:?}", out.report);
    Ok(())
}

#[tokio::test]
async fn without_trust_an_unreadable_role_follows_unknown_cidr_whatever_was_declared() -> Result<()> {
    let s = setup(|p| p.overlap = OverlapMode::Reject).await?;
    let clean = "210000000016";
    s.store.put_entry(&entry("*", clean, Effect::Allow, &["192.168.0.0/16"])?).await?;
    let a = s.local.consumer(clean, "192.168.0.0/16", &[], false).await?;
    let ea = s.local.request(&a, &s.service).await?;
    let out = decide(&s, &connect_event(&s.service.id, &ea, clean)).await?;
    assert_eq!(s.local.state(&ea).await?, "pendingAcceptance");
    assert_eq!(out.report.decided[0].outcome, gate_core::Outcome::Review, "{:?}", out.report);
    assert!(out.report.decided[0].reasons.contains("declared CIDRs are not trusted"), "{:?}", out.report);
    Ok(())
}

#[tokio::test]
async fn unlisted_consumer_is_rejected_when_the_policy_says_so() -> Result<()> {
    let s = setup(|p| p.unlisted = Unlisted::Reject).await?;
    let consumer = s.local.consumer("210000000008", "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    decide(&s, &connect_event(&s.service.id, &endpoint, "210000000008")).await?;
    assert_eq!(s.local.state(&endpoint).await?, "rejected");
    Ok(())
}

#[tokio::test]
async fn same_connect_event_delivered_five_times_at_once_accepts_once() -> Result<()> {
    let s = setup(|_| {}).await?;
    let account = "210000000009";
    s.store.put_entry(&entry("*", account, Effect::Allow, &[])?).await?;
    let consumer = s.local.consumer(account, "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;
    let event = connect_event(&s.service.id, &endpoint, account);

    let deliveries: Vec<_> = (0..5)
        .map(|_| {
            let decider = s.decider.clone();
            let event = event.clone();
            tokio::spawn(async move {
                // Lambda retries a delivery that failed transiently (for
                // example a transaction conflict between the racers).
                for _ in 0..3 {
                    match handle_at(&decider, &event, gate_e2e::now()).await {
                        Ok(out) => return Ok(out.report.decided.len()),
                        Err(InvocationError::Port(e)) if e.transient => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Err("still failing after Lambda's retries".to_owned())
            })
        })
        .collect();
    let mut decided = 0;
    for d in deliveries {
        decided += d.await??;
    }
    assert_eq!(decided, 1);
    assert_eq!(s.local.state(&endpoint).await?, "available");
    let calls = s.local.calls(Some(&s.service.id))?;
    assert_eq!(calls.get("AcceptVpcEndpointConnections").copied().unwrap_or(0), 1, "{calls:?}");
    let kinds = audit_kinds(&s.store, &endpoint).await?;
    assert_eq!(kinds.iter().filter(|k| **k == AuditKind::Decided).count(), 1, "{kinds:?}");
    Ok(())
}

#[tokio::test]
async fn sweep_decides_every_pending_connection_of_the_service() -> Result<()> {
    let s = setup(|_| {}).await?;
    let friend = "210000000010";
    s.store.put_entry(&entry("*", friend, Effect::Allow, &[])?).await?;
    let a = s.local.consumer(friend, "172.31.0.0/16", &[], true).await?;
    let b = s.local.consumer("210000000011", "172.30.0.0/16", &[], true).await?;
    let ea = s.local.request(&a, &s.service).await?;
    let eb = s.local.request(&b, &s.service).await?;

    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = decide(&s, &sweep).await?;
    assert_eq!(out.report.decided.len(), 2, "{:?}", out.report);
    assert_eq!(s.local.state(&ea).await?, "available");
    assert_eq!(s.local.state(&eb).await?, "pendingAcceptance");
    // A second sweep finds the review already decided and notifies nobody again.
    let again = decide(&s, &sweep).await?;
    assert!(again.report.decided.is_empty());
    assert_eq!(s.local.drain(&s.queue).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_corrupt_policy_item_accepts_nothing_and_says_which_item() -> Result<()> {
    let s = setup(|_| {}).await?;
    let account = "210000000012";
    s.store.put_entry(&entry("*", account, Effect::Allow, &[])?).await?;
    // Someone edits the allow entry by hand and breaks its CIDR.
    let mut item = std::collections::HashMap::new();
    for (k, v) in [
        ("pk", format!("ALLOW#{}", s.service.id)),
        ("sk", format!("ACCOUNT#{account}")),
        ("scope", s.service.id.clone()),
        ("account", account.to_owned()),
        ("effect", "allow".to_owned()),
    ] {
        item.insert(k.to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(v));
    }
    item.insert(
        "declared_cidrs".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::L(vec![aws_sdk_dynamodb::types::AttributeValue::S(
            "10.0.0.300/8".into(),
        )]),
    );
    s.store.put_raw(item).await?;
    let consumer = s.local.consumer(account, "172.31.0.0/16", &[], true).await?;
    let endpoint = s.local.request(&consumer, &s.service).await?;

    let err = handle_at(&s.decider, &connect_event(&s.service.id, &endpoint, account), gate_e2e::now())
        .await
        .expect_err("fails closed");
    let text = gate_lambdas_diag(err);
    assert!(text.contains(&format!("ALLOW#{}", s.service.id)) && text.contains("10.0.0.300/8"), "{text}");
    assert_eq!(s.local.state(&endpoint).await?, "pendingAcceptance");
    Ok(())
}

fn gate_lambdas_diag(err: InvocationError) -> String {
    let diag: lambda_runtime::Diagnostic = err.into();
    format!("{}: {}", diag.error_type, diag.error_message)
}

#[tokio::test]
async fn policy_for_all_services_applies_when_the_service_has_none() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let (topic, _queue) = local.topic_with_queue("review").await?;
    let mut star = ServicePolicy::cautious(Scope::Any);
    star.unlisted = Unlisted::Reject;
    store.put_policy(&star).await?;
    let decider = local.decider(&local.decide_config(store.table(), &topic, &[&service])).await;
    let consumer = local.consumer("210000000013", "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    handle_at(&decider, &connect_event(&service.id, &endpoint, "210000000013"), gate_e2e::now()).await?;
    assert_eq!(local.state(&endpoint).await?, "rejected");
    Ok(())
}

/// 1,500 pending connections: the sweep reads EC2's pages of 1,000 one at a
/// time and answers in counts, whatever the number of connections.
#[tokio::test]
async fn a_large_sweep_pages_through_ec2_and_answers_in_counts() -> Result<()> {
    let s = setup(|_| {}).await?;
    let owner = "210000000020";
    s.store.put_entry(&entry("*", owner, Effect::Deny, &[])?).await?;
    let body = json!({"service_id": s.service.id, "owner": owner, "count": 1500}).to_string();
    gate_e2e::http_post(&s.local.moto_url, "/_gate/seed", &body)?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});

    // Out of time before the first page: nothing is read or decided, and it says so.
    let late = std::time::Instant::now();
    let out = gate_lambdas::decide::handle_within(&s.decider, &sweep, gate_e2e::now(), Some(late)).await?;
    assert!(out.report.stopped_early);
    assert_eq!(out.report.counts.pages, 0);

    let out = decide(&s, &sweep).await?;
    assert!(!out.report.stopped_early);
    assert_eq!((out.report.counts.pages, out.report.counts.rejected), (2, 1500));
    assert_eq!(out.report.counts.acted, 1500);
    let answer = serde_json::to_string(&out)?;
    assert!(answer.len() < 64 * 1024, "the answer grew to {} bytes", answer.len());
    Ok(())
}

/// What Lambda bills per decision is mostly calls: an allowlisted accept,
/// once the consumer account's role is known, costs the describe, one read,
/// the claim and the Accept in the provider account, and nothing more.
/// Counted on this decider's own clients, whatever other tests do beside it.
#[tokio::test]
async fn an_allowlisted_accept_costs_four_provider_calls() -> Result<()> {
    let s = setup(|_| {}).await?;
    s.store.put_entry(&entry(&s.service.id, "210000000041", Effect::Allow, &[])?).await?;
    let counter = gate_e2e::CallCounter::default();
    let counted = std::sync::Arc::new(counter.store(&s.local, s.store.table()));
    let ec2 = aws_sdk_ec2::config::Builder::from(&s.local.sdk).interceptor(counter.clone()).build();
    let d = &s.decider;
    let decider = gate_app::Decide::new(
        std::sync::Arc::new(gate_aws::Ec2Connections::new(aws_sdk_ec2::Client::from_conf(ec2))),
        d.networks.clone(),
        counted.clone(),
        counted.clone(),
        counted.clone(),
        d.review.notifier.clone(),
        d.settings.clone(),
    )
    .reading_together(counted);
    let consumer = s.local.consumer("210000000041", "172.31.0.0/16", &[], true).await?;
    let first = s.local.request(&consumer, &s.service).await?;
    handle_at(&decider, &connect_event(&s.service.id, &first, "210000000041"), gate_e2e::now()).await?;

    let second = s.local.request(&consumer, &s.service).await?;
    counter.clear();
    handle_at(&decider, &connect_event(&s.service.id, &second, "210000000041"), gate_e2e::now()).await?;
    let calls = counter.counts();
    assert_eq!(s.local.state(&second).await?, "available");
    let expected = [
        "AcceptVpcEndpointConnections",
        "BatchGetItem",
        "DescribeVpcEndpointConnections",
        "TransactWriteItems",
    ];
    assert_eq!(calls.keys().map(String::as_str).collect::<Vec<_>>(), expected, "{calls:?}");
    assert_eq!(calls.values().sum::<u64>(), 4, "{calls:?}");
    Ok(())
}

/// A sweep's first page reads many endpoints of one account at once; STS
/// is asked once for the account's role, and its refusal is remembered,
/// not asked for again by every concurrent read (real STS throttles).
#[tokio::test]
async fn a_sweep_asks_sts_once_per_account() -> Result<()> {
    let s = setup(|p| p.declared_cidrs = DeclaredCidrs::Trust).await?;
    let owner = "210000000042"; // no reader role in this account
    s.store.put_entry(&entry(&s.service.id, owner, Effect::Allow, &["172.20.0.0/16"])?).await?;
    let body = json!({"service_id": s.service.id, "owner": owner, "count": 40}).to_string();
    gate_e2e::http_post(&s.local.moto_url, "/_gate/seed", &body)?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = decide(&s, &sweep).await?;
    assert_eq!(out.report.counts.accepted, 40, "{:?}", out.report.counts);
    let reasons = &out.report.decided.first().ok_or("decided")?.reasons;
    assert!(reasons.contains("refused (AccessDenied)"), "{reasons}");
    // One ask; the SDK makes up to three attempts when a loaded STS is slow
    // to answer. Without the per-account probe it was one per concurrent read (16).
    let role = format!("arn:aws:iam::{owner}:role/{}", gate_e2e::READER_ROLE);
    let asked = s.local.role_calls(&role)?.get("AssumeRole").copied().unwrap_or_default();
    assert!((1..=3).contains(&asked), "{asked} AssumeRole calls for one account");
    Ok(())
}
