//! One DynamoDB table for policies, allow entries, requests, the audit and
//! the registry; the stored format of each kind is in `items`, the
//! table's keys and indexes in `table`.
//!
//! A decision needs exactly the policy and entry items of its (service,
//! account) pairs, so they are fetched by key in batches; requests are
//! claimed with conditional writes on their version.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use gate_app::PortError;
use gate_app::cidr_claims::{CidrClaims, GuardedClaim};
use gate_app::ports::{
    Audit, AuditEvent, ConfigStore, ContactBook, DecisionReads, LiveConfig, NoticeLedger, PolicySource,
    Requests, Shadows, Versioned,
};
use gate_core::{
    AccountId, AllowEntry, Cidr, Contact, EndpointId, NoticeKind, PolicyBook, Principal, RequestRecord,
    RequestState, Revoke, Scope, ServiceId, ServicePolicy, ShadowVerdict, Timestamp,
};

use crate::error::{code, port_error};
use crate::items::audit::{audit_from, audit_item, audit_partition};
use crate::items::cidr_claims::{CidrClaimsItem, cidr_claims_key};
use crate::items::config::{
    CONFIG, POLICY_SORT_PREFIX, entry_from, entry_item, entry_key, is_policy, policy_from, policy_item,
    policy_key,
};
use crate::items::contact::{CONTACTS, contact_from, contact_item, contact_key, notice_item};
use crate::items::projection::Projection;
use crate::items::request::{
    is_request, request_from, request_item, request_key, service_partition, state_prefix,
};
use crate::items::shadow::{SHADOW_PARTITION, shadow_from, shadow_item, shadow_service_prefix};
use crate::items::{Item, decode, encode, s};
use crate::table::{GSI1, Index, TABLE};

const BATCH_GET_MAX: usize = 100;
const BATCH_CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
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

    /// Reads items by key in batches of 100, retrying what DynamoDB leaves
    /// unprocessed, with bounded concurrency.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        self.batch_get_projected(keys, None).await
    }

    /// [`Self::batch_get`], each item holding only the attributes
    /// `projection` names.
    pub(crate) async fn batch_get_projected(
        &self,
        keys: Vec<Item>,
        projection: Option<&Projection>,
    ) -> Result<Vec<Item>, PortError> {
        let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_GET_MAX).map(<[Item]>::to_vec).collect();
        let pages: Vec<Vec<Item>> = stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk, projection))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(
        &self,
        mut keys: Vec<Item>,
        projection: Option<&Projection>,
    ) -> Result<Vec<Item>, PortError> {
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
                .set_projection_expression(projection.map(|p| p.expression.clone()))
                .set_expression_attribute_names(projection.map(|p| p.names.clone()))
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
        if keys.is_empty() {
            return Ok(out);
        }
        Err(PortError::plain(
            format!("BatchGetItem on {} left keys unprocessed after retries", self.table),
            true,
        ))
    }

    /// Every item of partition `pk` of the table (`index: None`) or of an
    /// index, optionally only those whose sort key starts with `sk_prefix`.
    pub(crate) async fn query(
        &self,
        index: Option<Index>,
        pk: String,
        sk_prefix: Option<String>,
    ) -> Result<Vec<Item>, PortError> {
        self.query_projected(index, pk, sk_prefix, None).await
    }

    /// [`Self::query`], each item holding only the attributes `projection`
    /// names.
    pub(crate) async fn query_projected(
        &self,
        index: Option<Index>,
        pk: String,
        sk_prefix: Option<String>,
        projection: Option<&Projection>,
    ) -> Result<Vec<Item>, PortError> {
        let pages = self.query_on(index, pk, sk_prefix, projection).into_paginator().items().send();
        pages.try_collect().await.map_err(|e| port_error(format!("Query on {} failed", self.table), e))
    }

    /// A Query of partition `pk` of the table (`index: None`) or of an
    /// index, of the sort keys starting with `sk_prefix` if given, each item
    /// holding only what `projection` names; the caller pages it.
    pub(crate) fn query_on(
        &self,
        index: Option<Index>,
        pk: String,
        sk_prefix: Option<String>,
        projection: Option<&Projection>,
    ) -> QueryFluentBuilder {
        let keys = index.map_or(TABLE.keys, |i| i.keys);
        let mut condition = format!("{} = :pk", keys.hash);
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        if let Some(prefix) = sk_prefix {
            condition.push_str(&format!(" AND begins_with({}, :prefix)", keys.range));
            values.insert(":prefix".to_owned(), s(prefix));
        }
        self.client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(|i| i.name.to_owned()))
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .set_projection_expression(projection.map(|p| p.expression.clone()))
            .set_expression_attribute_names(projection.map(|p| p.names.clone()))
    }

    /// Conditional puts, all or none; `false` when a condition did not hold.
    pub(crate) async fn transact_puts(
        &self,
        puts: Vec<(Item, &str, Option<Item>)>,
        what: String,
    ) -> Result<bool, PortError> {
        Ok(self.transact_puts_naming(puts, what).await?.is_none())
    }

    /// Conditional puts, all or none; when a condition did not hold, the
    /// index of the first put whose did not. DynamoDB lists a cancelled
    /// transaction's reasons "ordered according to the ordering of the
    /// TransactWriteItems request parameter", `None` where an item was not
    /// at fault (Amazon DynamoDB API Reference, "CancellationReason").
    pub(crate) async fn transact_puts_naming(
        &self,
        puts: Vec<(Item, &str, Option<Item>)>,
        what: String,
    ) -> Result<Option<usize>, PortError> {
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
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    c.cancellation_reasons().iter().enumerate().find_map(|(i, r)| {
                        r.code().filter(|code| *code != "None").map(|code| (i, code.to_owned()))
                    })
                }
                _ => None,
            },
            _ => None,
        };
        match (result, reason) {
            (Ok(_), _) => Ok(None),
            // An item's condition failed: someone else wrote first.
            (Err(_), Some((at, code))) if code == "ConditionalCheckFailed" => Ok(Some(at)),
            // Another transaction on the same item was in flight: try again.
            (Err(e), Some((_, code))) if code == "TransactionConflict" => {
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

/// The keys of everything needed to decide these (service, principal)
/// pairs: their policies, the `*` policy, and entries at both scopes. Sets:
/// a sweep names the same few pairs thousands of times.
fn book_keys(pairs: &[(ServiceId, Principal)]) -> Vec<Item> {
    let mut scopes: BTreeSet<Scope> = BTreeSet::from([Scope::Any]);
    let mut entries: BTreeSet<(Scope, &Principal)> = BTreeSet::new();
    for (service, principal) in pairs {
        let scope = Scope::Service(service.clone());
        entries.insert((scope.clone(), principal));
        entries.insert((Scope::Any, principal));
        scopes.insert(scope);
    }
    scopes.iter().map(policy_key).chain(entries.iter().map(|(s, p)| entry_key(s, p))).collect()
}

/// The book from configuration items (policies and allow entries).
fn book_from(items: Vec<Item>) -> Result<PolicyBook, PortError> {
    let (mut policies, mut allow) = (Vec::new(), Vec::new());
    for item in items {
        if is_policy(&item) {
            policies.push(policy_from(item)?.value);
        } else {
            allow.push(entry_from(item)?.value);
        }
    }
    Ok(PolicyBook::new(policies, allow))
}

#[async_trait]
impl PolicySource for DynamoStore {
    async fn load_book(&self, pairs: &[(ServiceId, Principal)]) -> Result<PolicyBook, PortError> {
        book_from(self.batch_get(book_keys(pairs)).await?)
    }

    /// One query of the policies' index entries (never the allow entries).
    async fn revoking(&self) -> Result<Vec<Scope>, PortError> {
        let policies = ConfigStore::load_policies(self).await?;
        Ok(policies.into_iter().filter(|p| p.value.revoke == Revoke::Reject).map(|p| p.value.scope).collect())
    }
}

#[async_trait]
impl DecisionReads for DynamoStore {
    /// One BatchGetItem (up to 100 keys; more are chunked) for the requests
    /// and the book together; the items tell themselves apart by key.
    async fn read(
        &self,
        endpoints: &[EndpointId],
        pairs: &[(ServiceId, Principal)],
    ) -> Result<(HashMap<EndpointId, RequestRecord>, PolicyBook), PortError> {
        let keys = endpoints.iter().map(request_key).chain(book_keys(pairs)).collect();
        let (requests, config): (Vec<Item>, Vec<Item>) =
            self.batch_get(keys).await?.into_iter().partition(is_request);
        let requests: Result<HashMap<_, _>, _> =
            requests.into_iter().map(|item| request_from(item).map(|r| (r.endpoint.clone(), r))).collect();
        Ok((requests?, book_from(config)?))
    }
}

/// The values of a `version = :v` condition.
fn version_is(version: u64) -> Item {
    HashMap::from([(":v".to_owned(), AttributeValue::N(version.to_string()))])
}

/// The put of a service's guard at `next`, on the condition that it is
/// still the version before (absent before the first).
fn guard_put(
    service: &ServiceId,
    next: &CidrClaims,
) -> Result<(Item, &'static str, Option<Item>), PortError> {
    let guard = encode::<CidrClaimsItem>(next, cidr_claims_key(service))?;
    Ok(match next.version.saturating_sub(1) {
        0 => (guard, "attribute_not_exists(pk)", None),
        judged => (guard, "version = :v", Some(version_is(judged))),
    })
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
            .map(|item| request_from(item).map(|r| (r.endpoint.clone(), r)))
            .collect()
    }

    async fn create(&self, record: &RequestRecord, decided: &AuditEvent) -> Result<bool, PortError> {
        let absent = "attribute_not_exists(pk)";
        let puts = vec![(request_item(record)?, absent, None), (audit_item(decided)?, absent, None)];
        self.transact_puts(puts, format!("recording the decision on {} failed", record.endpoint)).await
    }

    async fn create_guarded(
        &self,
        record: &RequestRecord,
        decided: &AuditEvent,
        next: &CidrClaims,
    ) -> Result<GuardedClaim, PortError> {
        let absent = "attribute_not_exists(pk)";
        let puts = vec![
            (request_item(record)?, absent, None),
            (audit_item(decided)?, absent, None),
            guard_put(&record.service, next)?,
        ];
        let what = format!("recording the decision on {} failed", record.endpoint);
        Ok(match self.transact_puts_naming(puts, what).await? {
            None => GuardedClaim::Claimed,
            Some(2) => GuardedClaim::GuardMoved,
            Some(_) => GuardedClaim::AlreadyDecided,
        })
    }

    async fn update_guarded(&self, record: &RequestRecord, next: &CidrClaims) -> Result<bool, PortError> {
        let puts = vec![
            (request_item(record)?, "version = :v", Some(version_is(record.version.saturating_sub(1)))),
            guard_put(&record.service, next)?,
        ];
        self.transact_puts(puts, format!("updating the request of {} failed", record.endpoint)).await
    }

    async fn cidr_claims(&self, service: &ServiceId) -> Result<CidrClaims, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(cidr_claims_key(service)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("reading the CIDR claims of {service} failed"), e))?;
        Ok(out.item.map(decode::<CidrClaimsItem>).transpose()?.unwrap_or_default())
    }

    async fn update(&self, record: &RequestRecord) -> Result<bool, PortError> {
        self.put_if(
            request_item(record)?,
            "version = :v",
            Some(version_is(record.version.saturating_sub(1))),
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
            let items = self.query(Some(GSI1), service_partition(service), Some(state_prefix(state))).await?;
            for item in items {
                let r = request_from(item)?;
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
        self.query(None, audit_partition(endpoint), None).await?.into_iter().map(audit_from).collect()
    }
}

#[async_trait]
impl Shadows for DynamoStore {
    async fn keep(&self, verdict: &ShadowVerdict, event: &AuditEvent) -> Result<bool, PortError> {
        // A new verdict, or a changed one; the same again writes nothing.
        let changed = "attribute_not_exists(pk) OR would <> :would";
        let values = HashMap::from([(":would".to_owned(), s(verdict.would.as_str()))]);
        let puts = vec![
            (shadow_item(verdict)?, changed, Some(values)),
            (audit_item(event)?, "attribute_not_exists(pk)", None),
        ];
        self.transact_puts(puts, format!("keeping the shadow verdict on {} failed", verdict.endpoint)).await
    }

    async fn list(
        &self,
        service: Option<&ServiceId>,
        since: Timestamp,
    ) -> Result<Vec<ShadowVerdict>, PortError> {
        let items =
            self.query(Some(GSI1), SHADOW_PARTITION.to_owned(), service.map(shadow_service_prefix)).await?;
        let mut out = Vec::new();
        for item in items {
            let v = shadow_from(item)?;
            if v.at >= since {
                out.push(v);
            }
        }
        Ok(out)
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
        for item in self.query(Some(GSI1), CONFIG.to_owned(), None).await? {
            if is_policy(&item) {
                live.policies.push(policy_from(item)?);
            } else {
                live.entries.push(entry_from(item)?);
            }
        }
        for item in self.query(Some(GSI1), CONTACTS.to_owned(), None).await? {
            live.contacts.push(contact_from(item)?);
        }
        Ok(live)
    }

    async fn load_policies(&self) -> Result<Vec<Versioned<ServicePolicy>>, PortError> {
        let items = self.query(Some(GSI1), CONFIG.to_owned(), Some(POLICY_SORT_PREFIX.to_owned())).await?;
        items.into_iter().map(policy_from).collect()
    }

    async fn write_policy(&self, policy: &ServicePolicy, expected: Option<u64>) -> Result<bool, PortError> {
        let item = policy_item(policy, expected.unwrap_or(0) + 1)?;
        self.write_config(item, expected, format!("writing the policy of {} failed", policy.scope)).await
    }

    async fn write_entry(&self, entry: &AllowEntry, expected: Option<u64>) -> Result<bool, PortError> {
        let item = entry_item(entry, expected.unwrap_or(0) + 1)?;
        let what = format!("writing the entry of {} on {} failed", entry.principal, entry.scope);
        self.write_config(item, expected, what).await
    }

    async fn delete_policy(&self, scope: &Scope, expected: u64) -> Result<bool, PortError> {
        self.delete_if(policy_key(scope), expected, format!("deleting the policy of {scope} failed")).await
    }

    async fn delete_entry(
        &self,
        scope: &Scope,
        principal: &Principal,
        expected: u64,
    ) -> Result<bool, PortError> {
        let what = format!("deleting the entry of {principal} on {scope} failed");
        self.delete_if(entry_key(scope, principal), expected, what).await
    }

    async fn load_contacts(&self) -> Result<Vec<Versioned<Contact>>, PortError> {
        self.query(Some(GSI1), CONTACTS.to_owned(), None).await?.into_iter().map(contact_from).collect()
    }

    async fn write_contact(&self, contact: &Contact, expected: Option<u64>) -> Result<bool, PortError> {
        let item = contact_item(contact, expected.unwrap_or(0) + 1)?;
        let what = format!("writing the contact of {} failed", contact.account);
        self.write_config(item, expected, what).await
    }

    async fn delete_contact(&self, account: AccountId, expected: u64) -> Result<bool, PortError> {
        let what = format!("deleting the contact of {account} failed");
        self.delete_if(contact_key(account), expected, what).await
    }
}

#[async_trait]
impl ContactBook for DynamoStore {
    async fn contact(&self, account: AccountId) -> Result<Option<Contact>, PortError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(contact_key(account)))
            .send()
            .await
            .map_err(|e| port_error(format!("reading the contact of {account} failed"), e))?
            .item;
        item.map(|i| contact_from(i).map(|c| c.value)).transpose()
    }
}

/// One conditional put per (endpoint, kind): concurrent deliveries of
/// one event race for it, and only the winner sends.
#[async_trait]
impl NoticeLedger for DynamoStore {
    async fn first(
        &self,
        endpoint: &EndpointId,
        kind: NoticeKind,
        now: Timestamp,
    ) -> Result<bool, PortError> {
        let what = format!("claiming the {kind} notice of {endpoint} failed");
        let condition = "attribute_not_exists(pk) OR released = :released";
        let values = HashMap::from([(":released".to_owned(), AttributeValue::Bool(true))]);
        self.put_if(notice_item(endpoint, kind, now, false), condition, Some(values), what).await
    }

    /// Marks the claim released: a put, never a delete, since the
    /// functions delete nothing in the table.
    async fn forget(&self, endpoint: &EndpointId, kind: NoticeKind) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(notice_item(endpoint, kind, Timestamp::from_unix(0), true)))
            .send()
            .await
            .map_err(|e| port_error(format!("releasing the {kind} notice of {endpoint} failed"), e))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use gate_app::ports::Requests;

    use super::*;

    /// A BatchGetItem that leaves the one key unprocessed `times` times,
    /// then answers it (with no item).
    fn unprocessed_then_done(times: usize) -> Rule {
        let unprocessed = || {
            let key = HashMap::from([
                ("pk".to_owned(), AttributeValue::S("REQUEST#vpce-0123456789abcdef0".into())),
                ("sk".to_owned(), AttributeValue::S("REQUEST".into())),
            ]);
            let keys = KeysAndAttributes::builder().keys(key).build().expect("keys");
            BatchGetItemOutput::builder().unprocessed_keys("t", keys).build()
        };
        mock!(Client::batch_get_item)
            .sequence()
            .output(unprocessed)
            .times(times)
            .output(|| BatchGetItemOutput::builder().build())
            .build()
    }

    async fn read(rule: &Rule) -> Result<HashMap<EndpointId, RequestRecord>, PortError> {
        // What `mock_client!` builds, without the SDK crate's test-util
        // feature (which would build it a second time for the tests).
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential).with_rule(rule))
            .build();
        let store = DynamoStore::new(Client::from_conf(config), "t");
        store.get_many(&["vpce-0123456789abcdef0".parse().expect("id")]).await
    }

    /// DynamoDB may leave keys unprocessed under load ("BatchGetItem",
    /// UnprocessedKeys, Amazon DynamoDB API Reference): they are asked
    /// again, and a read answered on its last attempt is a read.
    #[tokio::test]
    async fn a_batch_read_answered_on_its_last_attempt_succeeds() {
        let rule = unprocessed_then_done(7);
        assert!(read(&rule).await.expect("answered on the eighth attempt").is_empty());
        assert_eq!(rule.num_calls(), 8);
    }

    #[tokio::test]
    async fn keys_still_unprocessed_after_every_attempt_are_a_transient_error() {
        let rule = unprocessed_then_done(8);
        let err = read(&rule).await.expect_err("never answered");
        assert!(err.transient && err.what.contains("unprocessed"), "{err:?}");
        assert_eq!(rule.num_calls(), 8);
    }
}
