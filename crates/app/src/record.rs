//! Keeping the registry: each event names endpoints, EC2 is read again, and
//! the observation is merged into the registry by the pure rules of
//! `gate_core::registry`. The sweep (and a backfill, which is the same
//! thing) reads every connection of the services and notices the ones EC2
//! no longer lists.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use gate_core::registry::{Attribution, Merge, Observation, merge};
use gate_core::{ConnectionState, EndpointId, Reason, RequestState, ServiceId, Timestamp};
use serde::Serialize;

use crate::error::PortError;
use crate::ports::{Audit, Connections, Registry, Requests};
use crate::report::keep;

/// Conflicting writers (two events for one endpoint at once) retry this often.
const WRITE_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct Recorder {
    pub connections: Arc<dyn Connections>,
    pub requests: Arc<dyn Requests>,
    pub registry: Arc<dyn Registry>,
    /// Where malformed input is recorded.
    pub audit: Arc<dyn Audit>,
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

/// Connections recorded at once by the sweep.
const CONCURRENCY: usize = 16;

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
    }
}

/// An endpoint id as a number (`vpce-` and up to 17 hex digits): the
/// sweep remembers 100,000 of them in a couple of megabytes.
fn id_key(endpoint: &EndpointId) -> u128 {
    let hex = endpoint.as_str().trim_start_matches("vpce-");
    u128::from_str_radix(hex, 16).unwrap_or_default()
}

impl Recorder {
    /// A part of an event that is malformed: logged, audited, acknowledged.
    pub async fn refuse_input(&self, why: &str, now: Timestamp) {
        crate::bad_input::acknowledge(self.audit.as_ref(), "record", why, now).await;
    }

    fn manages(&self, service: &ServiceId) -> bool {
        self.services.is_empty() || self.services.contains(service)
    }

    /// Records what EC2 says about each hinted endpoint, as read at `now`
    /// (the invocation's time).
    pub async fn record(&self, hints: &[Hint], now: Timestamp) -> RecordReport {
        let mut report = RecordReport::default();
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
                report.skip(hint.endpoint.clone());
                continue;
            }
            let attribution = match (&connection, &hint.accepted_by) {
                (Some(c), Some(actor)) if c.state == ConnectionState::Available => Some(Attribution {
                    actor: actor.clone(),
                    why: "accepted outside Endpoint Gate (console or API)".into(),
                }),
                _ => None,
            };
            let obs =
                Observation { endpoint: hint.endpoint.clone(), connection, observed_at: now, attribution };
            report.count(hint.endpoint.clone(), self.observe(obs).await);
        }
        report
    }

    /// Reads every connection of the services a page at a time, records
    /// each (16 at once), and then marks the active entries EC2 no longer
    /// lists as deleted. Memory holds a page and the ids seen, not the
    /// connections. `progress` hears (done, known so far) as it goes. Every
    /// observation is dated `now`, when the sweep began: a write by an event
    /// during the sweep is newer and stands.
    pub async fn sweep(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
        now: Timestamp,
    ) -> Result<RecordReport, PortError> {
        let mut report = RecordReport::default();
        let mut seen: HashSet<u128> = HashSet::new();
        let mut services: Vec<ServiceId> = self.services.clone();
        let mut cursor = None;
        let mut done = 0;
        loop {
            let page = self.connections.all_page(&self.services, cursor.take()).await?;
            for c in &page.connections {
                seen.insert(id_key(&c.endpoint));
                if !services.contains(&c.service) {
                    services.push(c.service.clone());
                }
            }
            let listed = page.connections.len();
            let observations = page.connections.into_iter().map(|c| Observation {
                endpoint: c.endpoint.clone(),
                connection: Some(c),
                observed_at: now,
                attribution: None,
            });
            self.observe_all(observations, &mut report).await;
            report.counts.pages += 1;
            done += listed;
            progress(done, done);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut vanished = Vec::new();
        for service in &services {
            for endpoint in self.registry.active_ids(service).await? {
                if !seen.contains(&id_key(&endpoint)) {
                    vanished.push(endpoint);
                }
            }
        }
        if !vanished.is_empty() {
            let total = done + vanished.len();
            let gone = vanished.into_iter().map(|endpoint| Observation {
                endpoint,
                connection: None,
                observed_at: now,
                attribution: None,
            });
            self.observe_all(gone, &mut report).await;
            progress(total, total);
        }
        Ok(report)
    }

    async fn observe_all(&self, observations: impl Iterator<Item = Observation>, report: &mut RecordReport) {
        let results: Vec<(EndpointId, Result<Done, PortError>)> = stream::iter(observations)
            .map(|obs| async move {
                let endpoint = obs.endpoint.clone();
                (endpoint, self.observe(obs).await)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (endpoint, result) in results {
            report.count(endpoint, result);
        }
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
