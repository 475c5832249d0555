//! The decision: a pure function from a connection request and the
//! operator's rules to Accept, Review or Reject, with every rule that fired
//! written out for a person.
//!
//! Each rule pushes towards an outcome; the most severe push wins
//! (Reject > Review > Accept). Nothing is accepted unless an allow entry
//! fired, so any gap in the rules ends in review, never in an accept.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cidr::{Cidr, CidrSet};
use crate::id::{AccountId, Region, Scope, ServiceId};
use crate::policy::{
    AllowEntry, CompiledPolicy, DeclaredCidrs, Effect, Level, Membership, OverlapMode, Placement, PolicyBook,
    UnknownCidr, Unlisted,
};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accept,
    Review,
    Reject,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accept => "accept",
            Outcome::Review => "review",
            Outcome::Reject => "reject",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule produced a reason; stable names for machines and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Denied,
    Allowlisted,
    Unlisted,
    EntryExpired,
    NoPolicy,
    CidrsDiscovered,
    CidrsDeclared,
    CidrsUndeclared,
    CidrsUnknown,
    ProtectedOverlap,
    ConsumerOverlap,
    /// AWS Organizations could not be read: OU and organization entries
    /// did not fire.
    OrgUnreadable,
    /// The consumer's region is not among the policy's `consumer_regions`.
    RegionUnlisted,
    /// An accepted connection's allowance is gone and its policy says
    /// `revoke: reject`.
    Revoked,
}

/// One rule that fired, in two wordings: `text` for operators and
/// approvers, `consumer` for the requesting account, which never names
/// another tenant (account, endpoint) nor the allowlist's owner or note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: Rule,
    /// The outcome this rule pushes towards; `None` for facts that only inform.
    pub pushes: Option<Outcome>,
    pub text: String,
    /// `None` in records written before reasons had a consumer wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
}

impl Reason {
    /// The wording the requesting consumer may read. Records older than the
    /// consumer wording fall back to a fixed sentence wherever the operator
    /// text may hold another tenant's data or an allowlist note.
    pub fn for_consumer(&self) -> String {
        let text = match (&self.consumer, self.rule) {
            (Some(c), _) => c.clone(),
            (None, Rule::Allowlisted) => "your account is on the allowlist for this service".into(),
            (None, Rule::Denied) => "your account is denied for this service".into(),
            (None, Rule::EntryExpired) => "an allowlist entry for your account has expired".into(),
            (None, Rule::ConsumerOverlap) => {
                "your VPC's CIDRs overlap another consumer's, and this service requires unique consumer CIDRs"
                    .into()
            }
            (None, Rule::Revoked) => "your connection no longer has an allowance for this service".into(),
            (None, _) => self.text.clone(),
        };
        match self.pushes {
            Some(o) if o != Outcome::Accept => format!("{text} → {o}"),
            _ => text,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pushes {
            Some(o) if o != Outcome::Accept => write!(f, "{} → {o}", self.text),
            _ => f.write_str(&self.text),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn fired(&self, rule: Rule) -> bool {
        self.reasons.iter().any(|r| r.rule == rule)
    }

    /// The reasons as one line, as they appear in logs and notifications.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self.reasons.iter().map(ToString::to_string).collect();
        parts.join("; ")
    }
}

/// What was learned about the consumer VPC's CIDRs before deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Read from the consumer account through its read-only role.
    Read(Vec<Cidr>),
    /// Could not be read; the reason is shown to people.
    Unavailable(String),
}

/// The facts about one connection request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub service: &'a ServiceId,
    pub account: AccountId,
    pub discovery: &'a Discovery,
    /// CIDRs of the service's other accepted consumers, labelled by who they are.
    pub other_consumers: &'a CidrSet<String>,
    /// The account's place in the organization, for OU and organization entries.
    pub membership: &'a Membership,
    /// Where the consumer's VPC lives, as EC2 reports it; `None` when unknown.
    pub region: Option<&'a Region>,
}

struct Reasons(Vec<Reason>);

impl Reasons {
    /// A reason whose words hold nothing a consumer may not read.
    fn push(&mut self, rule: Rule, pushes: Option<Outcome>, text: String) {
        self.0.push(Reason { rule, pushes, consumer: Some(text.clone()), text });
    }

    /// A reason with separate words for the consumer.
    fn push_split(&mut self, rule: Rule, pushes: Option<Outcome>, text: String, consumer: String) {
        self.0.push(Reason { rule, pushes, text, consumer: Some(consumer) });
    }
}

fn scope_words(scope: &Scope) -> String {
    match scope {
        Scope::Any => "all services".to_owned(),
        Scope::Service(s) => s.to_string(),
    }
}

/// " until <date>" when the entry expires: the consumer may know that.
fn until(e: &AllowEntry) -> String {
    e.expires_at.map(|t| format!(" until {}", t.date())).unwrap_or_default()
}

/// The entry as operators read it: expiry, owner and note.
fn entry_words(e: &AllowEntry) -> String {
    let mut s = until(e);
    if !e.owner.is_empty() {
        s.push_str(&format!(" by {}", e.owner));
    }
    if !e.note.is_empty() {
        s.push_str(&format!(" ({})", e.note));
    }
    s
}

/// How the reasons name the principal an entry matched, ready for "denied
/// for …" or "allowed for …": "account 2100… is", or "account 2100… is in
/// OU Workloads/Prod (ou-…),", or "account 2100… is in organization o-…,".
fn matched_words(account: AccountId, level: Level, placement: Option<&Placement>) -> String {
    match (level, placement) {
        (Level::Ou(depth), Some(p)) => match p.path.get(depth) {
            Some(step) => format!("account {account} is in OU {} ({}),", p.names_to(depth), step.id),
            None => format!("account {account} is in an OU,"),
        },
        (Level::Organization, Some(p)) => format!("account {account} is in organization {},", p.org),
        _ => format!("account {account} is"),
    }
}

/// Decides one connection request. Pure: same inputs, same decision.
///
/// Precedence: a deny at any level wins; otherwise the most specific allow
/// applies (account, then deeper OU, then shallower OU, then organization;
/// a service's entry over `*` at each level). OU and organization entries
/// fire only when the account's placement is known.
pub fn decide(book: &PolicyBook, req: &Request<'_>, now: Timestamp) -> Decision {
    let mut why = Reasons(Vec::new());
    if let Admission::Open { policy, allow } =
        admit(book, req.service, req.account, req.membership, now, &mut why)
    {
        check_region(policy, req.region, &mut why);
        check_cidrs(policy, allow, req, &mut why);
    }
    finish(why)
}

/// The deny that cuts `account` off from `service` now, if one does: what
/// an approval or an unfinished accept must still respect, however long
/// ago the request was decided. Pure, like [`decide`].
pub fn denial(
    book: &PolicyBook,
    service: &ServiceId,
    account: AccountId,
    membership: &Membership,
    now: Timestamp,
) -> Option<Reason> {
    let mut why = Reasons(Vec::new());
    admit(book, service, account, membership, now, &mut why);
    why.0.into_iter().find(|r| r.rule == Rule::Denied)
}

/// Where the allowlist leaves a request before its CIDRs are looked at.
enum Admission<'b> {
    /// A deny or a missing policy settled it; the CIDRs cannot change that.
    Settled,
    /// The CIDR rules of `policy` still apply, to an account `allow`ed or not.
    Open { policy: &'b CompiledPolicy, allow: Option<&'b AllowEntry> },
}

/// The allowlist's part of the decision: entries along the account's
/// placement, deny before allow, the policy's rule for unlisted accounts.
fn admit<'b>(
    book: &'b PolicyBook,
    service: &ServiceId,
    account: AccountId,
    membership: &Membership,
    now: Timestamp,
    why: &mut Reasons,
) -> Admission<'b> {
    let placement = match membership {
        Membership::Known(p) => Some(p),
        Membership::NotConfigured | Membership::Outside | Membership::Unreadable(_) => None,
    };
    // Expired entries count as absent, but people should know they exist.
    let live: Vec<(Level, &AllowEntry)> = book
        .entries_along(service, account, placement)
        .into_iter()
        .filter(|(_, e)| {
            if e.is_expired(now) {
                let when = e.expires_at.map(|t| t.date()).unwrap_or_default();
                let text = format!(
                    "{} entry for {} on {} expired on {when}; ignored",
                    e.effect.as_str(),
                    e.principal.words(),
                    scope_words(&e.scope)
                );
                why.push(Rule::EntryExpired, None, text);
                false
            } else {
                true
            }
        })
        .collect();

    // An explicit deny at any level cuts the account off everywhere.
    if let Some((level, deny)) = live.iter().find(|(_, e)| e.effect == Effect::Deny) {
        let scope = scope_words(&deny.scope);
        let who = matched_words(account, *level, placement);
        why.push_split(
            Rule::Denied,
            Some(Outcome::Reject),
            format!("{who} denied for {scope}{}", entry_words(deny)),
            format!("{who} denied for {scope}"),
        );
        return Admission::Settled;
    }

    let Some(policy) = book.policy_for(service) else {
        why.push(
            Rule::NoPolicy,
            Some(Outcome::Review),
            format!("no policy for {service} and no default (*) policy"),
        );
        return Admission::Settled;
    };

    // Entries come most specific first, so the first allow applies.
    let allow = live.iter().find(|(_, e)| e.effect == Effect::Allow).copied();
    match allow {
        Some((Level::Account, e)) => why.push_split(
            Rule::Allowlisted,
            Some(Outcome::Accept),
            format!("account {account} allowlisted for {}{}", scope_words(&e.scope), entry_words(e)),
            format!("account {account} allowlisted for {}{}", scope_words(&e.scope), until(e)),
        ),
        Some((level, e)) => {
            let who = matched_words(account, level, placement);
            why.push_split(
                Rule::Allowlisted,
                Some(Outcome::Accept),
                format!("{who} allowed for {}{}", scope_words(&e.scope), entry_words(e)),
                format!("{who} allowed for {}{}", scope_words(&e.scope), until(e)),
            )
        }
        None => {
            let pushes = match policy.policy.unlisted {
                Unlisted::Review => Outcome::Review,
                Unlisted::Reject => Outcome::Reject,
            };
            why.push(
                Rule::Unlisted,
                Some(pushes),
                format!("account {account} is not on the allowlist for {service}"),
            );
        }
    }

    // Fail closed: an unreadable organization never helps an accept. Its
    // allows did not fire, and since one of its denies might have, an
    // account's own allow waits for a person.
    if let Membership::Unreadable(reason) = membership {
        let pushes = allow.is_some().then_some(Outcome::Review);
        let tail = if allow.is_some() { "; an OU or organization deny cannot be ruled out" } else { "" };
        why.push_split(
            Rule::OrgUnreadable,
            pushes,
            format!("AWS Organizations could not be read ({reason}); OU and organization entries did not apply{tail}"),
            format!("the provider could not read AWS Organizations; OU and organization entries did not apply{tail}"),
        );
    }

    Admission::Open { policy, allow: allow.map(|(_, e)| e) }
}

/// A policy that lists `consumer_regions` treats a consumer from any other
/// region, or from one nobody reported, as its `unlisted` rule says: an
/// allow entry admits an account, not every region it may connect from.
fn check_region(policy: &CompiledPolicy, region: Option<&Region>, why: &mut Reasons) {
    let listed = &policy.policy.consumer_regions;
    if listed.is_empty() || region.is_some_and(|r| listed.contains(r)) {
        return;
    }
    let pushes = match policy.policy.unlisted {
        Unlisted::Review => Outcome::Review,
        Unlisted::Reject => Outcome::Reject,
    };
    let names: Vec<&str> = listed.iter().map(Region::as_str).collect();
    let who = match region {
        Some(r) => format!("consumer region {r} is"),
        None => "the consumer's region is unknown, which is".to_owned(),
    };
    why.push(
        Rule::RegionUnlisted,
        Some(pushes),
        format!("{who} not in the policy's consumer_regions ({})", names.join(", ")),
    );
}

/// The consumer's CIDRs: read through its role when possible. Declared
/// CIDRs are the consumer's own claim: they never make an accept easier than
/// reading the VPC would. They stand in for an unreadable VPC only where the
/// policy says `declared_cidrs: trust`, and a read VPC with a CIDR outside
/// them goes to review.
fn check_cidrs(policy: &CompiledPolicy, allow: Option<&AllowEntry>, req: &Request<'_>, why: &mut Reasons) {
    let declared = allow.map(|e| e.declared_cidrs.as_slice()).unwrap_or_default();
    let trust_declared = policy.policy.declared_cidrs == DeclaredCidrs::Trust;
    let cidrs: &[Cidr] = match req.discovery {
        Discovery::Read(cidrs) if !cidrs.is_empty() => {
            why.push(
                Rule::CidrsDiscovered,
                None,
                format!("consumer VPC CIDRs read from account {}: {}", req.account, list(cidrs)),
            );
            let outside: Vec<Cidr> =
                cidrs.iter().filter(|c| !declared.iter().any(|d| d.contains(c))).copied().collect();
            if !declared.is_empty() && !outside.is_empty() {
                why.push(
                    Rule::CidrsUndeclared,
                    Some(Outcome::Review),
                    format!("consumer VPC {} outside the declared {}", list(&outside), list(declared)),
                );
            }
            cidrs
        }
        Discovery::Unavailable(reason) if trust_declared && !declared.is_empty() => {
            why.push(
                Rule::CidrsDeclared,
                None,
                format!(
                    "consumer VPC CIDRs not readable ({reason}); using declared {}, as the policy trusts \
                     declared CIDRs",
                    list(declared)
                ),
            );
            declared
        }
        other => {
            let reason = match other {
                Discovery::Unavailable(r) => r.as_str(),
                Discovery::Read(_) => "the consumer VPC reported none",
            };
            let pushes = match policy.policy.unknown_cidr {
                UnknownCidr::Allow => None,
                UnknownCidr::Review => Some(Outcome::Review),
                UnknownCidr::Reject => Some(Outcome::Reject),
            };
            let declared_note = if declared.is_empty() {
                "none declared"
            } else {
                "declared CIDRs are not trusted by the policy"
            };
            why.push(
                Rule::CidrsUnknown,
                pushes,
                format!("consumer CIDRs unknown ({reason}); {declared_note}"),
            );
            return;
        }
    };

    for cidr in cidrs {
        if let Some((range, label)) = policy.protected.find_overlap(cidr) {
            let pushes = match policy.policy.overlap {
                OverlapMode::Ignore => None,
                OverlapMode::Review => Some(Outcome::Review),
                OverlapMode::Reject => Some(Outcome::Reject),
            };
            let label = if label.is_empty() { String::new() } else { format!(" ({label})") };
            let tail = if pushes.is_none() { "; overlap allowed by policy" } else { "" };
            why.push(
                Rule::ProtectedOverlap,
                pushes,
                format!("consumer VPC {cidr} overlaps protected {range}{label}{tail}"),
            );
        }
        if policy.policy.unique_consumer_cidrs
            && let Some((other, who)) = req.other_consumers.find_overlap(cidr)
        {
            why.push_split(
                Rule::ConsumerOverlap,
                Some(Outcome::Reject),
                overlap_text(req.service, cidr, other, who),
                format!(
                    "consumer VPC {cidr} overlaps another consumer's CIDR, and {} requires unique consumer CIDRs",
                    req.service
                ),
            );
        }
    }
}

/// The first of `cidrs` that overlaps another accepted consumer's, as
/// operators read it: an approval meets the rule again with it.
pub fn consumer_overlap(service: &ServiceId, cidrs: &[Cidr], others: &CidrSet<String>) -> Option<String> {
    cidrs.iter().find_map(|cidr| {
        others.find_overlap(cidr).map(|(other, who)| overlap_text(service, cidr, other, who))
    })
}

fn overlap_text(service: &ServiceId, cidr: &Cidr, other: &Cidr, who: &str) -> String {
    format!("consumer VPC {cidr} overlaps {other} of {who}, and {service} requires unique consumer CIDRs")
}

fn finish(why: Reasons) -> Decision {
    let reasons = why.0;
    let allowed = reasons.iter().any(|r| r.rule == Rule::Allowlisted);
    let worst = reasons.iter().filter_map(|r| r.pushes).max();
    let outcome = match worst {
        Some(Outcome::Accept) | None if allowed => Outcome::Accept,
        Some(o) if o != Outcome::Accept => o,
        _ => Outcome::Review,
    };
    Decision { outcome, reasons }
}

fn list(cidrs: &[Cidr]) -> String {
    let parts: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

mod offer;
pub use offer::{Offer, offer};

#[cfg(test)]
mod tests;
