//! The consumer's CIDRs are facts the consumer cannot bend: switching its
//! reader role off never eases a decision, a VPC larger than declared goes
//! to review, and a passing STS or EC2 failure leaves the request pending
//! instead of becoming a lasting "CIDRs unknown".

use std::sync::Arc;

use gate_app::cidr_claims::{CidrClaims, ClaimedCidrs, GuardedClaim};
use gate_app::ports::{Audit, AuditEvent, Requests};
use gate_app::{Decide, Settings};
use gate_aws::{AssumeRoleNetworks, DynamoStore, Ec2Connections, SnsNotifier};
use gate_core::{
    AccountId, Effect, EndpointId, Outcome, OverlapMode, ProtectedRange, RequestRecord, RequestState, Scope,
    ServiceId, ServicePolicy, UnknownCidr,
};
use gate_e2e::{FaultProxy, Local, READER_ROLE, Result, Service, allow_entry, connect_event};
use gate_lambdas::decide::handle_at;
use serde_json::json;

/// A table whose `*` policy protects 10.0.0.0/8, and a decider whose
/// consumer-side calls (STS, EC2 in the consumer account) go to `consumer_side`.
async fn world(
    local: &Local,
    unknown_cidr: UnknownCidr,
    consumer_side: &str,
) -> Result<(Service, DynamoStore, Decide)> {
    let service = local.service().await?;
    let store = local.table().await?;
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.protected_cidrs = vec![ProtectedRange { cidr: "10.0.0.0/8".parse()?, label: "on-prem".into() }];
    policy.overlap = OverlapMode::Review;
    policy.unknown_cidr = unknown_cidr;
    store.put_policy(&policy).await?;
    let decider = decider_over(local, &service, &store, consumer_side).await?;
    Ok((service, store, decider))
}

/// A decider for `service` keeping its requests in `store`, its
/// consumer-side calls going to `consumer_side`.
async fn decider_over(
    local: &Local,
    service: &Service,
    store: &DynamoStore,
    consumer_side: &str,
) -> Result<Decide> {
    let (topic, _) = local.topic_with_queue("cidrs-review").await?;
    let consumer_sdk =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(consumer_side).load().await;
    Ok(Decide::new(
        Arc::new(Ec2Connections::new(local.ec2())),
        Arc::new(AssumeRoleNetworks::new(
            consumer_sdk,
            format!("arn:aws:iam::{{account}}:role/{READER_ROLE}"),
            None,
        )),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(SnsNotifier::new(aws_sdk_sns::Client::new(&local.sdk), topic)),
        Settings { services: vec![service.id.parse()?], ..Settings::default() },
    ))
}

async fn decided(store: &DynamoStore, endpoint: &str) -> Result<Option<gate_core::RequestRecord>> {
    let id: EndpointId = endpoint.parse()?;
    Ok(store.get_many(std::slice::from_ref(&id)).await?.remove(&id))
}

#[tokio::test]
async fn a_consumer_that_deletes_or_denies_its_role_gets_no_accept_for_an_overlapping_vpc() -> Result<()> {
    let local = Local::from_env().await;
    let (service, store, decider) = world(&local, UnknownCidr::Review, &local.moto_url).await?;
    // Each declares a clean range; the VPCs of the first two overlap on-prem.
    let (deleted, denied, larger, honest) = ("310000000001", "310000000002", "310000000003", "310000000004");
    for account in [deleted, denied, larger, honest] {
        store.put_entry(&allow_entry("*", account, Effect::Allow, &["172.20.0.0/16"])?).await?;
    }
    let no_role = local.consumer(deleted, "10.1.0.0/16", &[], false).await?;
    let denying = local.consumer(denied, "10.2.0.0/16", &[], true).await?;
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    aws_sdk_iam::Client::new(&denying.sdk)
        .update_assume_role_policy()
        .role_name(READER_ROLE)
        .policy_document(deny)
        .send()
        .await?;
    let grown = local.consumer(larger, "172.20.0.0/16", &["192.168.50.0/24"], true).await?;
    let truthful = local.consumer(honest, "172.20.0.0/16", &[], true).await?;
    let mut endpoints = Vec::new();
    for consumer in [&no_role, &denying, &grown, &truthful] {
        endpoints.push(local.request(consumer, &service).await?);
    }
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await?;

    for (endpoint, why) in [
        (&endpoints[0], "refused"),
        (&endpoints[1], "refused"),
        (&endpoints[2], "192.168.50.0/24 outside the declared 172.20.0.0/16"),
    ] {
        let record = decided(&store, endpoint).await?.ok_or("not decided")?;
        let reasons = record.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        assert_eq!(record.state, RequestState::Review, "{endpoint}: {reasons}");
        assert!(reasons.contains(why), "{endpoint}: {reasons}");
        assert_eq!(local.state(endpoint).await?, "pendingAcceptance");
    }
    // The one whose VPC is what it declared is accepted: the rule is not "review everything".
    assert_eq!(decided(&store, &endpoints[3]).await?.map(|r| r.state), Some(RequestState::Accepted));
    assert_eq!(local.state(&endpoints[3]).await?, "available");
    Ok(())
}

/// STS and the consumer's EC2 failing in each passing way: no decision is
/// stored and nothing is cached, so the request is decided as the policy
/// says once the failures stop. `unknown_cidr: reject` makes a mistaken
/// "role refused" visible as a rejection.
#[tokio::test]
async fn passing_sts_and_consumer_ec2_failures_leave_requests_pending_until_they_pass() -> Result<()> {
    let local = Local::from_env().await;
    for (n, kind) in ["throttle", "error5xx", "drop"].into_iter().enumerate() {
        let proxy = FaultProxy::start_with(&local.moto_url, "1.0", 3 + n as u32, Some(kind))?;
        let (service, store, decider) = world(&local, UnknownCidr::Reject, &proxy.url).await?;
        let account = format!("32000000000{n}");
        store.put_entry(&allow_entry("*", &account, Effect::Allow, &[])?).await?;
        let consumer = local.consumer(&account, "172.22.0.0/16", &[], true).await?;
        let endpoint = local.request(&consumer, &service).await?;
        let event = connect_event(&service.id, &endpoint, &account);

        let failed = handle_at(&decider, &event, gate_e2e::now()).await;
        assert!(failed.is_err(), "{kind}: a passing failure must be retried, got {failed:?}");
        assert!(decided(&store, &endpoint).await?.is_none(), "{kind}: a decision was stored");
        assert_eq!(local.state(&endpoint).await?, "pendingAcceptance", "{kind}");
        let injected = proxy.counts()?.get(kind).copied().unwrap_or(0);
        assert!(injected > 0, "{kind}: the faults were not in the path");

        // The bad minute passes; the same warm decider decides it right.
        proxy.set_rate(0.0)?;
        handle_at(&decider, &event, gate_e2e::now()).await?;
        let record = decided(&store, &endpoint).await?.ok_or("not decided")?;
        assert_eq!(record.state, RequestState::Accepted, "{kind}: {:?}", record.reasons);
        assert_eq!(local.state(&endpoint).await?, "available", "{kind}");
    }
    Ok(())
}

#[tokio::test]
async fn a_real_access_denied_is_cached_and_decided_as_refused() -> Result<()> {
    let local = Local::from_env().await;
    // A proxy that fails nothing: it counts what reaches STS and EC2 on the consumer side.
    let counter = FaultProxy::start(&local.moto_url, "0.0", 1)?;
    let (service, store, decider) = world(&local, UnknownCidr::Reject, &counter.url).await?;
    let account = "330000000001";
    store.put_entry(&allow_entry("*", account, Effect::Allow, &[])?).await?;
    let consumer = local.consumer(account, "172.23.0.0/16", &[], false).await?;
    let first = local.request(&consumer, &service).await?;
    let second = local.request(&consumer, &service).await?;

    for endpoint in [&first, &second] {
        handle_at(&decider, &connect_event(&service.id, endpoint, account), gate_e2e::now()).await?;
        let record = decided(&store, endpoint).await?.ok_or("not decided")?;
        let reasons = record.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        assert_eq!(record.state, RequestState::Rejected, "{reasons}");
        assert!(reasons.contains("refused (AccessDenied)"), "{reasons}");
        assert_eq!(local.state(endpoint).await?, "rejected");
    }
    let calls = counter.counts()?.get("requests").copied().unwrap_or(0);
    assert_eq!(calls, 1, "one AssumeRole for the account, the refusal remembered for the second endpoint");
    Ok(())
}

/// Two consumers from the same 172.23.0.0/16 ask a service whose consumer
/// CIDRs must be unique, and their notifications are handled at once, by
/// two invocations: one is accepted. The other is rejected for the
/// overlap, or, where both judged before either claimed, fails for a retry
/// that rejects it.
#[tokio::test]
async fn overlapping_consumers_asking_at_once_get_one_accept() -> Result<()> {
    let local = Local::from_env().await;
    let (service, store, decider) = world(&local, UnknownCidr::Review, &local.moto_url).await?;
    let events = race(&local, &service, &store, ("341000000001", "341000000002")).await?;
    let now = gate_e2e::now();
    let (a, b) = tokio::join!(handle_at(&decider, &events[0].1, now), handle_at(&decider, &events[1].1, now));
    // A failed invocation is retried by Lambda.
    for ((_, event), result) in events.iter().zip([a, b]) {
        if let Err(e) = result {
            assert!(e.to_string().contains("could not be finished"), "{e}");
            handle_at(&decider, event, now.plus_secs(2)).await?;
        }
    }
    one_accepted_the_other_rejected_for_the_overlap(&local, &store, &events).await
}

/// The same race with every DynamoDB write of the two invocations meeting
/// another transaction or losing its reply after taking effect (what
/// DynamoDB Local never does, injected): both claims meet a fault, and
/// whatever they left behind, Lambda's retries and the sweep let one
/// accept through, never two.
#[tokio::test]
async fn overlapping_consumers_asking_at_once_through_write_conflicts_get_one_accept() -> Result<()> {
    let local = Local::from_env().await;
    let (service, store, clean) = world(&local, UnknownCidr::Review, &local.moto_url).await?;
    let events = race(&local, &service, &store, ("342000000001", "342000000002")).await?;
    let ddb_url = std::env::var("GATE_LOCAL_DYNAMODB_URL")?;
    let proxy = FaultProxy::on_writes(&ddb_url, "1", 5, "conflict,lost_reply")?;
    let faulty = aws_sdk_dynamodb::config::Builder::from(&local.sdk).endpoint_url(&proxy.url).build();
    let faulty = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(faulty), store.table());
    let decider = decider_over(&local, &service, &faulty, &local.moto_url).await?;

    let now = gate_e2e::now();
    let (a, b) = tokio::join!(handle_at(&decider, &events[0].1, now), handle_at(&decider, &events[1].1, now));
    let injected = proxy.counts()?;
    let faults = injected.get("conflict").unwrap_or(&0) + injected.get("lost_reply").unwrap_or(&0);
    assert!(a.is_err() && b.is_err() && faults >= 2, "both claims meet a fault: {injected:?}");
    // The faults end; Lambda retries each event, then the sweep runs
    // past the lease of any claim a lost reply left behind.
    proxy.set_rate(0.0)?;
    for (_, event) in &events {
        let _ = handle_at(&decider, event, now.plus_secs(2)).await;
    }
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    for round in 1..=3 {
        match handle_at(&clean, &sweep, now.plus_secs(400 * round)).await {
            Ok(out) if out.report.failed.is_empty() => break,
            _ => continue,
        }
    }
    one_accepted_the_other_rejected_for_the_overlap(&local, &store, &events).await
}

/// Both accounts allowed for 172.23.0.0/16 on a unique-CIDR service, each
/// with a VPC of that range asking for it: the endpoints and their events.
async fn race(
    local: &Local,
    service: &Service,
    store: &DynamoStore,
    accounts: (&str, &str),
) -> Result<Vec<(String, serde_json::Value)>> {
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.unique_consumer_cidrs = true;
    store.put_policy(&policy).await?;
    let mut events = Vec::new();
    for account in [accounts.0, accounts.1] {
        store.put_entry(&allow_entry("*", account, Effect::Allow, &["172.23.0.0/16"])?).await?;
        let consumer = local.consumer(account, "172.23.0.0/16", &[], true).await?;
        let endpoint = local.request(&consumer, service).await?;
        events.push((endpoint.clone(), connect_event(&service.id, &endpoint, account)));
    }
    Ok(events)
}

async fn one_accepted_the_other_rejected_for_the_overlap(
    local: &Local,
    store: &DynamoStore,
    events: &[(String, serde_json::Value)],
) -> Result<()> {
    let mut states = Vec::new();
    for (endpoint, _) in events {
        states.push((local.state(endpoint).await?, decided(store, endpoint).await?.ok_or("not decided")?));
    }
    let accepted = states.iter().filter(|(ec2, _)| ec2 == "available").count();
    assert_eq!(accepted, 1, "{states:?}");
    let (ec2, held) = states.iter().find(|(ec2, _)| ec2 != "available").ok_or("one held")?;
    assert_eq!(ec2, "rejected");
    let reasons = held.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    assert_eq!(held.state, RequestState::Rejected, "{reasons}");
    assert!(reasons.contains("overlaps"), "{reasons}");
    Ok(())
}

/// The guard in the table: of two claims judged against one version, the
/// first is stored and the second stores nothing, not even its audit
/// entry; a connection already decided is told apart from a moved guard.
#[tokio::test]
async fn of_two_claims_judged_against_one_guard_only_the_first_is_stored() -> Result<()> {
    let local = Local::from_env().await;
    let store = local.table().await?;
    let service: ServiceId = "vpce-svc-0aaaabbbbccccdddd".parse()?;
    let now = gate_e2e::now();
    let claim = |n: u32, owner: &str| -> Result<(RequestRecord, AuditEvent, ClaimedCidrs)> {
        let endpoint: EndpointId = format!("vpce-0{n:016x}").parse()?;
        let owner: AccountId = owner.parse()?;
        let record = RequestRecord::new(
            service.clone(),
            endpoint.clone(),
            owner,
            RequestState::Accepted,
            "endpoint-gate",
            now,
        );
        let audit = gate_e2e::decided_entry(&record, Outcome::Accept, "allowlisted");
        let claimed = ClaimedCidrs { endpoint, owner, cidrs: vec!["172.23.0.0/16".parse()?], at: now };
        Ok((record, audit, claimed))
    };
    let judged = store.cidr_claims(&service).await?;
    assert_eq!(judged, CidrClaims::default(), "no guard yet");
    let (one, one_audit, one_claim) = claim(1, "343000000011")?;
    let (two, two_audit, two_claim) = claim(2, "343000000012")?;
    let after_one = judged.after(one_claim);
    assert_eq!(store.create_guarded(&one, &one_audit, &after_one).await?, GuardedClaim::Claimed);
    assert_eq!(
        store.create_guarded(&two, &two_audit, &judged.after(two_claim.clone())).await?,
        GuardedClaim::GuardMoved
    );
    assert!(
        store.get_many(std::slice::from_ref(&two.endpoint)).await?.is_empty(),
        "the second is not stored"
    );
    assert!(store.history(&two.endpoint).await?.is_empty(), "nor its audit entry");
    assert_eq!(store.cidr_claims(&service).await?, after_one, "the guard is the first claim's");
    // Judged again against the first claim's guard, it could go on; the first again is decided already.
    let (_, again_audit, again_claim) = claim(1, "343000000011")?;
    let next = after_one.after(again_claim);
    assert_eq!(store.create_guarded(&one, &again_audit, &next).await?, GuardedClaim::AlreadyDecided);
    assert_eq!(
        store.create_guarded(&two, &two_audit, &after_one.after(two_claim)).await?,
        GuardedClaim::Claimed
    );
    let guard = store.cidr_claims(&service).await?;
    assert_eq!((guard.version, guard.recent.len()), (2, 2));

    // An approval moves the guard too, and only from the version it read.
    let (mut review, review_audit, review_claim) = claim(3, "343000000013")?;
    review.state = RequestState::Review;
    assert!(store.create(&review, &review_audit).await?);
    let mut approved = review.clone();
    approved.state = RequestState::Approved;
    approved.version += 1;
    assert!(!store.update_guarded(&approved, &after_one.after(review_claim.clone())).await?, "a stale guard");
    assert_eq!(
        decided(&store, &review.endpoint.to_string()).await?.map(|r| r.state),
        Some(RequestState::Review)
    );
    assert!(store.update_guarded(&approved, &guard.after(review_claim)).await?);
    assert_eq!(
        decided(&store, &review.endpoint.to_string()).await?.map(|r| r.state),
        Some(RequestState::Approved)
    );
    assert_eq!(store.cidr_claims(&service).await?.version, 3);
    Ok(())
}
