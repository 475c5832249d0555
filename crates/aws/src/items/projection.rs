//! The attributes a stored kind reads, asked of DynamoDB by name
//! (`ProjectionExpression`), so a query does not return, and the SDK does
//! not parse, the index keys no kind reads: four of a registry entry's
//! nineteen attributes.
//!
//! The names come from the kind's own serde derive, not from a list written
//! beside it: a field added to the item later is projected with no second
//! edit, where a hand-kept list would leave it out and every view would
//! silently read it as absent. DynamoDB still bills the whole item ("The
//! ProjectionExpression has no effect on provisioned throughput
//! consumption": Amazon DynamoDB Developer Guide, "Projection expressions in
//! DynamoDB"); what it saves is the function's CPU.

use std::collections::HashMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeOwned, Visitor};

use super::SCHEMA_ATTRIBUTE;
use crate::table::TABLE;

/// A `ProjectionExpression` and the `ExpressionAttributeNames` it uses:
/// every name goes through a placeholder, since some (`state`, `owner`,
/// `version`, `region`) are DynamoDB reserved words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Projection {
    pub expression: String,
    pub names: HashMap<String, String>,
}

impl Projection {
    /// What decoding `T` reads: its attributes, the schema version, and the
    /// table's keys, by which an error names the item. `None` when `T` is
    /// not a plain struct (a flattened or enum item names its fields only
    /// as it reads them): such a kind is read whole.
    pub(crate) fn of<T: DeserializeOwned>() -> Option<Self> {
        let fields = struct_fields::<T>()?;
        let attributes =
            [TABLE.keys.hash, TABLE.keys.range, SCHEMA_ATTRIBUTE].into_iter().chain(fields.iter().copied());
        let (placeholders, names): (Vec<String>, HashMap<String, String>) = attributes
            .enumerate()
            .map(|(n, attribute)| (format!("#a{n}"), (format!("#a{n}"), attribute.to_owned())))
            .unzip();
        let expression = placeholders.join(", ");
        Some(Self { expression, names })
    }

    /// The attribute names it asks for.
    #[cfg(test)]
    pub(crate) fn attributes(&self) -> std::collections::HashSet<&str> {
        self.names.values().map(String::as_str).collect()
    }
}

/// The field names `T`'s derive hands to `deserialize_struct`, after its
/// renames; `None` when `T` does not deserialize as a struct.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut found = None;
    // The deserializer always stops `T` with an error: only the fields matter.
    let _ = T::deserialize(FieldNames(&mut found));
    found
}

/// A deserializer that records the fields a struct asks for and stops.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("only the field names were wanted")
    }
}

impl std::error::Error for Stopped {}

impl serde::de::Error for Stopped {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stopped
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stopped;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stopped> {
        Err(Stopped)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stopped> {
        *self.0 = Some(fields);
        Err(Stopped)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Plain {
        name: String,
        #[serde(rename = "stored_as")]
        renamed: u64,
        #[serde(default)]
        optional: Option<String>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Flattened {
        name: String,
        #[serde(flatten)]
        rest: HashMap<String, String>,
    }

    #[test]
    fn a_struct_is_projected_by_its_stored_names_with_the_keys_and_version() {
        let projection = Projection::of::<Plain>().expect("a plain struct names its fields");
        let expected = ["pk", "sk", SCHEMA_ATTRIBUTE, "name", "stored_as", "optional"];
        assert_eq!(projection.attributes(), expected.into_iter().collect());
        // Every attribute once, each by its own placeholder, in order.
        assert_eq!(projection.expression, "#a0, #a1, #a2, #a3, #a4, #a5");
        assert_eq!(projection.names["#a4"], "stored_as");
    }

    #[test]
    fn a_kind_that_names_its_fields_only_as_it_reads_them_is_read_whole() {
        assert_eq!(Projection::of::<Flattened>(), None);
        assert_eq!(Projection::of::<HashMap<String, String>>(), None);
    }
}
