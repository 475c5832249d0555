//! `make bench-sweep`: one scheduled sweep reconciling 10,000 pending
//! connections over 20 endpoint services on the local AWS environment.
//! Prints wall time and every AWS call made, by service and action.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use gate_app::{Decide, Settings};
use gate_aws::{AssumeRoleNetworks, DynamoStore, Ec2Connections, SnsNotifier};
use gate_core::{DeclaredCidrs, Effect, Scope, ServicePolicy};
use gate_e2e::{CallCounter, Local, Result, allow_entry, http_post};

const SERVICES: usize = 20;
const PER_SERVICE: usize = 500;
const OWNER: &str = "222222222222";

#[tokio::main]
async fn main() -> Result<()> {
    let local = Local::from_env().await;
    println!("Seeding {SERVICES} services × {PER_SERVICE} pending connections from account {OWNER}…");
    let mut services = Vec::new();
    for _ in 0..SERVICES {
        let svc = local.service().await?;
        let body = format!(r#"{{"service_id":"{}","owner":"{OWNER}","count":{PER_SERVICE}}}"#, svc.id);
        http_post(&local.moto_url, "/_gate/seed", &body)?;
        services.push(svc);
    }

    let counter = CallCounter::default();
    let ddb_config = aws_sdk_dynamodb::config::Builder::from(&local.sdk).interceptor(counter.clone()).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(ddb_config), gate_e2e::unique("sweep"));
    store.ensure_table().await?;
    // The owner has no read-only role: its declared CIDRs stand in, which
    // the policy must opt in to.
    let trusting =
        ServicePolicy { declared_cidrs: DeclaredCidrs::Trust, ..ServicePolicy::cautious(Scope::Any) };
    store.put_policy(&trusting).await?;
    store.put_entry(&allow_entry("*", OWNER, Effect::Allow, &["172.20.0.0/16"])?).await?;
    let (topic, _queue) = local.topic_with_queue("review").await?;
    let decider = Decide::new(
        Arc::new(Ec2Connections::new(local.ec2())),
        Arc::new(AssumeRoleNetworks::new(
            local.sdk.clone(),
            "arn:aws:iam::{account}:role/EndpointGateCidrReader".into(),
            None,
        )),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(SnsNotifier::new(aws_sdk_sns::Client::new(&local.sdk), topic)),
        Settings {
            services: services.iter().map(|s| s.id.parse()).collect::<std::result::Result<_, _>>()?,
            ..Settings::default()
        },
    );
    http_post(&local.moto_url, "/_gate/calls/reset", "")?;
    counter.clear();

    println!("Sweeping…");
    let started = Instant::now();
    let report = decider.sweep(gate_e2e::now()).await?;
    let elapsed = started.elapsed();

    let accepted = report.counts.accepted;
    let moto: BTreeMap<String, u64> = local.calls(None)?.into_iter().collect();
    let dynamo = counter.counts();
    println!("\nsweep of {} pending connections over {SERVICES} services", SERVICES * PER_SERVICE);
    println!("  wall time       {:.2} s", elapsed.as_secs_f64());
    println!(
        "  decided         {} ({accepted} accepted) in {} pages, acted {}, failed {}; answer {} bytes",
        report.counts.decided,
        report.counts.pages,
        report.counts.acted,
        report.counts.failed,
        serde_json::to_string(&report)?.len()
    );
    println!("  EC2/STS calls   {}", moto.values().sum::<u64>());
    for (action, n) in &moto {
        println!("    {action:<40} {n}");
    }
    println!("  DynamoDB calls  {}", dynamo.values().sum::<u64>());
    for (op, n) in &dynamo {
        println!("    {op:<40} {n}");
    }
    if report.counts.decided != SERVICES * PER_SERVICE || report.counts.failed > 0 {
        return Err("the sweep did not decide every connection".into());
    }
    Ok(())
}
