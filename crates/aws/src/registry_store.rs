//! The registry in the single table: one entry item per endpoint, found by
//! key, by service (`gsi1`) and by account (`gsi2`), and one change item per
//! version. Every read is a key lookup or an index query on a key prefix;
//! nothing scans.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;
use gate_app::ports::Registry;
use gate_core::{AccountId, EndpointId, RegistryEntry, ServiceId};

use crate::dynamo::{DynamoStore, GSI1, GSI2, Item, from_item, key, s, to_item};
use crate::error::port_error;

fn entry_key(endpoint: &EndpointId) -> Item {
    key(format!("ENDPOINT#{endpoint}"), "ENTRY")
}

fn view(entry: &RegistryEntry) -> &'static str {
    if entry.is_active() { "active" } else { "history" }
}

fn entry_item(entry: &RegistryEntry) -> Result<Item, PortError> {
    let mut item = to_item(entry, entry_key(&entry.endpoint))?;
    let sort = format!("{}#{}", view(entry), entry.endpoint);
    item.insert("gsi1pk".into(), s(format!("REGSVC#{}", entry.service)));
    item.insert("gsi1sk".into(), s(sort.clone()));
    item.insert("gsi2pk".into(), s(format!("REGACCT#{}", entry.owner)));
    item.insert("gsi2sk".into(), s(sort));
    Ok(item)
}

/// Only registry entries: other items share the partition of the index
/// only if someone wrote one by hand.
fn entries(items: Vec<Item>) -> Result<Vec<RegistryEntry>, PortError> {
    items.into_iter().map(from_item).collect()
}

impl DynamoStore {
    /// Writes entries as they are (no history, no conditions), 25 per
    /// BatchWriteItem, retrying what DynamoDB leaves unprocessed. For
    /// benchmarks and bulk imports into an empty table only.
    pub async fn seed_registry(&self, entries: &[RegistryEntry]) -> Result<(), PortError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in entries.chunks(25) {
            let mut requests = Vec::new();
            for e in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(entry_item(e)?))
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

    async fn registry_view(
        &self,
        index: &str,
        pk: String,
        history: bool,
    ) -> Result<Vec<RegistryEntry>, PortError> {
        let (pk_name, sk_name) = if index == GSI1 { ("gsi1pk", "gsi1sk") } else { ("gsi2pk", "gsi2sk") };
        let prefix = if history { None } else { Some((sk_name, "active#".to_owned())) };
        entries(self.query(Some(index), pk_name, pk, prefix).await?)
    }
}

#[async_trait]
impl Registry for DynamoStore {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<RegistryEntry>, PortError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(entry_key(endpoint)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("reading the registry entry of {endpoint} failed"), e))?;
        out.item.map(from_item).transpose()
    }

    async fn put(&self, entry: &RegistryEntry) -> Result<bool, PortError> {
        let (condition, values) = if entry.version <= 1 {
            ("attribute_not_exists(pk)", None)
        } else {
            let previous = AttributeValue::N((entry.version - 1).to_string());
            ("version = :previous", Some(HashMap::from([(":previous".to_owned(), previous)])))
        };
        let change = to_item(
            entry,
            key(format!("ENDPOINT#{}", entry.endpoint), format!("CHANGE#{:010}", entry.version)),
        )?;
        let puts = vec![(entry_item(entry)?, condition, values), (change, "attribute_not_exists(pk)", None)];
        self.transact_puts(puts, format!("recording {} in the registry failed", entry.endpoint)).await
    }

    async fn by_account(&self, account: AccountId, history: bool) -> Result<Vec<RegistryEntry>, PortError> {
        self.registry_view(GSI2, format!("REGACCT#{account}"), history).await
    }

    async fn by_service(&self, service: &ServiceId, history: bool) -> Result<Vec<RegistryEntry>, PortError> {
        self.registry_view(GSI1, format!("REGSVC#{service}"), history).await
    }

    /// Only the keys come back (`ProjectionExpression`), a page of about
    /// 1 MB at a time, so a service of 100,000 endpoints costs ids, not entries.
    async fn active_ids(&self, service: &ServiceId) -> Result<Vec<EndpointId>, PortError> {
        let values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(format!("REGSVC#{service}"))),
            (":prefix".to_owned(), AttributeValue::S("active#".to_owned())),
        ]);
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
            .set_expression_attribute_values(Some(values))
            .projection_expression("pk")
            .into_paginator()
            .items()
            .send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item =
                item.map_err(|e| port_error(format!("listing the active endpoints of {service} failed"), e))?;
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default();
            match pk.strip_prefix("ENDPOINT#").map(str::parse::<EndpointId>) {
                Some(Ok(id)) => ids.push(id),
                _ => {
                    return Err(PortError::plain(
                        format!("registry item {pk:?} of {service} has no endpoint key"),
                        false,
                    ));
                }
            }
        }
        Ok(ids)
    }

    async fn changes(&self, endpoint: &EndpointId) -> Result<Vec<RegistryEntry>, PortError> {
        let prefix = Some(("sk", "CHANGE#".to_owned()));
        entries(self.query(None, "pk", format!("ENDPOINT#{endpoint}"), prefix).await?)
    }
}

#[cfg(test)]
mod tests {
    /// The registry is read by key and index only: a scan of a 100k-item
    /// table would cost a full read per page view.
    #[test]
    fn no_adapter_scans_the_table() {
        for (file, text) in [
            ("dynamo.rs", include_str!("dynamo.rs")),
            ("registry_store.rs", include_str!("registry_store.rs")),
        ] {
            let calls = text.matches(&[".", "scan()"].concat()).count();
            assert_eq!(calls, 0, "{file} calls Scan");
        }
    }
}
