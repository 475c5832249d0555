//! The decision table: each row is a situation an operator meets, and
//! the outcome and reasons the policy gives it.

use super::*;

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
