//! The operator's configuration: policy and allow-entry items. Both carry
//! the revision of their last write and sit in `gsi1` under `CONFIG`, so
//! the whole configuration is one query.

use gate_app::PortError;
use gate_app::ports::Versioned;
use gate_core::{AllowEntry, Mode, Principal, ProtectedRange, Revoke, Scope, ServicePolicy};
use serde::{Deserialize, Serialize};

use super::names::{Named, named};
use super::{BadAttribute, Item, Stored, decode, encode, key, parse, parse_all, parse_opt, s};

pub(crate) const CONFIG: &str = "CONFIG";
/// The `gsi1sk` prefix of policies among the configuration.
pub(crate) const POLICY_SORT_PREFIX: &str = "POLICY#";

pub(crate) fn policy_key(scope: &Scope) -> Item {
    key(format!("POLICY#{scope}"), "POLICY")
}

pub(crate) fn entry_key(scope: &Scope, principal: &Principal) -> Item {
    let sort = match principal {
        Principal::Account(a) => format!("ACCOUNT#{a}"),
        Principal::Ou(o) => format!("OU#{o}"),
        Principal::Organization(o) => format!("ORG#{o}"),
    };
    key(format!("ALLOW#{scope}"), sort)
}

/// Whether a configuration item is a policy (else an allow entry).
pub(crate) fn is_policy(item: &Item) -> bool {
    item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "POLICY")
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PolicyItem {
    scope: String,
    unlisted: String,
    overlap: String,
    protected_cidrs: Vec<ProtectedItem>,
    unknown_cidr: String,
    /// Absent in policies written before declared CIDRs could be trusted.
    #[serde(default)]
    declared_cidrs: Option<String>,
    unique_consumer_cidrs: bool,
    approvers: Vec<String>,
    slack_channel: Option<String>,
    approval_ttl_secs: i64,
    reminder_interval_secs: i64,
    on_expiry: String,
    /// Absent in policies written before revocation, and whenever it is
    /// `keep`: such items keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoke: Option<String>,
    /// Absent in policies written before shadow mode, and whenever it is
    /// `enforce`. A shadow policy is stamped schema 3: a build that does not
    /// know the mode refuses it instead of enforcing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    /// Absent in policies written before cross-region consumers, and
    /// whenever any region may connect: such items keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumer_regions: Option<Vec<String>>,
    /// Absent on items written by hand; such an item reads as revision 0.
    #[serde(default)]
    revision: u64,
}

#[derive(Serialize, Deserialize)]
struct ProtectedItem {
    cidr: String,
    #[serde(default)]
    label: String,
}

impl Stored for PolicyItem {
    type Domain = Versioned<ServicePolicy>;

    fn from_domain(v: &Versioned<ServicePolicy>) -> Self {
        let p = &v.value;
        Self {
            scope: p.scope.to_string(),
            unlisted: p.unlisted.name().to_owned(),
            overlap: p.overlap.name().to_owned(),
            protected_cidrs: p
                .protected_cidrs
                .iter()
                .map(|r| ProtectedItem { cidr: r.cidr.to_string(), label: r.label.clone() })
                .collect(),
            unknown_cidr: p.unknown_cidr.name().to_owned(),
            declared_cidrs: Some(p.declared_cidrs.name().to_owned()),
            unique_consumer_cidrs: p.unique_consumer_cidrs,
            approvers: p.approvers.clone(),
            slack_channel: p.slack_channel.clone(),
            approval_ttl_secs: p.approval_ttl_secs,
            reminder_interval_secs: p.reminder_interval_secs,
            on_expiry: p.on_expiry.name().to_owned(),
            revoke: (p.revoke != Revoke::Keep).then(|| p.revoke.name().to_owned()),
            mode: (p.mode != Mode::Enforce).then(|| p.mode.name().to_owned()),
            consumer_regions: (!p.consumer_regions.is_empty())
                .then(|| p.consumer_regions.iter().map(ToString::to_string).collect()),
            revision: v.revision,
        }
    }

    fn into_domain(self) -> Result<Versioned<ServicePolicy>, BadAttribute> {
        let protected_cidrs = self
            .protected_cidrs
            .into_iter()
            .map(|r| Ok(ProtectedRange { cidr: parse("protected_cidrs", &r.cidr)?, label: r.label }))
            .collect::<Result<_, BadAttribute>>()?;
        let value = ServicePolicy {
            scope: parse("scope", &self.scope)?,
            unlisted: named("unlisted", &self.unlisted)?,
            overlap: named("overlap", &self.overlap)?,
            protected_cidrs,
            unknown_cidr: named("unknown_cidr", &self.unknown_cidr)?,
            declared_cidrs: match self.declared_cidrs {
                Some(name) => named("declared_cidrs", &name)?,
                None => Default::default(),
            },
            unique_consumer_cidrs: self.unique_consumer_cidrs,
            approvers: self.approvers,
            slack_channel: self.slack_channel,
            approval_ttl_secs: self.approval_ttl_secs,
            reminder_interval_secs: self.reminder_interval_secs,
            on_expiry: named("on_expiry", &self.on_expiry)?,
            revoke: match self.revoke {
                Some(name) => named("revoke", &name)?,
                None => Revoke::Keep,
            },
            mode: match self.mode {
                Some(name) => named("mode", &name)?,
                None => Mode::Enforce,
            },
            consumer_regions: self
                .consumer_regions
                .unwrap_or_default()
                .iter()
                .map(|r| parse("consumer_regions", r))
                .collect::<Result<_, BadAttribute>>()?,
        };
        Ok(Versioned { value, revision: self.revision })
    }

    fn schema_version(v: &Versioned<ServicePolicy>) -> u64 {
        if v.value.mode == Mode::Enforce { 1 } else { 3 }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct EntryItem {
    scope: String,
    /// Exactly one of `account` (schema 1), `ou` or `organization` (schema 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ou: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    effect: String,
    #[serde(default)]
    declared_cidrs: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    added_by: String,
    #[serde(default)]
    added_at: Option<String>,
    #[serde(default)]
    revision: u64,
}

impl Stored for EntryItem {
    type Domain = Versioned<AllowEntry>;

    fn from_domain(v: &Versioned<AllowEntry>) -> Self {
        let e = &v.value;
        Self {
            scope: e.scope.to_string(),
            account: e.principal.account().map(|a| a.to_string()),
            ou: matches!(e.principal, Principal::Ou(_)).then(|| e.principal.to_string()),
            organization: matches!(e.principal, Principal::Organization(_)).then(|| e.principal.to_string()),
            effect: e.effect.name().to_owned(),
            declared_cidrs: e.declared_cidrs.iter().map(ToString::to_string).collect(),
            expires_at: e.expires_at.map(|t| t.to_string()),
            owner: e.owner.clone(),
            note: e.note.clone(),
            added_by: e.added_by.clone(),
            added_at: e.added_at.map(|t| t.to_string()),
            revision: v.revision,
        }
    }

    fn into_domain(self) -> Result<Versioned<AllowEntry>, BadAttribute> {
        let principal = match (self.account, self.ou, self.organization) {
            (Some(a), None, None) => Principal::Account(parse("account", &a)?),
            (None, Some(o), None) => Principal::Ou(parse("ou", &o)?),
            (None, None, Some(o)) => Principal::Organization(parse("organization", &o)?),
            _ => {
                return Err(BadAttribute {
                    attribute: String::new(),
                    why: "an allow entry holds exactly one of account, ou and organization".into(),
                });
            }
        };
        let value = AllowEntry {
            scope: parse("scope", &self.scope)?,
            principal,
            effect: named("effect", &self.effect)?,
            declared_cidrs: parse_all("declared_cidrs", &self.declared_cidrs)?,
            expires_at: parse_opt("expires_at", self.expires_at.as_deref())?,
            owner: self.owner,
            note: self.note,
            added_by: self.added_by,
            added_at: parse_opt("added_at", self.added_at.as_deref())?,
        };
        Ok(Versioned { value, revision: self.revision })
    }

    fn schema_version(v: &Versioned<AllowEntry>) -> u64 {
        if v.value.principal.account().is_some() { 1 } else { 2 }
    }
}

fn in_config(mut item: Item, sort: String) -> Item {
    item.insert("gsi1pk".into(), s(CONFIG));
    item.insert("gsi1sk".into(), s(sort));
    item
}

pub(crate) fn policy_item(policy: &ServicePolicy, revision: u64) -> Result<Item, PortError> {
    let versioned = Versioned { value: policy.clone(), revision };
    let item = encode::<PolicyItem>(&versioned, policy_key(&policy.scope))?;
    Ok(in_config(item, format!("{POLICY_SORT_PREFIX}{}", policy.scope)))
}

pub(crate) fn entry_item(entry: &AllowEntry, revision: u64) -> Result<Item, PortError> {
    let versioned = Versioned { value: entry.clone(), revision };
    let item = encode::<EntryItem>(&versioned, entry_key(&entry.scope, &entry.principal))?;
    Ok(in_config(item, format!("ALLOW#{}#{}", entry.scope, entry.principal)))
}

pub(crate) fn policy_from(item: Item) -> Result<Versioned<ServicePolicy>, PortError> {
    decode::<PolicyItem>(item)
}

pub(crate) fn entry_from(item: Item) -> Result<Versioned<AllowEntry>, PortError> {
    decode::<EntryItem>(item)
}
