//! OU and organization entries: precedence along the account's path, the
//! path in the reasons, and failing closed when Organizations is unreadable.

use super::*;
use crate::id::Principal;
use crate::policy::{Membership, OuStep, Placement};
use proptest::prelude::*;

const ORG: &str = "o-abcdef1234";
/// Workloads (depth 0) / Prod (depth 1) / Payments (depth 2), where ACCT sits.
const OUS: [(&str, &str); 3] =
    [("ou-ab12-11111111", "Workloads"), ("ou-ab12-22222222", "Prod"), ("ou-ab12-33333333", "Payments")];
const ELSEWHERE: &str = "ou-ab12-99999999";

fn placement() -> Placement {
    Placement {
        org: ORG.parse().expect("org"),
        path: OUS
            .iter()
            .map(|(id, name)| OuStep { id: id.parse().expect("ou"), name: (*name).to_owned() })
            .collect(),
    }
}

fn known() -> Membership {
    Membership::Known(placement())
}

fn group(principal: &str, scope: &str, effect: Effect, owner: &str) -> AllowEntry {
    AllowEntry {
        principal: principal.parse::<Principal>().expect("principal"),
        owner: owner.into(),
        ..entry(scope, effect)
    }
}

fn decide_with(entries: Vec<AllowEntry>, membership: Membership) -> Decision {
    run(&Case {
        name: "org",
        policies: vec![policy("*")],
        entries,
        discovery: read(&["192.168.0.0/16"]),
        others: vec![],
        outcome: Outcome::Accept,
        membership,
        fired: vec![],
    })
}

fn allowed_text(d: &Decision) -> String {
    d.reasons.iter().find(|r| r.rule == Rule::Allowlisted).map(|r| r.text.clone()).unwrap_or_default()
}

#[test]
fn an_ou_entry_accepts_accounts_below_it_and_names_the_path() {
    let d = decide_with(vec![group(OUS[1].0, SVC, Effect::Allow, "team-a")], known());
    assert_eq!(d.outcome, Outcome::Accept, "{}", d.summary());
    assert_eq!(
        allowed_text(&d),
        "account 222233334444 is in OU Workloads/Prod (ou-ab12-22222222), allowed for \
         vpce-svc-0abc1234def567890 by team-a"
    );
}

#[test]
fn an_organization_entry_accepts_every_account_in_it() {
    let d = decide_with(vec![group(ORG, "*", Effect::Allow, "netops")], known());
    assert_eq!(d.outcome, Outcome::Accept, "{}", d.summary());
    assert_eq!(
        allowed_text(&d),
        "account 222233334444 is in organization o-abcdef1234, allowed for all services by netops"
    );
}

#[test]
fn entries_on_other_ous_or_services_do_not_apply() {
    let d = decide_with(
        vec![group(ELSEWHERE, "*", Effect::Allow, "x"), group(OUS[0].0, OTHER_SVC, Effect::Allow, "y")],
        known(),
    );
    assert_eq!(d.outcome, Outcome::Review, "{}", d.summary());
    assert!(d.fired(Rule::Unlisted));
}

#[test]
fn a_deny_on_a_parent_ou_beats_every_allow_below_it() {
    let d = decide_with(
        vec![
            with(entry(SVC, Effect::Allow), |e| e.owner = "account-owner".into()),
            group(OUS[2].0, SVC, Effect::Allow, "team-a"),
            group(OUS[0].0, "*", Effect::Deny, "secops"),
        ],
        known(),
    );
    assert_eq!(d.outcome, Outcome::Reject);
    assert_eq!(
        d.summary(),
        "account 222233334444 is in OU Workloads (ou-ab12-11111111), denied for all services by secops → reject"
    );
    let consumer = d.reasons[0].for_consumer();
    assert!(!consumer.contains("secops"), "the owner is for operators: {consumer}");
}

#[test]
fn a_deny_on_the_organization_beats_an_account_allow() {
    let d = decide_with(vec![entry(SVC, Effect::Allow), group(ORG, SVC, Effect::Deny, "secops")], known());
    assert_eq!(d.outcome, Outcome::Reject, "{}", d.summary());
}

#[test]
fn the_most_specific_allow_applies() {
    // (entries, the owner whose allow must be named)
    let cases: Vec<(Vec<AllowEntry>, &str)> = vec![
        (
            vec![
                group(OUS[0].0, SVC, Effect::Allow, "ou"),
                with(entry("*", Effect::Allow), |e| e.owner = "acct".into()),
            ],
            "acct",
        ),
        (
            vec![group(OUS[0].0, SVC, Effect::Allow, "shallow"), group(OUS[1].0, "*", Effect::Allow, "deep")],
            "deep",
        ),
        (vec![group(ORG, SVC, Effect::Allow, "org"), group(OUS[0].0, "*", Effect::Allow, "ou")], "ou"),
        (
            vec![group(OUS[1].0, "*", Effect::Allow, "star"), group(OUS[1].0, SVC, Effect::Allow, "svc")],
            "svc",
        ),
        (vec![group(ORG, "*", Effect::Allow, "star"), group(ORG, SVC, Effect::Allow, "svc")], "svc"),
    ];
    for (entries, owner) in cases {
        let d = decide_with(entries, known());
        assert_eq!(d.outcome, Outcome::Accept, "{}", d.summary());
        assert!(allowed_text(&d).ends_with(&format!("by {owner}")), "{owner}: {}", d.summary());
    }
}

#[test]
fn the_applying_allow_brings_its_declared_cidrs() {
    let deep =
        with(group(OUS[2].0, "*", Effect::Allow, "deep"), |e| e.declared_cidrs = cidrs(&["10.9.0.0/16"]));
    let shallow = with(group(OUS[0].0, "*", Effect::Allow, "shallow"), |e| {
        e.declared_cidrs = cidrs(&["192.168.0.0/16"])
    });
    let d = decide_with(vec![deep, shallow], known());
    assert_eq!(d.outcome, Outcome::Review, "the deeper OU's claim is checked: {}", d.summary());
    assert!(d.fired(Rule::CidrsUndeclared));
}

#[test]
fn an_expired_ou_entry_is_absent_and_named() {
    let old = with(group(OUS[1].0, "*", Effect::Allow, "team-a"), |e| e.expires_at = Some(t("2026-01-01")));
    let d = decide_with(vec![old], known());
    assert_eq!(d.outcome, Outcome::Review);
    assert!(
        d.summary().contains("allow entry for OU ou-ab12-22222222 on all services expired on 2026-01-01")
    );
}

#[test]
fn an_unreadable_organization_fires_no_ou_entry_and_follows_the_policy() {
    let unreadable = || Membership::Unreadable("ListParents: AccessDeniedException".into());
    let entries =
        vec![group(OUS[1].0, "*", Effect::Allow, "team-a"), group(ORG, "*", Effect::Allow, "netops")];
    let d = decide_with(entries.clone(), unreadable());
    assert_eq!(d.outcome, Outcome::Review, "{}", d.summary());
    assert!(d.fired(Rule::Unlisted) && d.fired(Rule::OrgUnreadable), "{}", d.summary());
    assert!(d.summary().contains("AWS Organizations could not be read (ListParents: AccessDeniedException)"));

    let rejecting = run(&Case {
        name: "org",
        policies: vec![with(policy("*"), |p| p.unlisted = Unlisted::Reject)],
        entries,
        discovery: read(&["192.168.0.0/16"]),
        others: vec![],
        outcome: Outcome::Reject,
        membership: unreadable(),
        fired: vec![],
    });
    assert_eq!(rejecting.outcome, Outcome::Reject, "unlisted: reject is followed: {}", rejecting.summary());
}

#[test]
fn an_unreadable_organization_sends_an_account_allow_to_review() {
    let d = decide_with(vec![entry(SVC, Effect::Allow)], Membership::Unreadable("throttled".into()));
    assert_eq!(d.outcome, Outcome::Review, "an OU deny might apply: {}", d.summary());
    assert!(d.summary().contains("an OU or organization deny cannot be ruled out → review"));
    let consumer = d.reasons.iter().map(Reason::for_consumer).collect::<Vec<_>>().join("; ");
    assert!(!consumer.contains("throttled"), "error details are for operators: {consumer}");
}

#[test]
fn an_account_outside_the_organization_keeps_its_own_entry_and_no_ou_entry() {
    let d = decide_with(
        vec![entry(SVC, Effect::Allow), group(ORG, "*", Effect::Deny, "secops")],
        Membership::Outside,
    );
    assert_eq!(d.outcome, Outcome::Accept, "a partner's own allow stands: {}", d.summary());
    assert!(!d.fired(Rule::OrgUnreadable));
    let d = decide_with(vec![group(OUS[1].0, "*", Effect::Allow, "team-a")], Membership::Outside);
    assert_eq!(d.outcome, Outcome::Review, "{}", d.summary());
}

#[test]
fn without_organizations_configured_ou_entries_are_inert_and_unmentioned() {
    let d = decide_with(
        vec![group(OUS[1].0, "*", Effect::Deny, "secops"), entry(SVC, Effect::Allow)],
        Membership::NotConfigured,
    );
    assert_eq!(d.outcome, Outcome::Accept, "{}", d.summary());
    assert!(!d.fired(Rule::OrgUnreadable));
}

fn arb_membership() -> impl Strategy<Value = Membership> {
    prop_oneof![
        Just(Membership::NotConfigured),
        Just(Membership::Unreadable("x".into())),
        Just(Membership::Outside),
        Just(known()),
    ]
}

/// Entries for the account, each OU on its path, another OU and the
/// organization, at both scopes: allow, deny or absent, maybe expired.
fn arb_group_entries() -> impl Strategy<Value = Vec<AllowEntry>> {
    let principals = [ACCT, OUS[0].0, OUS[1].0, OUS[2].0, ELSEWHERE, ORG];
    let one = prop::option::of((any::<bool>(), prop::bool::weighted(0.2)));
    prop::collection::vec(one, principals.len() * 2).prop_map(move |picks| {
        picks
            .into_iter()
            .enumerate()
            .filter_map(|(i, pick)| pick.map(|p| (i, p)))
            .map(|(i, (deny, expired))| {
                let scope = if i % 2 == 0 { SVC } else { "*" };
                let e = group(principals[i / 2], scope, if deny { Effect::Deny } else { Effect::Allow }, "o");
                if expired { with(e, |e| e.expires_at = Some(t("2020-01-01"))) } else { e }
            })
            .collect()
    })
}

proptest! {
    /// Fail closed along the path: an accept has a live allow that applies
    /// and no live deny that applies, never comes from an unreadable
    /// organization, and any applying live deny rejects.
    #[test]
    fn along_the_path_a_deny_wins_and_an_unreadable_organization_never_accepts(
        entries in arb_group_entries(),
        membership in arb_membership(),
    ) {
        let d = decide_with(entries.clone(), membership.clone());
        let now = t(NOW);
        let applies = |e: &AllowEntry| match (&e.principal, &membership) {
            (Principal::Account(_), _) => true,
            (Principal::Ou(ou), Membership::Known(_)) => ou.as_str() != ELSEWHERE,
            (Principal::Organization(_), Membership::Known(_)) => true,
            _ => false,
        };
        let live = |effect| entries.iter().any(|e| e.effect == effect && !e.is_expired(now) && applies(e));
        if d.outcome == Outcome::Accept {
            prop_assert!(live(Effect::Allow) && !live(Effect::Deny), "{}", d.summary());
            prop_assert!(!matches!(membership, Membership::Unreadable(_)), "{}", d.summary());
        }
        if live(Effect::Deny) {
            prop_assert_eq!(d.outcome, Outcome::Reject, "{}", d.summary());
        }
    }
}
