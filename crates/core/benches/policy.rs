//! Policy evaluation at scale: 100k allow entries, 100k protected CIDRs;
//! then the same with the accounts spread over 1,000 OUs up to five deep,
//! each OU with an entry, so every decision walks the account's path.
//! `make bench` (or `cargo bench -p gate-core --bench policy`).

// Fixed inputs that fail to parse should stop the benchmark at once.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gate_core::*;

const N: u32 = 100_000;

fn account(n: u32) -> AccountId {
    format!("{:012}", 100_000_000_000u64 + u64::from(n)).parse().expect("account")
}

fn service(n: u32) -> ServiceId {
    format!("vpce-svc-{n:017x}").parse().expect("service")
}

/// Disjoint /24s spread over 10.0.0.0/8 and 100.64.0.0/10, plus IPv6 /48s.
fn protected(n: u32) -> ProtectedRange {
    let cidr = match n % 3 {
        0 => Cidr::V4 { addr: 0x0A00_0000 | ((n & 0xFFFF) << 8), len: 24 },
        1 => Cidr::V4 { addr: 0x6440_0000 | ((n & 0x3FFF) << 8), len: 24 },
        _ => Cidr::V6 { addr: (0xfd00u128 << 112) | (u128::from(n) << 80), len: 48 },
    };
    ProtectedRange { cidr, label: format!("range {n}") }
}

fn build_book() -> PolicyBook {
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.protected_cidrs = (0..N).map(protected).collect();
    policy.unique_consumer_cidrs = true;
    let entries = (0..N).map(|n| AllowEntry {
        scope: if n % 2 == 0 { Scope::Any } else { Scope::Service(service(n % 20)) },
        principal: Principal::Account(account(n)),
        effect: if n % 50 == 0 { Effect::Deny } else { Effect::Allow },
        declared_cidrs: vec![],
        expires_at: Some(Timestamp::from_unix(4_000_000_000)),
        owner: "netops".into(),
        note: String::new(),
        added_by: "bench".into(),
        added_at: None,
    });
    PolicyBook::new([policy], entries)
}

fn bench(c: &mut Criterion) {
    let book = build_book();
    let others = CidrSet::new(
        (0..N).map(|n| (Cidr::V4 { addr: 0xAC10_0000 | (n << 4), len: 28 }, format!("consumer {n}"))),
    );
    let now = Timestamp::from_unix(1_800_000_000);
    let svc = service(7);

    let mut group = c.benchmark_group("decide_100k_entries_100k_protected");
    for (name, cidrs, who) in [
        ("allowlisted_clean", vec!["192.168.0.0/16"], 7u32),
        ("allowlisted_overlapping", vec!["10.0.0.0/16", "fd00::/16"], 8),
        ("unlisted", vec!["192.168.0.0/16"], N + 5),
        ("denied", vec!["192.168.0.0/16"], 50),
    ] {
        let discovery = Discovery::Read(cidrs.iter().map(|c| c.parse().expect("cidr")).collect());
        let req = Request {
            service: &svc,
            account: account(who),
            discovery: &discovery,
            other_consumers: &others,
            membership: &Membership::NotConfigured,
            region: None,
        };
        group.bench_function(name, |b| b.iter(|| black_box(decide(black_box(&book), black_box(&req), now))));
    }
    group.finish();

    bench_ous(c, &others, now, &svc);

    let set = CidrSet::new((0..N).map(protected).map(|p| (p.cidr, p.label)));
    let probe: Cidr = "10.77.3.0/24".parse().expect("cidr");
    c.bench_function("cidr_set_find_overlap_100k", |b| {
        b.iter(|| black_box(set.find_overlap(black_box(&probe))))
    });
    c.bench_function("policy_book_build_100k_entries_100k_cidrs", |b| b.iter(build_book));
}

const OUS: u32 = 1_000;
/// OUs per parent: 4 + 16 + 64 + 256 + 660 makes 1,000 OUs five levels deep.
const FAN_OUT: u32 = 4;

fn ou_id(n: u32) -> OuId {
    format!("ou-ab12-{n:08x}").parse().expect("ou")
}

fn org() -> OrgId {
    "o-abcdef1234".parse().expect("org")
}

/// OU `n`'s path from the root down, ending with `n`.
fn ou_path(n: u32) -> Vec<OuStep> {
    let mut path = Vec::new();
    let mut at = Some(n);
    while let Some(i) = at {
        path.push(OuStep { id: ou_id(i), name: format!("unit {i}") });
        at = (i >= FAN_OUT).then(|| (i - FAN_OUT) / FAN_OUT);
    }
    path.reverse();
    path
}

/// Today's book plus an entry on every OU (a deny on every 97th, some
/// scoped to a service) and an organization-wide allow.
fn build_ou_book() -> PolicyBook {
    let mut book_entries: Vec<AllowEntry> = Vec::new();
    let base = |principal: Principal, scope: Scope, effect: Effect| AllowEntry {
        scope,
        principal,
        effect,
        declared_cidrs: vec![],
        expires_at: Some(Timestamp::from_unix(4_000_000_000)),
        owner: "netops".into(),
        note: String::new(),
        added_by: "bench".into(),
        added_at: None,
    };
    for n in 0..N {
        let scope = if n % 2 == 0 { Scope::Any } else { Scope::Service(service(n % 20)) };
        let effect = if n % 50 == 0 { Effect::Deny } else { Effect::Allow };
        book_entries.push(base(Principal::Account(account(n)), scope, effect));
    }
    for n in 0..OUS {
        let scope = if n % 3 == 0 { Scope::Service(service(n % 20)) } else { Scope::Any };
        let effect = if n % 97 == 0 { Effect::Deny } else { Effect::Allow };
        book_entries.push(base(Principal::Ou(ou_id(n)), scope, effect));
    }
    book_entries.push(base(Principal::Organization(org()), Scope::Any, Effect::Allow));
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.protected_cidrs = (0..N).map(protected).collect();
    policy.unique_consumer_cidrs = true;
    PolicyBook::new([policy], book_entries)
}

fn bench_ous(c: &mut Criterion, others: &CidrSet<String>, now: Timestamp, svc: &ServiceId) {
    let book = build_ou_book();
    let mut group = c.benchmark_group("decide_100k_accounts_1000_ous_depth_5");
    // (name, account, its OU, what must fire): every OU named is five deep;
    // on 510's path every OU entry is for another service; 392 is below 97.
    for (name, who, ou, expect) in [
        ("account_allowlisted_in_ou", 7u32, 999u32, "account 100000000007 allowlisted"),
        ("allowed_by_an_ou_on_the_path", N + 5, 999, "is in OU unit 2/unit 14/unit 61/unit 248 ("),
        ("allowed_by_the_organization", N + 6, 510, "is in organization o-abcdef1234, allowed"),
        ("denied_by_a_parent_ou", N + 7, 392, "is in OU unit 0/unit 4/unit 23/unit 97 ("),
    ] {
        let membership = Membership::Known(Placement { org: org(), path: ou_path(ou) });
        let discovery = Discovery::Read(vec!["192.168.0.0/16".parse().expect("cidr")]);
        let req = Request {
            service: svc,
            account: account(who),
            discovery: &discovery,
            other_consumers: others,
            membership: &membership,
            region: None,
        };
        // The case must be what its name says before it is timed.
        let summary = decide(&book, &req, now).summary();
        assert!(summary.contains(expect), "{name}: {summary}");
        group.bench_function(name, |b| b.iter(|| black_box(decide(black_box(&book), black_box(&req), now))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
