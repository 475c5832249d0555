//! Seeding for tests, the demo and benchmarks (feature `test-util`): these
//! write whatever is stored, without the conditions that keep concurrent
//! writers honest, so the Lambda binaries and the CLI are built without them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use gate_app::PortError;
use gate_core::{AllowEntry, RegistryEntry, ServicePolicy};

use crate::DynamoStore;
use crate::error::port_error;
use crate::items::{Item, config, registry};

impl DynamoStore {
    /// Writes a policy whatever is stored; operators go through
    /// [`gate_app::ports::ConfigStore`] and its conditional writes.
    pub async fn put_policy(&self, policy: &ServicePolicy) -> Result<(), PortError> {
        self.put(config::policy_item(policy, 1)?, "writing a policy").await
    }

    pub async fn put_entry(&self, entry: &AllowEntry) -> Result<(), PortError> {
        self.put(config::entry_item(entry, 1)?, "writing an allow entry").await
    }

    /// Writes a raw item; for tests of how malformed stored data is handled.
    pub async fn put_raw(&self, item: HashMap<String, AttributeValue>) -> Result<(), PortError> {
        self.put(item, "writing an item").await
    }

    async fn put(&self, item: Item, what: &str) -> Result<(), PortError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| port_error(format!("{what} to {} failed", self.table()), e))?;
        Ok(())
    }

    /// Writes entries as they are (no history, no conditions), 25 per
    /// BatchWriteItem, retrying what DynamoDB leaves unprocessed. For
    /// benchmarks into an empty table only.
    pub async fn seed_registry(&self, entries: &[RegistryEntry]) -> Result<(), PortError> {
        for chunk in entries.chunks(25) {
            let mut requests = Vec::new();
            for e in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(registry::entry_item(e)?))
                    .build()
                    .map_err(|e| PortError::permanent("building a registry write failed", e))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            for attempt in 0..8u32 {
                if requests.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt.min(5))).await;
                }
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(|e| port_error("seeding the registry failed", e))?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(self.table())).unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(PortError::plain("seeding the registry left items unprocessed", true));
            }
        }
        Ok(())
    }
}
