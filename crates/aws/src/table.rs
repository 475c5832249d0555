//! The table's keys, indexes and TTL, defined once: `ensure_table` creates
//! tables from it, the adapters query by it, and a test holds
//! `infra/template.yaml` to it, so a deployed table cannot drift from what
//! the code reads.

/// A key schema: the hash and range attributes, both strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keys {
    pub hash: &'static str,
    pub range: &'static str,
}

/// A global secondary index. Every index projects all attributes, since
/// reads through them decode whole items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Index {
    pub name: &'static str,
    pub keys: Keys,
}

/// The table's definition, in the terms CloudFormation and the SDK share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableSchema {
    pub keys: Keys,
    pub indexes: &'static [Index],
    /// The same for every index.
    pub projection: &'static str,
    pub billing_mode: &'static str,
    /// The attribute DynamoDB's TTL reads: notice claims set it.
    pub ttl_attribute: &'static str,
}

/// Requests by service and state; configuration under `CONFIG`; the
/// registry by service.
pub(crate) const GSI1: Index = Index { name: "gsi1", keys: Keys { hash: "gsi1pk", range: "gsi1sk" } };
/// The registry by consumer account.
pub(crate) const GSI2: Index = Index { name: "gsi2", keys: Keys { hash: "gsi2pk", range: "gsi2sk" } };

pub(crate) const TABLE: TableSchema = TableSchema {
    keys: Keys { hash: "pk", range: "sk" },
    indexes: &[GSI1, GSI2],
    projection: "ALL",
    billing_mode: "PAY_PER_REQUEST",
    ttl_attribute: "expires_at_epoch",
};

impl TableSchema {
    /// Whether `name` is a key attribute of the table or of an index.
    pub(crate) fn is_key_attribute(&self, name: &str) -> bool {
        std::iter::once(&self.keys)
            .chain(self.indexes.iter().map(|i| &i.keys))
            .any(|k| name == k.hash || name == k.range)
    }
}

#[cfg(any(test, feature = "test-util"))]
impl TableSchema {
    /// Every key attribute of the table and its indexes, each defined once
    /// (all strings).
    pub(crate) fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.keys.hash, self.keys.range];
        for index in self.indexes {
            for name in [index.keys.hash, index.keys.range] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

#[cfg(feature = "test-util")]
mod create {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
        ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    use gate_app::PortError;

    use super::{Keys, TABLE};
    use crate::DynamoStore;
    use crate::error::{code, port_error};

    fn build<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, PortError> {
        r.map_err(|e| PortError::permanent("building the table definition failed", e))
    }

    fn key_schema(keys: Keys) -> Result<Vec<KeySchemaElement>, PortError> {
        let element = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
        Ok(vec![build(element(keys.hash, KeyType::Hash))?, build(element(keys.range, KeyType::Range))?])
    }

    impl DynamoStore {
        /// Creates the table as [`TABLE`] defines it, unless it exists.
        /// Deployments get it from the SAM template; tests and the demo
        /// use this.
        pub async fn ensure_table(&self) -> Result<(), PortError> {
            let mut request = self
                .client()
                .create_table()
                .table_name(self.table())
                .billing_mode(BillingMode::from(TABLE.billing_mode))
                .set_key_schema(Some(key_schema(TABLE.keys)?));
            for name in TABLE.key_attributes() {
                let definition = AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build();
                request = request.attribute_definitions(build(definition)?);
            }
            for index in TABLE.indexes {
                let projection =
                    Projection::builder().projection_type(ProjectionType::from(TABLE.projection)).build();
                let gsi = GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .set_key_schema(Some(key_schema(index.keys)?))
                    .projection(projection)
                    .build();
                request = request.global_secondary_indexes(build(gsi)?);
            }
            match request.send().await {
                Ok(_) => {}
                Err(e) if code(&e) == Some("ResourceInUseException") => return Ok(()),
                Err(e) => return Err(port_error(format!("creating table {} failed", self.table()), e)),
            }
            let ttl =
                TimeToLiveSpecification::builder().attribute_name(TABLE.ttl_attribute).enabled(true).build();
            self.client()
                .update_time_to_live()
                .table_name(self.table())
                .time_to_live_specification(build(ttl)?)
                .send()
                .await
                .map_err(|e| port_error(format!("enabling TTL on table {} failed", self.table()), e))?;
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
