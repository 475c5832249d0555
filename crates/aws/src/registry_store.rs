//! The registry in the single table: one entry item per endpoint, found by
//! key, by service (`gsi1`) and by account (`gsi2`), and one change item per
//! version. Every read is a key lookup or an index query on a key prefix;
//! nothing scans.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;
use gate_app::ports::{ObservationReads, PageAsk, Registry, ViewPage};
use gate_core::{AccountId, EndpointId, RegistryEntry, RequestRecord, ServiceId, ViewPosition};

use crate::dynamo::DynamoStore;
use crate::error::port_error;
use crate::items::Item;
use crate::items::registry::{
    ACTIVE_PREFIX, CHANGE_PREFIX, ENDPOINT_PREFIX, account_partition, change_item, endpoint_partition,
    entry_from, entry_item, entry_key, entry_projection, service_partition, view_position, view_sort_key,
};
use crate::items::request::{is_request, request_from, request_key};
use crate::table::{GSI1, GSI2, Index};

/// Only registry entries: other items share the partition of the index
/// only if someone wrote one by hand.
fn entries(items: Vec<Item>) -> Result<Vec<RegistryEntry>, PortError> {
    items.into_iter().map(entry_from).collect()
}

impl DynamoStore {
    /// The keys of a service's active entries (`gsi1`, keys only).
    fn active_keys(&self, service: &ServiceId) -> QueryFluentBuilder {
        self.query_on(Some(GSI1), service_partition(service), Some(ACTIVE_PREFIX.to_owned()), None)
            .projection_expression("pk")
    }

    /// One page of an account's (`gsi2`) or a service's (`gsi1`) view: one
    /// Query, from after `page.after`, whose index key is rebuilt from the
    /// position (DynamoDB's `ExclusiveStartKey` is the last item's table
    /// and index keys). The next page starts after the `LastEvaluatedKey`
    /// DynamoDB gives when it stopped at the limit or at 1 MB (Amazon
    /// DynamoDB Developer Guide, "Paginating table query results").
    async fn registry_view(
        &self,
        index: Index,
        pk: String,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError> {
        // A position in the history part is past the end of the active view.
        if !history && page.after.as_ref().is_some_and(|after| after.history) {
            return Ok(ViewPage::default());
        }
        let start = page.after.as_ref().map(|after| view_start(index, &pk, after));
        let prefix = (!history).then(|| ACTIVE_PREFIX.to_owned());
        let out = self
            .query_on(Some(index), pk, prefix, entry_projection())
            .set_exclusive_start_key(start)
            .limit(i32::try_from(page.limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| port_error(format!("Query on {} failed", self.table()), e))?;
        let next = out
            .last_evaluated_key()
            .map(|last| {
                let sort = last.get(index.keys.range).and_then(|v| v.as_s().ok());
                sort.and_then(|sort| view_position(sort)).ok_or_else(|| {
                    let what = format!("Query on {} stopped at a key that is not an entry's", self.table());
                    PortError::plain(what, false)
                })
            })
            .transpose()?;
        Ok(ViewPage { entries: entries(out.items.unwrap_or_default())?, next })
    }
}

/// DynamoDB's `ExclusiveStartKey` for a view of partition `pk` of `index`
/// that goes on after `after`: the entry's table and index keys, rebuilt
/// from the position (the entry need not exist any more).
fn view_start(index: Index, pk: &str, after: &ViewPosition) -> Item {
    let mut key = entry_key(&after.endpoint);
    key.insert(index.keys.hash.to_owned(), AttributeValue::S(pk.to_owned()));
    key.insert(index.keys.range.to_owned(), AttributeValue::S(view_sort_key(after)));
    key
}

/// The endpoint of a registry item read with keys only.
fn endpoint_of(item: &Item, service: &ServiceId) -> Result<EndpointId, PortError> {
    let pk = item.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default();
    match pk.strip_prefix(ENDPOINT_PREFIX).map(str::parse::<EndpointId>) {
        Some(Ok(id)) => Ok(id),
        _ => Err(PortError::plain(format!("registry item {pk:?} of {service} has no endpoint key"), false)),
    }
}

#[async_trait]
impl ObservationReads for DynamoStore {
    /// One consistent BatchGetItem of the two keys; the items tell
    /// themselves apart by key.
    async fn request_and_entry(
        &self,
        endpoint: &EndpointId,
    ) -> Result<(Option<RequestRecord>, Option<RegistryEntry>), PortError> {
        let keys = vec![request_key(endpoint), entry_key(endpoint)];
        let (requests, entries): (Vec<Item>, Vec<Item>) =
            self.batch_get(keys).await?.into_iter().partition(is_request);
        let request = requests.into_iter().next().map(request_from).transpose()?;
        let entry = entries.into_iter().next().map(entry_from).transpose()?;
        Ok((request, entry))
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
        out.item.map(entry_from).transpose()
    }

    async fn put(&self, entry: &RegistryEntry) -> Result<bool, PortError> {
        let (condition, values) = if entry.version <= 1 {
            ("attribute_not_exists(pk)", None)
        } else {
            let previous = AttributeValue::N((entry.version - 1).to_string());
            ("version = :previous", Some(HashMap::from([(":previous".to_owned(), previous)])))
        };
        let puts = vec![
            (entry_item(entry)?, condition, values),
            (change_item(entry)?, "attribute_not_exists(pk)", None),
        ];
        self.transact_puts(puts, format!("recording {} in the registry failed", entry.endpoint)).await
    }

    async fn by_account(
        &self,
        account: AccountId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError> {
        self.registry_view(GSI2, account_partition(account), history, page).await
    }

    async fn by_service(
        &self,
        service: &ServiceId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError> {
        self.registry_view(GSI1, service_partition(service), history, page).await
    }

    /// Only the keys come back (`ProjectionExpression`), a page of about
    /// 1 MB at a time, so a service of 100,000 endpoints costs ids, not entries.
    async fn active_ids(&self, service: &ServiceId) -> Result<Vec<EndpointId>, PortError> {
        let mut pages = self.active_keys(service).into_paginator().items().send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item =
                item.map_err(|e| port_error(format!("listing the active endpoints of {service} failed"), e))?;
            ids.push(endpoint_of(&item, service)?);
        }
        Ok(ids)
    }

    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RegistryEntry>, PortError> {
        let keys = endpoints.iter().map(entry_key).collect();
        let entries = entries(self.batch_get_projected(keys, entry_projection()).await?)?;
        Ok(entries.into_iter().map(|e| (e.endpoint.clone(), e)).collect())
    }

    /// One query page of keys only; the next starts after `after`'s index
    /// key, which is rebuilt from the id (DynamoDB's `ExclusiveStartKey` is
    /// the last item's table and index keys).
    async fn active_page(
        &self,
        service: &ServiceId,
        after: Option<&EndpointId>,
        limit: usize,
    ) -> Result<(Vec<EndpointId>, bool), PortError> {
        let start = after.map(|id| {
            let position = ViewPosition { history: false, endpoint: id.clone() };
            view_start(GSI1, &service_partition(service), &position)
        });
        let out = self
            .active_keys(service)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| port_error(format!("listing the active endpoints of {service} failed"), e))?;
        let ids = out.items().iter().map(|item| endpoint_of(item, service)).collect::<Result<_, _>>()?;
        Ok((ids, out.last_evaluated_key().is_some()))
    }

    async fn changes(&self, endpoint: &EndpointId) -> Result<Vec<RegistryEntry>, PortError> {
        let prefix = Some(CHANGE_PREFIX.to_owned());
        entries(self.query_projected(None, endpoint_partition(endpoint), prefix, entry_projection()).await?)
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
            ("test_util.rs", include_str!("test_util.rs")),
        ] {
            let calls = text.matches(&[".", "scan()"].concat()).count();
            assert_eq!(calls, 0, "{file} calls Scan");
        }
    }
}
