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
        account: ACCT.parse().expect("account"),
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
fn decision_table() {
    let allow_svc = entry(SVC, Effect::Allow);
    let cases = vec![
        Case {
            name: "allowlisted_account_with_clean_cidr_is_accepted",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted, Rule::CidrsDiscovered],
        },
        Case {
            name: "unlisted_account_goes_to_review",
            policies: vec![policy("*")],
            entries: vec![],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::Unlisted],
        },
        Case {
            name: "unlisted_account_is_rejected_when_policy_says_so",
            policies: vec![with(policy("*"), |p| p.unlisted = Unlisted::Reject)],
            entries: vec![],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::Unlisted],
        },
        Case {
            name: "deny_for_all_services_beats_a_service_allow",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone(), entry("*", Effect::Deny)],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::Denied],
        },
        Case {
            name: "deny_for_the_service_beats_a_global_allow",
            policies: vec![policy("*")],
            entries: vec![entry("*", Effect::Allow), entry(SVC, Effect::Deny)],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::Denied],
        },
        Case {
            name: "deny_for_another_service_does_not_apply",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone(), entry(OTHER_SVC, Effect::Deny)],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted],
        },
        Case {
            name: "global_allow_applies_to_any_service",
            policies: vec![policy("*")],
            entries: vec![entry("*", Effect::Allow)],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted],
        },
        Case {
            name: "expired_allow_counts_as_absent",
            policies: vec![policy("*")],
            entries: vec![with(allow_svc.clone(), |e| e.expires_at = Some(t("2026-01-01")))],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::EntryExpired, Rule::Unlisted],
        },
        Case {
            name: "expired_deny_no_longer_blocks",
            policies: vec![policy("*")],
            entries: vec![
                allow_svc.clone(),
                with(entry("*", Effect::Deny), |e| e.expires_at = Some(t("2026-01-01"))),
            ],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::EntryExpired, Rule::Allowlisted],
        },
        Case {
            name: "allow_until_a_future_date_still_applies",
            policies: vec![policy("*")],
            entries: vec![with(allow_svc.clone(), |e| e.expires_at = Some(t("2027-01-01")))],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted],
        },
        Case {
            name: "no_policy_at_all_means_review_even_when_allowlisted",
            policies: vec![],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::NoPolicy],
        },
        Case {
            name: "service_policy_overrides_the_default",
            policies: vec![with(policy("*"), |p| p.unlisted = Unlisted::Reject), policy(SVC)],
            entries: vec![],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::Unlisted],
        },
        Case {
            name: "overlap_with_protected_range_ignored",
            policies: vec![with(policy("*"), |p| p.overlap = OverlapMode::Ignore)],
            entries: vec![allow_svc.clone()],
            discovery: read(&["10.0.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::ProtectedOverlap],
        },
        Case {
            name: "overlap_with_protected_range_goes_to_review",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone()],
            discovery: read(&["10.0.0.0/16"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::ProtectedOverlap],
        },
        Case {
            name: "overlap_with_protected_range_rejected",
            policies: vec![with(policy("*"), |p| p.overlap = OverlapMode::Reject)],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16", "10.0.0.0/16"]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::ProtectedOverlap],
        },
        Case {
            name: "unreadable_cidrs_fall_back_to_declared_only_when_the_policy_trusts_them",
            policies: vec![with(policy("*"), |p| {
                p.overlap = OverlapMode::Reject;
                p.declared_cidrs = DeclaredCidrs::Trust;
            })],
            entries: vec![with(allow_svc.clone(), |e| e.declared_cidrs = cidrs(&["10.9.0.0/16"]))],
            discovery: Discovery::Unavailable("role cannot be assumed".into()),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::CidrsDeclared, Rule::ProtectedOverlap],
        },
        Case {
            name: "a_consumer_that_switches_off_its_role_gets_unknown_cidr_not_its_declared_claim",
            policies: vec![policy("*")],
            entries: vec![with(allow_svc.clone(), |e| e.declared_cidrs = cidrs(&["172.20.0.0/16"]))],
            discovery: Discovery::Unavailable("the read-only role was refused".into()),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::CidrsUnknown],
        },
        Case {
            name: "a_vpc_cidr_outside_the_declared_ones_goes_to_review",
            policies: vec![policy("*")],
            entries: vec![with(allow_svc.clone(), |e| e.declared_cidrs = cidrs(&["172.20.0.0/16"]))],
            discovery: read(&["172.20.0.0/16", "192.168.0.0/24"]),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::CidrsDiscovered, Rule::CidrsUndeclared],
        },
        Case {
            name: "a_vpc_inside_the_declared_cidrs_is_accepted",
            policies: vec![policy("*")],
            entries: vec![with(allow_svc.clone(), |e| e.declared_cidrs = cidrs(&["172.16.0.0/12"]))],
            discovery: read(&["172.20.0.0/16"]),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted, Rule::CidrsDiscovered],
        },
        Case {
            name: "unknown_cidrs_go_to_review_by_default",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone()],
            discovery: Discovery::Unavailable("no role".into()),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::CidrsUnknown],
        },
        Case {
            name: "unknown_cidrs_allowed_when_policy_allows",
            policies: vec![with(policy("*"), |p| p.unknown_cidr = UnknownCidr::Allow)],
            entries: vec![allow_svc.clone()],
            discovery: Discovery::Unavailable("no role".into()),
            others: vec![],
            outcome: Outcome::Accept,
            fired: vec![Rule::CidrsUnknown, Rule::Allowlisted],
        },
        Case {
            name: "unknown_cidrs_rejected_when_policy_rejects",
            policies: vec![with(policy("*"), |p| p.unknown_cidr = UnknownCidr::Reject)],
            entries: vec![allow_svc.clone()],
            discovery: read(&[]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::CidrsUnknown],
        },
        Case {
            name: "unknown_cidrs_allowed_still_needs_an_allow",
            policies: vec![with(policy("*"), |p| p.unknown_cidr = UnknownCidr::Allow)],
            entries: vec![],
            discovery: Discovery::Unavailable("no role".into()),
            others: vec![],
            outcome: Outcome::Review,
            fired: vec![Rule::Unlisted, Rule::CidrsUnknown],
        },
        Case {
            name: "consumer_overlap_rejected_when_unique_cidrs_required",
            policies: vec![with(policy("*"), |p| p.unique_consumer_cidrs = true)],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![("172.31.128.0/17", "account 333344445555")],
            outcome: Outcome::Reject,
            fired: vec![Rule::ConsumerOverlap],
        },
        Case {
            name: "consumer_overlap_is_fine_without_the_uniqueness_rule",
            policies: vec![policy("*")],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16"]),
            others: vec![("172.31.128.0/17", "account 333344445555")],
            outcome: Outcome::Accept,
            fired: vec![Rule::Allowlisted],
        },
        Case {
            name: "ipv6_consumer_cidr_checked_against_ipv6_protected",
            policies: vec![with(policy("*"), |p| {
                p.overlap = OverlapMode::Reject;
                p.protected_cidrs
                    .push(ProtectedRange { cidr: "fd00::/8".parse().expect("v6"), label: "ula".into() });
            })],
            entries: vec![allow_svc.clone()],
            discovery: read(&["172.31.0.0/16", "fd12:3456:789a::/48"]),
            others: vec![],
            outcome: Outcome::Reject,
            fired: vec![Rule::ProtectedOverlap],
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let d = run(case);
        let missing: Vec<_> = case.fired.iter().filter(|r| !d.fired(**r)).collect();
        if d.outcome != case.outcome || !missing.is_empty() {
            failures.push(format!(
                "{}: got {} ({}), missing {:?}",
                case.name,
                d.outcome,
                d.summary(),
                missing
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
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

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_policy() -> impl Strategy<Value = ServicePolicy> {
        (0..2u8, 0..3u8, 0..3u8, any::<bool>()).prop_map(|(u, o, k, uniq)| ServicePolicy {
            unlisted: [Unlisted::Review, Unlisted::Reject][u as usize],
            overlap: [OverlapMode::Ignore, OverlapMode::Review, OverlapMode::Reject][o as usize],
            unknown_cidr: [UnknownCidr::Allow, UnknownCidr::Review, UnknownCidr::Reject][k as usize],
            unique_consumer_cidrs: uniq,
            ..policy("*")
        })
    }

    /// At most one entry per scope, as in the store, where (scope, account) is the key.
    fn arb_entries() -> impl Strategy<Value = Vec<AllowEntry>> {
        let one = prop::option::of((any::<bool>(), any::<bool>()));
        (one.clone(), one).prop_map(|(svc, global)| {
            [(SVC, svc), ("*", global)]
                .into_iter()
                .filter_map(|(scope, e)| e.map(|(deny, expired)| (scope, deny, expired)))
                .map(|(scope, deny, expired)| {
                    let mut e = entry(scope, if deny { Effect::Deny } else { Effect::Allow });
                    if expired {
                        e.expires_at = Some(t("2020-01-01"));
                    }
                    e
                })
                .collect()
        })
    }

    fn severity(o: Outcome) -> u8 {
        match o {
            Outcome::Accept => 0,
            Outcome::Review => 1,
            Outcome::Reject => 2,
        }
    }

    proptest! {
        /// Declared CIDRs are the consumer's claim: unless the policy trusts
        /// them, declaring never eases the outcome, whether the VPC is read
        /// or the consumer switched its role off.
        #[test]
        fn declaring_cidrs_never_makes_an_accept_easier(
            p in arb_policy(),
            vpc in prop::sample::select(vec!["10.1.0.0/16", "172.20.0.0/16", "192.168.1.0/24"]),
            declared in prop::sample::select(vec!["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]),
            readable in any::<bool>(),
        ) {
            let discovery = if readable { read(&[vpc]) } else { Discovery::Unavailable("role refused".into()) };
            let plain = entry(SVC, Effect::Allow);
            let claimed = with(plain.clone(), |e| e.declared_cidrs = cidrs(&[declared]));
            let case = |entries: Vec<AllowEntry>| Case {
                name: "prop",
                policies: vec![p.clone()],
                entries,
                discovery: discovery.clone(),
                others: vec![],
                outcome: Outcome::Accept,
                fired: vec![],
            };
            let without = run(&case(vec![plain]));
            let with_claim = run(&case(vec![claimed]));
            prop_assert!(
                severity(with_claim.outcome) >= severity(without.outcome),
                "declared {} eased {} to {}: {}", declared, without.outcome, with_claim.outcome, with_claim.summary()
            );
        }

        /// Fail closed: an accept always has a live allow and no live deny.
        #[test]
        fn accept_needs_a_live_allow_and_no_live_deny(p in arb_policy(), entries in arb_entries(), v4 in any::<bool>()) {
            let case = Case {
                name: "prop",
                policies: vec![p],
                entries: entries.clone(),
                discovery: if v4 { read(&["10.1.0.0/16"]) } else { Discovery::Unavailable("x".into()) },
                others: vec![("10.1.0.0/24", "other")],
                outcome: Outcome::Accept,
                fired: vec![],
            };
            let d = run(&case);
            let now = t(NOW);
            let live_allow = entries.iter().any(|e| e.effect == Effect::Allow && !e.is_expired(now));
            let live_deny = entries.iter().any(|e| e.effect == Effect::Deny && !e.is_expired(now));
            if d.outcome == Outcome::Accept {
                prop_assert!(live_allow && !live_deny, "{}", d.summary());
            }
            if live_deny {
                prop_assert_eq!(d.outcome, Outcome::Reject);
            }
            prop_assert!(!d.reasons.is_empty());
        }
    }
}
