//! The operator's rules: a policy per endpoint service (plus the `*`
//! default) and allow/deny entries per consumer account.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::cidr::{Cidr, CidrSet};
use crate::id::{AccountId, OrgId, OuId, Principal, Region, Scope, ServiceId};
use crate::time::Timestamp;

/// What happens to an account that has no allow entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlisted {
    Review,
    Reject,
}

/// What happens when a consumer CIDR overlaps a protected range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapMode {
    Ignore,
    Review,
    Reject,
}

/// What happens when the consumer's CIDRs cannot be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCidr {
    Allow,
    Review,
    Reject,
}

/// What the consumer's declared CIDRs (on its allow entry) are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredCidrs {
    /// A claim checked against the VPC: a read CIDR outside them goes to
    /// review, and an unreadable VPC follows `unknown_cidr`.
    #[default]
    Verify,
    /// Also stand in for a VPC that cannot be read. A consumer who switches
    /// its reader role off is then judged on its own claim: opt in knowingly.
    Trust,
}

/// What an unanswered review turns into after the approval TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExpiry {
    Reject,
    KeepPending,
}

/// What the sweep does to an *available* connection whose allowance is gone
/// (a deny now applies, or its allow entry expired or was removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoke {
    /// Leave accepted connections alone: the policy only judges requests.
    #[default]
    Keep,
    /// Reject them; see [`crate::revocation`] for what counts as gone.
    Reject,
}

impl Revoke {
    pub fn is_keep(&self) -> bool {
        *self == Revoke::Keep
    }
}

/// Whether a service's decisions are carried out, or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decide and act: accept, reject, ask approvers, revoke.
    #[default]
    Enforce,
    /// Decide and record what would happen; act on nothing, ask nobody.
    /// The connection is left to people (see [`crate::shadow`]).
    Shadow,
}

impl Mode {
    pub fn is_enforce(&self) -> bool {
        *self == Mode::Enforce
    }
}

/// A protected range with the reason it is protected, shown in decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedRange {
    pub cidr: Cidr,
    #[serde(default)]
    pub label: String,
}

/// The policy of one endpoint service, or of all (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePolicy {
    pub scope: Scope,
    pub unlisted: Unlisted,
    pub overlap: OverlapMode,
    pub protected_cidrs: Vec<ProtectedRange>,
    pub unknown_cidr: UnknownCidr,
    #[serde(default)]
    pub declared_cidrs: DeclaredCidrs,
    pub unique_consumer_cidrs: bool,
    /// Who may answer a review: email addresses and `slack:<user id>`s.
    pub approvers: Vec<String>,
    /// The Slack channel that gets review messages, when there is one.
    #[serde(default)]
    pub slack_channel: Option<String>,
    pub approval_ttl_secs: i64,
    pub reminder_interval_secs: i64,
    pub on_expiry: OnExpiry,
    /// What the sweep does to accepted connections that lost their allowance.
    /// Left out when `keep`, so saved plans from before keep their form.
    #[serde(default, skip_serializing_if = "Revoke::is_keep")]
    pub revoke: Revoke,
    /// Whether decisions are carried out. Left out when `enforce`, so saved
    /// plans from before keep their form.
    #[serde(default, skip_serializing_if = "Mode::is_enforce")]
    pub mode: Mode,
    /// The regions consumers may connect from (cross-region PrivateLink);
    /// empty means any. A request from elsewhere follows `unlisted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumer_regions: Vec<Region>,
}

/// One approver identity as a policy lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver<'a> {
    /// Gets signed links by email.
    Email(&'a str),
    /// Answers with the Slack buttons; the Slack user id.
    Slack(&'a str),
}

impl<'a> Approver<'a> {
    /// `name@example.com` or `slack:U0123ABCD`.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        if let Some(id) = text.strip_prefix("slack:") {
            return if is_slack_id(id) {
                Ok(Approver::Slack(id))
            } else {
                Err(format!("{text:?} is not slack:<user id> (like slack:U0123ABCD)"))
            };
        }
        let valid_email = text.len() <= 254
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.contains('@')
            })
            && !text.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\",;".contains(c));
        if valid_email {
            Ok(Approver::Email(text))
        } else {
            Err(format!("{text:?} is neither an email address nor slack:<user id>"))
        }
    }
}

/// Someone answering a review, as the channel they answer through proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answerer {
    /// The approver a signed email link was made out to.
    Email(String),
    /// A Slack user whose button press carried Slack's signature.
    Slack { user_id: String, user_name: String },
    /// An operator at the CLI, with write access to the table and EC2; the
    /// caller's ARN as STS reports it.
    Operator(String),
}

impl Answerer {
    /// How the audit and the request record name them.
    pub fn actor(&self) -> String {
        match self {
            Answerer::Email(email) => format!("email:{email}"),
            Answerer::Slack { user_id, user_name } if user_name.is_empty() => format!("slack:{user_id}"),
            Answerer::Slack { user_id, user_name } => format!("slack:{user_id} ({user_name})"),
            Answerer::Operator(arn) => arn.clone(),
        }
    }
}

/// Whether two addresses are the same mailbox: the domain compared without
/// case, the local part exactly (RFC 5321 leaves it to the receiving host).
pub fn same_email(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

/// Slack's user and channel ids: upper-case letters and digits.
pub fn is_slack_id(id: &str) -> bool {
    (2..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A channel as `chat.postMessage` takes it: an id (`C0123ABCD`) or `#name`.
pub fn check_slack_channel(channel: &str) -> Result<(), String> {
    let named = channel.strip_prefix('#').is_some_and(|name| {
        (1..=80).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    });
    if named || is_slack_id(channel) {
        Ok(())
    } else {
        Err(format!("{channel:?} is not a Slack channel id (C0123ABCD) or #lower-case-name"))
    }
}

impl ServicePolicy {
    /// The approvers who get email links.
    pub fn email_approvers(&self) -> Vec<String> {
        self.approvers
            .iter()
            .filter(|a| matches!(Approver::parse(a), Ok(Approver::Email(_))))
            .cloned()
            .collect()
    }

    /// Whether this Slack user may answer the service's reviews.
    pub fn has_slack_approver(&self, user_id: &str) -> bool {
        self.approvers.iter().any(|a| Approver::parse(a) == Ok(Approver::Slack(user_id)))
    }

    /// Whether this email address is one of the service's approvers. The
    /// domain is compared without case, the local part exactly (RFC 5321).
    pub fn has_email_approver(&self, email: &str) -> bool {
        self.approvers.iter().any(|a| match Approver::parse(a) {
            Ok(Approver::Email(listed)) => same_email(listed, email),
            _ => false,
        })
    }

    /// Whether `who` may answer this service's reviews now.
    pub fn may_answer(&self, who: &Answerer) -> bool {
        match who {
            Answerer::Email(email) => self.has_email_approver(email),
            Answerer::Slack { user_id, .. } => self.has_slack_approver(user_id),
            Answerer::Operator(_) => true,
        }
    }

    /// The cautious default: unknown accounts and doubtful CIDRs go to a person.
    pub fn cautious(scope: Scope) -> Self {
        Self {
            scope,
            unlisted: Unlisted::Review,
            overlap: OverlapMode::Review,
            protected_cidrs: Vec::new(),
            unknown_cidr: UnknownCidr::Review,
            declared_cidrs: DeclaredCidrs::Verify,
            unique_consumer_cidrs: false,
            approvers: Vec::new(),
            slack_channel: None,
            approval_ttl_secs: 3 * 86_400,
            reminder_interval_secs: 86_400,
            on_expiry: OnExpiry::KeepPending,
            revoke: Revoke::Keep,
            mode: Mode::Enforce,
            consumer_regions: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// The standing of a consumer account, an OU (with every OU below it) or
/// the organization, for a service or for all services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowEntry {
    pub scope: Scope,
    /// `account`, `ou` or `organization`, as in the policy file.
    #[serde(flatten)]
    pub principal: Principal,
    pub effect: Effect,
    #[serde(default)]
    pub declared_cidrs: Vec<Cidr>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub added_by: String,
    #[serde(default)]
    pub added_at: Option<Timestamp>,
}

impl AllowEntry {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// A policy with its protected ranges indexed for fast overlap queries.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: ServicePolicy,
    pub protected: CidrSet<String>,
}

impl From<ServicePolicy> for CompiledPolicy {
    fn from(policy: ServicePolicy) -> Self {
        let protected = CidrSet::new(policy.protected_cidrs.iter().map(|p| (p.cidr, p.label.clone())));
        Self { policy, protected }
    }
}

/// One OU on an account's path, with the name people know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuStep {
    pub id: OuId,
    pub name: String,
}

/// Where an account sits in AWS Organizations: its organization, and the
/// OUs from the root down to the account's parent (empty under the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub org: OrgId,
    pub path: Vec<OuStep>,
}

impl Placement {
    /// "Workloads/Prod": the names from the root down to the OU at `depth`.
    pub fn names_to(&self, depth: usize) -> String {
        let mut out = String::new();
        for (i, step) in self.path.iter().take(depth + 1).enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(&step.name);
        }
        out
    }
}

/// What is known about the account's place in the organization when deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// No Organizations role is configured: OU and organization entries are off.
    NotConfigured,
    Known(Placement),
    /// Organizations answered that the account is in no OU of the
    /// organization (a partner's account, say): no OU or organization entry
    /// can apply to it, neither allow nor deny.
    Outside,
    /// Organizations could not be read; the reason is shown to people. OU
    /// and organization entries do not fire.
    Unreadable(String),
}

/// Which principal of the account an entry matched, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Account,
    /// An OU on the path, by its depth (0 is just below the root).
    Ou(usize),
    Organization,
}

/// Everything the decision needs from the operator: policies by scope,
/// account entries by (scope, account), OU and organization entries by
/// their id. Built once, queried per connection.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    policies: HashMap<Scope, CompiledPolicy>,
    accounts: HashMap<(Scope, AccountId), AllowEntry>,
    /// Keyed by the id's text, so a lookup along a path allocates nothing;
    /// OU and organization ids cannot collide (`ou-` vs `o-`).
    groups: HashMap<String, Vec<AllowEntry>>,
}

impl PolicyBook {
    pub fn new(
        policies: impl IntoIterator<Item = ServicePolicy>,
        entries: impl IntoIterator<Item = AllowEntry>,
    ) -> Self {
        let mut book = Self {
            policies: policies.into_iter().map(|p| (p.scope.clone(), p.into())).collect(),
            ..Self::default()
        };
        for e in entries {
            match e.principal.account() {
                Some(account) => {
                    book.accounts.insert((e.scope.clone(), account), e);
                }
                None => {
                    let group = book.groups.entry(e.principal.as_str().to_owned()).or_default();
                    group.retain(|g| g.scope != e.scope);
                    group.push(e);
                    // A service's entry before the `*` entry of the same group.
                    group.sort_by_key(|g| g.scope == Scope::Any);
                }
            }
        }
        book
    }

    /// The service's own policy, else the `*` policy, else none.
    pub fn policy_for(&self, service: &ServiceId) -> Option<&CompiledPolicy> {
        self.policies.get(&Scope::Service(service.clone())).or_else(|| self.policies.get(&Scope::Any))
    }

    /// The service-scoped entry first, then the `*` entry; either may be absent.
    pub fn entries_for(&self, service: &ServiceId, account: AccountId) -> [Option<&AllowEntry>; 2] {
        [
            self.accounts.get(&(Scope::Service(service.clone()), account)),
            self.accounts.get(&(Scope::Any, account)),
        ]
    }

    /// Every entry that speaks for this account on this service, most
    /// specific first: the account's own, then each OU on its path from the
    /// deepest up, then the organization; a service entry before `*` at
    /// each level. OU and organization entries only with a known placement.
    pub fn entries_along(
        &self,
        service: &ServiceId,
        account: AccountId,
        placement: Option<&Placement>,
    ) -> Vec<(Level, &AllowEntry)> {
        let mut out: Vec<(Level, &AllowEntry)> =
            self.entries_for(service, account).into_iter().flatten().map(|e| (Level::Account, e)).collect();
        let Some(placement) = placement.filter(|_| !self.groups.is_empty()) else { return out };
        let applies = |e: &&AllowEntry| match &e.scope {
            Scope::Any => true,
            Scope::Service(s) => s == service,
        };
        for (depth, step) in placement.path.iter().enumerate().rev() {
            if let Some(group) = self.groups.get(step.id.as_str()) {
                out.extend(group.iter().filter(applies).map(|e| (Level::Ou(depth), e)));
            }
        }
        if let Some(group) = self.groups.get(placement.org.as_str()) {
            out.extend(group.iter().filter(applies).map(|e| (Level::Organization, e)));
        }
        out
    }

    /// Whether any entry names an OU or the organization.
    pub fn has_group_entries(&self) -> bool {
        !self.groups.is_empty()
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    pub fn entry_count(&self) -> usize {
        self.accounts.len() + self.groups.values().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvers_are_emails_or_slack_users() {
        assert_eq!(Approver::parse("netops@example.com"), Ok(Approver::Email("netops@example.com")));
        assert_eq!(Approver::parse("slack:U024BE7LH"), Ok(Approver::Slack("U024BE7LH")));
        for bad in [
            "",
            "netops",
            "net ops@example.com",
            "@example.com",
            "a@b",
            "a@@b.com",
            "<a@b.com>",
            "slack:",
            "slack:u024be7lh",
            "slack:U1 ",
            "slack:<@U1>",
        ] {
            assert!(Approver::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_listed_slack_users_answer_and_only_emails_get_links() {
        let mut p = ServicePolicy::cautious(Scope::Any);
        p.approvers = vec!["netops@example.com".into(), "slack:U024BE7LH".into()];
        assert!(p.has_slack_approver("U024BE7LH"));
        assert!(!p.has_slack_approver("U999"));
        assert!(!p.has_slack_approver("netops@example.com"));
        assert_eq!(p.email_approvers(), vec!["netops@example.com".to_owned()]);
    }

    #[test]
    fn only_current_approvers_may_answer_through_their_own_channel() {
        let mut p = ServicePolicy::cautious(Scope::Any);
        p.approvers = vec!["netops@Example.com".into(), "slack:U024BE7LH".into()];
        let email = |e: &str| Answerer::Email(e.into());
        let slack = |id: &str| Answerer::Slack { user_id: id.into(), user_name: String::new() };
        assert!(p.may_answer(&email("netops@example.COM")));
        assert!(!p.may_answer(&email("NetOps@example.com")), "local parts are case-sensitive");
        assert!(!p.may_answer(&email("someone@example.com")));
        assert!(!p.may_answer(&email("slack:U024BE7LH")), "a Slack id is not an email approver");
        assert!(!p.may_answer(&email("netops@example.com.evil.example")));
        assert!(p.may_answer(&slack("U024BE7LH")));
        assert!(!p.may_answer(&slack("U999")));
        assert!(p.may_answer(&Answerer::Operator("arn:aws:iam::111122223333:role/netops".into())));
        p.approvers.clear();
        assert!(!p.may_answer(&email("netops@example.com")), "a removed approver's links stop working");
    }

    #[test]
    fn channels_are_ids_or_lower_case_names() {
        for good in ["C0123ABCD", "#netops-approvals", "#a.b_c"] {
            assert_eq!(check_slack_channel(good), Ok(()), "{good}");
        }
        for bad in ["", "#", "#Upper", "netops", "#with space", "C012;DROP"] {
            assert!(check_slack_channel(bad).is_err(), "{bad:?}");
        }
    }
}
