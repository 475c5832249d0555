//! `make bench-registry`: registry queries with 100,000 endpoints in
//! DynamoDB Local. 1,000 consumer accounts × 100 endpoints over 50
//! services; one in ten deleted. Each query is a key lookup or an index
//! query on a key prefix (the store has no Scan). Prints latency
//! percentiles per query kind and the peak RSS of this process.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use gate_app::ports::Registry;
use gate_aws::DynamoStore;
use gate_core::{ConnectionState, DnsEntry, RegistryEntry, Timestamp};
use gate_e2e::{Local, Result};

const ACCOUNTS: u64 = 1_000;
const PER_ACCOUNT: u64 = 100;
const SERVICES: u64 = 50;

fn entry(n: u64) -> Result<RegistryEntry> {
    let account = 300_000_000_000 + n / PER_ACCOUNT;
    // Spread so that one in ten of every account and of every service is deleted.
    let service = (n / 10) % SERVICES;
    let deleted = n % 10 == 9;
    let endpoint = format!("vpce-{n:017x}");
    Ok(RegistryEntry {
        endpoint: endpoint.parse()?,
        service: format!("vpce-svc-{service:017x}").parse()?,
        owner: account.to_string().parse()?,
        state: if deleted { ConnectionState::Deleted } else { ConnectionState::Available },
        dns_entries: vec![DnsEntry {
            dns_name: format!("{endpoint}-abcdefgh.vpce-svc-{service:017x}.us-east-1.vpce.amazonaws.com"),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        }],
        accepted_at: Some(Timestamp::from_unix(1_800_000_000)),
        accepted_by: Some("endpoint-gate".into()),
        why: format!("account {account} allowlisted for all services until 2027-12-31 by team"),
        first_seen: Timestamp::from_unix(1_800_000_000),
        observed_at: Timestamp::from_unix(1_800_000_000),
        version: 1,
        region: None,
    })
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    format!(
        "p50 {:>7.2} ms   p95 {:>7.2} ms   max {:>7.2} ms   (n={})",
        at(0.5),
        at(0.95),
        at(1.0),
        samples.len()
    )
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let local = Local::from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), gate_e2e::unique("registry"));
    store.ensure_table().await?;
    let total = ACCOUNTS * PER_ACCOUNT;
    println!("Seeding {total} registry entries ({ACCOUNTS} accounts × {PER_ACCOUNT}, {SERVICES} services)…");
    let started = Instant::now();
    let entries: Vec<RegistryEntry> = (0..total).map(entry).collect::<Result<_>>()?;
    let chunks: Vec<&[RegistryEntry]> = entries.chunks(2_500).collect();
    let mut done = 0usize;
    let mut seeding = stream::iter(chunks)
        .map(|c| async { store.seed_registry(c).await.map(|()| c.len()) })
        .buffer_unordered(8);
    while let Some(n) = seeding.try_next().await.map_err(|e| e.chain())? {
        done += n;
        if done.is_multiple_of(20_000) {
            println!("  {done}/{total} in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    drop(seeding);
    println!("  seeded in {:.1} s", started.elapsed().as_secs_f64());

    let mut by_key = Vec::new();
    for i in 0..500u64 {
        let n = (i * 7_919) % total;
        let t = Instant::now();
        let got = store.get(&format!("vpce-{n:017x}").parse()?).await?;
        by_key.push(t.elapsed());
        if got.is_none() {
            return Err(format!("entry {n} missing").into());
        }
    }
    let mut by_account = Vec::new();
    for i in 0..200u64 {
        let account = (300_000_000_000 + (i * 37) % ACCOUNTS).to_string().parse()?;
        let t = Instant::now();
        let got = gate_e2e::whole_view(&store, Some(account), None, false).await?;
        by_account.push(t.elapsed());
        if got.len() != 90 {
            return Err(format!("account view has {} entries, expected 90", got.len()).into());
        }
    }
    let mut by_service = Vec::new();
    for i in 0..20u64 {
        let service = format!("vpce-svc-{:017x}", (i * 7) % SERVICES).parse()?;
        let t = Instant::now();
        let got = gate_e2e::whole_view(&store, None, Some(&service), false).await?;
        by_service.push(t.elapsed());
        if got.len() != 1_800 {
            return Err(format!("service view has {} entries, expected 1800", got.len()).into());
        }
    }
    println!("\nregistry queries, {total} endpoints in DynamoDB Local (this process: debug build)");
    println!("  one endpoint by key                     {}", percentiles(by_key));
    println!("  an account's active endpoints (90)      {}", percentiles(by_account));
    println!("  a service's active endpoints (1,800)    {} (two pages)", percentiles(by_service));
    println!("  peak RSS of the client                  {:.0} MB", peak_rss_mb());
    Ok(())
}
