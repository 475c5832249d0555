//! What the use cases need from the outside world, in domain terms. Each
//! trait is one capability, so a use case depends only on what it uses.

use std::collections::HashMap;

use async_trait::async_trait;
use gate_core::{
    AccountId, Action, AllowEntry, Cidr, Connection, ConnectionState, Contact, Discovery, EndpointId, Notice,
    NoticeKind, Outcome, Placement, PolicyBook, Principal, Region, RegistryEntry, RequestRecord, Scope,
    ServiceId, ServicePolicy, ShadowVerdict, SlackMessage, Timestamp, ViewPosition,
};
use serde::{Deserialize, Serialize};

use crate::cidr_claims::{CidrClaims, GuardedClaim};
use crate::error::PortError;

/// An endpoint the provider asked EC2 to accept or reject but which EC2
/// refused (`Unsuccessful[]` in the response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub endpoint: EndpointId,
    pub code: String,
    pub message: String,
}

/// The provider's view of its endpoint connections (EC2).
#[async_trait]
pub trait Connections: Send + Sync {
    /// The connection of this endpoint to one of the provider's services.
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<Connection>, PortError>;
    /// Every connection awaiting acceptance, on these services (all when empty).
    async fn pending(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError>;
    /// One page of them, from where `cursor` says (the start when `None`).
    /// Adapters that cannot page return everything at once.
    async fn pending_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        match cursor {
            None => Ok(Page { connections: self.pending(services).await?, next: None }),
            Some(_) => Ok(Page::default()),
        }
    }
    /// Every connection in any state EC2 still lists, on these services
    /// (all when empty): the registry's sweep and backfill.
    async fn all(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError>;
    /// One page of them, from where `cursor` says (the start when `None`).
    async fn all_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        match cursor {
            None => Ok(Page { connections: self.all(services).await?, next: None }),
            Some(_) => Ok(Page::default()),
        }
    }
    /// One page of the connections EC2 says are `available`, on these
    /// services (all when empty): what the revocation pass looks at.
    async fn available_page(
        &self,
        services: &[ServiceId],
        cursor: Option<String>,
    ) -> Result<Page, PortError> {
        let mut page = self.all_page(services, cursor).await?;
        page.connections.retain(|c| c.state == ConnectionState::Available);
        Ok(page)
    }
    /// The connections of these endpoints that EC2 still lists, in any state.
    async fn find(&self, endpoints: &[EndpointId]) -> Result<Vec<Connection>, PortError> {
        let mut found = Vec::new();
        for endpoint in endpoints {
            found.extend(self.get(endpoint).await?);
        }
        Ok(found)
    }
    /// Accepts or rejects endpoints of one service; what EC2 refused comes back.
    async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        endpoints: &[EndpointId],
    ) -> Result<Vec<Refused>, PortError>;
}

/// A page of connections and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub connections: Vec<Connection>,
    /// Opaque to callers; `None` on the last page.
    pub next: Option<String>,
}

/// Where a sweep that ran out of time got to, so that the next invocation
/// goes on from there instead of starting again. One cursor per sweep.
#[async_trait]
pub trait Checkpoints: Send + Sync {
    async fn load(&self, sweep: &str) -> Result<Option<String>, PortError>;
    /// Keeps `cursor`; `None` forgets it (the sweep finished).
    async fn save(&self, sweep: &str, cursor: Option<&str>, at: Timestamp) -> Result<(), PortError>;
}

/// The consumer side: which CIDRs the endpoint's VPC has.
#[async_trait]
pub trait ConsumerNetworks: Send + Sync {
    /// `Ok(Discovery::Unavailable)` when the consumer cannot be read for a
    /// lasting reason (no role, access denied); `Err` only when retrying helps.
    /// The endpoint and its VPC live in `region` (cross-region PrivateLink);
    /// `None` when EC2 gave no usable region: nothing is read, unavailable.
    async fn vpc_cidrs(
        &self,
        owner: AccountId,
        region: Option<&Region>,
        endpoint: &EndpointId,
    ) -> Result<Discovery, PortError>;
}

/// The operator's policies and allow entries.
#[async_trait]
pub trait PolicySource: Send + Sync {
    /// Everything needed to decide these (service, principal) pairs: their
    /// policies, the `*` policy, and entries at both scopes. A decision asks
    /// for the account and, when its placement is known, each OU on its
    /// path and its organization.
    async fn load_book(&self, pairs: &[(ServiceId, Principal)]) -> Result<PolicyBook, PortError>;
    /// The scopes whose policy says `revoke: reject`, so that a sweep lists
    /// available connections only when some policy may revoke one.
    async fn revoking(&self) -> Result<Vec<Scope>, PortError>;
}

/// AWS Organizations, read through a read-only role in the management or
/// a delegated administrator account.
#[async_trait]
pub trait Organizations: Send + Sync {
    /// The account's organization and its OUs from the root down; `None`
    /// when Organizations says the account is not in the organization.
    /// `Err` for any failure (denied, throttled, not in use): the caller
    /// decides without OU entries, never with a guess.
    async fn placement(&self, account: AccountId) -> Result<Option<Placement>, PortError>;
    /// The accounts of an OU (and every OU below it) or of the
    /// organization, now; an account entry is itself. Another
    /// organization's id has no members here.
    async fn members(&self, group: &Principal) -> Result<Vec<AccountId>, PortError>;
}

/// What apply last set as a service's allowed principals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPrincipals {
    pub service: ServiceId,
    /// `gate_core::principals::digest` of the list.
    pub digest: String,
    pub count: usize,
    pub applied_at: Timestamp,
}

/// The record of what apply set, so the sweep can report drift.
#[async_trait]
pub trait PrincipalsRecord: Send + Sync {
    async fn applied(&self) -> Result<Vec<AppliedPrincipals>, PortError>;
    async fn record_applied(&self, applied: &AppliedPrincipals) -> Result<(), PortError>;
}

/// Who may create an endpoint to a service at all: EC2's allowed
/// principals (`DescribeVpcEndpointServicePermissions`,
/// `ModifyVpcEndpointServicePermissions`).
#[async_trait]
pub trait ServicePermissions: Send + Sync {
    /// The principal ARNs allowed now (`*` for everyone).
    async fn allowed(&self, service: &ServiceId) -> Result<Vec<String>, PortError>;
    async fn change(&self, service: &ServiceId, add: &[String], remove: &[String]) -> Result<(), PortError>;
}

/// What deciding a batch of connections reads before anything else: their
/// requests and the policy book. A store holding both answers in one round
/// trip, which is one call of the four an accept costs.
#[async_trait]
pub trait DecisionReads: Send + Sync {
    async fn read(
        &self,
        endpoints: &[EndpointId],
        pairs: &[(ServiceId, Principal)],
    ) -> Result<(HashMap<EndpointId, RequestRecord>, PolicyBook), PortError>;
}

/// What recording one observed connection reads first: Endpoint Gate's
/// request record (who accepted) and the registry entry it merges into. A
/// store holding both answers in one round trip, one call of record's four.
#[async_trait]
pub trait ObservationReads: Send + Sync {
    async fn request_and_entry(
        &self,
        endpoint: &EndpointId,
    ) -> Result<(Option<RequestRecord>, Option<RegistryEntry>), PortError>;
}

/// Decided requests, written so that each is decided exactly once.
#[async_trait]
pub trait Requests: Send + Sync {
    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RequestRecord>, PortError>;
    /// Stores the first decision and its audit entry, both or neither;
    /// `false` when a decision already exists.
    async fn create(&self, record: &RequestRecord, decided: &AuditEvent) -> Result<bool, PortError>;
    /// Replaces the record when the stored version is `record.version - 1`;
    /// `false` when someone else wrote first.
    async fn update(&self, record: &RequestRecord) -> Result<bool, PortError>;
    /// CIDRs of the service's accepted consumers, with whose endpoint they are.
    async fn accepted_cidrs(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<(Cidr, AccountId, EndpointId)>, PortError>;
    /// The claim guard of a service whose consumer CIDRs must be unique,
    /// read consistently; version 0 and no claims when none is stored.
    async fn cidr_claims(&self, service: &ServiceId) -> Result<CidrClaims, PortError>;
    /// [`Requests::create`] for an accept of such a service: the decision,
    /// its audit entry and the guard moved from `next.version - 1` to
    /// `next`, all or nothing.
    async fn create_guarded(
        &self,
        record: &RequestRecord,
        decided: &AuditEvent,
        next: &CidrClaims,
    ) -> Result<GuardedClaim, PortError>;
    /// [`Requests::update`] for an approval of such a service, moving its
    /// guard from `next.version - 1` to `next`, both or neither; `false`
    /// when either had moved on.
    async fn update_guarded(&self, record: &RequestRecord, next: &CidrClaims) -> Result<bool, PortError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Decided,
    Accepted,
    Rejected,
    ActionRefused,
    Notified,
    BadInput,
    /// A decision notice went to the consumer account's contact.
    ConsumerNotified,
    /// A decision notice could not be sent; the decision stands.
    NoticeFailed,
    /// An available connection's allowance is gone and its policy says
    /// `revoke: reject`: the revocation is claimed, with its reasons.
    Revoked,
    /// A `mode: shadow` service's verdict: what would have been done (the
    /// outcome, or `detail` starting "would revoke"); nothing was done.
    ShadowDecided,
}

/// One line of the append-only audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub kind: AuditKind,
    pub actor: String,
    pub endpoint: Option<EndpointId>,
    pub service: Option<ServiceId>,
    pub owner: Option<AccountId>,
    pub outcome: Option<Outcome>,
    pub detail: String,
}

/// What `mode: shadow` services would have done: the latest verdict per
/// endpoint, each new one also a line of the audit.
#[async_trait]
pub trait Shadows: Send + Sync {
    /// Keeps `verdict` and appends `event` to the audit, both or neither,
    /// unless the endpoint's stored verdict already says the same `would`:
    /// then nothing is written and the answer is `false`. A sweep that sees
    /// the same pending connection every few minutes adds nothing.
    async fn keep(&self, verdict: &ShadowVerdict, event: &AuditEvent) -> Result<bool, PortError>;
    /// The verdicts kept at or after `since`, of one service or of all.
    async fn list(
        &self,
        service: Option<&ServiceId>,
        since: Timestamp,
    ) -> Result<Vec<ShadowVerdict>, PortError>;
}

#[async_trait]
pub trait Audit: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError>;
    async fn history(&self, endpoint: &EndpointId) -> Result<Vec<AuditEvent>, PortError>;
}

/// Who hears about a service's reviews, as its policy says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Everyone who may answer: email addresses and `slack:<user id>`s.
    pub approvers: Vec<String>,
    /// Those of them who get signed links by email.
    pub email: Vec<String>,
    pub slack_channel: Option<String>,
}

impl Audience {
    pub fn of(policy: Option<&ServicePolicy>) -> Self {
        policy.map_or_else(Self::default, |p| Self {
            approvers: p.approvers.clone(),
            email: p.email_approvers(),
            slack_channel: p.slack_channel.clone(),
        })
    }
}

/// Tells approvers that a request waits for them, and how it ended.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Where the review was posted comes back, to be kept on the request.
    async fn review_needed(&self, record: &RequestRecord, to: &Audience) -> Result<Posted, PortError>;
    /// A later word about a review: a reminder, or what its expiry did.
    async fn nudge(&self, record: &RequestRecord, to: &Audience, nudge: Nudge) -> Result<(), PortError>;
    /// The review is over: where it was posted now shows who decided and
    /// `note`. Channels that keep nothing to update (email) do nothing.
    async fn settled(&self, _record: &RequestRecord, _note: &str) -> Result<(), PortError> {
        Ok(())
    }
}

/// Where a review was posted, so that its message can later show the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Posted {
    pub slack: Option<SlackMessage>,
}

/// Why approvers hear about a review again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nudge {
    /// The n-th reminder.
    Reminder(u32),
    /// Nobody answered in time; the connection was rejected.
    ExpiredRejected,
    /// Nobody answered in time; the connection stays pending and answers still count.
    ExpiredKeptPending,
    /// The connection was available, its allowance is gone, and the sweep
    /// rejected it as the policy says (`revoke: reject`).
    Revoked,
}

/// Where a consumer account's team hears about its requests. The policy's
/// contacts are one source; a tag on the account read from Organizations
/// can be another, behind the same trait, tried after them.
#[async_trait]
pub trait ContactBook: Send + Sync {
    async fn contact(&self, account: AccountId) -> Result<Option<Contact>, PortError>;
}

/// One channel of decision notices (the consumer topic, Slack).
#[async_trait]
pub trait NoticeSender: Send + Sync {
    /// Sends `notice` when `to` names an address this channel serves;
    /// `Ok(false)` when it names none.
    async fn send(&self, notice: &Notice, to: &Contact) -> Result<bool, PortError>;
}

/// Which notices went out, so duplicate deliveries of one event send one.
/// Claims expire after a while; the decision they tell of is final anyway.
#[async_trait]
pub trait NoticeLedger: Send + Sync {
    /// Claims this endpoint's notice of this kind; `false` when it was
    /// claimed before.
    async fn first(&self, endpoint: &EndpointId, kind: NoticeKind, now: Timestamp)
    -> Result<bool, PortError>;
    /// Gives a claim back when its notice could not be sent at all.
    async fn forget(&self, endpoint: &EndpointId, kind: NoticeKind) -> Result<(), PortError>;
}

/// A stored policy or allow entry with the revision of its last write, so
/// that a write can insist nothing changed since it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub value: T,
    pub revision: u64,
}

/// What the operator's configuration holds, all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveConfig {
    pub policies: Vec<Versioned<ServicePolicy>>,
    pub entries: Vec<Versioned<AllowEntry>>,
    pub contacts: Vec<Versioned<Contact>>,
}

/// Reading and writing the operator's configuration as a whole, for
/// policy-as-code. Writes are conditional on the revision last seen:
/// `expected = None` means "must not exist yet".
#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn load_all(&self) -> Result<LiveConfig, PortError>;
    /// Only the policies: what the sweep's look at the review topic needs,
    /// without the allow entries (there may be 100,000 of them).
    async fn load_policies(&self) -> Result<Vec<Versioned<ServicePolicy>>, PortError> {
        Ok(self.load_all().await?.policies)
    }
    async fn write_policy(&self, policy: &ServicePolicy, expected: Option<u64>) -> Result<bool, PortError>;
    async fn write_entry(&self, entry: &AllowEntry, expected: Option<u64>) -> Result<bool, PortError>;
    async fn delete_policy(&self, scope: &Scope, expected: u64) -> Result<bool, PortError>;
    async fn delete_entry(
        &self,
        scope: &Scope,
        principal: &Principal,
        expected: u64,
    ) -> Result<bool, PortError>;
    /// Only the contacts: what the sweep's look at the consumer topic needs.
    async fn load_contacts(&self) -> Result<Vec<Versioned<Contact>>, PortError> {
        Ok(self.load_all().await?.contacts)
    }
    async fn write_contact(&self, contact: &Contact, expected: Option<u64>) -> Result<bool, PortError>;
    async fn delete_contact(&self, account: AccountId, expected: u64) -> Result<bool, PortError>;
}

/// What the respond function tells Slack after a button press, through the
/// message's `response_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackReply {
    /// Replace the review message with how it ended, so the channel sees
    /// who decided and when.
    Outcome { record: Box<RequestRecord>, note: String },
    /// Only the person who clicked sees this; the message stays as it is.
    Ephemeral(String),
}

#[async_trait]
pub trait SlackReplies: Send + Sync {
    async fn reply(&self, response_url: &str, reply: &SlackReply) -> Result<(), PortError>;
}

/// The registry of endpoints: one entry per endpoint, written conditionally
/// on its version, and queried by key or index only.
#[async_trait]
pub trait Registry: Send + Sync {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<RegistryEntry>, PortError>;
    /// Stores `entry` when the stored version is `entry.version - 1` (or
    /// nothing is stored and `entry.version == 1`), and keeps the state
    /// change in the endpoint's history; `false` when someone wrote first.
    async fn put(&self, entry: &RegistryEntry) -> Result<bool, PortError>;
    /// A page of a consumer account's endpoints; only the active ones
    /// unless `history`.
    async fn by_account(
        &self,
        account: AccountId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError>;
    /// A page of a service's endpoints; only the active ones unless `history`.
    async fn by_service(
        &self,
        service: &ServiceId,
        history: bool,
        page: &PageAsk,
    ) -> Result<ViewPage, PortError>;
    /// The ids of a service's active endpoints: what the sweep compares with
    /// EC2, without holding whole entries.
    async fn active_ids(&self, service: &ServiceId) -> Result<Vec<EndpointId>, PortError> {
        let mut ids = Vec::new();
        let mut page = PageAsk::default();
        loop {
            let got = self.by_service(service, false, &page).await?;
            ids.extend(got.entries.into_iter().map(|e| e.endpoint));
            match got.next {
                Some(next) => page.after = Some(next),
                None => return Ok(ids),
            }
        }
    }
    /// The entries of these endpoints, those that exist.
    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RegistryEntry>, PortError> {
        let mut found = HashMap::new();
        for endpoint in endpoints {
            if let Some(entry) = self.get(endpoint).await? {
                found.insert(endpoint.clone(), entry);
            }
        }
        Ok(found)
    }
    /// Up to `limit` ids of a service's active endpoints after `after`, in
    /// id order, and whether more may follow: the sweep's second pass.
    async fn active_page(
        &self,
        service: &ServiceId,
        after: Option<&EndpointId>,
        limit: usize,
    ) -> Result<(Vec<EndpointId>, bool), PortError> {
        let mut ids = self.active_ids(service).await?;
        ids.sort();
        ids.retain(|id| after.is_none_or(|a| id > a));
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok((ids, more))
    }
    /// Every state the endpoint was recorded in, oldest first.
    async fn changes(&self, endpoint: &EndpointId) -> Result<Vec<RegistryEntry>, PortError>;
}

/// Which page of a registry view to read: the entries after `after` (from
/// the start without it), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAsk {
    pub after: Option<ViewPosition>,
    pub limit: usize,
}

impl PageAsk {
    /// The most entries one page holds: about 1 MB of entries, which is
    /// also what one DynamoDB Query reads, and an answer far inside
    /// Lambda's 6 MB response payload limit.
    pub const MAX: usize = 1_000;
}

impl Default for PageAsk {
    fn default() -> Self {
        Self { after: None, limit: Self::MAX }
    }
}

/// A page of a registry view, in the view's order (active endpoints by id,
/// then the others by id), and where the next page starts when more may
/// follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewPage {
    pub entries: Vec<RegistryEntry>,
    pub next: Option<ViewPosition>,
}

/// A published endpoint service, as consumers need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: ServiceId,
    /// What a consumer puts in CreateVpcEndpoint (`com.amazonaws.vpce.…`).
    pub name: String,
    /// `Interface` (NLB) or `GatewayLoadBalancer`.
    pub kind: String,
    pub acceptance_required: bool,
    pub state: String,
}

/// The provider's published endpoint services.
#[async_trait]
pub trait Catalogue: Send + Sync {
    async fn services(&self, ids: &[ServiceId]) -> Result<Vec<ServiceInfo>, PortError>;
}
