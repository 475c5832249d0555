//! Keeping the registry: each event names endpoints, EC2 is read again, and
//! the observation is merged into the registry by the pure rules of
//! `gate_core::registry`. The sweep (and a backfill, which is the same
//! thing) reads every connection of the services and notices the ones EC2
//! no longer lists.

use std::collections::HashSet;
use std::sync::Arc;

use gate_core::registry::{Attribution, Merge, Observation, merge};
use gate_core::{ConnectionState, EndpointId, Reason, RequestState, ServiceId, Timestamp};
use serde::Serialize;

use crate::error::PortError;
use crate::ports::{Connections, Registry, Requests};

/// Conflicting writers (two events for one endpoint at once) retry this often.
const WRITE_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct Recorder {
    pub connections: Arc<dyn Connections>,
    pub requests: Arc<dyn Requests>,
    pub registry: Arc<dyn Registry>,
    /// The provider's services; others are not recorded. Empty: all.
    pub services: Vec<ServiceId>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("services", &self.services).finish_non_exhaustive()
    }
}

/// What an event said about an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub endpoint: EndpointId,
    /// The caller of an AcceptVpcEndpointConnections (CloudTrail), if known.
    pub accepted_by: Option<String>,
}

/// What one run did, endpoint by endpoint.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RecordReport {
    pub written: Vec<EndpointId>,
    pub unchanged: usize,
    pub stale: usize,
    /// Named by an event, but neither EC2 nor the registry knows them.
    pub unknown: Vec<EndpointId>,
    /// Connections of services Endpoint Gate does not manage.
    pub skipped: Vec<EndpointId>,
    pub failed: Vec<(EndpointId, String)>,
}

enum Done {
    Written,
    Unchanged,
    Stale,
    Unknown,
}

impl RecordReport {
    fn count(&mut self, endpoint: EndpointId, result: Result<Done, PortError>) {
        match result {
            Ok(Done::Written) => self.written.push(endpoint),
            Ok(Done::Unchanged) => self.unchanged += 1,
            Ok(Done::Stale) => self.stale += 1,
            Ok(Done::Unknown) => self.unknown.push(endpoint),
            Err(e) => {
                tracing::error!(endpoint_id = %endpoint, error = %e.chain(), "recording failed");
                self.failed.push((endpoint, e.chain()));
            }
        }
    }
}

impl Recorder {
    fn manages(&self, service: &ServiceId) -> bool {
        self.services.is_empty() || self.services.contains(service)
    }

    /// Records what EC2 says now about each hinted endpoint.
    pub async fn record(&self, hints: &[Hint]) -> RecordReport {
        let mut report = RecordReport::default();
        for hint in hints {
            let read = self.connections.get(&hint.endpoint).await;
            let observed_at = Timestamp::now();
            let connection = match read {
                Ok(c) => c,
                Err(e) => {
                    report.count(hint.endpoint.clone(), Err(e));
                    continue;
                }
            };
            if let Some(c) = &connection
                && !self.manages(&c.service)
            {
                report.skipped.push(hint.endpoint.clone());
                continue;
            }
            let attribution = match (&connection, &hint.accepted_by) {
                (Some(c), Some(actor)) if c.state == ConnectionState::Available => Some(Attribution {
                    actor: actor.clone(),
                    why: "accepted outside Endpoint Gate (console or API)".into(),
                }),
                _ => None,
            };
            let obs = Observation { endpoint: hint.endpoint.clone(), connection, observed_at, attribution };
            report.count(hint.endpoint.clone(), self.observe(obs).await);
        }
        report
    }

    /// Reads every connection of the services, records each, and marks the
    /// active entries EC2 no longer lists as deleted. `progress` hears
    /// (done, total) as it goes.
    pub async fn sweep(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<RecordReport, PortError> {
        let listed = self.connections.all(&self.services).await?;
        let observed_at = Timestamp::now();
        let mut report = RecordReport::default();
        let seen: HashSet<EndpointId> = listed.iter().map(|c| c.endpoint.clone()).collect();
        let mut services: Vec<ServiceId> = self.services.clone();
        for c in &listed {
            if !services.contains(&c.service) {
                services.push(c.service.clone());
            }
        }
        let mut vanished = Vec::new();
        for service in &services {
            for entry in self.registry.by_service(service, false).await? {
                if !seen.contains(&entry.endpoint) {
                    vanished.push(entry.endpoint);
                }
            }
        }
        let total = listed.len() + vanished.len();
        let observations = listed
            .into_iter()
            .map(|c| Observation {
                endpoint: c.endpoint.clone(),
                connection: Some(c),
                observed_at,
                attribution: None,
            })
            .chain(vanished.into_iter().map(|endpoint| Observation {
                endpoint,
                connection: None,
                observed_at,
                attribution: None,
            }));
        for (done, obs) in observations.enumerate() {
            let endpoint = obs.endpoint.clone();
            report.count(endpoint, self.observe(obs).await);
            if (done + 1) % 100 == 0 || done + 1 == total {
                progress(done + 1, total);
            }
        }
        Ok(report)
    }

    /// Merges one observation, retrying when another writer got there first.
    async fn observe(&self, mut obs: Observation) -> Result<Done, PortError> {
        // Endpoint Gate's own record explains best; CloudTrail's caller of its
        // own Accept would only name decide's role.
        if let Some(ours) = self.gate_attribution(&obs.endpoint).await? {
            obs.attribution = Some(ours);
        }
        for _ in 0..WRITE_ATTEMPTS {
            let existing = self.registry.get(&obs.endpoint).await?;
            match merge(existing.as_ref(), &obs) {
                Merge::Write(next) => {
                    if self.registry.put(&next).await? {
                        tracing::info!(endpoint_id = %next.endpoint, state = %next.state, "registry updated");
                        return Ok(Done::Written);
                    }
                }
                Merge::Unchanged => return Ok(Done::Unchanged),
                Merge::Stale(why) => {
                    tracing::info!(endpoint_id = %obs.endpoint, why, "stale observation ignored");
                    return Ok(Done::Stale);
                }
                Merge::Unknown => return Ok(Done::Unknown),
            }
        }
        Err(PortError::plain(format!("the registry entry of {} kept changing; retry", obs.endpoint), true))
    }

    /// Who accepted, when Endpoint Gate did: its request record says.
    async fn gate_attribution(&self, endpoint: &EndpointId) -> Result<Option<Attribution>, PortError> {
        let record = self.requests.get_many(std::slice::from_ref(endpoint)).await?.remove(endpoint);
        Ok(record.and_then(|r| match r.state {
            RequestState::Accepted => Some(Attribution {
                actor: r.actor,
                // The registry is what consumers read: their wording.
                why: r.reasons.iter().map(Reason::for_consumer).collect::<Vec<_>>().join("; "),
            }),
            RequestState::Approved => {
                Some(Attribution { why: format!("approved by {} after review", r.actor), actor: r.actor })
            }
            _ => None,
        }))
    }
}
