//! A bad day: 1,000 connection requests decided through a proxy that fails
//! 20% of the calls to EC2, STS, SNS and DynamoDB (throttling, 5xx, slow
//! answers, dropped connections, replies lost after the call took effect,
//! and DynamoDB writes meeting another transaction).
//! One notification in ten is never delivered; the others are delivered as
//! Lambda would (up to three attempts); then the scheduled sweep runs until
//! nothing is left. Checked with fault-free
//! clients against the emulator's truth: every request ends as the policy
//! says, none is accepted against policy, none is lost.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use gate_app::ports::{Connections, Requests};
use gate_app::{Decide, Settings};
use gate_aws::{AssumeRoleNetworks, DynamoStore, Ec2Connections, SnsNotifier};
use gate_core::{
    ConnectionState, DeclaredCidrs, Effect, EndpointId, RequestState, Scope, ServiceId, ServicePolicy,
    Timestamp,
};
use gate_e2e::{FaultProxy, Local, Result, allow_entry, connect_event, http_post};
use gate_lambdas::decide::handle_at;
use gate_lambdas::sdk::CallLimits;
use serde_json::{Value, json};

const REQUESTS: usize = 1_000;
const FAULT_RATE: &str = "0.2";
const ALLOWED: &str = "290000000001";
const DENIED: &str = "290000000002";
const UNKNOWN: &str = "290000000003";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_at_a_20_percent_fault_rate_end_as_the_policy_says() -> Result<()> {
    let local = Local::from_env().await;
    let ddb_url = std::env::var("GATE_LOCAL_DYNAMODB_URL")?;
    let clean = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), gate_e2e::unique("faults"));
    clean.ensure_table().await?;
    // The seeded consumers have no reader role: the allowed one is judged on
    // its declared CIDRs, which this policy opts in to trust.
    let trusting =
        ServicePolicy { declared_cidrs: DeclaredCidrs::Trust, ..ServicePolicy::cautious(Scope::Any) };
    clean.put_policy(&trusting).await?;
    clean.put_entry(&allow_entry("*", ALLOWED, Effect::Allow, &["172.20.0.0/16"])?).await?;
    clean.put_entry(&allow_entry("*", DENIED, Effect::Deny, &[])?).await?;
    let (topic, _) = local.topic_with_queue("faults-review").await?;

    // 1,000 pending connections over two services: 40% allowlisted, 30% denied, 30% unknown.
    let mut owner_of: HashMap<String, (String, &str)> = HashMap::new();
    let mut services = Vec::new();
    for _ in 0..2 {
        let service = local.service().await?;
        for (owner, share) in [(ALLOWED, 200), (DENIED, 150), (UNKNOWN, 150)] {
            let body = json!({"service_id": service.id, "owner": owner, "count": share}).to_string();
            let seeded: Value = serde_json::from_str(&http_post(&local.moto_url, "/_gate/seed", &body)?)?;
            for e in seeded["endpoint_ids"].as_array().ok_or("no ids")? {
                owner_of.insert(e.as_str().unwrap_or_default().to_owned(), (service.id.clone(), owner));
            }
        }
        services.push(service);
    }
    assert_eq!(owner_of.len(), REQUESTS);

    // decide, with every AWS call through the fault proxies.
    let moto_proxy = FaultProxy::start(&local.moto_url, FAULT_RATE, 7)?;
    let ddb_proxy = FaultProxy::start(&ddb_url, FAULT_RATE, 11)?;
    // decide's call limits (what its binary sets on its clients). The environment's
    // AWS_ENDPOINT_URL names moto; this loader's explicit URL wins over it.
    let faulty = CallLimits::BACKGROUND
        .on(aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&moto_proxy.url))
        .load()
        .await;
    let ddb = aws_sdk_dynamodb::config::Builder::from(&faulty).endpoint_url(&ddb_proxy.url).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(ddb), clean.table());
    let service_ids = services.iter().map(|s| s.id.parse()).collect::<std::result::Result<Vec<_>, _>>()?;
    let decider = Arc::new(decider_over(&faulty, &store, topic, service_ids.clone()));

    // Each event up to three times, as Lambda retries an asynchronous invocation.
    // One notification in ten never arrives at all: only the sweep can find those.
    let events: Vec<Value> = owner_of
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, (e, (s, o)))| connect_event(s, e, o))
        .collect();
    let missed = REQUESTS - events.len();
    let lost_events: usize = stream::iter(events)
        .map(|event| {
            let decider = decider.clone();
            async move {
                for _ in 0..3 {
                    if handle_at(&decider, &event, gate_e2e::now()).await.is_ok() {
                        return 0;
                    }
                }
                1
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<usize>>()
        .await
        .into_iter()
        .sum();

    // The scheduled sweep, every five minutes, until nothing is left to do.
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let mut sweeps = 0;
    for round in 1..=10i64 {
        sweeps = round;
        let later = Timestamp::from_unix(gate_e2e::now().unix() + 300 * round);
        match handle_at(&decider, &sweep, later).await {
            Ok(out)
                if out.report.failed.is_empty()
                    && out.report.decided.is_empty()
                    && out.report.acted.is_empty() =>
            {
                break;
            }
            _ => continue,
        }
    }

    // The truth, read without faults.
    let truth = Ec2Connections::new(local.ec2()).all(&service_ids).await?;
    let ids: Vec<EndpointId> = truth.iter().map(|c| c.endpoint.clone()).collect();
    let records = clean.get_many(&ids).await?;
    let (mut accepted, mut rejected, mut review, mut wrong, mut lost) = (0, 0, 0, Vec::new(), Vec::new());
    for c in &truth {
        let owner = owner_of.get(c.endpoint.as_str()).map(|(_, o)| *o).unwrap_or_default();
        let record = records.get(&c.endpoint);
        match (owner, &c.state, record.map(|r| r.state)) {
            (ALLOWED, ConnectionState::Available, Some(RequestState::Accepted)) => accepted += 1,
            (DENIED, ConnectionState::Rejected, Some(RequestState::Rejected)) => rejected += 1,
            (UNKNOWN, ConnectionState::PendingAcceptance, Some(RequestState::Review)) => review += 1,
            (_, _, None) => lost.push(c.endpoint.to_string()),
            (o, s, r) => wrong.push(format!("{} owner {o}: {s} / {r:?}", c.endpoint)),
        }
    }
    let faults: Vec<String> = [("EC2/STS/SNS", moto_proxy.counts()?), ("DynamoDB", ddb_proxy.counts()?)]
        .into_iter()
        .map(|(name, c)| {
            let kinds: std::collections::BTreeMap<&String, &u64> =
                c.iter().filter(|(k, _)| *k != "requests").collect();
            let injected: u64 = kinds.values().copied().sum();
            format!(
                "{name}: {injected} of {} calls failed ({kinds:?})",
                c.get("requests").copied().unwrap_or(0)
            )
        })
        .collect();
    println!(
        "faults: {REQUESTS} requests at a {FAULT_RATE} fault rate; {missed} notifications never delivered, \
         {lost_events} failed all three attempts; {sweeps} sweep(s)\n  {}\n  outcomes: {accepted} accepted, {rejected} rejected, {review} in review; \
         {} wrong, {} lost",
        faults.join("\n  "),
        wrong.len(),
        lost.len()
    );
    let accepted_against_policy: Vec<&String> = wrong.iter().filter(|w| w.contains("available")).collect();
    assert!(accepted_against_policy.is_empty(), "accepted against policy: {accepted_against_policy:?}");
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(wrong.is_empty(), "not as the policy says: {wrong:?}");
    assert_eq!((accepted, rejected, review), (400, 300, 300));
    for (name, proxy) in [("EC2/STS/SNS", &moto_proxy), ("DynamoDB", &ddb_proxy)] {
        let calls = proxy.counts()?.get("requests").copied().unwrap_or(0);
        assert!(calls > 1_000, "{name} saw only {calls} calls: the faults were not in the path");
    }
    Ok(())
}

/// decide on `services`, its EC2, STS and SNS calls made with `aws`, its
/// table `store`, its reviews sent to `topic`.
fn decider_over(
    aws: &aws_config::SdkConfig,
    store: &DynamoStore,
    topic: String,
    services: Vec<ServiceId>,
) -> Decide {
    Decide::new(
        Arc::new(Ec2Connections::new(aws_sdk_ec2::Client::new(aws))),
        Arc::new(AssumeRoleNetworks::new(
            aws.clone(),
            "arn:aws:iam::{account}:role/EndpointGateCidrReader".into(),
            None,
        )),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(SnsNotifier::new(aws_sdk_sns::Client::new(aws), topic)),
        Settings { services, ..Settings::default() },
    )
}

/// DynamoDB refuses a write to an item another transaction holds, which
/// DynamoDB Local never does. Injected, both forms are "try again": a
/// claim's transaction cancelled with a TransactionConflict reason, and a
/// request's update (one PutItem) meeting TransactionConflictException.
#[tokio::test]
async fn a_write_meeting_another_transaction_is_tried_again_not_refused() -> Result<()> {
    let local = Local::from_env().await;
    let ddb_url = std::env::var("GATE_LOCAL_DYNAMODB_URL")?;
    let clean = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), gate_e2e::unique("conflicts"));
    clean.ensure_table().await?;
    let proxy = FaultProxy::start_with(&ddb_url, "1", 5, Some("conflict"))?;
    let ddb = aws_sdk_dynamodb::config::Builder::from(&local.sdk).endpoint_url(&proxy.url).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(ddb), clean.table());

    let endpoint: EndpointId = "vpce-0c0f1c7000000000a".parse()?;
    let now = gate_e2e::now();
    let record = gate_core::RequestRecord::new(
        "vpce-svc-0c0f1c7000000000a".parse()?,
        endpoint.clone(),
        ALLOWED.parse()?,
        RequestState::Review,
        "endpoint-gate",
        now,
    );
    let decided = gate_e2e::decided_entry(&record, gate_core::Outcome::Review, "unlisted");
    let claim = store.create(&record, &decided).await.err().ok_or("the claim went through the conflict")?;
    assert!(claim.transient, "{}", claim.chain());
    assert!(
        clean.get_many(std::slice::from_ref(&endpoint)).await?.is_empty(),
        "a cancelled claim wrote nothing"
    );

    assert!(clean.create(&record, &decided).await?);
    let next = gate_core::RequestRecord { version: record.version + 1, ..record.clone() };
    let update = store.update(&next).await.err().ok_or("the update went through the conflict")?;
    assert!(update.transient, "{}", update.chain());
    assert_eq!(proxy.counts()?.get("conflict"), Some(&2));
    Ok(())
}

/// EC2 gone silent: every call read and never answered. decide gives up
/// within its call limit with an error Lambda retries, and accepts
/// nothing; once EC2 answers again, the retry of the same event accepts.
#[tokio::test]
async fn a_silent_ec2_holds_decide_no_longer_than_its_limit_and_accepts_nothing() -> Result<()> {
    let local = Local::from_env().await;
    let store = local.table().await?;
    let trusting =
        ServicePolicy { declared_cidrs: DeclaredCidrs::Trust, ..ServicePolicy::cautious(Scope::Any) };
    store.put_policy(&trusting).await?;
    store.put_entry(&allow_entry("*", ALLOWED, Effect::Allow, &["172.20.0.0/16"])?).await?;
    let (topic, _) = local.topic_with_queue("silent-review").await?;
    let service = local.service().await?;
    let body = json!({"service_id": service.id, "owner": ALLOWED, "count": 1}).to_string();
    let seeded: Value = serde_json::from_str(&http_post(&local.moto_url, "/_gate/seed", &body)?)?;
    let endpoint: EndpointId = seeded["endpoint_ids"][0].as_str().ok_or("no endpoint seeded")?.parse()?;

    // decide's call limits, as its binary sets them; EC2, STS and SNS through the silence.
    let limits = CallLimits::BACKGROUND;
    let proxy = FaultProxy::start_with(&local.moto_url, "1", 3, Some("hang"))?;
    let silent = limits
        .on(aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&proxy.url))
        .load()
        .await;
    let decider = decider_over(&silent, &store, topic, vec![service.id.parse()?]);
    let event = connect_event(&service.id, endpoint.as_str(), ALLOWED);

    let started = std::time::Instant::now();
    let patience = limits.call + std::time::Duration::from_secs(30);
    let silenced = tokio::time::timeout(patience, handle_at(&decider, &event, gate_e2e::now()))
        .await
        .map_err(|_| "decide waited on a silent EC2 past its limit")?;
    let waited = started.elapsed();
    let err = silenced.err().ok_or("decide answered without EC2")?;
    assert!(err.retryable(), "Lambda must try again: {err}");
    assert!(
        waited >= limits.call && waited < limits.call + std::time::Duration::from_secs(5),
        "waited {waited:?} for a silent EC2"
    );
    let hung = proxy.counts()?.get("hang").copied().unwrap_or(0);
    assert!(hung >= 2, "the call was tried again before giving up: {hung} hung");
    let truth = Ec2Connections::new(local.ec2()).all(&[service.id.parse()?]).await?;
    assert_eq!(truth.iter().map(|c| &c.state).collect::<Vec<_>>(), [&ConnectionState::PendingAcceptance]);
    assert!(store.get_many(std::slice::from_ref(&endpoint)).await?.is_empty(), "nothing claimed");

    proxy.set_rate(0.0)?;
    handle_at(&decider, &event, gate_e2e::now()).await.map_err(|e| e.to_string())?;
    let truth = Ec2Connections::new(local.ec2()).all(&[service.id.parse()?]).await?;
    assert_eq!(truth.iter().map(|c| &c.state).collect::<Vec<_>>(), [&ConnectionState::Available]);
    Ok(())
}
