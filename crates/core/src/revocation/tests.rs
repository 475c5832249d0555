//! Which available connections a `revoke: reject` policy takes away, and
//! every situation where it must not.

use super::*;
use crate::id::{Principal, Scope};
use crate::policy::{
    AllowEntry, Effect, OuStep, OverlapMode, Placement, ProtectedRange, ServicePolicy, UnknownCidr,
};

const SVC: &str = "vpce-svc-0abc1234def567890";
const ACCT: &str = "222233334444";
const OU: &str = "ou-ab12-22222222";

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix(1_800_000_000 + secs)
}

fn svc() -> ServiceId {
    SVC.parse().expect("service")
}

fn policy(revoke: Revoke) -> ServicePolicy {
    ServicePolicy {
        revoke,
        // Rules that would send a new request to review or reject: they
        // must never take an accepted connection away.
        overlap: OverlapMode::Reject,
        unknown_cidr: UnknownCidr::Reject,
        protected_cidrs: vec![ProtectedRange {
            cidr: "10.0.0.0/8".parse().expect("cidr"),
            label: "on-prem".into(),
        }],
        unique_consumer_cidrs: true,
        ..ServicePolicy::cautious(Scope::Any)
    }
}

fn entry(principal: &str, effect: Effect, expires: Option<i64>) -> AllowEntry {
    AllowEntry {
        scope: Scope::Any,
        principal: principal.parse::<Principal>().expect("principal"),
        effect,
        declared_cidrs: vec![],
        expires_at: expires.map(t),
        owner: "secops".into(),
        note: "offboarded".into(),
        added_by: "alice".into(),
        added_at: None,
    }
}

fn judge(revoke: Revoke, entries: Vec<AllowEntry>, membership: Membership) -> Standing {
    let book = PolicyBook::new([policy(revoke)], entries);
    standing(&book, &svc(), ACCT.parse().expect("account"), &membership, t(0))
}

fn known() -> Membership {
    Membership::Known(Placement {
        org: "o-abcdef1234".parse().expect("org"),
        path: vec![OuStep { id: OU.parse().expect("ou"), name: "Prod".into() }],
    })
}

fn revoked(s: &Standing) -> &[Reason] {
    match s {
        Standing::Revoke(reasons) => reasons,
        other => panic!("expected a revocation, got {other:?}"),
    }
}

#[test]
fn a_deny_revokes_with_the_deny_and_the_policy_named() {
    let s = judge(Revoke::Reject, vec![entry(ACCT, Effect::Deny, None)], Membership::NotConfigured);
    let reasons = revoked(&s);
    assert_eq!(reasons.iter().map(|r| r.rule).collect::<Vec<_>>(), vec![Rule::Denied, Rule::Revoked]);
    let last = reasons.last().expect("revoked");
    assert_eq!(last.pushes, Some(Outcome::Reject));
    assert!(last.text.contains("revoke: reject"), "{}", last.text);
    // The consumer never reads the allowlist's owner or note.
    let consumer: Vec<String> = reasons.iter().map(Reason::for_consumer).collect();
    assert!(consumer.iter().all(|c| !c.contains("secops") && !c.contains("offboarded")), "{consumer:?}");
}

#[test]
fn an_expired_or_removed_allow_revokes() {
    let expired =
        judge(Revoke::Reject, vec![entry(ACCT, Effect::Allow, Some(-1))], Membership::NotConfigured);
    let rules: Vec<Rule> = revoked(&expired).iter().map(|r| r.rule).collect();
    assert_eq!(rules, vec![Rule::EntryExpired, Rule::Unlisted, Rule::Revoked]);
    let removed = judge(Revoke::Reject, vec![], Membership::NotConfigured);
    assert_eq!(revoked(&removed).len(), 2);
    // Outside the organization no OU entry can apply: the account's own word counts.
    assert!(matches!(judge(Revoke::Reject, vec![], Membership::Outside), Standing::Revoke(_)));
}

#[test]
fn a_live_allow_keeps_the_connection_whatever_its_cidrs() {
    let live = judge(Revoke::Reject, vec![entry(ACCT, Effect::Allow, Some(10))], Membership::NotConfigured);
    assert_eq!(live, Standing::Allowed);
    // Allowed through its OU, on a path Organizations answered.
    assert_eq!(judge(Revoke::Reject, vec![entry(OU, Effect::Allow, None)], known()), Standing::Allowed);
}

#[test]
fn keep_is_the_default_and_revokes_nothing() {
    assert_eq!(ServicePolicy::cautious(Scope::Any).revoke, Revoke::Keep);
    let s = judge(Revoke::Keep, vec![entry(ACCT, Effect::Deny, None)], Membership::NotConfigured);
    assert_eq!(s, Standing::NotRevoking);
    let none = PolicyBook::new([], [entry(ACCT, Effect::Deny, None)]);
    let s = standing(&none, &svc(), ACCT.parse().expect("account"), &Membership::NotConfigured, t(0));
    assert_eq!(s, Standing::NotRevoking, "no policy, nothing to revoke by");
}

#[test]
fn an_unreadable_organization_never_revokes_on_a_missing_allow() {
    let down = || Membership::Unreadable("TooManyRequestsException".into());
    // The OU allow that admitted it may still apply.
    let s = judge(Revoke::Reject, vec![entry(OU, Effect::Allow, None)], down());
    assert!(matches!(&s, Standing::Uncertain(why) if why.contains("TooManyRequestsException")), "{s:?}");
    assert!(matches!(judge(Revoke::Reject, vec![], down()), Standing::Uncertain(_)));
    // Its own allow stands, but an OU deny cannot be ruled out: no verdict either way.
    assert!(matches!(
        judge(Revoke::Reject, vec![entry(ACCT, Effect::Allow, None)], down()),
        Standing::Uncertain(_)
    ));
    // The account's own deny needs no Organizations: certain.
    assert!(matches!(
        judge(Revoke::Reject, vec![entry(ACCT, Effect::Deny, None)], down()),
        Standing::Revoke(_)
    ));
}

#[test]
fn an_ou_deny_on_a_known_path_revokes() {
    let s =
        judge(Revoke::Reject, vec![entry(ACCT, Effect::Allow, None), entry(OU, Effect::Deny, None)], known());
    assert_eq!(revoked(&s).first().map(|r| r.rule), Some(Rule::Denied));
}
