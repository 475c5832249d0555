//! Revocation: whether an *available* connection has lost its allowance.
//!
//! A request is judged on everything (allowlist, CIDRs, overlaps); an
//! accepted connection is only ever taken away on the allowlist, and only
//! when the allowlist says so for certain:
//!
//! - a live deny entry applies to the account (its own, or an OU or the
//!   organization on a path Organizations answered): revoke;
//! - no live allow entry applies (removed, or expired) and the account's
//!   place in the organization is not in doubt: revoke;
//! - an allow entry still applies: keep;
//! - anything else (no policy, AWS Organizations unreadable so that an OU
//!   entry cannot be ruled in or out): keep, and say why.
//!
//! CIDR rules never revoke: an overlap or an unreadable consumer VPC sends
//! a new request to review, which says nothing about a connection a person
//! or a rule already accepted.

use crate::cidr::CidrSet;
use crate::decision::{Discovery, Outcome, Reason, Request, Rule, decide};
use crate::id::{AccountId, ServiceId};
use crate::policy::{Membership, PolicyBook, Revoke};
use crate::time::Timestamp;

/// Where an available connection stands under its service's policy now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The service's policy keeps accepted connections (`revoke: keep`, the
    /// default), or there is no policy at all.
    NotRevoking,
    /// An allow entry still applies.
    Allowed,
    /// The allowlist cannot be judged for certain; nothing is done.
    Uncertain(String),
    /// The allowance is gone: the reasons, ending with the revocation.
    Revoke(Vec<Reason>),
}

/// The rules that speak about the allowlist; CIDR reasons are left out.
fn about_allowlist(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::Denied | Rule::Allowlisted | Rule::Unlisted | Rule::EntryExpired | Rule::OrgUnreadable
    )
}

/// Judges one available connection of `account` to `service`. Pure.
pub fn standing(
    book: &PolicyBook,
    service: &ServiceId,
    account: AccountId,
    membership: &Membership,
    now: Timestamp,
) -> Standing {
    match book.policy_for(service) {
        Some(p) if p.policy.revoke == Revoke::Reject => {}
        _ => return Standing::NotRevoking,
    }
    // The decision's own precedence, with the consumer's CIDRs left out:
    // only its allowlist reasons are read below.
    let unread = Discovery::Unavailable("not read for a revocation".into());
    let others = CidrSet::default();
    let decision = decide(
        book,
        // No region: the region rule is not about the allowlist, and is left out below.
        &Request { service, account, discovery: &unread, other_consumers: &others, membership, region: None },
        now,
    );
    let mut reasons: Vec<Reason> = decision.reasons.into_iter().filter(|r| about_allowlist(r.rule)).collect();
    let denied = reasons.iter().any(|r| r.rule == Rule::Denied);
    let allowed = reasons.iter().any(|r| r.rule == Rule::Allowlisted);
    if !denied {
        if let Membership::Unreadable(why) = membership {
            // An OU deny, or an OU allow, may apply: neither can be ruled out.
            return Standing::Uncertain(format!(
                "not revoked: AWS Organizations could not be read ({why}), so OU and organization entries \
                 cannot be judged"
            ));
        }
        if allowed {
            return Standing::Allowed;
        }
        if !reasons.iter().any(|r| r.rule == Rule::Unlisted) {
            return Standing::Uncertain("not revoked: the allowlist gave no verdict".into());
        }
    }
    // Neither the unlisted policy nor a deny's own push is what happens to
    // an accepted connection: the revocation is, so it alone pushes.
    for r in &mut reasons {
        r.pushes = None;
    }
    let text = if denied {
        "the account is denied now, and the service's policy revokes accepted connections (revoke: reject)"
    } else {
        "the account's allowance is gone, and the service's policy revokes accepted connections (revoke: reject)"
    };
    reasons.push(Reason {
        rule: Rule::Revoked,
        pushes: Some(Outcome::Reject),
        text: text.into(),
        consumer: Some(if denied {
            "your account is no longer admitted to this service".into()
        } else {
            "your account's allowance for this service has ended".into()
        }),
    });
    Standing::Revoke(reasons)
}

#[cfg(test)]
mod tests;
