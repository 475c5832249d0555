//! What consumers and operators may ask: endpoints by account or service,
//! one endpoint with its request's status, and the service catalogue. A
//! consumer only ever sees its own account; asking for another is refused,
//! and another account's endpoint is reported as not found, so ids of other
//! accounts cannot be probed.

use std::sync::Arc;

use gate_core::caller::Caller;
use gate_core::{AccountId, EndpointId, RegistryEntry, RequestRecord, ServiceId};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ports::{Audit, AuditKind, Catalogue, Registry, Requests, ServiceInfo};

#[derive(Clone)]
pub struct Lookup {
    pub registry: Arc<dyn Registry>,
    pub requests: Arc<dyn Requests>,
    pub audit: Arc<dyn Audit>,
    pub catalogue: Arc<dyn Catalogue>,
    /// The services Endpoint Gate publishes to consumers.
    pub services: Vec<ServiceId>,
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

/// Which endpoints to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub account: Option<AccountId>,
    pub service: Option<ServiceId>,
    /// Include deleted and rejected endpoints.
    pub history: bool,
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
    /// Whom Endpoint Gate asked to review it, and when.
    pub notified: Vec<String>,
}

impl Lookup {
    pub async fn endpoints(
        &self,
        caller: &Caller,
        filter: &Filter,
    ) -> Result<Vec<RegistryEntry>, LookupError> {
        if !caller.operator {
            if let Some(asked) = filter.account
                && asked != caller.account
            {
                return Err(LookupError::Forbidden(format!(
                    "you can look up your own account ({}) only",
                    caller.account
                )));
            }
            let mine = self.registry.by_account(caller.account, filter.history).await?;
            return Ok(mine
                .into_iter()
                .filter(|e| filter.service.as_ref().is_none_or(|s| &e.service == s))
                .collect());
        }
        match (&filter.account, &filter.service) {
            (Some(account), service) => {
                let all = self.registry.by_account(*account, filter.history).await?;
                Ok(all.into_iter().filter(|e| service.as_ref().is_none_or(|s| &e.service == s)).collect())
            }
            (None, Some(service)) => Ok(self.registry.by_service(service, filter.history).await?),
            (None, None) => {
                Err(LookupError::BadRequest("give account=<12 digits> or service=<vpce-svc-…>".into()))
            }
        }
    }

    pub async fn endpoint(
        &self,
        caller: &Caller,
        endpoint: &EndpointId,
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
            Some(r) => Some(self.request_view(r, caller.operator).await?),
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
    async fn request_view(&self, r: RequestRecord, operator: bool) -> Result<RequestView, PortError> {
        let notified = self
            .audit
            .history(&r.endpoint)
            .await?
            .into_iter()
            .filter(|e| e.kind == AuditKind::Notified)
            .map(|e| format!("{} at {}", e.detail, e.at))
            .collect();
        Ok(RequestView {
            state: r.state.to_string(),
            reasons: r
                .reasons
                .iter()
                .map(|reason| if operator { reason.to_string() } else { reason.for_consumer() })
                .collect(),
            decided_by: r.actor,
            decided_at: r.decided_at.to_string(),
            notified,
        })
    }

    /// The published services: what to put in CreateVpcEndpoint.
    pub async fn services(&self) -> Result<Vec<ServiceInfo>, LookupError> {
        Ok(self.catalogue.services(&self.services).await?)
    }
}
