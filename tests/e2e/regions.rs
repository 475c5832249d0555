//! Cross-region consumers on the local AWS: a service in us-east-1 that
//! supports eu-west-1 and ap-south-1; a consumer whose endpoint and VPC live
//! in eu-west-1 has its CIDRs read there, so the overlap rule applies; a
//! consumer from a region the policy does not list follows `unlisted`.

use aws_config::Region;
use gate_app::Decide;
use gate_app::ports::Requests;
use gate_aws::DynamoStore;
use gate_core::{
    Effect, EndpointId, OverlapMode, ProtectedRange, RequestRecord, RequestState, Scope, ServicePolicy,
};
use gate_e2e::{Consumer, Local, Result, Service, allow_entry};
use gate_lambdas::decide::handle_at;
use serde_json::json;

/// A VPC of `cidr` in `region` of `account` (whose reader role exists).
async fn vpc_in(local: &Local, account: &str, region: &str, cidr: &str) -> Result<Consumer> {
    let sdk = local.account(account).await.to_builder().region(Region::new(region.to_owned())).build();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = ec2.create_vpc().cidr_block(cidr).send().await?;
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).ok_or("no vpc id")?.to_owned();
    let subnet_block = cidr.replace(".0.0/16", ".1.0/24");
    let subnet = ec2.create_subnet().vpc_id(&vpc_id).cidr_block(subnet_block).send().await?;
    let subnet_id = subnet.subnet().and_then(|s| s.subnet_id()).ok_or("no subnet id")?.to_owned();
    Ok(Consumer { account: account.to_owned(), sdk, vpc_id, subnet_id })
}

async fn decided(store: &DynamoStore, endpoint: &str) -> Result<RequestRecord> {
    let id: EndpointId = endpoint.parse()?;
    Ok(store.get_many(std::slice::from_ref(&id)).await?.remove(&id).ok_or("not decided")?)
}

fn reasons(record: &RequestRecord) -> String {
    record.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

async fn world(local: &Local, regions: &[&str]) -> Result<(Service, DynamoStore, Decide, String)> {
    let service = local.service().await?;
    local
        .ec2()
        .modify_vpc_endpoint_service_configuration()
        .service_id(&service.id)
        .set_add_supported_regions(Some(vec!["eu-west-1".into(), "ap-south-1".into()]))
        .send()
        .await?;
    let store = local.table().await?;
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.protected_cidrs = vec![ProtectedRange { cidr: "10.0.0.0/8".parse()?, label: "on-prem".into() }];
    policy.overlap = OverlapMode::Reject;
    policy.approvers = vec!["netops@example.com".into()];
    policy.consumer_regions = regions.iter().map(|r| r.parse()).collect::<std::result::Result<_, _>>()?;
    store.put_policy(&policy).await?;
    let (topic, inbox) = local.topic_with_queue("regions-review").await?;
    let decider = local.decider(&local.decide_config(store.table(), &topic, &[&service])).await;
    Ok((service, store, decider, inbox))
}

async fn sweep(decider: &Decide) -> Result<()> {
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(decider, &sweep, gate_e2e::now()).await?;
    Ok(())
}

#[tokio::test]
async fn a_cross_region_consumers_cidrs_are_read_in_its_region_and_the_overlap_rule_applies() -> Result<()> {
    let local = Local::from_env().await;
    let (service, store, decider, _) = world(&local, &[]).await?;
    let account = "320000000001";
    store.put_entry(&allow_entry("*", account, Effect::Allow, &[])?).await?;
    // At home (us-east-1) the account's VPC is clean; in eu-west-1 it
    // overlaps on-prem. Read in the wrong region, the endpoint is not found
    // and the CIDRs are unknown: review, not reject.
    let home = local.consumer(account, "172.20.0.0/16", &[], true).await?;
    let abroad = vpc_in(&local, account, "eu-west-1", "10.42.0.0/16").await?;
    let clean = local.request(&home, &service).await?;
    let overlapping = local.request(&abroad, &service).await?;
    sweep(&decider).await?;

    let record = decided(&store, &overlapping).await?;
    let why = reasons(&record);
    assert_eq!(record.state, RequestState::Rejected, "{why}");
    assert!(why.contains("consumer VPC CIDRs read from account 320000000001: 10.42.0.0/16"), "{why}");
    assert!(why.contains("10.42.0.0/16 overlaps protected 10.0.0.0/8 (on-prem)"), "{why}");
    assert_eq!(local.state(&overlapping).await?, "rejected");
    assert_eq!(decided(&store, &clean).await?.state, RequestState::Accepted);
    assert_eq!(local.state(&clean).await?, "available");
    Ok(())
}

#[tokio::test]
async fn a_consumer_from_a_region_the_policy_does_not_list_goes_to_the_unlisted_outcome() -> Result<()> {
    let local = Local::from_env().await;
    let (service, store, decider, inbox) = world(&local, &["us-east-1", "eu-west-1"]).await?;
    let account = "320000000002";
    store.put_entry(&allow_entry("*", account, Effect::Allow, &[])?).await?;
    local.consumer(account, "172.21.0.0/16", &[], true).await?;
    let listed = vpc_in(&local, account, "eu-west-1", "172.22.0.0/16").await?;
    let unlisted = vpc_in(&local, account, "ap-south-1", "172.23.0.0/16").await?;
    let from_listed = local.request(&listed, &service).await?;
    let from_unlisted = local.request(&unlisted, &service).await?;
    sweep(&decider).await?;

    assert_eq!(decided(&store, &from_listed).await?.state, RequestState::Accepted);
    let record = decided(&store, &from_unlisted).await?;
    let why = reasons(&record);
    assert_eq!(record.state, RequestState::Review, "the * policy's unlisted is review: {why}");
    assert!(
        why.contains(
            "consumer region ap-south-1 is not in the policy's consumer_regions (us-east-1, eu-west-1)"
        ),
        "{why}"
    );
    assert!(why.contains("consumer VPC CIDRs read from account 320000000002: 172.23.0.0/16"), "{why}");
    assert_eq!(local.state(&from_unlisted).await?, "pendingAcceptance");
    // Approvers read where the consumer's VPC lives beside its CIDRs.
    assert_eq!(record.region.as_ref().map(ToString::to_string).as_deref(), Some("ap-south-1"));
    let mail = local.drain(&inbox).await?;
    let review = mail
        .iter()
        .filter_map(|m| m["Message"].as_str())
        .find(|b| b.contains(&from_unlisted))
        .ok_or("no review email")?;
    assert!(review.contains("Consumer region: ap-south-1\nConsumer VPC CIDRs: 172.23.0.0/16"), "{review}");
    Ok(())
}
