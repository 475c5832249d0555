//! plan and apply: the difference between the policy file and the live
//! tables, field by field, applied with conditional writes so a change made
//! by someone else since the plan is reported, never overwritten.

mod consumers;
mod display;
mod revocations;

pub use consumers::{ConsumerSubscriptionPlan, apply_consumer_subscriptions, plan_consumer_subscriptions};
pub use revocations::{Revocation, revocations};

use std::collections::BTreeMap;
use std::fmt;

use gate_app::PortError;
use gate_app::ports::{ConfigStore, LiveConfig, Organizations};
pub use gate_app::principals::PrincipalsPlan;
pub use gate_app::services::ServicesPlan;
use gate_app::subscriptions::{ReviewTopic, Subscription, audit, email_approvers};
use gate_core::{AccountId, AllowEntry, Contact, OuId, Principal, Scope, ServicePolicy, Timestamp};
use serde::{Deserialize, Serialize};

use crate::file::Desired;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Add,
    Change,
    Remove,
}

/// What one change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    Policy {
        scope: Scope,
    },
    /// Saved as `account`, `ou` or `organization` beside the scope.
    Entry {
        scope: Scope,
        #[serde(flatten)]
        principal: Principal,
    },
    Contact {
        account: AccountId,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Policy { scope } => write!(f, "policy {}", scope.as_str()),
            Target::Entry { scope, principal } => write!(f, "entry {principal} on {}", scope.as_str()),
            Target::Contact { account } => write!(f, "contact of {account}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One item to add, change or remove, with the revision the plan saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    pub target: Target,
    pub fields: Vec<FieldChange>,
    /// The live revision when planned; `None` when the item did not exist.
    pub revision: Option<u64>,
    pub policy: Option<ServicePolicy>,
    pub entry: Option<AllowEntry>,
    /// Absent from plans saved before contacts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Live items the file no longer has; removed only with `--prune`.
    pub unmanaged: Vec<Target>,
    /// The review topic's subscriptions, when the topic was given.
    #[serde(default)]
    pub subscriptions: Option<SubscriptionPlan>,
    /// The consumer topic's subscriptions, when the topic was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_subscriptions: Option<ConsumerSubscriptionPlan>,
    /// How many accounts each OU the file names covers now, when
    /// Organizations is configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<Coverage>,
    /// The allowed principals of the services whose policy names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<PrincipalsPlan>,
    /// Available connections the next sweep revokes once this is applied
    /// (`revoke: reject`), and those it could not judge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocations: Vec<Revocation>,
    /// The managed services with their notifications and tags, when the
    /// file has `services:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServicesPlan>,
}

/// The accounts an OU entry covers now: the OU and every OU below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub ou: OuId,
    /// `None` when Organizations could not say; `error` says why.
    pub accounts: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts the accounts under each OU the file names, once per OU. A
/// failure is shown beside its OU rather than stopping the plan: the
/// count informs a reviewer, it changes nothing.
pub async fn coverage(desired: &Desired, orgs: &dyn Organizations) -> Vec<Coverage> {
    let mut ous: Vec<&OuId> = desired
        .entries
        .iter()
        .filter_map(|e| match &e.principal {
            Principal::Ou(ou) => Some(ou),
            _ => None,
        })
        .collect();
    ous.sort();
    ous.dedup();
    let mut out = Vec::new();
    for ou in ous {
        out.push(match orgs.members(&Principal::Ou(ou.clone())).await {
            Ok(members) => Coverage { ou: ou.clone(), accounts: Some(members.len()), error: None },
            Err(e) => Coverage { ou: ou.clone(), accounts: None, error: Some(e.what) },
        });
    }
    out
}

impl Plan {
    /// A live item the file no longer has: removed with `--prune`, listed
    /// as unmanaged without it.
    fn gone(&mut self, prune: bool, target: Target, fields: Vec<FieldChange>, revision: u64) {
        if prune {
            self.changes.push(Change {
                kind: Kind::Remove,
                target,
                fields,
                revision: Some(revision),
                policy: None,
                entry: None,
                contact: None,
            });
        } else {
            self.unmanaged.push(target);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.subscriptions.as_ref().is_none_or(SubscriptionPlan::is_empty)
            && self.consumer_subscriptions.as_ref().is_none_or(ConsumerSubscriptionPlan::is_empty)
            && self.principals.iter().all(PrincipalsPlan::is_empty)
            && self.services.as_ref().is_none_or(ServicesPlan::is_empty)
    }
}

/// How the review topic's subscriptions follow the approvers. A signed link
/// is a bearer token: a subscription no policy names may read approvers'
/// links, so it is always shown, and removed with `--prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionPlan {
    pub topic: String,
    /// Email approvers to subscribe, each filtering on its own address.
    pub subscribe: Vec<String>,
    /// Approvers whose subscription waits for them to confirm it.
    pub pending: Vec<String>,
    /// Subscriptions no policy names.
    pub unknown: Vec<Subscription>,
    /// Of those, the ones `apply` removes (with `--prune`).
    pub unsubscribe: Vec<String>,
}

impl SubscriptionPlan {
    pub fn is_empty(&self) -> bool {
        self.subscribe.is_empty() && self.unsubscribe.is_empty()
    }
}

/// The subscriptions the policies after this apply call for: the file's,
/// and without `--prune` the live policies it leaves in place.
pub fn plan_subscriptions(
    desired: &Desired,
    live: &LiveConfig,
    topic: &str,
    subscriptions: &[Subscription],
    prune: bool,
) -> SubscriptionPlan {
    let kept = live
        .policies
        .iter()
        .filter(|l| !prune && !desired.policies.iter().any(|p| p.scope == l.value.scope))
        .map(|l| &l.value);
    let approvers = email_approvers(desired.policies.iter().chain(kept));
    let found = audit(&approvers, subscriptions);
    let unsubscribe =
        if prune { found.unknown.iter().filter_map(|s| s.arn.clone()).collect() } else { Vec::new() };
    SubscriptionPlan {
        topic: topic.to_owned(),
        subscribe: found.missing,
        pending: found.pending,
        unknown: found.unknown,
        unsubscribe,
    }
}

/// An enum as the policy file spells it.
fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Seconds as the policy file writes them: `3d`, `12h`, `30m`, `90s`.
fn duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn policy_fields(p: &ServicePolicy) -> BTreeMap<&'static str, String> {
    let protected: Vec<String> = p
        .protected_cidrs
        .iter()
        .map(|r| if r.label.is_empty() { r.cidr.to_string() } else { format!("{} ({})", r.cidr, r.label) })
        .collect();
    BTreeMap::from([
        ("unlisted", word(&p.unlisted)),
        ("overlap", word(&p.overlap)),
        ("protected_cidrs", protected.join(", ")),
        ("unknown_cidr", word(&p.unknown_cidr)),
        ("declared_cidrs", word(&p.declared_cidrs)),
        ("unique_consumer_cidrs", p.unique_consumer_cidrs.to_string()),
        ("approvers", p.approvers.join(", ")),
        ("slack_channel", p.slack_channel.clone().unwrap_or_default()),
        ("approval_ttl", duration(p.approval_ttl_secs)),
        ("reminder_interval", duration(p.reminder_interval_secs)),
        ("on_expiry", word(&p.on_expiry)),
        ("revoke", word(&p.revoke)),
        ("mode", word(&p.mode)),
    ])
}

/// Only what the file owns; who added an entry and when stay as stored.
fn entry_fields(e: &AllowEntry) -> BTreeMap<&'static str, String> {
    let cidrs: Vec<String> = e.declared_cidrs.iter().map(ToString::to_string).collect();
    BTreeMap::from([
        ("effect", e.effect.as_str().to_owned()),
        ("cidrs", cidrs.join(", ")),
        ("expires", e.expires_at.map(|t| t.to_string()).unwrap_or_default()),
        ("owner", e.owner.clone()),
        ("note", e.note.clone()),
    ])
}

fn contact_fields(c: &Contact) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("email", c.email.clone().unwrap_or_default()),
        ("slack_channel", c.slack_channel.clone().unwrap_or_default()),
    ])
}

fn field_changes(
    before: Option<BTreeMap<&str, String>>,
    after: Option<BTreeMap<&str, String>>,
) -> Vec<FieldChange> {
    let names: Vec<&str> = before.iter().chain(after.iter()).flat_map(|m| m.keys().copied()).collect();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let b = before.as_ref().and_then(|m| m.get(name)).filter(|v| !v.is_empty()).cloned();
        let a = after.as_ref().and_then(|m| m.get(name)).filter(|v| !v.is_empty()).cloned();
        if a != b {
            out.push(FieldChange { field: name.to_owned(), before: b, after: a });
        }
    }
    out
}

/// What applying `desired` to `live` would change. `actor` and `now` stamp
/// new entries with who added them.
pub fn plan(desired: &Desired, live: &LiveConfig, prune: bool, actor: &str, now: Timestamp) -> Plan {
    let mut plan = Plan::default();
    for p in &desired.policies {
        let current = live.policies.iter().find(|l| l.value.scope == p.scope);
        let fields = field_changes(current.map(|c| policy_fields(&c.value)), Some(policy_fields(p)));
        if current.is_none() || !fields.is_empty() {
            plan.changes.push(Change {
                kind: if current.is_some() { Kind::Change } else { Kind::Add },
                target: Target::Policy { scope: p.scope.clone() },
                fields,
                revision: current.map(|c| c.revision),
                policy: Some(p.clone()),
                entry: None,
                contact: None,
            });
        }
    }
    for e in &desired.entries {
        let current =
            live.entries.iter().find(|l| l.value.scope == e.scope && l.value.principal == e.principal);
        let fields = field_changes(current.map(|c| entry_fields(&c.value)), Some(entry_fields(e)));
        if current.is_none() || !fields.is_empty() {
            let mut entry = e.clone();
            match current {
                Some(c) => {
                    entry.added_by = c.value.added_by.clone();
                    entry.added_at = c.value.added_at;
                }
                None => {
                    entry.added_by = actor.to_owned();
                    entry.added_at = Some(now);
                }
            }
            plan.changes.push(Change {
                kind: if current.is_some() { Kind::Change } else { Kind::Add },
                target: Target::Entry { scope: e.scope.clone(), principal: e.principal.clone() },
                fields,
                revision: current.map(|c| c.revision),
                policy: None,
                entry: Some(entry),
                contact: None,
            });
        }
    }
    for c in &desired.contacts {
        let current = live.contacts.iter().find(|l| l.value.account == c.account);
        let fields = field_changes(current.map(|l| contact_fields(&l.value)), Some(contact_fields(c)));
        if current.is_none() || !fields.is_empty() {
            plan.changes.push(Change {
                kind: if current.is_some() { Kind::Change } else { Kind::Add },
                target: Target::Contact { account: c.account },
                fields,
                revision: current.map(|l| l.revision),
                policy: None,
                entry: None,
                contact: Some(c.clone()),
            });
        }
    }
    let gone_policies =
        live.policies.iter().filter(|l| !desired.policies.iter().any(|p| p.scope == l.value.scope));
    for l in gone_policies {
        let fields = field_changes(Some(policy_fields(&l.value)), None);
        plan.gone(prune, Target::Policy { scope: l.value.scope.clone() }, fields, l.revision);
    }
    let gone_entries = live.entries.iter().filter(|l| {
        !desired.entries.iter().any(|e| e.scope == l.value.scope && e.principal == l.value.principal)
    });
    for l in gone_entries {
        let fields = field_changes(Some(entry_fields(&l.value)), None);
        let target = Target::Entry { scope: l.value.scope.clone(), principal: l.value.principal.clone() };
        plan.gone(prune, target, fields, l.revision);
    }
    let gone_contacts =
        live.contacts.iter().filter(|l| !desired.contacts.iter().any(|c| c.account == l.value.account));
    for l in gone_contacts {
        let fields = field_changes(Some(contact_fields(&l.value)), None);
        plan.gone(prune, Target::Contact { account: l.value.account }, fields, l.revision);
    }
    plan
}

/// What an apply did: changes written, and those refused because the live
/// item changed since the plan.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    pub applied: Vec<Target>,
    pub conflicts: Vec<Target>,
    /// Approvers subscribed (each must confirm by email) and subscriptions removed.
    pub subscribed: Vec<String>,
    pub unsubscribed: Vec<String>,
    /// Contacts' subscriptions whose filter was set right.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refiltered: Vec<String>,
    /// Services whose allowed principals were set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<gate_core::ServiceId>,
    /// What was done for the managed services: tags, notifications, the list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// Makes the review topic's subscriptions what the plan says: after the
/// policies are written, so a failure here leaves the policies applied.
pub async fn apply_subscriptions(
    plan: &SubscriptionPlan,
    topic: &dyn ReviewTopic,
    done: &mut Applied,
) -> Result<(), PortError> {
    for email in &plan.subscribe {
        topic.subscribe(email).await?;
        done.subscribed.push(email.clone());
    }
    for arn in &plan.unsubscribe {
        topic.unsubscribe(arn).await?;
        done.unsubscribed.push(arn.clone());
    }
    Ok(())
}

/// Applies a plan with conditional writes. Stops at the first AWS error,
/// reporting exactly what was applied before it.
pub async fn apply(plan: &Plan, store: &dyn ConfigStore) -> Result<Applied, (Applied, PortError)> {
    let mut done = Applied::default();
    for change in &plan.changes {
        let result = match (&change.target, change.kind) {
            (Target::Policy { scope }, Kind::Remove) => {
                store.delete_policy(scope, change.revision.unwrap_or(0)).await
            }
            (Target::Entry { scope, principal }, Kind::Remove) => {
                store.delete_entry(scope, principal, change.revision.unwrap_or(0)).await
            }
            (Target::Policy { .. }, _) => match &change.policy {
                Some(p) => store.write_policy(p, change.revision).await,
                None => Ok(false),
            },
            (Target::Entry { .. }, _) => match &change.entry {
                Some(e) => store.write_entry(e, change.revision).await,
                None => Ok(false),
            },
            (Target::Contact { account }, Kind::Remove) => {
                store.delete_contact(*account, change.revision.unwrap_or(0)).await
            }
            (Target::Contact { .. }, _) => match &change.contact {
                Some(c) => store.write_contact(c, change.revision).await,
                None => Ok(false),
            },
        };
        match result {
            Ok(true) => done.applied.push(change.target.clone()),
            Ok(false) => done.conflicts.push(change.target.clone()),
            Err(e) => return Err((done, e)),
        }
    }
    Ok(done)
}
