//! One DynamoDB table for policies, allow entries, requests and the audit.
//!
//! | item          | pk                  | sk                      | gsi1pk          | gsi1sk              |
//! |---------------|---------------------|-------------------------|-----------------|---------------------|
//! | policy        | `POLICY#<scope>`    | `POLICY`                |                 |                     |
//! | allow entry   | `ALLOW#<scope>`     | `ACCOUNT#<account>`     |                 |                     |
//! | request       | `REQUEST#<vpce>`    | `REQUEST`               | `SERVICE#<svc>` | `<state>#<vpce>`    |
//! | audit event   | `AUDIT#<vpce or ->` | `<nanos>#<seq>#<kind>`  |                 |                     |
//! | registry      | `ENDPOINT#<vpce>`   | `ENTRY`                 | `REGSVC#<svc>`  | `<view>#<vpce>`     |
//! | its changes   | `ENDPOINT#<vpce>`   | `CHANGE#<version>`      |                 |                     |
//!
//! Registry entries are also in `gsi2` (`REGACCT#<account>`, `<view>#<vpce>`),
//! where `<view>` is `active` or `history`, so the active view of an account
//! or a service is one query on a key prefix (see `registry_store.rs`).
//!
//! A decision needs exactly the policy and entry items of its (service,
//! account) pairs, so they are fetched by key in batches; requests are
//! claimed with conditional writes on their version.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use gate_app::PortError;
use gate_app::ports::{Audit, AuditEvent, ConfigStore, LiveConfig, PolicySource, Requests, Versioned};
use gate_core::{
    AccountId, AllowEntry, Cidr, EndpointId, PolicyBook, RequestRecord, RequestState, Scope, ServiceId,
    ServicePolicy,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{code, port_error};

pub(crate) type Item = HashMap<String, AttributeValue>;

const BATCH_GET_MAX: usize = 100;
const BATCH_CONCURRENCY: usize = 8;
pub(crate) const GSI1: &str = "gsi1";
pub(crate) const GSI2: &str = "gsi2";
const CONFIG: &str = "CONFIG";

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn policy_key(scope: &Scope) -> Item {
    key(format!("POLICY#{scope}"), "POLICY")
}

fn entry_key(scope: &Scope, account: AccountId) -> Item {
    key(format!("ALLOW#{scope}"), format!("ACCOUNT#{account}"))
}

fn request_key(endpoint: &EndpointId) -> Item {
    key(format!("REQUEST#{endpoint}"), "REQUEST")
}

/// Configuration items carry a revision and sit in `gsi1` under `CONFIG`,
/// so the whole configuration is one query.
fn config_item<T: Serialize>(value: &T, keys: Item, sort: String, revision: u64) -> Result<Item, PortError> {
    let mut item = to_item(value, keys)?;
    item.insert("gsi1pk".into(), s(CONFIG));
    item.insert("gsi1sk".into(), s(sort));
    item.insert("revision".into(), AttributeValue::N(revision.to_string()));
    Ok(item)
}

fn policy_item(policy: &ServicePolicy, revision: u64) -> Result<Item, PortError> {
    config_item(policy, policy_key(&policy.scope), format!("POLICY#{}", policy.scope), revision)
}

fn entry_item(entry: &AllowEntry, revision: u64) -> Result<Item, PortError> {
    let sort = format!("ALLOW#{}#{}", entry.scope, entry.account);
    config_item(entry, entry_key(&entry.scope, entry.account), sort, revision)
}

/// `Ok(false)` when DynamoDB refused a write because its condition did not hold.
fn conditional<T, E>(result: Result<T, SdkError<E, HttpResponse>>, what: String) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if code(&e) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(port_error(what, e)),
    }
}

/// An audit event's item, in write order within its endpoint: the sort key
/// starts with the wall clock in nanoseconds, then a per-process counter so
/// two writes in one nanosecond stay distinct. (Keying by the decision's own
/// time put events of one second in random order.)
fn audit_item(event: &AuditEvent) -> Result<Item, PortError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    let pk = format!("AUDIT#{}", event.endpoint.as_ref().map(EndpointId::as_str).unwrap_or("-"));
    let kind =
        serde_json::to_value(event.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    to_item(event, key(pk, format!("{nanos:020}#{seq:06}#{kind}")))
}

fn revision_of(item: &Item) -> u64 {
    item.get("revision").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

pub(crate) fn to_item<T: Serialize>(value: &T, mut keys: Item) -> Result<Item, PortError> {
    let attrs: Item = serde_dynamo::to_item(value)
        .map_err(|e| PortError::permanent("encoding a DynamoDB item failed", e))?;
    keys.extend(attrs);
    Ok(keys)
}

/// Decodes a stored item. A malformed item is a permanent error that names
/// the item, so a bad manual edit stops decisions loudly instead of being
/// read as "no entry".
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, PortError> {
    let name = ["pk", "sk"]
        .iter()
        .filter_map(|k| item.get(*k).and_then(|v| v.as_s().ok()).cloned())
        .collect::<Vec<_>>()
        .join(" / ");
    serde_dynamo::from_item(item)
        .map_err(|e| PortError::permanent(format!("stored item {name} is invalid"), e))
}

fn build<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, PortError> {
    r.map_err(|e| PortError::permanent("building the table definition failed", e))
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table with its index unless it exists. Deployments get it
    /// from the SAM template; tests, the demo and the CLI's `init` use this.
    pub async fn ensure_table(&self) -> Result<(), PortError> {
        let attr = |n: &str| {
            AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(build(key("gsi1pk", KeyType::Hash))?)
            .key_schema(build(key("gsi1sk", KeyType::Range))?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build();
        let gsi2 = GlobalSecondaryIndex::builder()
            .index_name(GSI2)
            .key_schema(build(key("gsi2pk", KeyType::Hash))?)
            .key_schema(build(key("gsi2sk", KeyType::Range))?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build();
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(build(attr("pk"))?)
            .attribute_definitions(build(attr("sk"))?)
            .attribute_definitions(build(attr("gsi1pk"))?)
            .attribute_definitions(build(attr("gsi1sk"))?)
            .attribute_definitions(build(attr("gsi2pk"))?)
            .attribute_definitions(build(attr("gsi2sk"))?)
            .key_schema(build(key("pk", KeyType::Hash))?)
            .key_schema(build(key("sk", KeyType::Range))?)
            .global_secondary_indexes(build(gsi)?)
            .global_secondary_indexes(build(gsi2)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(port_error(format!("creating table {} failed", self.table), e)),
        }
    }

    /// Writes a policy whatever is stored (tests, the demo); operators go
    /// through [`ConfigStore`] and its conditional writes.
    pub async fn put_policy(&self, policy: &ServicePolicy) -> Result<(), PortError> {
        self.put(policy_item(policy, 1)?, "writing a policy").await
    }

    pub async fn put_entry(&self, entry: &AllowEntry) -> Result<(), PortError> {
        self.put(entry_item(entry, 1)?, "writing an allow entry").await
    }

    /// Writes a raw item; for tests of how malformed stored data is handled.
    pub async fn put_raw(&self, item: HashMap<String, AttributeValue>) -> Result<(), PortError> {
        self.put(item, "writing an item").await
    }

    async fn put(&self, item: Item, what: &str) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| port_error(format!("{what} to {} failed", self.table), e))?;
        Ok(())
    }

    /// Reads items by key in batches of 100, retrying what DynamoDB leaves
    /// unprocessed, with bounded concurrency.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_GET_MAX).map(<[Item]>::to_vec).collect();
        let pages: Vec<Vec<Item>> = stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(&self, mut keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        let mut out = Vec::new();
        for attempt in 0..8u32 {
            if keys.is_empty() {
                return Ok(out);
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(5))).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::permanent("building a batch read failed", e))?;
            let resp = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| port_error(format!("BatchGetItem on {} failed", self.table), e))?;
            if let Some(mut items) = resp.responses {
                out.extend(items.remove(&self.table).unwrap_or_default());
            }
            if let Some(mut left) = resp.unprocessed_keys {
                keys = left.remove(&self.table).map(|k| k.keys).unwrap_or_default();
            }
        }
        Err(PortError::plain(
            format!("BatchGetItem on {} left keys unprocessed after retries", self.table),
            true,
        ))
    }

    pub(crate) async fn query(
        &self,
        index: Option<&str>,
        pk_name: &str,
        pk: String,
        sk_prefix: Option<(&str, String)>,
    ) -> Result<Vec<Item>, PortError> {
        let mut condition = format!("{pk_name} = :pk");
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        if let Some((sk_name, prefix)) = sk_prefix {
            condition.push_str(&format!(" AND begins_with({sk_name}, :prefix)"));
            values.insert(":prefix".to_owned(), s(prefix));
        }
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .into_paginator()
            .items()
            .send();
        pages.try_collect().await.map_err(|e| port_error(format!("Query on {} failed", self.table), e))
    }

    fn request_item(&self, record: &RequestRecord) -> Result<Item, PortError> {
        let mut item = to_item(record, request_key(&record.endpoint))?;
        item.insert("gsi1pk".into(), s(format!("SERVICE#{}", record.service)));
        item.insert("gsi1sk".into(), s(format!("{}#{}", record.state, record.endpoint)));
        Ok(item)
    }

    /// Conditional puts, all or none; `false` when a condition did not hold.
    pub(crate) async fn transact_puts(
        &self,
        puts: Vec<(Item, &str, Option<Item>)>,
        what: String,
    ) -> Result<bool, PortError> {
        let mut request = self.client.transact_write_items();
        for (item, condition, values) in puts {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| PortError::permanent(what.clone(), e))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        let result = request.send().await;
        let reason = match &result {
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c
                    .cancellation_reasons()
                    .iter()
                    .filter_map(|r| r.code())
                    .find(|code| *code != "None")
                    .map(str::to_owned),
                _ => None,
            },
            _ => None,
        };
        match (result, reason.as_deref()) {
            (Ok(_), _) => Ok(true),
            // An item's condition failed: someone else wrote first.
            (Err(_), Some("ConditionalCheckFailed")) => Ok(false),
            // Another transaction on the same item was in flight: try again.
            (Err(e), Some("TransactionConflict")) => {
                Err(PortError::transient(format!("{what} (conflict)"), e))
            }
            (Err(e), _) => Err(port_error(what, e)),
        }
    }

    /// A conditional put; `false` when the condition did not hold.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: Option<Item>,
        what: String,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        conditional(result, what)
    }
}

#[async_trait]
impl PolicySource for DynamoStore {
    async fn load_book(&self, pairs: &[(ServiceId, AccountId)]) -> Result<PolicyBook, PortError> {
        // Sets: a sweep names the same few (service, account) pairs thousands of times.
        let mut scopes: BTreeSet<Scope> = BTreeSet::from([Scope::Any]);
        let mut entries: BTreeSet<(Scope, AccountId)> = BTreeSet::new();
        for (service, account) in pairs {
            let scope = Scope::Service(service.clone());
            entries.insert((scope.clone(), *account));
            entries.insert((Scope::Any, *account));
            scopes.insert(scope);
        }
        let keys =
            scopes.iter().map(policy_key).chain(entries.iter().map(|(s, a)| entry_key(s, *a))).collect();
        let (mut policies, mut allow) = (Vec::new(), Vec::new());
        for item in self.batch_get(keys).await? {
            let is_policy = item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "POLICY");
            if is_policy {
                policies.push(from_item::<ServicePolicy>(item)?);
            } else {
                allow.push(from_item::<AllowEntry>(item)?);
            }
        }
        Ok(PolicyBook::new(policies, allow))
    }
}

#[async_trait]
impl Requests for DynamoStore {
    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RequestRecord>, PortError> {
        let keys = endpoints.iter().map(request_key).collect();
        self.batch_get(keys)
            .await?
            .into_iter()
            .map(|item| from_item::<RequestRecord>(item).map(|r| (r.endpoint.clone(), r)))
            .collect()
    }

    async fn create(&self, record: &RequestRecord, decided: &AuditEvent) -> Result<bool, PortError> {
        let absent = "attribute_not_exists(pk)";
        let puts = vec![(self.request_item(record)?, absent, None), (audit_item(decided)?, absent, None)];
        self.transact_puts(puts, format!("recording the decision on {} failed", record.endpoint)).await
    }

    async fn update(&self, record: &RequestRecord) -> Result<bool, PortError> {
        let item = self.request_item(record)?;
        let expected = record.version.saturating_sub(1).to_string();
        let values = HashMap::from([(":v".to_owned(), AttributeValue::N(expected))]);
        self.put_if(
            item,
            "version = :v",
            Some(values),
            format!("updating the request of {} failed", record.endpoint),
        )
        .await
    }

    async fn accepted_cidrs(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<(Cidr, AccountId, EndpointId)>, PortError> {
        let mut out = Vec::new();
        for state in [RequestState::Accepted, RequestState::Approved] {
            let items = self
                .query(
                    Some(GSI1),
                    "gsi1pk",
                    format!("SERVICE#{service}"),
                    Some(("gsi1sk", format!("{state}#"))),
                )
                .await?;
            for item in items {
                let r: RequestRecord = from_item(item)?;
                out.extend(r.consumer_cidrs.iter().map(|c| (*c, r.owner, r.endpoint.clone())));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Audit for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError> {
        let item = audit_item(event)?;
        // Append-only: an existing item is never overwritten.
        let written = self
            .put_if(
                item,
                "attribute_not_exists(pk)",
                None,
                format!("appending to the audit in {} failed", self.table),
            )
            .await?;
        if written { Ok(()) } else { Err(PortError::plain("audit key collision; event not written", true)) }
    }

    async fn history(&self, endpoint: &EndpointId) -> Result<Vec<AuditEvent>, PortError> {
        self.query(None, "pk", format!("AUDIT#{endpoint}"), None).await?.into_iter().map(from_item).collect()
    }
}

impl DynamoStore {
    /// Writes `item` when the stored revision is `expected` (`None`: absent).
    async fn write_config(&self, item: Item, expected: Option<u64>, what: String) -> Result<bool, PortError> {
        match expected {
            None => self.put_if(item, "attribute_not_exists(pk)", None, what).await,
            Some(r) => {
                let values = HashMap::from([(":r".to_owned(), AttributeValue::N(r.to_string()))]);
                self.put_if(item, "revision = :r", Some(values), what).await
            }
        }
    }

    async fn delete_if(&self, key: Item, expected: u64, what: String) -> Result<bool, PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("revision = :r")
            .expression_attribute_values(":r", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        conditional(result, what)
    }
}

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn load_all(&self) -> Result<LiveConfig, PortError> {
        let mut live = LiveConfig::default();
        for item in self.query(Some(GSI1), "gsi1pk", CONFIG.to_owned(), None).await? {
            let revision = revision_of(&item);
            let is_policy = item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "POLICY");
            if is_policy {
                live.policies.push(Versioned { value: from_item(item)?, revision });
            } else {
                live.entries.push(Versioned { value: from_item(item)?, revision });
            }
        }
        Ok(live)
    }

    async fn load_policies(&self) -> Result<Vec<Versioned<ServicePolicy>>, PortError> {
        let prefix = Some(("gsi1sk", "POLICY#".to_owned()));
        let items = self.query(Some(GSI1), "gsi1pk", CONFIG.to_owned(), prefix).await?;
        items
            .into_iter()
            .map(|item| Ok(Versioned { revision: revision_of(&item), value: from_item(item)? }))
            .collect()
    }

    async fn write_policy(&self, policy: &ServicePolicy, expected: Option<u64>) -> Result<bool, PortError> {
        let item = policy_item(policy, expected.unwrap_or(0) + 1)?;
        self.write_config(item, expected, format!("writing the policy of {} failed", policy.scope)).await
    }

    async fn write_entry(&self, entry: &AllowEntry, expected: Option<u64>) -> Result<bool, PortError> {
        let item = entry_item(entry, expected.unwrap_or(0) + 1)?;
        let what = format!("writing the entry of {} on {} failed", entry.account, entry.scope);
        self.write_config(item, expected, what).await
    }

    async fn delete_policy(&self, scope: &Scope, expected: u64) -> Result<bool, PortError> {
        self.delete_if(policy_key(scope), expected, format!("deleting the policy of {scope} failed")).await
    }

    async fn delete_entry(
        &self,
        scope: &Scope,
        account: AccountId,
        expected: u64,
    ) -> Result<bool, PortError> {
        let what = format!("deleting the entry of {account} on {scope} failed");
        self.delete_if(entry_key(scope, account), expected, what).await
    }
}
