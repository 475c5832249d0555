//! What a consumer may expect before it connects: the allowlist's answer
//! for its account and a service, and whether its VPC's CIDRs can still
//! change that answer. The lookup page's catalogue shows it.

use super::{Admission, Decision, Reasons, admit, finish};
use crate::id::{AccountId, ServiceId};
use crate::policy::{AllowEntry, CompiledPolicy, Membership, OverlapMode, PolicyBook, UnknownCidr};
use crate::time::Timestamp;

/// The allowlist's answer for one account and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The decision for a VPC whose CIDRs trouble no rule.
    pub decision: Decision,
    /// The service's CIDR rules can still make a request from this account
    /// go to review or be rejected, whatever `decision` says.
    pub cidrs_matter: bool,
}

/// What a request from `account` to `service` would meet now, before its
/// VPC is known. A request whose CIDRs trouble no rule gets exactly
/// `decision`; `cidrs_matter` says whether its CIDRs could change that.
pub fn offer(
    book: &PolicyBook,
    service: &ServiceId,
    account: AccountId,
    membership: &Membership,
    now: Timestamp,
) -> Offer {
    let mut why = Reasons(Vec::new());
    let cidrs_matter = match admit(book, service, account, membership, now, &mut why) {
        Admission::Settled => false,
        Admission::Open { policy, allow } => cidr_rules_apply(policy, allow),
    };
    Offer { decision: finish(why), cidrs_matter }
}

/// Whether any CIDR rule of the policy can push a request: the ones
/// `check_cidrs` applies, each switched on.
fn cidr_rules_apply(policy: &CompiledPolicy, allow: Option<&AllowEntry>) -> bool {
    let p = &policy.policy;
    p.unknown_cidr != UnknownCidr::Allow
        || (p.overlap != OverlapMode::Ignore && !p.protected_cidrs.is_empty())
        || p.unique_consumer_cidrs
        || allow.is_some_and(|e| !e.declared_cidrs.is_empty())
}
