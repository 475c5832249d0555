//! Table tests of the decision: each row is a situation an operator meets.

use super::*;
use crate::policy::{DeclaredCidrs, ProtectedRange, ServicePolicy};

const SVC: &str = "vpce-svc-0abc1234def567890";
const OTHER_SVC: &str = "vpce-svc-0fff0000fff000000";
const ACCT: &str = "222233334444";
const NOW: &str = "2026-11-22T12:00:00Z";

fn t(s: &str) -> Timestamp {
    s.parse().expect(s)
}

fn svc() -> ServiceId {
    SVC.parse().expect("valid")
}

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|c| c.parse().expect(c)).collect()
}

fn policy(scope: &str) -> ServicePolicy {
    ServicePolicy {
        protected_cidrs: vec![ProtectedRange {
            cidr: "10.0.0.0/8".parse().expect("valid"),
            label: "on-prem".into(),
        }],
        ..ServicePolicy::cautious(scope.parse().expect("scope"))
    }
}

fn entry(scope: &str, effect: Effect) -> AllowEntry {
    AllowEntry {
        scope: scope.parse().expect("scope"),
        principal: ACCT.parse().expect("account"),
        effect,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "netops".into(),
        note: String::new(),
        added_by: "alice".into(),
        added_at: None,
    }
}

struct Case {
    name: &'static str,
    policies: Vec<ServicePolicy>,
    entries: Vec<AllowEntry>,
    discovery: Discovery,
    others: Vec<(&'static str, &'static str)>,
    outcome: Outcome,
    fired: Vec<Rule>,
    membership: Membership,
}

fn run(case: &Case) -> Decision {
    let book = PolicyBook::new(case.policies.clone(), case.entries.clone());
    let others = CidrSet::new(case.others.iter().map(|(c, who)| (c.parse().expect(c), who.to_string())));
    let service = svc();
    let req = Request {
        service: &service,
        account: ACCT.parse().expect("valid"),
        discovery: &case.discovery,
        other_consumers: &others,
        membership: &case.membership,
        region: None,
    };
    decide(&book, &req, t(NOW))
}

fn read(list: &[&str]) -> Discovery {
    Discovery::Read(cidrs(list))
}

fn with<T>(mut x: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut x);
    x
}

#[test]
fn reasons_read_like_sentences() {
    let case = Case {
        name: "words",
        policies: vec![policy("*")],
        entries: vec![with(entry(SVC, Effect::Allow), |e| e.expires_at = Some(t("2027-01-01")))],
        discovery: read(&["10.0.0.0/16"]),
        others: vec![],
        outcome: Outcome::Review,
        membership: Membership::NotConfigured,
        fired: vec![],
    };
    let d = run(&case);
    assert_eq!(
        d.summary(),
        "account 222233334444 allowlisted for vpce-svc-0abc1234def567890 until 2027-01-01 by netops; \
         consumer VPC CIDRs read from account 222233334444: 10.0.0.0/16; \
         consumer VPC 10.0.0.0/16 overlaps protected 10.0.0.0/8 (on-prem) → review"
    );
}

#[test]
fn denied_accounts_skip_every_other_check() {
    let case = Case {
        name: "deny",
        policies: vec![policy("*")],
        entries: vec![with(entry("*", Effect::Deny), |e| e.note = "compromised".into())],
        discovery: read(&["10.0.0.0/16"]),
        others: vec![],
        outcome: Outcome::Reject,
        membership: Membership::NotConfigured,
        fired: vec![],
    };
    let d = run(&case);
    assert_eq!(d.reasons.len(), 1);
    assert_eq!(
        d.summary(),
        "account 222233334444 is denied for all services by netops (compromised) → reject"
    );
}

#[test]
fn consumers_read_their_own_facts_and_no_other_tenants() {
    let case = Case {
        name: "overlap",
        policies: vec![with(policy("*"), |p| p.unique_consumer_cidrs = true)],
        entries: vec![with(entry(SVC, Effect::Allow), |e| e.note = "ticket NET-42, pager 555-0100".into())],
        discovery: read(&["172.31.0.0/16"]),
        others: vec![("172.31.128.0/17", "vpce-0fedcba9876543210 of account 333344445555")],
        outcome: Outcome::Reject,
        membership: Membership::NotConfigured,
        fired: vec![],
    };
    let d = run(&case);
    let operator = d.summary();
    for secret in ["333344445555", "vpce-0fedcba9876543210", "NET-42", "netops"] {
        assert!(operator.contains(secret), "operators see {secret}: {operator}");
    }
    let consumer: Vec<String> = d.reasons.iter().map(Reason::for_consumer).collect();
    let consumer = consumer.join("; ");
    for secret in ["333344445555", "vpce-0fedcba9876543210", "NET-42", "netops"] {
        assert!(!consumer.contains(secret), "a consumer reads {secret}: {consumer}");
    }
    assert!(consumer.contains("overlaps another consumer's CIDR"), "{consumer}");
    assert!(consumer.contains("172.31.0.0/16"), "its own facts stay: {consumer}");
}

#[test]
fn records_from_before_consumer_wording_fall_back_to_safe_sentences() {
    let old = Reason {
        rule: Rule::ConsumerOverlap,
        pushes: Some(Outcome::Reject),
        text: "consumer VPC 10.0.0.0/16 overlaps 10.0.0.0/16 of account 333344445555".into(),
        consumer: None,
    };
    let said = old.for_consumer();
    assert!(!said.contains("333344445555"), "{said}");
    assert!(said.ends_with("→ reject"), "{said}");
    let stored: Reason = serde_json::from_str(
        r#"{"rule":"allowlisted","pushes":"accept","text":"account 1 allowlisted by netops (secret note)"}"#,
    )
    .expect("a reason stored before the consumer wording reads");
    assert_eq!(stored.for_consumer(), "your account is on the allowlist for this service");
}

mod organizations;
mod properties;
mod regions;
mod table;

#[test]
fn a_denial_is_found_whatever_else_the_account_has_and_expired_denies_are_not() {
    let account: AccountId = ACCT.parse().expect("valid");
    let now = t(NOW);
    let deny = with(entry("*", Effect::Deny), |e| e.note = "off-boarded".into());
    let book = PolicyBook::new(vec![policy("*")], vec![entry(SVC, Effect::Allow), deny.clone()]);
    let found = denial(&book, &svc(), account, &Membership::NotConfigured, now).expect("the deny");
    assert_eq!(found.rule, Rule::Denied);
    assert_eq!(found.text, "account 222233334444 is denied for all services by netops (off-boarded)");

    let allowed = PolicyBook::new(vec![policy("*")], vec![entry(SVC, Effect::Allow)]);
    assert_eq!(denial(&allowed, &svc(), account, &Membership::NotConfigured, now), None);
    // A deny for another service does not reach this one.
    let elsewhere = PolicyBook::new(vec![policy("*")], vec![entry(OTHER_SVC, Effect::Deny)]);
    assert_eq!(denial(&elsewhere, &svc(), account, &Membership::NotConfigured, now), None);
    let lapsed = with(deny, |e| e.expires_at = Some(t("2026-01-01")));
    let expired = PolicyBook::new(vec![policy("*")], vec![lapsed]);
    assert_eq!(denial(&expired, &svc(), account, &Membership::NotConfigured, now), None);
}
