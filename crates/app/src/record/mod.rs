//! Keeping the registry: each event names endpoints, EC2 is read again, and
//! the observation is merged into the registry by the pure rules of
//! `gate_core::registry`. The sweep (and a backfill, which is the same
//! thing) reads every connection of the services and notices the ones EC2
//! no longer lists.

use std::sync::Arc;

use gate_core::registry::{Attribution, Merge, Observation, merge};
use gate_core::{
    ConnectionState, EndpointId, Reason, RegistryEntry, RequestRecord, RequestState, ServiceId, Timestamp,
};
use serde::Serialize;

use crate::error::PortError;
use crate::ports::{Audit, Checkpoints, Connections, ObservationReads, Registry, Requests};
use crate::report::keep;
use crate::services::ManagedServices;

/// Conflicting writers (two events for one endpoint at once) retry this often.
const WRITE_ATTEMPTS: usize = 5;

mod sweep;
pub use sweep::SWEEP_NAME;

#[derive(Clone)]
pub struct Recorder {
    pub connections: Arc<dyn Connections>,
    pub requests: Arc<dyn Requests>,
    pub registry: Arc<dyn Registry>,
    /// Where malformed input is recorded.
    pub audit: Arc<dyn Audit>,
    /// The provider's services; others are not recorded. Empty: all.
    pub services: Vec<ServiceId>,
    /// Where a sweep cut short resumes; without it every sweep starts over.
    pub checkpoints: Option<Arc<dyn Checkpoints>>,
    /// The services the policy file manages, recorded beside `services`;
    /// `None` records only those.
    pub managed: Option<Arc<dyn ManagedServices>>,
    /// The request and the registry entry in one read, where the store can;
    /// `None` reads them one after the other.
    pub together: Option<Arc<dyn ObservationReads>>,
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

/// What one run did. The lists keep their first
/// [`REPORT_DETAILS`](crate::report::REPORT_DETAILS) entries;
/// `counts` counts them all, so a sweep's answer stays small.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct RecordReport {
    pub counts: RecordCounts,
    pub written: Vec<EndpointId>,
    pub unchanged: usize,
    pub stale: usize,
    /// Named by an event, but neither EC2 nor the registry knows them.
    pub unknown: Vec<EndpointId>,
    /// Connections of services Endpoint Gate does not manage.
    pub skipped: Vec<EndpointId>,
    pub failed: Vec<(EndpointId, String)>,
    /// The sweep stopped before the invocation's time ran out; the next
    /// one goes on from where it got to.
    pub stopped_early: bool,
    /// The sweep went on from where an earlier one stopped.
    pub resumed: bool,
}

/// Everything a run recorded, counted.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RecordCounts {
    pub pages: usize,
    pub written: usize,
    pub unknown: usize,
    pub skipped: usize,
    pub failed: usize,
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
            Ok(Done::Written) => {
                self.counts.written += 1;
                keep(&mut self.written, endpoint);
            }
            Ok(Done::Unchanged) => self.unchanged += 1,
            Ok(Done::Stale) => self.stale += 1,
            Ok(Done::Unknown) => {
                self.counts.unknown += 1;
                keep(&mut self.unknown, endpoint);
            }
            Err(e) => {
                tracing::error!(endpoint_id = %endpoint, error = %e.chain(), "recording failed");
                self.counts.failed += 1;
                keep(&mut self.failed, (endpoint, e.chain()));
            }
        }
    }

    fn skip(&mut self, endpoint: EndpointId) {
        self.counts.skipped += 1;
        keep(&mut self.skipped, endpoint);
    }

    /// Adds another run's report to this one, within the same bounds.
    pub fn absorb(&mut self, other: RecordReport) {
        for e in other.written {
            keep(&mut self.written, e);
        }
        for e in other.unknown {
            keep(&mut self.unknown, e);
        }
        for e in other.skipped {
            keep(&mut self.skipped, e);
        }
        for f in other.failed {
            keep(&mut self.failed, f);
        }
        self.unchanged += other.unchanged;
        self.stale += other.stale;
        let (a, b) = (self.counts, other.counts);
        self.counts = RecordCounts {
            pages: a.pages + b.pages,
            written: a.written + b.written,
            unknown: a.unknown + b.unknown,
            skipped: a.skipped + b.skipped,
            failed: a.failed + b.failed,
        };
        self.stopped_early |= other.stopped_early;
        self.resumed |= other.resumed;
    }
}

impl Recorder {
    /// A part of an event that is malformed: logged, audited, acknowledged.
    pub async fn refuse_input(&self, why: &str, now: Timestamp) {
        crate::bad_input::acknowledge(self.audit.as_ref(), "record", why, now).await;
    }

    fn manages(&self, service: &ServiceId) -> bool {
        self.services.is_empty() || self.services.contains(service)
    }

    /// Whether the policy file manages `service`, reading the list at most
    /// once into `list`.
    async fn managed_by_file(
        &self,
        service: &ServiceId,
        list: &mut Option<Vec<ServiceId>>,
    ) -> Result<bool, PortError> {
        let Some(managed) = &self.managed else { return Ok(false) };
        if list.is_none() {
            *list = Some(managed.managed().await?);
        }
        Ok(list.as_ref().is_some_and(|l| l.contains(service)))
    }

    /// This recorder with the managed services added to the configured
    /// ones; `None` when there is nothing to read.
    pub(crate) async fn with_managed_services(&self) -> Result<Option<Recorder>, PortError> {
        let Some(managed) = self.managed.as_ref().filter(|_| !self.services.is_empty()) else {
            return Ok(None);
        };
        let extra: Vec<ServiceId> =
            managed.managed().await?.into_iter().filter(|s| !self.services.contains(s)).collect();
        let mut this = self.clone();
        this.services.extend(extra);
        Ok(Some(this))
    }

    /// Records what EC2 says about each hinted endpoint, as read at `now`
    /// (the invocation's time).
    pub async fn record(&self, hints: &[Hint], now: Timestamp) -> RecordReport {
        let mut report = RecordReport::default();
        let mut managed_list = None;
        for hint in hints {
            let connection = match self.connections.get(&hint.endpoint).await {
                Ok(c) => c,
                Err(e) => {
                    report.count(hint.endpoint.clone(), Err(e));
                    continue;
                }
            };
            if let Some(c) = &connection
                && !self.manages(&c.service)
            {
                // An unreadable list records nothing outside `services`: retried.
                match self.managed_by_file(&c.service, &mut managed_list).await {
                    Ok(true) => {}
                    Ok(false) => {
                        report.skip(hint.endpoint.clone());
                        continue;
                    }
                    Err(e) => {
                        report.count(hint.endpoint.clone(), Err(e));
                        continue;
                    }
                }
            }
            let attribution = match (&connection, &hint.accepted_by) {
                (Some(c), Some(actor)) if c.state == ConnectionState::Available => Some(Attribution {
                    actor: actor.clone(),
                    why: "accepted outside Endpoint Gate (console or API)".into(),
                    revoked: false,
                }),
                _ => None,
            };
            let obs =
                Observation { endpoint: hint.endpoint.clone(), connection, observed_at: now, attribution };
            report.count(hint.endpoint.clone(), self.observe(obs).await);
        }
        report
    }

    /// Merges one observation, retrying when another writer got there first.
    async fn observe(&self, mut obs: Observation) -> Result<Done, PortError> {
        let (request, mut existing) = self.first_reads(&obs.endpoint).await?;
        // Endpoint Gate's own record explains best; CloudTrail's caller of its
        // own Accept would only name decide's role.
        if let Some(ours) = request.and_then(attribution) {
            obs.attribution = Some(ours);
        }
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                existing = self.registry.get(&obs.endpoint).await?;
            }
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

    /// Endpoint Gate's request record of the endpoint (who accepted, when it
    /// did) and its registry entry, together where the store can.
    async fn first_reads(
        &self,
        endpoint: &EndpointId,
    ) -> Result<(Option<RequestRecord>, Option<RegistryEntry>), PortError> {
        if let Some(reads) = &self.together {
            return reads.request_and_entry(endpoint).await;
        }
        let request = self.requests.get_many(std::slice::from_ref(endpoint)).await?.remove(endpoint);
        Ok((request, self.registry.get(endpoint).await?))
    }
}

/// Who accepted, from Endpoint Gate's record, when Endpoint Gate did.
fn attribution(record: RequestRecord) -> Option<Attribution> {
    match record.state {
        RequestState::Accepted => Some(Attribution {
            // The registry is what consumers read: their wording.
            why: record.reasons.iter().map(Reason::for_consumer).collect::<Vec<_>>().join("; "),
            actor: record.actor,
            revoked: false,
        }),
        RequestState::Approved => Some(Attribution {
            why: format!("approved by {} after review", record.actor),
            actor: record.actor,
            revoked: false,
        }),
        // What the consumer reads in the registry: why it was taken away.
        RequestState::Revoked => Some(Attribution {
            why: format!(
                "revoked by {} at {}: {}",
                record.actor,
                record.decided_at,
                record.reasons.iter().map(Reason::for_consumer).collect::<Vec<_>>().join("; ")
            ),
            actor: record.actor,
            revoked: true,
        }),
        _ => None,
    }
}
