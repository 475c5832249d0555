//! In-memory ports for tests of the use cases and handlers. They keep state
//! that tests assert on, rather than expectations of calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gate_core::{
    AccountId, Action, AllowEntry, Cidr, Connection, ConnectionState, Contact, Discovery, EndpointId, Notice,
    NoticeKind, Placement, PolicyBook, Principal, Region, RegistryEntry, RequestRecord, RequestState, Scope,
    ServiceId, ServicePolicy, ShadowVerdict, SlackMessage, Timestamp, ViewPosition,
};

use crate::cidr_claims::{CidrClaims, GuardedClaim};
use crate::error::PortError;
use crate::ports::{
    AppliedPrincipals, Audience, Audit, AuditEvent, Catalogue, Checkpoints, Connections, ConsumerNetworks,
    ContactBook, NoticeLedger, NoticeSender, Notifier, Nudge, Organizations, Page, PageAsk, PolicySource,
    Posted, PrincipalsRecord, Refused, Registry, Requests, ServiceInfo, ServicePermissions, Shadows,
    SlackReplies, SlackReply, ViewPage,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding the lock has already failed.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// EC2's connections, with a count of Accept/Reject calls.
#[derive(Debug, Default)]
pub struct InMemoryConnections {
    pub connections: Mutex<HashMap<EndpointId, Connection>>,
    pub act_calls: Mutex<Vec<(Action, ServiceId, Vec<EndpointId>)>>,
    /// When set, every call fails with this (transient) error message.
    pub fail_with: Mutex<Option<String>>,
    /// When set, listings come in pages of this many, ordered by endpoint
    /// id, each cursor the last id of the page before (as stable as EC2's).
    pub page_size: Mutex<Option<usize>>,
}

impl InMemoryConnections {
    pub fn with(connections: impl IntoIterator<Item = Connection>) -> Self {
        let me = Self::default();
        lock(&me.connections).extend(connections.into_iter().map(|c| (c.endpoint.clone(), c)));
        me
    }

    pub fn state(&self, endpoint: &EndpointId) -> Option<ConnectionState> {
        lock(&self.connections).get(endpoint).map(|c| c.state.clone())
    }

    pub fn act_call_count(&self) -> usize {
        lock(&self.act_calls).len()
    }

    fn check(&self) -> Result<(), PortError> {
        match lock(&self.fail_with).clone() {
            Some(msg) => Err(PortError::plain(msg, true)),
            None => Ok(()),
        }
    }

    /// One page of `listed` (sorted by endpoint) after `cursor`.
    fn page_of(&self, listed: Vec<Connection>, cursor: Option<String>) -> Page {
        let Some(size) = *lock(&self.page_size) else {
            return match cursor {
                None => Page { connections: listed, next: None },
                Some(_) => Page::default(),
            };
        };
        let rest: Vec<Connection> = listed
            .into_iter()
            .filter(|c| cursor.as_deref().is_none_or(|after| c.endpoint.as_str() > after))
            .collect();
        let next = (rest.len() > size).then(|| rest[size - 1].endpoint.to_string());
        Page { connections: rest.into_iter().take(size).collect(), next }
    }
}

#[async_trait]
impl Connections for InMemoryConnections {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<Connection>, PortError> {
        self.check()?;
        Ok(lock(&self.connections).get(endpoint).cloned())
    }

    async fn pending(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        let all = self.all(services).await?;
        Ok(all.into_iter().filter(|c| c.state == ConnectionState::PendingAcceptance).collect())
    }

    async fn pending_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        Ok(self.page_of(self.pending(services).await?, cursor))
    }

    async fn all_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        Ok(self.page_of(self.all(services).await?, cursor))
    }

    async fn all(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        self.check()?;
        let mut out: Vec<Connection> = lock(&self.connections)
            .values()
            .filter(|c| services.is_empty() || services.contains(&c.service))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        Ok(out)
    }

    async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        endpoints: &[EndpointId],
    ) -> Result<Vec<Refused>, PortError> {
        self.check()?;
        lock(&self.act_calls).push((action, service.clone(), endpoints.to_vec()));
        let mut conns = lock(&self.connections);
        let mut refused = Vec::new();
        for id in endpoints {
            match conns.get_mut(id) {
                // As on AWS: a pending connection may be accepted or rejected,
                // an available one rejected (a revocation).
                Some(c)
                    if &c.service == service
                        && (c.state == ConnectionState::PendingAcceptance
                            || (action == Action::Reject && c.state == ConnectionState::Available)) =>
                {
                    c.state = match action {
                        Action::Accept => ConnectionState::Available,
                        Action::Reject => ConnectionState::Rejected,
                    };
                }
                Some(c) => refused.push(Refused {
                    endpoint: id.clone(),
                    code: "InvalidState".into(),
                    message: format!("connection is {}", c.state),
                }),
                None => refused.push(Refused {
                    endpoint: id.clone(),
                    code: "InvalidVpcEndpoint.NotFound".into(),
                    message: "not found".into(),
                }),
            }
        }
        Ok(refused)
    }
}

/// Consumer CIDRs by account, in any region; accounts not listed are unreadable.
#[derive(Debug, Default)]
pub struct StaticNetworks(pub HashMap<AccountId, Vec<Cidr>>);

#[async_trait]
impl ConsumerNetworks for StaticNetworks {
    async fn vpc_cidrs(
        &self,
        owner: AccountId,
        _region: Option<&Region>,
        _endpoint: &EndpointId,
    ) -> Result<Discovery, PortError> {
        Ok(match self.0.get(&owner) {
            Some(c) => Discovery::Read(c.clone()),
            None => Discovery::Unavailable(format!("no read-only role in account {owner}")),
        })
    }
}

/// Consumer CIDRs by account and region, as moto and AWS keep VPCs: a VPC
/// read in another region than its own is not found. Every read is kept.
#[derive(Debug, Default)]
pub struct RegionalNetworks {
    pub vpcs: HashMap<(AccountId, Region), Vec<Cidr>>,
    pub reads: Mutex<Vec<(AccountId, Option<Region>)>>,
}

#[async_trait]
impl ConsumerNetworks for RegionalNetworks {
    async fn vpc_cidrs(
        &self,
        owner: AccountId,
        region: Option<&Region>,
        endpoint: &EndpointId,
    ) -> Result<Discovery, PortError> {
        lock(&self.reads).push((owner, region.cloned()));
        let found = region.and_then(|r| self.vpcs.get(&(owner, r.clone())));
        Ok(match found {
            Some(c) => Discovery::Read(c.clone()),
            None => Discovery::Unavailable(format!("endpoint {endpoint} not found in account {owner}")),
        })
    }
}

#[derive(Debug, Default)]
pub struct InMemoryPolicies {
    pub policies: Mutex<Vec<ServicePolicy>>,
    pub entries: Mutex<Vec<AllowEntry>>,
    pub fail: Mutex<bool>,
}

impl InMemoryPolicies {
    pub fn new(policies: Vec<ServicePolicy>, entries: Vec<AllowEntry>) -> Self {
        Self { policies: Mutex::new(policies), entries: Mutex::new(entries), fail: Mutex::new(false) }
    }
}

#[async_trait]
impl PolicySource for InMemoryPolicies {
    async fn load_book(&self, _pairs: &[(ServiceId, Principal)]) -> Result<PolicyBook, PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("policy table unreachable", true));
        }
        Ok(PolicyBook::new(lock(&self.policies).clone(), lock(&self.entries).clone()))
    }

    async fn revoking(&self) -> Result<Vec<Scope>, PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("policy table unreachable", true));
        }
        let policies = lock(&self.policies);
        Ok(policies
            .iter()
            .filter(|p| p.revoke == gate_core::Revoke::Reject)
            .map(|p| p.scope.clone())
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct InMemoryRequests {
    pub records: Mutex<HashMap<EndpointId, RequestRecord>>,
    /// Where decisions' audit entries go, as in the single table.
    pub audit: Option<Arc<InMemoryAudit>>,
    /// When set, reads fail as an unreachable table does.
    pub fail_reads: Mutex<bool>,
    /// Stored records that cannot be read (a hand edit, a newer schema):
    /// a read that includes one fails, as the table's batch read does.
    pub unreadable: Mutex<Vec<EndpointId>>,
    /// The claim guards of services whose consumer CIDRs must be unique.
    pub guards: Mutex<HashMap<ServiceId, CidrClaims>>,
}

impl InMemoryRequests {
    pub fn with_audit(audit: Arc<InMemoryAudit>) -> Self {
        Self { audit: Some(audit), ..Self::default() }
    }

    pub fn get(&self, endpoint: &EndpointId) -> Option<RequestRecord> {
        lock(&self.records).get(endpoint).cloned()
    }

    /// Stores a first decision with its audit entry; `false` when one exists.
    fn insert_new(&self, record: &RequestRecord, decided: &AuditEvent) -> bool {
        let mut records = lock(&self.records);
        if records.contains_key(&record.endpoint) {
            return false;
        }
        records.insert(record.endpoint.clone(), record.clone());
        if let Some(audit) = &self.audit {
            lock(&audit.events).push(decided.clone());
        }
        true
    }
}

#[async_trait]
impl Requests for InMemoryRequests {
    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RequestRecord>, PortError> {
        if *lock(&self.fail_reads) {
            return Err(PortError::plain("request table unreachable", true));
        }
        if let Some(bad) = endpoints.iter().find(|e| lock(&self.unreadable).contains(e)) {
            return Err(PortError::plain(
                format!("the stored request of {bad} has no attribute state"),
                false,
            ));
        }
        let records = lock(&self.records);
        Ok(endpoints.iter().filter_map(|e| records.get(e).map(|r| (e.clone(), r.clone()))).collect())
    }

    async fn create(&self, record: &RequestRecord, decided: &AuditEvent) -> Result<bool, PortError> {
        Ok(self.insert_new(record, decided))
    }

    async fn update(&self, record: &RequestRecord) -> Result<bool, PortError> {
        let mut records = lock(&self.records);
        match records.get(&record.endpoint) {
            Some(old) if old.version + 1 == record.version => {
                records.insert(record.endpoint.clone(), record.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn cidr_claims(&self, service: &ServiceId) -> Result<CidrClaims, PortError> {
        Ok(lock(&self.guards).get(service).cloned().unwrap_or_default())
    }

    async fn create_guarded(
        &self,
        record: &RequestRecord,
        decided: &AuditEvent,
        next: &CidrClaims,
    ) -> Result<GuardedClaim, PortError> {
        let mut guards = lock(&self.guards);
        let stored = guards.get(&record.service).map_or(0, |g| g.version);
        if stored + 1 != next.version {
            return Ok(GuardedClaim::GuardMoved);
        }
        if !self.insert_new(record, decided) {
            return Ok(GuardedClaim::AlreadyDecided);
        }
        guards.insert(record.service.clone(), next.clone());
        Ok(GuardedClaim::Claimed)
    }

    async fn update_guarded(&self, record: &RequestRecord, next: &CidrClaims) -> Result<bool, PortError> {
        let mut guards = lock(&self.guards);
        let stored = guards.get(&record.service).map_or(0, |g| g.version);
        let mut records = lock(&self.records);
        let current = records.get(&record.endpoint).map(|r| r.version);
        if stored + 1 != next.version || current.map(|v| v + 1) != Some(record.version) {
            return Ok(false);
        }
        records.insert(record.endpoint.clone(), record.clone());
        guards.insert(record.service.clone(), next.clone());
        Ok(true)
    }

    async fn accepted_cidrs(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<(Cidr, AccountId, EndpointId)>, PortError> {
        Ok(lock(&self.records)
            .values()
            .filter(|r| {
                &r.service == service && matches!(r.state, RequestState::Accepted | RequestState::Approved)
            })
            .flat_map(|r| r.consumer_cidrs.iter().map(move |c| (*c, r.owner, r.endpoint.clone())))
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct InMemoryAudit {
    pub events: Mutex<Vec<AuditEvent>>,
}

impl InMemoryAudit {
    pub fn all(&self) -> Vec<AuditEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl Audit for InMemoryAudit {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError> {
        lock(&self.events).push(event.clone());
        Ok(())
    }

    async fn history(&self, endpoint: &EndpointId) -> Result<Vec<AuditEvent>, PortError> {
        Ok(lock(&self.events).iter().filter(|e| e.endpoint.as_ref() == Some(endpoint)).cloned().collect())
    }
}

/// Shadow verdicts, one per endpoint, and their audit lines.
#[derive(Debug, Default)]
pub struct InMemoryShadows {
    pub verdicts: Mutex<HashMap<EndpointId, ShadowVerdict>>,
    pub audit: Option<Arc<InMemoryAudit>>,
}

impl InMemoryShadows {
    pub fn with_audit(audit: Arc<InMemoryAudit>) -> Self {
        Self { audit: Some(audit), ..Self::default() }
    }

    pub fn get(&self, endpoint: &EndpointId) -> Option<ShadowVerdict> {
        lock(&self.verdicts).get(endpoint).cloned()
    }
}

#[async_trait]
impl Shadows for InMemoryShadows {
    async fn keep(&self, verdict: &ShadowVerdict, event: &AuditEvent) -> Result<bool, PortError> {
        let mut verdicts = lock(&self.verdicts);
        if verdicts.get(&verdict.endpoint).is_some_and(|v| v.would == verdict.would) {
            return Ok(false);
        }
        verdicts.insert(verdict.endpoint.clone(), verdict.clone());
        if let Some(audit) = &self.audit {
            lock(&audit.events).push(event.clone());
        }
        Ok(true)
    }

    async fn list(
        &self,
        service: Option<&ServiceId>,
        since: Timestamp,
    ) -> Result<Vec<ShadowVerdict>, PortError> {
        Ok(lock(&self.verdicts)
            .values()
            .filter(|v| service.is_none_or(|s| &v.service == s) && v.at >= since)
            .cloned()
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct RecordingNotifier {
    pub sent: Mutex<Vec<(EndpointId, Vec<String>)>>,
    pub nudges: Mutex<Vec<(EndpointId, Nudge)>>,
    /// Reviews shown as ended: the record as it was then, and the note.
    pub settled: Mutex<Vec<(RequestRecord, String)>>,
    pub fail: Mutex<bool>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    /// Posts to the audience's Slack channel, if any, as message `<n>.0`.
    async fn review_needed(&self, record: &RequestRecord, to: &Audience) -> Result<Posted, PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("notification topic unreachable", true));
        }
        let mut sent = lock(&self.sent);
        sent.push((record.endpoint.clone(), to.approvers.clone()));
        let slack = to
            .slack_channel
            .as_ref()
            .map(|channel| SlackMessage { channel: channel.clone(), ts: format!("{}.0", sent.len()) });
        Ok(Posted { slack })
    }

    async fn settled(&self, record: &RequestRecord, note: &str) -> Result<(), PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("notification topic unreachable", true));
        }
        lock(&self.settled).push((record.clone(), note.to_owned()));
        Ok(())
    }

    async fn nudge(&self, record: &RequestRecord, _to: &Audience, nudge: Nudge) -> Result<(), PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("notification topic unreachable", true));
        }
        lock(&self.nudges).push((record.endpoint.clone(), nudge));
        Ok(())
    }
}

/// Replies to Slack button presses, kept for tests to read.
#[derive(Debug, Default)]
pub struct RecordingReplies {
    pub sent: Mutex<Vec<(String, SlackReply)>>,
}

impl RecordingReplies {
    pub fn taken(&self) -> Vec<(String, SlackReply)> {
        std::mem::take(&mut *lock(&self.sent))
    }
}

#[async_trait]
impl SlackReplies for RecordingReplies {
    async fn reply(&self, response_url: &str, reply: &SlackReply) -> Result<(), PortError> {
        lock(&self.sent).push((response_url.to_owned(), reply.clone()));
        Ok(())
    }
}

/// The registry in memory, with the same version rule as the store.
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    pub entries: Mutex<HashMap<EndpointId, RegistryEntry>>,
    pub changes: Mutex<Vec<RegistryEntry>>,
}

impl InMemoryRegistry {
    pub fn snapshot(&self) -> HashMap<EndpointId, RegistryEntry> {
        lock(&self.entries).clone()
    }

    /// A page of the entries `keep` takes, in the table's order: active
    /// first, each part by id.
    fn select(&self, keep: impl Fn(&RegistryEntry) -> bool, history: bool, page: &PageAsk) -> ViewPage {
        let mut out: Vec<RegistryEntry> = lock(&self.entries)
            .values()
            .filter(|e| keep(e) && (history || e.is_active()))
            .filter(|e| page.after.as_ref().is_none_or(|after| after.precedes(e)))
            .cloned()
            .collect();
        out.sort_by_key(ViewPosition::of);
        let more = out.len() > page.limit;
        out.truncate(page.limit);
        let next = if more { out.last().map(ViewPosition::of) } else { None };
        ViewPage { entries: out, next }
    }
}

#[async_trait]
impl Registry for InMemoryRegistry {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<RegistryEntry>, PortError> {
        Ok(lock(&self.entries).get(endpoint).cloned())
    }

    async fn put(&self, entry: &RegistryEntry) -> Result<bool, PortError> {
        let mut entries = lock(&self.entries);
        let stored = entries.get(&entry.endpoint).map_or(0, |e| e.version);
        if stored + 1 != entry.version {
            return Ok(false);
        }
        entries.insert(entry.endpoint.clone(), entry.clone());
        lock(&self.changes).push(entry.clone());
        Ok(true)
    }

    async fn by_account(
        &self,
        account: AccountId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError> {
        Ok(self.select(|e| e.owner == account, history, page))
    }

    async fn by_service(
        &self,
        service: &ServiceId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError> {
        Ok(self.select(|e| &e.service == service, history, page))
    }

    async fn changes(&self, endpoint: &EndpointId) -> Result<Vec<RegistryEntry>, PortError> {
        Ok(lock(&self.changes).iter().filter(|e| &e.endpoint == endpoint).cloned().collect())
    }
}

/// A fixed service catalogue.
#[derive(Debug, Default)]
pub struct StaticCatalogue(pub Vec<ServiceInfo>);

#[async_trait]
impl Catalogue for StaticCatalogue {
    async fn services(&self, ids: &[ServiceId]) -> Result<Vec<ServiceInfo>, PortError> {
        Ok(self.0.iter().filter(|s| ids.is_empty() || ids.contains(&s.id)).cloned().collect())
    }
}

/// Sweep cursors, with every save kept so tests can see the progress.
#[derive(Debug, Default)]
pub struct InMemoryCheckpoints {
    pub cursors: Mutex<HashMap<String, String>>,
    pub saves: Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait]
impl Checkpoints for InMemoryCheckpoints {
    async fn load(&self, sweep: &str) -> Result<Option<String>, PortError> {
        Ok(lock(&self.cursors).get(sweep).cloned())
    }

    async fn save(&self, sweep: &str, cursor: Option<&str>, _at: Timestamp) -> Result<(), PortError> {
        lock(&self.saves).push((sweep.to_owned(), cursor.map(str::to_owned)));
        match cursor {
            Some(c) => lock(&self.cursors).insert(sweep.to_owned(), c.to_owned()),
            None => lock(&self.cursors).remove(sweep),
        };
        Ok(())
    }
}

/// Contacts by account.
#[derive(Debug, Default)]
pub struct InMemoryContacts(pub Mutex<HashMap<AccountId, Contact>>);

impl InMemoryContacts {
    pub fn with(contacts: impl IntoIterator<Item = Contact>) -> Self {
        Self(Mutex::new(contacts.into_iter().map(|c| (c.account, c)).collect()))
    }
}

/// An organization held in memory: each account's placement, how many
/// accounts each OU covers, and a switch that makes every read fail as
/// Organizations does when the role is refused. Counts the reads.
#[derive(Debug, Default)]
pub struct InMemoryOrganizations {
    pub placements: Mutex<HashMap<AccountId, Placement>>,
    pub fail: Mutex<Option<String>>,
    pub reads: Mutex<HashMap<AccountId, usize>>,
}

impl InMemoryOrganizations {
    pub fn with(placements: impl IntoIterator<Item = (AccountId, Placement)>) -> Self {
        Self { placements: Mutex::new(placements.into_iter().collect()), ..Self::default() }
    }
}

#[async_trait]
impl ContactBook for InMemoryContacts {
    async fn contact(&self, account: AccountId) -> Result<Option<Contact>, PortError> {
        Ok(lock(&self.0).get(&account).cloned())
    }
}

/// Which channel of a contact a [`RecordingNoticeSender`] stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NoticeChannel {
    #[default]
    Email,
    Slack,
}

/// Notices sent, with the contact each went to, kept for tests to read.
#[derive(Debug, Default)]
pub struct RecordingNoticeSender {
    pub channel: NoticeChannel,
    pub sent: Mutex<Vec<(Notice, Contact)>>,
    /// When set, every send fails.
    pub fail: Mutex<bool>,
}

impl RecordingNoticeSender {
    pub fn for_channel(channel: NoticeChannel) -> Self {
        Self { channel, ..Self::default() }
    }

    pub fn notices(&self) -> Vec<(Notice, Contact)> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl NoticeSender for RecordingNoticeSender {
    async fn send(&self, notice: &Notice, to: &Contact) -> Result<bool, PortError> {
        let serves = match self.channel {
            NoticeChannel::Email => to.email.is_some(),
            NoticeChannel::Slack => to.slack_channel.is_some(),
        };
        if !serves {
            return Ok(false);
        }
        if *lock(&self.fail) {
            return Err(PortError::plain("consumer topic unreachable", true));
        }
        lock(&self.sent).push((notice.clone(), to.clone()));
        Ok(true)
    }
}

/// The notices claimed, as the table's conditional writes would keep them.
#[derive(Debug, Default)]
pub struct InMemoryNoticeLedger(pub Mutex<std::collections::HashSet<(EndpointId, NoticeKind)>>);

#[async_trait]
impl NoticeLedger for InMemoryNoticeLedger {
    async fn first(
        &self,
        endpoint: &EndpointId,
        kind: NoticeKind,
        _now: Timestamp,
    ) -> Result<bool, PortError> {
        Ok(lock(&self.0).insert((endpoint.clone(), kind)))
    }

    async fn forget(&self, endpoint: &EndpointId, kind: NoticeKind) -> Result<(), PortError> {
        lock(&self.0).remove(&(endpoint.clone(), kind));
        Ok(())
    }
}

#[async_trait]
impl Organizations for InMemoryOrganizations {
    async fn placement(&self, account: AccountId) -> Result<Option<Placement>, PortError> {
        *lock(&self.reads).entry(account).or_default() += 1;
        if let Some(why) = lock(&self.fail).clone() {
            return Err(PortError::plain(why, false));
        }
        Ok(lock(&self.placements).get(&account).cloned())
    }

    async fn members(&self, group: &Principal) -> Result<Vec<AccountId>, PortError> {
        if let Some(why) = lock(&self.fail).clone() {
            return Err(PortError::plain(why, false));
        }
        let placements = lock(&self.placements);
        let mut out: Vec<AccountId> = placements
            .iter()
            .filter(|(account, p)| match group {
                Principal::Account(a) => a == *account,
                Principal::Ou(ou) => p.path.iter().any(|s| &s.id == ou),
                Principal::Organization(org) => &p.org == org,
            })
            .map(|(account, _)| *account)
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Allowed principals per service, as EC2 keeps them; `fail` fails every call.
#[derive(Debug, Default)]
pub struct InMemoryPermissions {
    pub allowed: Mutex<HashMap<ServiceId, Vec<String>>>,
    pub fail: Mutex<bool>,
    pub changes: Mutex<usize>,
}

#[async_trait]
impl ServicePermissions for InMemoryPermissions {
    async fn allowed(&self, service: &ServiceId) -> Result<Vec<String>, PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("DescribeVpcEndpointServicePermissions refused", true));
        }
        Ok(lock(&self.allowed).get(service).cloned().unwrap_or_default())
    }

    async fn change(&self, service: &ServiceId, add: &[String], remove: &[String]) -> Result<(), PortError> {
        if *lock(&self.fail) {
            return Err(PortError::plain("ModifyVpcEndpointServicePermissions refused", true));
        }
        *lock(&self.changes) += 1;
        let mut all = lock(&self.allowed);
        let list = all.entry(service.clone()).or_default();
        list.retain(|p| !remove.contains(p));
        list.extend(add.iter().filter(|p| !list.contains(p)).cloned().collect::<Vec<_>>());
        Ok(())
    }
}

/// What apply recorded of each service's allowed principals.
#[derive(Debug, Default)]
pub struct InMemoryPrincipalsRecord(pub Mutex<HashMap<ServiceId, AppliedPrincipals>>);

#[async_trait]
impl PrincipalsRecord for InMemoryPrincipalsRecord {
    async fn applied(&self) -> Result<Vec<AppliedPrincipals>, PortError> {
        let mut all: Vec<AppliedPrincipals> = lock(&self.0).values().cloned().collect();
        all.sort_by(|a, b| a.service.cmp(&b.service));
        Ok(all)
    }

    async fn record_applied(&self, applied: &AppliedPrincipals) -> Result<(), PortError> {
        lock(&self.0).insert(applied.service.clone(), applied.clone());
        Ok(())
    }
}
