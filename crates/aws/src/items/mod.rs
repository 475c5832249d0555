//! The table's stored format, owned here rather than by core's serde
//! derives: one item type per stored kind, explicit conversions to and
//! from the domain, and a schema version on every item. Renaming a field
//! or a variant in core then fails to compile here instead of silently
//! changing what is stored. `tests/golden/` holds an item of every kind as
//! written before the version existed; they must keep reading. Registry
//! entries, which a view reads a thousand at a time, are read by hand
//! against their derive (`registry::entry_from`); every other kind through
//! serde.
//!
//! | item          | pk                  | sk                      | gsi1pk          | gsi1sk              |
//! |---------------|---------------------|-------------------------|-----------------|---------------------|
//! | policy        | `POLICY#<scope>`    | `POLICY`                | `CONFIG`        | `POLICY#<scope>`    |
//! | allow entry   | `ALLOW#<scope>`     | `ACCOUNT#<account>`     | `CONFIG`        | `ALLOW#<scope>#<account>` |
//! | OU entry (v2) | `ALLOW#<scope>`     | `OU#<ou-…>`             | `CONFIG`        | `ALLOW#<scope>#<ou-…>` |
//! | org entry (v2)| `ALLOW#<scope>`     | `ORG#<o-…>`             | `CONFIG`        | `ALLOW#<scope>#<o-…>` |
//! | request       | `REQUEST#<vpce>`    | `REQUEST`               | `SERVICE#<svc>` | `<state>#<vpce>`    |
//! | audit event   | `AUDIT#<vpce or ->` | `<nanos>#<seq>#<kind>`  |                 |                     |
//! | registry      | `ENDPOINT#<vpce>`   | `ENTRY`                 | `REGSVC#<svc>`  | `<view>#<vpce>`     |
//! | its changes   | `ENDPOINT#<vpce>`   | `CHANGE#<version>`      |                 |                     |
//! | sweep cursor  | `SWEEP#<sweep>`     | `CURSOR`                |                 |                     |
//! | principals set| `PRINCIPALS#<svc>`  | `APPLIED`               | `PRINCIPALS`    | `<svc>`             |
//! | shadow verdict| `SHADOW#<vpce>`     | `VERDICT`               | `SHADOW`        | `<svc>#<vpce>`      |
//! | CIDR claims   | `CIDRS#<svc>`       | `CLAIMS`                |                 |                     |
//!
//! Contacts and notice claims: `contact.rs`.
//!
//! Registry entries are also in `gsi2` (`REGACCT#<account>`, `<view>#<vpce>`),
//! where `<view>` is `active` or `history`, so the active view of an account
//! or a service is one query on a key prefix.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::table::TABLE;

pub(crate) mod audit;
pub(crate) mod checkpoint;
pub(crate) mod cidr_claims;
pub(crate) mod config;
pub(crate) mod contact;
#[cfg(test)]
mod golden;
mod names;
pub(crate) mod principals;
pub(crate) mod projection;
pub(crate) mod registry;
pub(crate) mod request;
pub(crate) mod services;
pub(crate) mod shadow;
#[cfg(test)]
mod tests;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The newest format this code reads. Items without the attribute were
/// written before it existed and are version 1. Version 2 is an allow entry
/// naming an OU or the organization: a build that reads only 1 refuses it
/// by its version instead of misreading it. Version 3 is a policy in
/// `mode: shadow`: a build that does not know the mode would enforce it.
/// Every other item is still written as 1, so older builds keep reading them.
pub(crate) const SCHEMA_VERSION: u64 = 3;
pub(crate) const SCHEMA_ATTRIBUTE: &str = "schema_version";

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// One attribute of a stored item that does not hold what its kind needs
/// (`attribute` is empty when the item as a whole lacks one).
#[derive(Debug, thiserror::Error)]
#[error("{}{why}", if attribute.is_empty() { String::new() } else { format!("attribute {attribute}: ") })]
pub(crate) struct BadAttribute {
    pub attribute: String,
    pub why: String,
}

/// Parses a string attribute with the domain's own validation; the error
/// keeps the domain's message, which names the value.
pub(crate) fn parse<T>(attribute: &'static str, text: &str) -> Result<T, BadAttribute>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse().map_err(|e: T::Err| BadAttribute { attribute: attribute.to_owned(), why: e.to_string() })
}

pub(crate) fn parse_opt<T>(attribute: &'static str, text: Option<&str>) -> Result<Option<T>, BadAttribute>
where
    T: FromStr,
    T::Err: Display,
{
    text.map(|t| parse(attribute, t)).transpose()
}

pub(crate) fn parse_all<T>(attribute: &'static str, texts: &[String]) -> Result<Vec<T>, BadAttribute>
where
    T: FromStr,
    T::Err: Display,
{
    texts.iter().map(|t| parse(attribute, t)).collect()
}

/// A stored kind's attributes (keys aside) and how they map to the domain.
pub(crate) trait Stored: Serialize + DeserializeOwned {
    type Domain;
    fn from_domain(value: &Self::Domain) -> Self;
    fn into_domain(self) -> Result<Self::Domain, BadAttribute>;
    /// The schema version an item of this value is stamped with.
    fn schema_version(_value: &Self::Domain) -> u64 {
        1
    }
}

/// The item of `value` under `keys`, stamped with the schema version.
pub(crate) fn encode<T: Stored>(value: &T::Domain, mut keys: Item) -> Result<Item, PortError> {
    let attrs: Item = serde_dynamo::to_item(T::from_domain(value))
        .map_err(|e| PortError::permanent("encoding a DynamoDB item failed", e))?;
    keys.extend(attrs);
    keys.insert(SCHEMA_ATTRIBUTE.to_owned(), AttributeValue::N(T::schema_version(value).to_string()));
    Ok(keys)
}

/// Decodes a stored item. A malformed item, or one of a schema this code
/// does not know, is a permanent error that names the item, so a bad
/// manual edit stops decisions loudly instead of being read as "no entry".
pub(crate) fn decode<T: Stored>(item: Item) -> Result<T::Domain, PortError> {
    decode_with(item, |attributes| read_attributes::<T>(attributes)?.into_domain())
}

/// [`decode`] with the attributes read by `read` instead of serde: for the
/// kinds read by the page (registry entries), where serde's general path
/// was most of the decoding. `read` must read what `T`'s derive reads.
pub(crate) fn decode_with<D>(
    mut item: Item,
    read: impl FnOnce(Item) -> Result<D, BadAttribute>,
) -> Result<D, PortError> {
    // No stored kind reads the table's or its indexes' keys, nor the
    // version: they are taken out before the kind reads the item, and the
    // keys are kept to name it in an error. One pass, comparing names:
    // a lookup by name would hash each again (a view decodes a thousand).
    let (mut pk, mut sk, mut version) = (None, None, None);
    let bookkeeping = |name: &String| name == SCHEMA_ATTRIBUTE || TABLE.is_key_attribute(name);
    for (name, value) in item.extract_if(|name, _| bookkeeping(name)) {
        match name.as_str() {
            n if n == TABLE.keys.hash => pk = Some(value),
            n if n == TABLE.keys.range => sk = Some(value),
            n if n == SCHEMA_ATTRIBUTE => version = Some(value),
            _ => {}
        }
    }
    let name = || key_name(pk.as_ref(), sk.as_ref());
    check_schema(version, name)?;
    read(item).map_err(|e| PortError::permanent(format!("stored item {} is invalid", name()), e))
}

/// The item's attributes as `T`; an error names the attribute at fault
/// (`reasons[1].rule`), which serde_dynamo's own errors do not.
fn read_attributes<T: DeserializeOwned>(item: Item) -> Result<T, BadAttribute> {
    // One pass into serde_dynamo's values: its `Item` would rebuild every
    // item's map a second time (lookup decodes 60 items per view).
    let attributes = item.into_iter().map(|(name, value)| (name, value.into())).collect();
    let deserializer =
        serde_dynamo::Deserializer::from_attribute_value(serde_dynamo::AttributeValue::M(attributes));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        // The path of a missing attribute is the item itself: `.`.
        let path = e.path().to_string();
        BadAttribute { attribute: if path == "." { String::new() } else { path }, why: e.inner().to_string() }
    })
}

/// A required attribute for a hand-written reader, with serde's wording
/// when it is missing.
pub(crate) fn required(value: Option<AttributeValue>, name: &str) -> Result<AttributeValue, BadAttribute> {
    value.ok_or_else(|| BadAttribute { attribute: String::new(), why: format!("missing field `{name}`") })
}

/// The text of a string attribute (`S`).
pub(crate) fn text(attribute: &str, value: AttributeValue) -> Result<String, BadAttribute> {
    match value {
        AttributeValue::S(text) => Ok(text),
        other => Err(wrong_type(attribute, "a string", &other)),
    }
}

/// An optional string attribute: absent or `NULL` is `None`.
pub(crate) fn opt_text(name: &str, value: Option<AttributeValue>) -> Result<Option<String>, BadAttribute> {
    match value {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(value) => text(name, value).map(Some),
    }
}

/// A whole number attribute (`N`) that is not negative.
pub(crate) fn count(attribute: &str, value: AttributeValue) -> Result<u64, BadAttribute> {
    match value {
        AttributeValue::N(n) => n.parse().map_err(|_| BadAttribute {
            attribute: attribute.to_owned(),
            why: format!("{:?} is not a whole number", n.chars().take(40).collect::<String>()),
        }),
        other => Err(wrong_type(attribute, "a number", &other)),
    }
}

pub(crate) fn wrong_type(attribute: &str, expected: &str, found: &AttributeValue) -> BadAttribute {
    let found = match found {
        AttributeValue::S(_) => "a string",
        AttributeValue::N(_) => "a number",
        AttributeValue::Bool(_) => "a boolean",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::L(_) => "a list",
        AttributeValue::M(_) => "a map",
        _ => "another type",
    };
    BadAttribute {
        attribute: attribute.to_owned(),
        why: format!("invalid type: {found}, expected {expected}"),
    }
}

/// How errors name an item: its key.
fn key_name(pk: Option<&AttributeValue>, sk: Option<&AttributeValue>) -> String {
    [pk, sk].into_iter().flatten().filter_map(|v| v.as_s().ok()).cloned().collect::<Vec<_>>().join(" / ")
}

/// Refuses an item of a schema this build does not read; `name` names it.
fn check_schema(version: Option<AttributeValue>, name: impl Fn() -> String) -> Result<(), PortError> {
    let version = match version {
        None => return Ok(()),
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        Some(_) => None,
    };
    match version {
        Some(v) if (1..=SCHEMA_VERSION).contains(&v) => Ok(()),
        Some(v) => Err(PortError::plain(
            format!("stored item {} has schema version {v}; this build reads 1 to {SCHEMA_VERSION}", name()),
            false,
        )),
        None => Err(PortError::plain(
            format!("stored item {} has a {SCHEMA_ATTRIBUTE} that is not a whole number", name()),
            false,
        )),
    }
}
