//! Properties of the decision over generated policies and requests.

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
            membership: Membership::NotConfigured,
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
            membership: Membership::NotConfigured,
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

    /// The catalogue's promise: a VPC that troubles no rule gets exactly
    /// the offer; any VPC gets the offer when the CIDRs do not matter, and
    /// never an easier outcome when they do.
    #[test]
    fn an_offer_is_what_deciding_does(
        p in arb_policy(),
        entries in arb_entries(),
        vpc in prop::sample::select(vec!["10.1.0.0/16", "192.168.1.0/24", "172.20.0.0/16"]),
        readable in any::<bool>(),
        unreadable_org in any::<bool>(),
    ) {
        let membership =
            if unreadable_org { Membership::Unreadable("throttled".into()) } else { Membership::NotConfigured };
        let book = PolicyBook::new(vec![p.clone()], entries.clone());
        let offer = offer(&book, &svc(), ACCT.parse().expect("valid"), &membership, t(NOW));
        let decided = |discovery: Discovery, others: Vec<(&'static str, &'static str)>| run(&Case {
            name: "prop",
            policies: vec![p.clone()],
            entries: entries.clone(),
            discovery,
            others,
            outcome: Outcome::Accept,
            membership: membership.clone(),
            fired: vec![],
        });

        let clean = decided(read(&["192.168.77.0/24"]), vec![]);
        prop_assert_eq!(clean.outcome, offer.decision.outcome, "{}", clean.summary());

        let discovery = if readable { read(&[vpc]) } else { Discovery::Unavailable("role refused".into()) };
        let any = decided(discovery, vec![("192.168.1.0/24", "another consumer")]);
        if offer.cidrs_matter {
            prop_assert!(severity(any.outcome) >= severity(offer.decision.outcome), "{}", any.summary());
        } else {
            prop_assert_eq!(any.outcome, offer.decision.outcome, "{}", any.summary());
        }
    }
}
