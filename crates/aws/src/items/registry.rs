//! The registry: one entry item per endpoint, found by key, by service
//! (`gsi1`) and by account (`gsi2`), and one change item per version.

use std::sync::LazyLock;

use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;
use gate_core::{AccountId, ConnectionState, DnsEntry, EndpointId, RegistryEntry, ServiceId, ViewPosition};
use serde::{Deserialize, Serialize};

use super::projection::Projection;
use super::{
    BadAttribute, Item, Stored, count, decode_with, encode, key, opt_text, parse, parse_opt, required, s,
    text, wrong_type,
};

pub(crate) const ENDPOINT_PREFIX: &str = "ENDPOINT#";
pub(crate) const CHANGE_PREFIX: &str = "CHANGE#";
/// The sort-key prefix of the active view in both indexes.
pub(crate) const ACTIVE_PREFIX: &str = "active#";
const HISTORY_PREFIX: &str = "history#";

pub(crate) fn endpoint_partition(endpoint: &EndpointId) -> String {
    format!("{ENDPOINT_PREFIX}{endpoint}")
}

pub(crate) fn entry_key(endpoint: &EndpointId) -> Item {
    key(endpoint_partition(endpoint), "ENTRY")
}

pub(crate) fn service_partition(service: &ServiceId) -> String {
    format!("REGSVC#{service}")
}

pub(crate) fn account_partition(account: AccountId) -> String {
    format!("REGACCT#{account}")
}

/// An entry's sort key in both indexes: its view, then its id, so a view
/// lists active entries first.
pub(crate) fn view_sort_key(position: &ViewPosition) -> String {
    let view = if position.history { HISTORY_PREFIX } else { ACTIVE_PREFIX };
    format!("{view}{}", position.endpoint)
}

/// The position an index sort key names; `None` when it names none.
pub(crate) fn view_position(sort_key: &str) -> Option<ViewPosition> {
    let (history, endpoint) = match sort_key.strip_prefix(ACTIVE_PREFIX) {
        Some(endpoint) => (false, endpoint),
        None => (true, sort_key.strip_prefix(HISTORY_PREFIX)?),
    };
    Some(ViewPosition { history, endpoint: endpoint.parse().ok()? })
}

/// A connection state as stored: its name, or `{"other": <what EC2 said>}`
/// for a state EC2 added after this code.
#[derive(Serialize, Deserialize)]
#[serde(untagged, expecting = "a state name, or {\"other\": <state>}")]
enum StateItem {
    Known(String),
    Other { other: String },
}

impl StateItem {
    fn from_domain(state: &ConnectionState) -> Self {
        use ConnectionState as C;
        let name = match state {
            C::PendingAcceptance => "pendingAcceptance",
            C::Pending => "pending",
            C::Available => "available",
            C::Deleting => "deleting",
            C::Deleted => "deleted",
            C::Rejected => "rejected",
            C::Failed => "failed",
            C::Expired => "expired",
            C::Other(other) => return Self::Other { other: other.clone() },
        };
        Self::Known(name.to_owned())
    }

    /// What the untagged derive reads: a name, or a map whose `other` is one.
    fn read(value: AttributeValue) -> Result<Self, BadAttribute> {
        match value {
            AttributeValue::S(name) => Ok(Self::Known(name)),
            AttributeValue::M(mut map) => match map.remove("other") {
                Some(AttributeValue::S(other)) => Ok(Self::Other { other }),
                _ => Err(BadAttribute { attribute: "state".to_owned(), why: Self::EXPECTING.to_owned() }),
            },
            other => Err(wrong_type("state", Self::EXPECTING, &other)),
        }
    }

    const EXPECTING: &str = "a state name, or {\"other\": <state>}";

    fn into_domain(self) -> Result<ConnectionState, BadAttribute> {
        use ConnectionState as C;
        let name = match self {
            Self::Other { other } => return Ok(C::Other(other)),
            Self::Known(name) => name,
        };
        Ok(match name.as_str() {
            "pendingAcceptance" => C::PendingAcceptance,
            "pending" => C::Pending,
            "available" => C::Available,
            "deleting" => C::Deleting,
            "deleted" => C::Deleted,
            "rejected" => C::Rejected,
            "failed" => C::Failed,
            "expired" => C::Expired,
            _ => {
                let shown: String = name.chars().take(80).collect();
                let why = format!("{shown:?} is not one of its stored names");
                return Err(BadAttribute { attribute: "state".to_owned(), why });
            }
        })
    }
}

#[derive(Serialize, Deserialize)]
struct DnsItem {
    dns_name: String,
    hosted_zone_id: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RegistryItem {
    endpoint: String,
    service: String,
    owner: String,
    state: StateItem,
    dns_entries: Vec<DnsItem>,
    accepted_at: Option<String>,
    accepted_by: Option<String>,
    why: String,
    first_seen: String,
    observed_at: String,
    version: u64,
    /// Absent in entries made before cross-region consumers: they keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
}

impl Stored for RegistryItem {
    type Domain = RegistryEntry;

    fn from_domain(e: &RegistryEntry) -> Self {
        Self {
            endpoint: e.endpoint.to_string(),
            service: e.service.to_string(),
            owner: e.owner.to_string(),
            state: StateItem::from_domain(&e.state),
            dns_entries: e
                .dns_entries
                .iter()
                .map(|d| DnsItem { dns_name: d.dns_name.clone(), hosted_zone_id: d.hosted_zone_id.clone() })
                .collect(),
            accepted_at: e.accepted_at.map(|t| t.to_string()),
            accepted_by: e.accepted_by.clone(),
            why: e.why.clone(),
            first_seen: e.first_seen.to_string(),
            observed_at: e.observed_at.to_string(),
            version: e.version,
            region: e.region.as_ref().map(ToString::to_string),
        }
    }

    fn into_domain(self) -> Result<RegistryEntry, BadAttribute> {
        Ok(RegistryEntry {
            endpoint: parse("endpoint", &self.endpoint)?,
            service: parse("service", &self.service)?,
            owner: parse("owner", &self.owner)?,
            state: self.state.into_domain()?,
            dns_entries: self
                .dns_entries
                .into_iter()
                .map(|d| DnsEntry { dns_name: d.dns_name, hosted_zone_id: d.hosted_zone_id })
                .collect(),
            accepted_at: parse_opt("accepted_at", self.accepted_at.as_deref())?,
            accepted_by: self.accepted_by,
            why: self.why,
            first_seen: parse("first_seen", &self.first_seen)?,
            observed_at: parse("observed_at", &self.observed_at)?,
            version: self.version,
            region: parse_opt("region", self.region.as_deref())?,
        })
    }
}

/// The entry item, in both indexes under its view (`active` or `history`).
pub(crate) fn entry_item(entry: &RegistryEntry) -> Result<Item, PortError> {
    let mut item = encode::<RegistryItem>(entry, entry_key(&entry.endpoint))?;
    let sort = view_sort_key(&ViewPosition::of(entry));
    item.insert("gsi1pk".into(), s(service_partition(&entry.service)));
    item.insert("gsi1sk".into(), s(sort.clone()));
    item.insert("gsi2pk".into(), s(account_partition(entry.owner)));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// The change item of the entry's version, beside the entry in its partition.
pub(crate) fn change_item(entry: &RegistryEntry) -> Result<Item, PortError> {
    let sk = format!("{CHANGE_PREFIX}{:010}", entry.version);
    encode::<RegistryItem>(entry, key(endpoint_partition(&entry.endpoint), sk))
}

/// An entry or change item. Read by hand rather than through serde: a
/// view decodes up to a thousand entries, and serde's general path
/// (serde_dynamo's values, then the tracked path for errors) was a quarter
/// of lookup's CPU at sixty. [`RegistryItem`]'s derive stays the
/// definition of what is written and projected;
/// `the_entry_reader_reads_what_the_derive_reads` holds the two together.
pub(crate) fn entry_from(item: Item) -> Result<RegistryEntry, PortError> {
    decode_with(item, read_entry)
}

/// The attributes an entry reads, found in one pass over the item.
#[derive(Default)]
struct EntryAttributes {
    endpoint: Option<AttributeValue>,
    service: Option<AttributeValue>,
    owner: Option<AttributeValue>,
    state: Option<AttributeValue>,
    dns_entries: Option<AttributeValue>,
    accepted_at: Option<AttributeValue>,
    accepted_by: Option<AttributeValue>,
    why: Option<AttributeValue>,
    first_seen: Option<AttributeValue>,
    observed_at: Option<AttributeValue>,
    version: Option<AttributeValue>,
    region: Option<AttributeValue>,
}

fn read_entry(item: Item) -> Result<RegistryEntry, BadAttribute> {
    let mut a = EntryAttributes::default();
    for (name, value) in item {
        let slot = match name.as_str() {
            "endpoint" => &mut a.endpoint,
            "service" => &mut a.service,
            "owner" => &mut a.owner,
            "state" => &mut a.state,
            "dns_entries" => &mut a.dns_entries,
            "accepted_at" => &mut a.accepted_at,
            "accepted_by" => &mut a.accepted_by,
            "why" => &mut a.why,
            "first_seen" => &mut a.first_seen,
            "observed_at" => &mut a.observed_at,
            "version" => &mut a.version,
            "region" => &mut a.region,
            // As the derive does: an attribute it does not know is left.
            _ => continue,
        };
        *slot = Some(value);
    }
    let string = |name: &'static str, value| required(value, name).and_then(|v| text(name, v));
    Ok(RegistryEntry {
        endpoint: parse("endpoint", &string("endpoint", a.endpoint)?)?,
        service: parse("service", &string("service", a.service)?)?,
        owner: parse("owner", &string("owner", a.owner)?)?,
        state: StateItem::read(required(a.state, "state")?)?.into_domain()?,
        dns_entries: read_dns_entries(required(a.dns_entries, "dns_entries")?)?,
        accepted_at: parse_opt("accepted_at", opt_text("accepted_at", a.accepted_at)?.as_deref())?,
        accepted_by: opt_text("accepted_by", a.accepted_by)?,
        why: string("why", a.why)?,
        first_seen: parse("first_seen", &string("first_seen", a.first_seen)?)?,
        observed_at: parse("observed_at", &string("observed_at", a.observed_at)?)?,
        version: count("version", required(a.version, "version")?)?,
        region: parse_opt("region", opt_text("region", a.region)?.as_deref())?,
    })
}

fn read_dns_entries(value: AttributeValue) -> Result<Vec<DnsEntry>, BadAttribute> {
    let AttributeValue::L(list) = value else {
        return Err(wrong_type("dns_entries", "a list", &value));
    };
    list.into_iter()
        .enumerate()
        .map(|(n, value)| {
            let at = || format!("dns_entries[{n}]");
            let AttributeValue::M(mut map) = value else {
                return Err(wrong_type(&at(), "a map of dns_name and hosted_zone_id", &value));
            };
            let mut string = |name: &'static str| {
                required(map.remove(name), name).and_then(|v| text(name, v)).map_err(|e| BadAttribute {
                    attribute: if e.attribute.is_empty() {
                        at()
                    } else {
                        format!("{}.{}", at(), e.attribute)
                    },
                    why: e.why,
                })
            };
            Ok(DnsEntry { dns_name: string("dns_name")?, hosted_zone_id: string("hosted_zone_id")? })
        })
        .collect()
}

/// What a read of entries and changes asks for: all [`entry_from`] reads,
/// without the index keys.
pub(crate) fn entry_projection() -> Option<&'static Projection> {
    static PROJECTION: LazyLock<Option<Projection>> = LazyLock::new(Projection::of::<RegistryItem>);
    PROJECTION.as_ref()
}
