//! The policy file: the operator's policies and allowlist as reviewed code.
//!
//! ```yaml
//! version: 1
//! policies:
//!   - service: "*"                 # or vpce-svc-…
//!     unlisted: review             # review | reject
//!     overlap: reject              # ignore | review | reject
//!     protected_cidrs:
//!       - { cidr: 192.168.0.0/16, label: on-premises }
//!     unknown_cidr: review         # allow | review | reject
//!     declared_cidrs: verify       # verify | trust: may declared CIDRs stand in for an unreadable VPC
//!     unique_consumer_cidrs: false
//!     approvers: [netops@example.com, "slack:U0123ABCD"]
//!     slack_channel: "#netops-approvals"   # or a channel id; reviews are posted there
//!     approval_ttl: 3d             # s, m, h, d
//!     reminder_interval: 1d
//!     on_expiry: keep_pending      # reject | keep_pending
//!     revoke: keep                 # keep | reject: reject available connections whose allowance is gone
//!     mode: enforce                # enforce | shadow: decide and record only, act on nothing
//!     consumer_regions: [us-east-1, eu-west-1]  # default any; from elsewhere: as unlisted says
//!   - service: vpce-svc-…
//!     principals: allowlist        # or "*" or [arn:aws:iam::<account>:root, …]: who may
//!                                  # create an endpoint at all (apply sets it in EC2)
//! allow:
//!   - account: "210000000001"      # or ou: ou-… (that OU and every OU below it)
//!                                  # or organization: o-…; exactly one of the three
//!     service: "*"                 # default "*"
//!     effect: allow                # allow | deny, default allow
//!     cidrs: [10.0.0.0/16]         # declared CIDRs: a VPC CIDR outside them goes to review
//!     expires: 2027-12-31
//!     owner: team-a                # required: who vouches for this account
//!     note: payments consumers
//!     contact: { email: team-a@example.com, slack_channel: "#team-a" }  # gets decision notices
//! contacts:                        # or per account, apart from the entries
//!   - { account: "210000000002", email: team-b@example.com }
//! services:                        # managed without a stack update: apply adds each one's
//!   - vpce-svc-…                   # connection notification and tag (ids, not names)
//! ```
//!
//! A contact must name an account that some allow entry of the file names:
//! a contact for an account nobody vouches for is most likely a typo, and
//! it would send that account's notices to the wrong team.
//!
//! Every error names the file, the line and the value.

use std::collections::HashMap;
use std::fmt;

use gate_core::principals::PrincipalsSpec;
use gate_core::{
    AccountId, AllowEntry, Cidr, Contact, DeclaredCidrs, Effect, Mode, OnExpiry, OrgId, OuId, OverlapMode,
    Principal, ProtectedRange, Region, Revoke, Scope, ServiceId, ServicePolicy, Timestamp, UnknownCidr,
    Unlisted,
};
use serde::{Deserialize, Deserializer};

use crate::policy_principals::{PrincipalsDoc, principals};

/// One problem in a policy file, where it is: the file, the line when
/// known, and what is wrong with which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// The operator's configuration as the file declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub policies: Vec<ServicePolicy>,
    pub entries: Vec<AllowEntry>,
    /// One per account, from `contacts:` and the entries' `contact:`.
    pub contacts: Vec<Contact>,
    /// The services whose allowed principals the file manages.
    pub principals: Vec<(ServiceId, PrincipalsSpec)>,
    /// The endpoint services the file manages (`services:`); `None` when
    /// the file has no such list, and the managed set is left alone.
    pub services: Option<Vec<ServiceId>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    version: Option<u32>,
    #[serde(default)]
    policies: Vec<PolicyDoc>,
    #[serde(default)]
    allow: Vec<EntryDoc>,
    #[serde(default)]
    contacts: Vec<ContactDoc>,
    services: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactDoc {
    account: AccountId,
    email: Option<String>,
    slack_channel: Option<String>,
}

/// `contact:` on an allow entry: its account is the entry's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryContactDoc {
    email: Option<String>,
    slack_channel: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    service: Scope,
    unlisted: Option<Unlisted>,
    overlap: Option<OverlapMode>,
    protected_cidrs: Option<Vec<ProtectedDoc>>,
    unknown_cidr: Option<UnknownCidr>,
    declared_cidrs: Option<DeclaredCidrs>,
    unique_consumer_cidrs: Option<bool>,
    approvers: Option<Vec<String>>,
    slack_channel: Option<String>,
    approval_ttl: Option<Seconds>,
    reminder_interval: Option<Seconds>,
    on_expiry: Option<OnExpiry>,
    principals: Option<PrincipalsDoc>,
    revoke: Option<Revoke>,
    mode: Option<Mode>,
    consumer_regions: Option<Vec<Region>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectedDoc {
    cidr: Cidr,
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDoc {
    account: Option<AccountId>,
    ou: Option<OuId>,
    organization: Option<OrgId>,
    #[serde(default = "any_scope")]
    service: Scope,
    #[serde(default = "allow")]
    effect: Effect,
    #[serde(default)]
    cidrs: Vec<Cidr>,
    expires: Option<Timestamp>,
    owner: Option<String>,
    #[serde(default)]
    note: String,
    contact: Option<EntryContactDoc>,
}

fn any_scope() -> Scope {
    Scope::Any
}

fn allow() -> Effect {
    Effect::Allow
}

/// A duration written `90s`, `30m`, `12h` or `3d`.
struct Seconds(i64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map(Seconds).map_err(serde::de::Error::custom)
    }
}

/// Why a duration is refused, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum DurationError {
    #[error("{0:?} is not a duration like 90s, 30m, 12h or 3d")]
    NotADuration(String),
    #[error("{0:?} must be more than zero and at most a year")]
    OutOfRange(String),
}

fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let bad = || DurationError::NotADuration(text.to_owned());
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(secs) if secs > 0 && secs <= 365 * 86_400 => Ok(secs),
        _ => Err(DurationError::OutOfRange(text.to_owned())),
    }
}

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Parses and validates a policy file. `now` decides which expiries are past.
pub fn parse(file: &str, text: &str, now: Timestamp) -> Result<Desired, Vec<FileError>> {
    let err = |line: Option<usize>, message: String| FileError { file: file.to_owned(), line, message };
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![err(None, format!("is larger than {} bytes", MAX_FILE_BYTES))]);
    }
    let doc: Doc = match serde_norway::from_str::<Option<Doc>>(text) {
        Ok(Some(doc)) => doc,
        Ok(None) => return Err(vec![err(None, "is empty; expected `policies:` and `allow:`".into())]),
        Err(e) => {
            let message = e.to_string().split(" at line ").next().unwrap_or_default().to_owned();
            let line = e.location().map(|l| refine_line(text, l.line(), &message));
            return Err(vec![err(line, message)]);
        }
    };

    let mut errors = Vec::new();
    if let Some(v) = doc.version
        && v != 1
    {
        errors.push(err(line_of_key(text, "version"), format!("version {v} is not supported (only 1)")));
    }

    let policy_lines = item_lines(text, "policies");
    // A service policy inherits what it leaves unset from the file's `*`
    // policy, then from the cautious defaults; so `*` is read first.
    let mut docs: Vec<(usize, PolicyDoc)> = doc.policies.into_iter().enumerate().collect();
    docs.sort_by_key(|(i, p)| (p.service != Scope::Any, *i));
    let mut star: Option<ServicePolicy> = None;
    let mut policies: Vec<ServicePolicy> = Vec::new();
    let mut managed_principals = Vec::new();
    let mut seen_policies: HashMap<Scope, usize> = HashMap::new();
    for (i, p) in docs {
        let line = policy_lines.get(i).copied();
        if let Some(first) = seen_policies.insert(p.service.clone(), i) {
            errors.push(err(
                line,
                format!(
                    "a second policy for service {:?} (the first is policies[{first}])",
                    p.service.as_str()
                ),
            ));
            continue;
        }
        match (p.principals, &p.service) {
            (None, _) => {}
            (Some(_), Scope::Any) => errors.push(err(
                line,
                format!("policies[{i}] (service *): principals belong to one service's policy"),
            )),
            (Some(doc), Scope::Service(service)) => match principals(doc) {
                Ok(spec) => managed_principals.push((service.clone(), spec)),
                Err(e) => errors.push(err(line, format!("policies[{i}] (service {service}): {e}"))),
            },
        }
        let base = star.clone().unwrap_or_else(|| ServicePolicy::cautious(p.service.clone()));
        let protected = p
            .protected_cidrs
            .map(|v| v.into_iter().map(|r| ProtectedRange { cidr: r.cidr, label: r.label }).collect());
        let policy = ServicePolicy {
            scope: p.service,
            unlisted: p.unlisted.unwrap_or(base.unlisted),
            overlap: p.overlap.unwrap_or(base.overlap),
            protected_cidrs: protected.unwrap_or(base.protected_cidrs),
            unknown_cidr: p.unknown_cidr.unwrap_or(base.unknown_cidr),
            declared_cidrs: p.declared_cidrs.unwrap_or(base.declared_cidrs),
            unique_consumer_cidrs: p.unique_consumer_cidrs.unwrap_or(base.unique_consumer_cidrs),
            approvers: p.approvers.unwrap_or(base.approvers),
            slack_channel: p.slack_channel.or(base.slack_channel),
            approval_ttl_secs: p.approval_ttl.map_or(base.approval_ttl_secs, |s| s.0),
            reminder_interval_secs: p.reminder_interval.map_or(base.reminder_interval_secs, |s| s.0),
            on_expiry: p.on_expiry.unwrap_or(base.on_expiry),
            revoke: p.revoke.unwrap_or(base.revoke),
            mode: p.mode.unwrap_or(base.mode),
            consumer_regions: p.consumer_regions.clone().unwrap_or(base.consumer_regions),
        };
        let what = format!("policies[{i}] (service {})", policy.scope.as_str());
        // An empty list would read as "any region": say so, not guess.
        if p.consumer_regions.is_some_and(|r| r.is_empty()) {
            errors.push(err(
                line,
                format!("{what}: consumer_regions is empty; list regions, or leave it out for any region"),
            ));
        }
        for approver in &policy.approvers {
            if let Err(e) = gate_core::Approver::parse(approver) {
                errors.push(err(line, format!("{what}: approver {e}")));
            }
        }
        if let Some(Err(e)) = policy.slack_channel.as_deref().map(gate_core::check_slack_channel) {
            errors.push(err(line, format!("{what}: slack_channel {e}")));
        }
        if policy.scope == Scope::Any {
            star = Some(policy.clone());
        }
        policies.push(policy);
    }

    let entry_lines = item_lines(text, "allow");
    let mut entries: Vec<AllowEntry> = Vec::new();
    // Where each contact was declared, to name both when two disagree.
    let mut contacts: Vec<(Contact, String, Option<usize>)> = Vec::new();
    let mut seen_entries: HashMap<(Scope, Principal), (usize, Effect)> = HashMap::new();
    for (i, e) in doc.allow.into_iter().enumerate() {
        let line = entry_lines.get(i).copied();
        let principal = match (e.account, e.ou, e.organization) {
            (Some(a), None, None) => Principal::Account(a),
            (None, Some(o), None) => Principal::Ou(o),
            (None, None, Some(o)) => Principal::Organization(o),
            (None, None, None) => {
                errors.push(err(line, format!("allow[{i}]: names no account, ou or organization")));
                continue;
            }
            (a, o, g) => {
                let named: Vec<String> = [
                    a.map(|a| format!("account {a}")),
                    o.map(|o| format!("ou {o}")),
                    g.map(|g| format!("organization {g}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                errors.push(err(
                    line,
                    format!(
                        "allow[{i}] names {}: an entry names exactly one account, ou or organization",
                        named.join(" and ")
                    ),
                ));
                continue;
            }
        };
        let what = format!("allow[{i}] ({} on {})", principal.words(), e.service.as_str());
        if let Some((first, effect)) =
            seen_entries.insert((e.service.clone(), principal.clone()), (i, e.effect))
        {
            let message = if effect == e.effect {
                format!("{what} is listed twice (the first is allow[{first}])")
            } else {
                format!("{what}: both allow and deny for the same principal and service (see allow[{first}])")
            };
            errors.push(err(line, message));
            continue;
        }
        if let Some(t) = e.expires
            && t <= now
        {
            errors.push(err(line, format!("{what}: expires {} is in the past", t.date())));
        }
        if let Some(c) = e.contact {
            match principal.account() {
                Some(account) => {
                    let contact = Contact { account, email: c.email, slack_channel: c.slack_channel };
                    contacts.push((contact, format!("{what}: contact"), line));
                }
                // Notices go to one account's team; an OU holds many.
                None => errors.push(err(
                    line,
                    format!("{what}: only an account's entry names a contact; list the OU's accounts under contacts:"),
                )),
            }
        }
        let owner = e.owner.unwrap_or_default();
        if owner.trim().is_empty() {
            errors.push(err(line, format!("{what}: owner is required (who vouches for these accounts)")));
        }
        entries.push(AllowEntry {
            scope: e.service,
            principal,
            effect: e.effect,
            declared_cidrs: e.cidrs,
            expires_at: e.expires,
            owner,
            note: e.note,
            added_by: String::new(),
            added_at: None,
        });
    }
    let contact_lines = item_lines(text, "contacts");
    for (i, c) in doc.contacts.into_iter().enumerate() {
        let what = format!("contacts[{i}] (account {})", c.account);
        let contact = Contact { account: c.account, email: c.email, slack_channel: c.slack_channel };
        contacts.push((contact, what, contact_lines.get(i).copied()));
    }
    let contacts = check_contacts(contacts, &entries, &mut |line, message| errors.push(err(line, message)));
    let service_lines = item_lines(text, "services");
    let services = doc.services.map(|listed| {
        crate::policy_services::services(listed, &service_lines, &mut |line, message| {
            errors.push(err(line, message))
        })
    });
    if errors.is_empty() {
        Ok(Desired { policies, entries, contacts, principals: managed_principals, services })
    } else {
        Err(errors)
    }
}

/// One contact per account, with valid addresses, for an account some
/// entry names (or may cover: an OU or organization entry); problems go to
/// `error` naming where the contact is.
fn check_contacts(
    found: Vec<(Contact, String, Option<usize>)>,
    entries: &[AllowEntry],
    error: &mut dyn FnMut(Option<usize>, String),
) -> Vec<Contact> {
    let mut out: Vec<(Contact, String)> = Vec::new();
    for (contact, what, line) in found {
        let problems = contact.problems();
        for p in &problems {
            error(line, format!("{what}: {p}"));
        }
        // An account under an OU or organization entry cannot be checked
        // here; without such entries, a contact nobody vouches for is a typo.
        let vouched = entries.iter().any(|e| e.principal.account().is_none_or(|a| a == contact.account));
        if !vouched {
            error(
                line,
                format!(
                    "{what}: account {} is on no allow entry of this file; a contact for an account \
                     nobody vouches for is most likely a typo",
                    contact.account
                ),
            );
            continue;
        }
        match out.iter().find(|(c, _)| c.account == contact.account) {
            Some((first, _)) if *first == contact => {}
            Some((_, first_what)) => error(
                line,
                format!(
                    "{what}: a second, different contact for account {} (see {first_what})",
                    contact.account
                ),
            ),
            None if problems.is_empty() => out.push((contact, what)),
            None => {}
        }
    }
    out.into_iter().map(|(c, _)| c).collect()
}

/// The parser places errors in a value at the start of the enclosing item;
/// the line that holds the quoted value itself is more useful.
fn refine_line(text: &str, line: usize, message: &str) -> usize {
    let quoted = message.split('"').nth(1).filter(|v| !v.is_empty());
    let found = quoted.and_then(|value| {
        text.lines()
            .enumerate()
            .skip(line.saturating_sub(1))
            .find(|(_, l)| l.contains(value))
            .map(|(i, _)| i + 1)
    });
    found.unwrap_or(line)
}

/// The 1-based line of a top-level `key:`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':')))
        .map(|i| i + 1)
}

/// The 1-based line where each item of the top-level sequence `key` starts.
fn item_lines(text: &str, key: &str) -> Vec<usize> {
    let Some(start) = line_of_key(text, key) else { return Vec::new() };
    let mut out = Vec::new();
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate().skip(start) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let depth = line.len() - trimmed.len();
        if depth == 0 && !trimmed.starts_with('-') {
            break; // the next top-level key
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            let item_indent = *indent.get_or_insert(depth);
            if depth == item_indent {
                out.push(i + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-22T12:00:00Z".parse().expect("time")
    }

    const GOOD: &str = r#"
version: 1
policies:
  - service: "*"
    overlap: reject
    protected_cidrs:
      - { cidr: 192.168.0.0/16, label: on-premises }
    approvers: [netops@example.com]
    approval_ttl: 2d
  - service: vpce-svc-0abc1234def567890
    unlisted: reject
allow:
  - account: "210000000001"
    cidrs: [10.0.0.0/16]
    expires: 2027-12-31
    owner: team-a
    note: payments consumers
  - account: "210000000009"
    effect: deny
    owner: secops
"#;

    #[test]
    fn a_complete_file_parses_with_defaults_filled_in() {
        let d = parse("policy.yaml", GOOD, now()).expect("valid");
        assert_eq!(d.policies.len(), 2);
        assert_eq!(d.policies[0].overlap, OverlapMode::Reject);
        assert_eq!(d.policies[0].approval_ttl_secs, 2 * 86_400);
        assert_eq!(d.policies[1].unlisted, Unlisted::Reject);
        assert_eq!(d.policies[1].overlap, OverlapMode::Reject, "unset fields inherit from the * policy");
        assert_eq!(d.policies[1].protected_cidrs, d.policies[0].protected_cidrs);
        assert_eq!(d.policies[1].approvers, vec!["netops@example.com".to_string()]);
        assert_eq!(d.policies[1].approval_ttl_secs, 2 * 86_400);
        assert_eq!(d.entries[0].scope, Scope::Any);
        assert_eq!(d.entries[1].effect, Effect::Deny);
    }

    #[test]
    fn a_service_may_manage_its_allowed_principals_and_star_may_not() {
        let file = "policies:\n  - service: vpce-svc-0abc1234def567890\n    principals: allowlist\n\
                    \x20 - service: vpce-svc-0fff1234def567890\n    principals: [\"arn:aws:iam::210000000001:root\"]\n";
        let d = parse("p.yaml", file, now()).expect("valid");
        let specs: Vec<&PrincipalsSpec> = d.principals.iter().map(|(_, p)| p).collect();
        assert_eq!(specs[0], &PrincipalsSpec::Allowlist);
        assert_eq!(specs[1], &PrincipalsSpec::Listed(vec!["arn:aws:iam::210000000001:root".into()]));
        assert!(parse("p.yaml", GOOD, now()).expect("valid").principals.is_empty(), "unmanaged unless named");

        let star = parse("p.yaml", "policies:\n  - service: \"*\"\n    principals: \"*\"\n", now());
        let e = star.expect_err("star").remove(0).to_string();
        assert_eq!(e, "p.yaml:2: policies[0] (service *): principals belong to one service's policy");
        let bad = parse(
            "p.yaml",
            "policies:\n  - service: vpce-svc-0abc1234def567890\n    principals: all\n",
            now(),
        );
        let e = bad.expect_err("bad word").remove(0).to_string();
        assert!(
            e.starts_with("p.yaml:2: policies[0] (service vpce-svc-0abc1234def567890): principals \"all\""),
            "{e}"
        );
    }

    #[test]
    fn item_lines_follow_the_file() {
        assert_eq!(item_lines(GOOD, "policies"), vec![4, 10]);
        assert_eq!(item_lines(GOOD, "allow"), vec![13, 18]);
    }

    fn parse_allow(allow: &str) -> Result<Desired, Vec<FileError>> {
        parse("policy.yaml", &format!("version: 1\nallow:\n{allow}"), now())
    }

    fn one_error(allow: &str) -> String {
        match parse_allow(allow) {
            Ok(d) => panic!("accepted {allow:?}: {d:?}"),
            Err(errors) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                errors[0].to_string()
            }
        }
    }

    #[test]
    fn ou_and_organization_entries_parse() {
        let d = parse_allow(
            "  - ou: ou-ab12-cd34ef56\n    service: vpce-svc-0abc1234def567890\n    owner: team-a\n\
             \x20 - organization: o-abcdef1234\n    effect: deny\n    owner: secops\n",
        )
        .expect("valid");
        assert_eq!(d.entries[0].principal, Principal::Ou("ou-ab12-cd34ef56".parse().expect("ou")));
        assert_eq!(d.entries[1].principal, Principal::Organization("o-abcdef1234".parse().expect("org")));
        assert_eq!(d.entries[1].effect, Effect::Deny);
    }

    #[test]
    fn malformed_ou_and_organization_ids_are_refused_by_name() {
        for (allow, names) in [
            ("  - ou: ou-AB12-cd34ef56\n    owner: a\n", "\"ou-AB12-cd34ef56\" is not a valid OU id"),
            ("  - ou: ou-ab12\n    owner: a\n", "\"ou-ab12\" is not a valid OU id"),
            ("  - ou: o-abcdef1234\n    owner: a\n", "\"o-abcdef1234\" is not a valid OU id"),
            ("  - organization: o-short\n    owner: a\n", "\"o-short\" is not a valid organization id"),
            ("  - organization: ou-ab12-cd34ef56\n    owner: a\n", "is not a valid organization id"),
            ("  - organization: r-ab12\n    owner: a\n", "\"r-ab12\" is not a valid organization id"),
            ("  - ou: [ou-ab12-cd34ef56]\n    owner: a\n", "invalid type"),
            ("  - ou: 1234\n    owner: a\n", "\"1234\" is not a valid OU id"),
        ] {
            let shown = one_error(allow);
            assert!(shown.starts_with("policy.yaml:"), "{shown}");
            assert!(shown.contains(names), "{allow:?} gave {shown}");
        }
    }

    #[test]
    fn an_entry_names_exactly_one_principal() {
        let both = one_error("  - account: \"210000000001\"\n    ou: ou-ab12-cd34ef56\n    owner: a\n");
        assert_eq!(
            both,
            "policy.yaml:3: allow[0] names account 210000000001 and ou ou-ab12-cd34ef56: an entry names \
             exactly one account, ou or organization"
        );
        let three = one_error(
            "  - account: \"210000000001\"\n    ou: ou-ab12-cd34ef56\n    organization: o-abcdef1234\n    owner: a\n",
        );
        assert!(three.contains("and organization o-abcdef1234"), "{three}");
        let none = one_error("  - service: \"*\"\n    owner: a\n");
        assert_eq!(none, "policy.yaml:3: allow[0]: names no account, ou or organization");
        let typo = one_error("  - org: o-abcdef1234\n    owner: a\n");
        assert!(typo.contains("unknown field `org`"), "{typo}");
    }

    #[test]
    fn an_ou_listed_twice_or_both_allowed_and_denied_is_refused() {
        let twice =
            one_error("  - ou: ou-ab12-cd34ef56\n    owner: a\n  - ou: ou-ab12-cd34ef56\n    owner: b\n");
        assert!(twice.contains("allow[1] (OU ou-ab12-cd34ef56 on *) is listed twice"), "{twice}");
        let both = one_error(
            "  - organization: o-abcdef1234\n    owner: a\n  - organization: o-abcdef1234\n    effect: deny\n    owner: b\n",
        );
        assert!(both.contains("both allow and deny for the same principal"), "{both}");
        let unowned = one_error("  - ou: ou-ab12-cd34ef56\n");
        assert!(unowned.contains("allow[0] (OU ou-ab12-cd34ef56 on *): owner is required"), "{unowned}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("3d"), Ok(259_200));
        for bad in ["", "d", "3", "3w", "-3d", "0h", "400d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contacts_come_from_entries_and_the_contacts_list() {
        let text = GOOD.replace(
            "    note: payments consumers\n",
            "    note: payments consumers\n    contact: { email: team-a@example.com }\n",
        ) + "contacts:\n  - { account: \"210000000009\", slack_channel: \"#team-nine\" }\n  - account: \"210000000001\"\n    email: team-a@example.com\n";
        let d = parse("policy.yaml", &text, now()).expect("valid");
        assert_eq!(d.contacts.len(), 2, "{:?}", d.contacts);
        let a = d.contacts.iter().find(|c| c.account.as_str() == "210000000001").expect("a");
        assert_eq!(a.email.as_deref(), Some("team-a@example.com"));
        assert_eq!(a.slack_channel, None);
        let nine = d.contacts.iter().find(|c| c.account.as_str() == "210000000009").expect("nine");
        assert_eq!(nine.slack_channel.as_deref(), Some("#team-nine"));
    }

    /// Each hostile contact is refused with an error naming the value and
    /// where it is; nothing is applied from a file with any error.
    #[test]
    fn hostile_contacts_are_refused_naming_the_input() {
        let with = |contacts: &str| format!("{GOOD}contacts:\n{contacts}");
        let cases: &[(&str, &[&str])] = &[
            (
                "  - { account: \"210000000001\", email: not-an-email }\n",
                &["contacts[0]", "\"not-an-email\""],
            ),
            (
                "  - { account: \"210000000001\", email: \"a@b.com, evil@x.com\" }\n",
                &["\"a@b.com, evil@x.com\""],
            ),
            ("  - { account: \"210000000001\", email: \"slack:U0123ABCD\" }\n", &["\"slack:U0123ABCD\""]),
            (
                "  - { account: \"210000000001\", slack_channel: \"#Team A\" }\n",
                &["slack_channel", "\"#Team A\""],
            ),
            ("  - { account: \"210000000001\", slack_channel: \"<!channel>\" }\n", &["\"<!channel>\""]),
            ("  - { account: \"210000000001\" }\n", &["contacts[0]", "neither"]),
            (
                "  - { account: \"299999999999\", email: x@example.com }\n",
                &["299999999999", "no allow entry"],
            ),
            ("  - { account: \"12345\", email: x@example.com }\n", &["12345"]),
            ("  - { account: \"210000000001\", email: x@example.com, phone: 555 }\n", &["phone"]),
            (
                "  - { account: \"210000000001\", email: x@example.com }\n  - { account: \"210000000001\", email: y@example.com }\n",
                &["contacts[1]", "second, different contact", "contacts[0]"],
            ),
        ];
        for (contacts, needles) in cases {
            let errors = parse("policy.yaml", &with(contacts), now()).expect_err(contacts);
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let shown = shown.join("\n");
            assert!(shown.starts_with("policy.yaml:"), "{shown}");
            for needle in *needles {
                assert!(shown.contains(needle), "{contacts}: {needle} not in {shown}");
            }
        }
        // A contact on the entry and one in the list that disagree.
        let text = GOOD.replace(
            "    note: payments consumers\n",
            "    note: payments consumers\n    contact: { email: team-a@example.com }\n",
        ) + "contacts:\n  - { account: \"210000000001\", email: mallory@example.com }\n";
        let errors = parse("policy.yaml", &text, now()).expect_err("disagree");
        assert!(errors[0].to_string().contains("allow[0]"), "{}", errors[0]);
    }

    #[test]
    fn revoke_defaults_to_keep_and_is_inherited_from_the_star_policy() {
        let d = parse("policy.yaml", GOOD, now()).expect("valid");
        assert!(d.policies.iter().all(|p| p.revoke == Revoke::Keep));
        let text = GOOD.replace("    approval_ttl: 2d\n", "    approval_ttl: 2d\n    revoke: reject\n");
        let d = parse("policy.yaml", &text, now()).expect("valid");
        assert_eq!(d.policies[0].revoke, Revoke::Reject);
        assert_eq!(d.policies[1].revoke, Revoke::Reject, "a service inherits the * policy's revoke");
        let text = text.replace("    unlisted: reject\n", "    unlisted: reject\n    revoke: keep\n");
        assert_eq!(parse("policy.yaml", &text, now()).expect("valid").policies[1].revoke, Revoke::Keep);
    }

    #[test]
    fn hostile_revoke_values_are_refused_naming_the_input() {
        for bad in ["yes", "true", "Reject", "\"reject \"", "[reject]", "{ reject: true }", "revoke", "\"\""]
        {
            let text =
                GOOD.replace("    approval_ttl: 2d\n", &format!("    approval_ttl: 2d\n    revoke: {bad}\n"));
            let errors = parse("policy.yaml", &text, now()).expect_err(bad);
            let shown = errors[0].to_string();
            assert!(shown.starts_with("policy.yaml:"), "{bad}: {shown}");
            assert!(shown.contains("revoke") || shown.contains("keep"), "{bad}: {shown}");
        }
    }

    #[test]
    fn mode_defaults_to_enforce_and_is_inherited_from_the_star_policy() {
        let d = parse("policy.yaml", GOOD, now()).expect("valid");
        assert!(d.policies.iter().all(|p| p.mode == Mode::Enforce));
        let text = GOOD.replace("    approval_ttl: 2d\n", "    approval_ttl: 2d\n    mode: shadow\n");
        let d = parse("policy.yaml", &text, now()).expect("valid");
        assert_eq!(d.policies[0].mode, Mode::Shadow);
        assert_eq!(d.policies[1].mode, Mode::Shadow, "a service inherits the * policy's mode");
        let text = text.replace("    unlisted: reject\n", "    unlisted: reject\n    mode: enforce\n");
        assert_eq!(parse("policy.yaml", &text, now()).expect("valid").policies[1].mode, Mode::Enforce);
    }

    #[test]
    fn hostile_mode_values_are_refused_naming_the_input() {
        // Anything but the two words is refused: a typo must never be read
        // as either mode (enforce by mistake acts; shadow by mistake stops).
        for bad in [
            "Shadow",
            "SHADOW",
            "shadow ",
            "\"shadow\\u0000\"",
            "dry_run",
            "dry-run",
            "off",
            "true",
            "false",
            "~",
            "[shadow]",
            "{ shadow: true }",
            "\"\"",
            "1",
        ] {
            let text =
                GOOD.replace("    approval_ttl: 2d\n", &format!("    approval_ttl: 2d\n    mode: {bad}\n"));
            match parse("policy.yaml", &text, now()) {
                Ok(d) if bad == "~" || bad == "shadow " => {
                    // YAML's null leaves the field unset, and trailing
                    // blanks are not part of a plain scalar: both are
                    // what they read as, never something else.
                    let want = if bad == "~" { Mode::Enforce } else { Mode::Shadow };
                    assert_eq!(d.policies[0].mode, want, "{bad:?}");
                }
                Ok(_) => panic!("{bad:?} was accepted as a mode"),
                Err(errors) => {
                    let shown = errors[0].to_string();
                    assert!(shown.starts_with("policy.yaml:"), "{bad}: {shown}");
                    assert!(shown.contains("mode") || shown.contains("enforce"), "{bad}: {shown}");
                }
            }
        }
    }

    #[test]
    fn problems_are_errors_naming_the_file_line_and_value() {
        let text = GOOD.replace("approval_ttl: 2d", "approval_ttl: 3w");
        let errors = parse("policy.yaml", &text, now()).expect_err("refused");
        let first: &dyn std::error::Error = &errors[0];
        let shown = first.to_string();
        assert!(shown.starts_with("policy.yaml:9:") && shown.contains("\"3w\" is not a duration"), "{shown}");
    }

    mod regions;
}
