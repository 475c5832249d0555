//! What consumers and operators may ask: endpoints by account or service,
//! one endpoint with its request's status, and the service catalogue with
//! what a request from the account would meet. A consumer only ever sees
//! its own account; asking for another is refused, and another account's
//! endpoint is reported as not found, so ids of other accounts cannot be
//! probed.

use std::collections::HashMap;
use std::sync::Arc;

use gate_core::caller::Caller;
use gate_core::{
    AccountId, EndpointId, Membership, OnExpiry, Outcome, Principal, Region, RegistryEntry, RequestRecord,
    RequestState, ServiceId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::organizations::Placements;
use crate::ports::{
    Audit, AuditKind, Catalogue, PageAsk, PolicySource, Registry, Requests, ServiceInfo, ViewPage,
};
use crate::services::ManagedServices;

#[derive(Clone)]
pub struct Lookup {
    pub registry: Arc<dyn Registry>,
    pub requests: Arc<dyn Requests>,
    pub audit: Arc<dyn Audit>,
    pub catalogue: Arc<dyn Catalogue>,
    /// The policies and allow entries, for what a request would meet.
    pub policies: Arc<dyn PolicySource>,
    /// Accounts' places in the organization, when OU entries are in use.
    pub placements: Option<Arc<Placements>>,
    /// The services Endpoint Gate publishes to consumers.
    pub services: Vec<ServiceId>,
    /// The services the policy file manages, published beside `services`.
    pub managed: Option<Arc<dyn ManagedServices>>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup").field("services", &self.services).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Which endpoints to list, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub account: Option<AccountId>,
    pub service: Option<ServiceId>,
    /// Include deleted and rejected endpoints.
    pub history: bool,
    pub page: PageAsk,
}

/// One endpoint: the registry's entry, its request and who was told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointView {
    pub endpoint: EndpointId,
    pub entry: Option<RegistryEntry>,
    pub request: Option<RequestView>,
    /// The states the registry recorded, oldest first.
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub state: String,
    pub observed_at: String,
}

/// Where a connection request stands, in words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestView {
    pub state: String,
    pub reasons: Vec<String>,
    pub decided_by: String,
    pub decided_at: String,
    /// Where the consumer's VPC lives, when the request recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Whom Endpoint Gate asked to review it, and when.
    pub notified: Vec<String>,
    /// When a review still waiting runs out, and what happens then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_ends: Option<String>,
}

/// A published service and what a request from the account would meet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceOffer {
    #[serde(flatten)]
    pub service: ServiceInfo,
    /// The decision for a request whose VPC CIDRs trouble no rule.
    pub for_account: Outcome,
    /// The service's CIDR rules can still send a request to review or
    /// reject it, whatever `for_account` says.
    pub cidrs_checked: bool,
    /// Why, in the consumer's wording.
    pub reasons: Vec<String>,
}

impl ServiceOffer {
    /// What a request from the account meets, in a consumer's words.
    pub fn verdict(&self) -> &'static str {
        match (self.service.acceptance_required, self.for_account, self.cidrs_checked) {
            (false, _, _) => "accepted by AWS at once (no acceptance required)",
            (true, Outcome::Accept, false) => "accepted automatically",
            (true, Outcome::Accept, true) => {
                "accepted automatically if your VPC's CIDRs pass the service's checks"
            }
            (true, Outcome::Review, _) => "reviewed by the provider's approvers",
            (true, Outcome::Reject, _) => "rejected",
        }
    }
}

impl Lookup {
    /// A page of endpoints. A service filter within an account is applied
    /// to the account's page, so such a page may hold fewer than asked (or
    /// none) and still have a next one.
    pub async fn endpoints(&self, caller: &Caller, filter: &Filter) -> Result<ViewPage, LookupError> {
        if !(1..=PageAsk::MAX).contains(&filter.page.limit) {
            return Err(LookupError::BadRequest(format!(
                "limit {} is not between 1 and {}",
                filter.page.limit,
                PageAsk::MAX
            )));
        }
        let account = if caller.operator {
            filter.account
        } else {
            own_account(caller, filter.account)?;
            Some(caller.account)
        };
        match (account, &filter.service) {
            (Some(account), service) => {
                let mut page = self.registry.by_account(account, filter.history, &filter.page).await?;
                page.entries.retain(|e| service.as_ref().is_none_or(|s| &e.service == s));
                Ok(page)
            }
            (None, Some(service)) => {
                Ok(self.registry.by_service(service, filter.history, &filter.page).await?)
            }
            (None, None) => {
                Err(LookupError::BadRequest("give account=<12 digits> or service=<vpce-svc-…>".into()))
            }
        }
    }

    pub async fn endpoint(
        &self,
        caller: &Caller,
        endpoint: &EndpointId,
        now: Timestamp,
    ) -> Result<EndpointView, LookupError> {
        let not_found = || LookupError::NotFound(format!("no endpoint {endpoint} in your account"));
        let entry = self.registry.get(endpoint).await?;
        let record = self.requests.get_many(std::slice::from_ref(endpoint)).await?.remove(endpoint);
        let owner = entry.as_ref().map(|e| e.owner).or(record.as_ref().map(|r| r.owner));
        match owner {
            None => return Err(not_found()),
            Some(owner) if owner != caller.account && !caller.operator => return Err(not_found()),
            Some(_) => {}
        }
        let request = match record {
            Some(r) => Some(self.request_view(r, caller.operator, now).await?),
            None => None,
        };
        let changes = self
            .registry
            .changes(endpoint)
            .await?
            .into_iter()
            .map(|e| Change { state: e.state.to_string(), observed_at: e.observed_at.to_string() })
            .collect();
        Ok(EndpointView { endpoint: endpoint.clone(), entry, request, changes })
    }

    /// The request in words; a consumer gets the consumer wording of each
    /// reason, which names no other tenant and no allowlist note.
    async fn request_view(
        &self,
        r: RequestRecord,
        operator: bool,
        now: Timestamp,
    ) -> Result<RequestView, PortError> {
        let notified = self
            .audit
            .history(&r.endpoint)
            .await?
            .into_iter()
            .filter(|e| e.kind == AuditKind::Notified)
            .map(|e| format!("{} at {}", e.detail, e.at))
            .collect();
        let review_ends = self.review_ends(&r, now).await?;
        Ok(RequestView {
            state: r.state.to_string(),
            reasons: r
                .reasons
                .iter()
                .map(|reason| if operator { reason.to_string() } else { reason.for_consumer() })
                .collect(),
            decided_by: r.actor,
            decided_at: r.decided_at.to_string(),
            region: r.region,
            notified,
            review_ends,
        })
    }

    /// When a review that still waits runs out, from its service's policy.
    async fn review_ends(&self, r: &RequestRecord, now: Timestamp) -> Result<Option<String>, PortError> {
        if r.state != RequestState::Review || r.expired_at.is_some() {
            return Ok(None);
        }
        let book = self.policies.load_book(&[(r.service.clone(), Principal::Account(r.owner))]).await?;
        Ok(book.policy_for(&r.service).map(|p| {
            let ends = r.decided_at.plus_secs(p.policy.approval_ttl_secs);
            let then = match p.policy.on_expiry {
                OnExpiry::Reject => "it is rejected and may be requested again",
                OnExpiry::KeepPending => "it stays pending and an answer still counts",
            };
            if ends <= now {
                format!("the review ran out at {ends}; {then}")
            } else {
                format!("{ends}; then {then}")
            }
        }))
    }

    /// The published services, what to put in CreateVpcEndpoint for each,
    /// and what a request from `account` (the caller's by default) would
    /// meet now: one read of the policy book for them all.
    pub async fn services(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        now: Timestamp,
    ) -> Result<Vec<ServiceOffer>, LookupError> {
        if !caller.operator {
            own_account(caller, account)?;
        }
        let account = account.unwrap_or(caller.account);
        // One read of the managed list; a failure fails the lookup.
        let mut ids = self.services.clone();
        if let Some(managed) = self.managed.as_ref().filter(|_| !ids.is_empty()) {
            let extra = managed.managed().await?;
            ids.extend(extra.into_iter().filter(|s| !self.services.contains(s)));
        }
        let services = self.catalogue.services(&ids).await?;
        let membership = match &self.placements {
            Some(p) => p.membership(account, now).await,
            None => Membership::NotConfigured,
        };
        let memberships = HashMap::from([(account, membership.clone())]);
        let pairs = crate::decide::book_pairs(services.iter().map(|s| (&s.id, account)), &memberships);
        let book = self.policies.load_book(&pairs).await?;
        Ok(services
            .into_iter()
            .map(|service| {
                let offer = gate_core::offer(&book, &service.id, account, &membership, now);
                ServiceOffer {
                    for_account: offer.decision.outcome,
                    cidrs_checked: offer.cidrs_matter,
                    reasons: offer.decision.reasons.iter().map(gate_core::Reason::for_consumer).collect(),
                    service,
                }
            })
            .collect())
    }
}

/// A consumer asks about its own account only.
fn own_account(caller: &Caller, asked: Option<AccountId>) -> Result<(), LookupError> {
    match asked {
        Some(asked) if asked != caller.account => {
            Err(LookupError::Forbidden(format!("you can look up your own account ({}) only", caller.account)))
        }
        _ => Ok(()),
    }
}
