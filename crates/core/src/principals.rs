//! A service's allowed principals as code: who may create an endpoint to it
//! at all (EC2's `ModifyVpcEndpointServicePermissions`), kept in step with
//! the allowlist. AWS cannot name an OU there, so OU and organization
//! entries are resolved to their accounts first.

use std::collections::{BTreeSet, HashMap};

use crate::id::{AccountId, Principal, ServiceId};
use crate::policy::{AllowEntry, Effect};
use crate::time::Timestamp;

/// What a policy says its service's allowed principals are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalsSpec {
    /// Every account the allowlist can accept for the service.
    Allowlist,
    /// Anyone (`*`): the allowlist alone decides.
    Everyone,
    /// These principal ARNs, as given.
    Listed(Vec<String>),
}

/// An OU or organization entry whose accounts were not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the accounts of {} are not known, so the allowed principals cannot be computed", .0.words())]
pub struct Unresolved(pub Principal);

/// The principal ARN EC2 takes for a whole account.
pub fn account_root(account: AccountId) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// The allowed principals `spec` asks for, as EC2 lists them. For
/// `allowlist`: the accounts a live allow entry admits to `service` (its
/// own or `*`), at any level, less those a live deny cuts off at any level,
/// as decide's precedence has it. `accounts` holds the accounts of every
/// OU and organization the entries name; one missing is an error, never a
/// guess.
pub fn desired_principals(
    spec: &PrincipalsSpec,
    entries: &[AllowEntry],
    service: &ServiceId,
    accounts: &HashMap<Principal, Vec<AccountId>>,
    now: Timestamp,
) -> Result<BTreeSet<String>, Unresolved> {
    match spec {
        PrincipalsSpec::Everyone => return Ok(BTreeSet::from(["*".to_owned()])),
        PrincipalsSpec::Listed(arns) => return Ok(arns.iter().cloned().collect()),
        PrincipalsSpec::Allowlist => {}
    }
    let (mut allowed, mut denied) = (BTreeSet::new(), BTreeSet::new());
    let live = entries.iter().filter(|e| e.scope.covers(service) && !e.is_expired(now));
    for entry in live {
        let members = match &entry.principal {
            Principal::Account(a) => vec![*a],
            group => accounts.get(group).cloned().ok_or_else(|| Unresolved(group.clone()))?,
        };
        match entry.effect {
            Effect::Allow => allowed.extend(members),
            Effect::Deny => denied.extend(members),
        }
    }
    Ok(allowed.difference(&denied).map(|a| account_root(*a)).collect())
}

/// A fingerprint of a set of principals, order and duplicates aside: what
/// apply keeps of the list it set, so a sweep can tell when EC2's list was
/// changed outside the file without storing thousands of ARNs.
pub fn digest<'a>(principals: impl IntoIterator<Item = &'a String>) -> String {
    use sha2::{Digest, Sha256};
    let sorted: BTreeSet<&String> = principals.into_iter().collect();
    let mut hash = Sha256::new();
    for p in sorted {
        hash.update(p.as_bytes());
        hash.update(b"\n");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What to add and remove to make `live` the `desired` set.
pub fn principal_changes(desired: &BTreeSet<String>, live: &[String]) -> (Vec<String>, Vec<String>) {
    let live: BTreeSet<&String> = live.iter().collect();
    let add = desired.iter().filter(|p| !live.contains(p)).cloned().collect();
    let remove = live.iter().filter(|p| !desired.contains(**p)).map(|p| (*p).clone()).collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Scope;

    const SVC: &str = "vpce-svc-0abc1234def567890";
    const OTHER: &str = "vpce-svc-0fff1234def567890";

    fn now() -> Timestamp {
        "2026-11-22T12:00:00Z".parse().expect("time")
    }

    fn entry(principal: &str, scope: &str, effect: Effect) -> AllowEntry {
        AllowEntry {
            scope: scope.parse().expect("scope"),
            principal: principal.parse().expect("principal"),
            effect,
            declared_cidrs: vec![],
            expires_at: None,
            owner: "netops".into(),
            note: String::new(),
            added_by: "test".into(),
            added_at: None,
        }
    }

    fn accounts(list: &[&str]) -> Vec<AccountId> {
        list.iter().map(|a| a.parse().expect("account")).collect()
    }

    fn desired(entries: &[AllowEntry], groups: &[(&str, &[&str])]) -> Result<Vec<String>, Unresolved> {
        let groups = groups.iter().map(|(p, a)| (p.parse().expect("principal"), accounts(a))).collect();
        let svc: ServiceId = SVC.parse().expect("svc");
        Ok(desired_principals(&PrincipalsSpec::Allowlist, entries, &svc, &groups, now())?
            .into_iter()
            .collect())
    }

    #[test]
    fn the_allowlist_becomes_account_roots_with_ous_resolved_and_denies_taken_out() {
        let entries = [
            entry("111111111111", SVC, Effect::Allow),
            entry("222222222222", "*", Effect::Allow),
            entry("333333333333", OTHER, Effect::Allow), // another service's
            entry("ou-ab12-11111111", SVC, Effect::Allow),
            entry("ou-ab12-22222222", "*", Effect::Deny), // cuts off one account of the OU above, and 222…
            entry("444444444444", SVC, Effect::Deny),
        ];
        let groups: &[(&str, &[&str])] = &[
            ("ou-ab12-11111111", &["444444444444", "555555555555", "666666666666"]),
            ("ou-ab12-22222222", &["666666666666", "222222222222"]),
        ];
        assert_eq!(
            desired(&entries, groups),
            Ok(vec!["arn:aws:iam::111111111111:root".into(), "arn:aws:iam::555555555555:root".into()])
        );
    }

    #[test]
    fn expired_entries_count_for_nothing_and_an_unknown_ou_is_an_error() {
        let mut gone = entry("111111111111", SVC, Effect::Allow);
        gone.expires_at = Some("2026-01-01T00:00:00Z".parse().expect("time"));
        let mut old_deny = entry("222222222222", SVC, Effect::Deny);
        old_deny.expires_at = gone.expires_at;
        let entries = [gone, old_deny, entry("222222222222", SVC, Effect::Allow)];
        assert_eq!(desired(&entries, &[]), Ok(vec!["arn:aws:iam::222222222222:root".into()]));

        let with_ou = [entry("ou-ab12-11111111", Scope::Any.as_str(), Effect::Deny)];
        let err = desired(&with_ou, &[]).expect_err("unknown OU");
        assert_eq!(
            err.to_string(),
            "the accounts of OU ou-ab12-11111111 are not known, so the allowed principals cannot be computed"
        );
    }

    #[test]
    fn a_listed_or_open_service_gets_what_it_says_and_changes_are_the_difference() {
        let svc: ServiceId = SVC.parse().expect("svc");
        let open = desired_principals(&PrincipalsSpec::Everyone, &[], &svc, &HashMap::new(), now());
        assert_eq!(open, Ok(BTreeSet::from(["*".to_owned()])));
        let want: BTreeSet<String> =
            ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"].map(str::to_owned).into();
        let live = ["arn:aws:iam::222222222222:root".to_owned(), "*".to_owned()];
        let (add, remove) = principal_changes(&want, &live);
        assert_eq!(add, vec!["arn:aws:iam::111111111111:root".to_owned()]);
        assert_eq!(remove, vec!["*".to_owned()]);
        assert_eq!(principal_changes(&want, &want.iter().cloned().collect::<Vec<_>>()), (vec![], vec![]));
    }

    #[test]
    fn a_digest_sees_the_set_not_its_order() {
        let a = ["arn:aws:iam::111111111111:root".to_owned(), "*".to_owned()];
        let b = ["*".to_owned(), "arn:aws:iam::111111111111:root".to_owned(), "*".to_owned()];
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&a[..1]));
        assert_ne!(digest(&["ab".to_owned(), "c".to_owned()]), digest(&["a".to_owned(), "bc".to_owned()]));
    }
}
