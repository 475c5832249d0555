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
use crate::id::{AccountId, Scope, ServiceId};
use crate::policy::{AllowEntry, CompiledPolicy, Effect, OverlapMode, PolicyBook, UnknownCidr, Unlisted};
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
    CidrsUnknown,
    ProtectedOverlap,
    ConsumerOverlap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: Rule,
    /// The outcome this rule pushes towards; `None` for facts that only inform.
    pub pushes: Option<Outcome>,
    pub text: String,
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
}

struct Reasons(Vec<Reason>);

impl Reasons {
    fn push(&mut self, rule: Rule, pushes: Option<Outcome>, text: String) {
        self.0.push(Reason { rule, pushes, text });
    }
}

fn scope_words(scope: &Scope) -> String {
    match scope {
        Scope::Any => "all services".to_owned(),
        Scope::Service(s) => s.to_string(),
    }
}

fn entry_words(e: &AllowEntry) -> String {
    let mut s = String::new();
    if let Some(t) = e.expires_at {
        s.push_str(&format!(" until {}", t.date()));
    }
    if !e.owner.is_empty() {
        s.push_str(&format!(" by {}", e.owner));
    }
    if !e.note.is_empty() {
        s.push_str(&format!(" ({})", e.note));
    }
    s
}

/// Decides one connection request. Pure: same inputs, same decision.
pub fn decide(book: &PolicyBook, req: &Request<'_>, now: Timestamp) -> Decision {
    let mut why = Reasons(Vec::new());
    let account = req.account;

    // Expired entries count as absent, but people should know they exist.
    let live: Vec<&AllowEntry> = book
        .entries_for(req.service, account)
        .into_iter()
        .flatten()
        .filter(|e| {
            if e.is_expired(now) {
                let when = e.expires_at.map(|t| t.date()).unwrap_or_default();
                why.push(
                    Rule::EntryExpired,
                    None,
                    format!(
                        "{} entry for account {account} on {} expired on {when}; ignored",
                        e.effect.as_str(),
                        scope_words(&e.scope)
                    ),
                );
                false
            } else {
                true
            }
        })
        .collect();

    // An explicit deny at any scope cuts the account off everywhere.
    if let Some(deny) = live.iter().find(|e| e.effect == Effect::Deny) {
        why.push(
            Rule::Denied,
            Some(Outcome::Reject),
            format!("account {account} is denied for {}{}", scope_words(&deny.scope), entry_words(deny)),
        );
        return finish(why);
    }

    let Some(policy) = book.policy_for(req.service) else {
        why.push(
            Rule::NoPolicy,
            Some(Outcome::Review),
            format!("no policy for {} and no default (*) policy", req.service),
        );
        return finish(why);
    };

    // Entries are service-first, so the first allow is the most specific.
    let allow = live.iter().find(|e| e.effect == Effect::Allow).copied();
    match allow {
        Some(e) => why.push(
            Rule::Allowlisted,
            Some(Outcome::Accept),
            format!("account {account} allowlisted for {}{}", scope_words(&e.scope), entry_words(e)),
        ),
        None => {
            let pushes = match policy.policy.unlisted {
                Unlisted::Review => Outcome::Review,
                Unlisted::Reject => Outcome::Reject,
            };
            why.push(
                Rule::Unlisted,
                Some(pushes),
                format!("account {account} is not on the allowlist for {}", req.service),
            );
        }
    }

    check_cidrs(policy, allow, req, &mut why);
    finish(why)
}

fn check_cidrs(policy: &CompiledPolicy, allow: Option<&AllowEntry>, req: &Request<'_>, why: &mut Reasons) {
    let declared = allow.map(|e| e.declared_cidrs.as_slice()).unwrap_or_default();
    let cidrs: &[Cidr] = match req.discovery {
        Discovery::Read(cidrs) if !cidrs.is_empty() => {
            why.push(
                Rule::CidrsDiscovered,
                None,
                format!("consumer VPC CIDRs read from account {}: {}", req.account, list(cidrs)),
            );
            cidrs
        }
        Discovery::Unavailable(reason) if !declared.is_empty() => {
            why.push(
                Rule::CidrsDeclared,
                None,
                format!("consumer VPC CIDRs not readable ({reason}); using declared {}", list(declared)),
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
            why.push(
                Rule::CidrsUnknown,
                pushes,
                format!("consumer CIDRs unknown ({reason}) and none declared"),
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
            why.push(
                Rule::ConsumerOverlap,
                Some(Outcome::Reject),
                format!(
                    "consumer VPC {cidr} overlaps {other} of {who}, and {} requires unique consumer CIDRs",
                    req.service
                ),
            );
        }
    }
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

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
