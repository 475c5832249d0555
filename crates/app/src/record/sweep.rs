//! The registry's sweep, in two passes a page at a time: every connection
//! EC2 lists is recorded, then every active entry EC2 no longer lists is
//! marked deleted. Memory holds one page, whatever the number of
//! connections, and where the sweep got to is saved after every page, so a
//! sweep that runs out of time goes on in the next invocation.

use std::collections::HashSet;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use gate_core::registry::{Merge, Observation, merge};
use gate_core::{EndpointId, ServiceId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Done, RecordReport, Recorder, attribution};
use crate::error::PortError;

/// The name record's sweep keeps its cursor under.
pub const SWEEP_NAME: &str = "record";

/// Where a sweep of every service keeps, between passes, the services
/// whose registry entries were still active: a service deleted with its
/// connections is no longer in EC2's listing, and its entries would never
/// be compared again.
pub const SERVICES_NAME: &str = "record-services";

/// Active registry entries compared with EC2 at once in the second pass.
const ACTIVE_PAGE: usize = 1000;

/// Registry writes in flight at once.
const CONCURRENCY: usize = 16;

/// Where a sweep is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pass", rename_all = "snake_case")]
enum Cursor {
    /// Recording EC2's listing from `ec2` (its first page when `None`).
    /// `services` are those seen so far, when the recorder is not limited
    /// to some: the second pass needs them.
    Listed { ec2: Option<String>, services: Vec<ServiceId> },
    /// Comparing the active entries of `services[service]` after `after`
    /// with what EC2 lists. `kept` are the services before it that had
    /// active entries, for the next pass.
    Vanished {
        services: Vec<ServiceId>,
        service: usize,
        after: Option<EndpointId>,
        #[serde(default)]
        kept: Vec<ServiceId>,
    },
}

impl Cursor {
    const START: Cursor = Cursor::Listed { ec2: None, services: Vec::new() };
}

impl Recorder {
    /// A whole sweep, however long it takes (the CLI's backfill).
    pub async fn sweep(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
        now: Timestamp,
    ) -> Result<RecordReport, PortError> {
        self.sweep_until(progress, now, None).await
    }

    /// Sweeps until done, or until `deadline` has passed (checked between
    /// pages): the report then says `stopped_early`, and the next sweep goes
    /// on from the saved cursor. `progress` hears (done, known so far).
    /// Every observation is dated `now`, when the sweep began: a write by an
    /// event during the sweep is newer and stands.
    ///
    /// The services swept are the configured ones and those the policy file
    /// manages; when that list cannot be read the configured ones are swept
    /// and the error returned after.
    pub async fn sweep_until(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
        now: Timestamp,
        deadline: Option<Instant>,
    ) -> Result<RecordReport, PortError> {
        match self.with_managed_services().await {
            Ok(Some(this)) => this.sweep_listed(progress, now, deadline).await,
            Ok(None) => self.sweep_listed(progress, now, deadline).await,
            Err(e) => {
                tracing::error!(error = %e.chain(), "managed services unreadable; sweeping the configured ones only");
                self.sweep_listed(progress, now, deadline).await?;
                Err(e)
            }
        }
    }

    async fn sweep_listed(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
        now: Timestamp,
        deadline: Option<Instant>,
    ) -> Result<RecordReport, PortError> {
        let mut report = RecordReport::default();
        let mut at = self.resume_point().await?;
        report.resumed = at != Cursor::START;
        if at == Cursor::START {
            at = Cursor::Listed { ec2: None, services: self.carried().await? };
        }
        let mut saved = report.resumed;
        let mut done = 0;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                tracing::warn!(pages = report.counts.pages, "registry sweep stopped before its time ran out");
                report.stopped_early = true;
                break;
            }
            let next = match at {
                Cursor::Listed { ec2, services } => self.list(ec2, services, now, &mut report).await?,
                Cursor::Vanished { services, service, after, kept } => {
                    self.vanished(services, service, after, kept, now, &mut report).await?
                }
            };
            done = report.counts.written + report.unchanged + report.stale + report.counts.failed;
            progress(done, done);
            if let Some(checkpoints) = &self.checkpoints
                && (next.is_some() || saved)
            {
                let text =
                    next.as_ref().map(serde_json::to_string).transpose().map_err(|e| {
                        PortError::permanent("encoding the registry sweep's cursor failed", e)
                    })?;
                checkpoints.save(SWEEP_NAME, text.as_deref(), now).await?;
                saved = next.is_some();
            }
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        tracing::info!(done, stopped_early = report.stopped_early, "registry sweep");
        Ok(report)
    }

    /// Where the last sweep stopped, or the start. A cursor this build cannot
    /// read (an older format, a hand edit) means starting again, which only
    /// costs reads.
    async fn resume_point(&self) -> Result<Cursor, PortError> {
        let Some(checkpoints) = &self.checkpoints else { return Ok(Cursor::START) };
        Ok(match checkpoints.load(SWEEP_NAME).await? {
            None => Cursor::START,
            Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the registry sweep's saved cursor is unreadable; starting again");
                Cursor::START
            }),
        })
    }

    /// The services whose entries were active after the last pass, when
    /// every service is swept; an unreadable list is started afresh.
    async fn carried(&self) -> Result<Vec<ServiceId>, PortError> {
        let Some(checkpoints) = self.checkpoints.as_ref().filter(|_| self.services.is_empty()) else {
            return Ok(Vec::new());
        };
        Ok(match checkpoints.load(SERVICES_NAME).await? {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the registry sweep's services are unreadable; starting afresh");
                Vec::new()
            }),
        })
    }

    /// First pass: one page of EC2's listing, recorded.
    async fn list(
        &self,
        ec2: Option<String>,
        mut services: Vec<ServiceId>,
        now: Timestamp,
        report: &mut RecordReport,
    ) -> Result<Option<Cursor>, PortError> {
        let page = self.connections.all_page(&self.services, ec2).await?;
        if self.services.is_empty() {
            for c in &page.connections {
                if !services.contains(&c.service) {
                    services.push(c.service.clone());
                }
            }
        }
        let observations = page
            .connections
            .into_iter()
            .map(|c| Observation {
                endpoint: c.endpoint.clone(),
                connection: Some(c),
                observed_at: now,
                attribution: None,
            })
            .collect();
        self.observe_page(observations, report).await?;
        report.counts.pages += 1;
        Ok(Some(match page.next {
            Some(next) => Cursor::Listed { ec2: Some(next), services },
            None => {
                let services = if self.services.is_empty() { services } else { self.services.clone() };
                Cursor::Vanished { services, service: 0, after: None, kept: Vec::new() }
            }
        }))
    }

    /// Second pass: a page of one service's active entries; those EC2 no
    /// longer lists are recorded as deleted.
    async fn vanished(
        &self,
        services: Vec<ServiceId>,
        index: usize,
        after: Option<EndpointId>,
        mut kept: Vec<ServiceId>,
        now: Timestamp,
        report: &mut RecordReport,
    ) -> Result<Option<Cursor>, PortError> {
        let Some(service) = services.get(index) else {
            if let Some(checkpoints) = self.checkpoints.as_ref().filter(|_| self.services.is_empty()) {
                let text = serde_json::to_string(&kept)
                    .map_err(|e| PortError::permanent("encoding the registry sweep's services failed", e))?;
                checkpoints.save(SERVICES_NAME, Some(&text), now).await?;
            }
            return Ok(None);
        };
        let (ids, more) = self.registry.active_page(service, after.as_ref(), ACTIVE_PAGE).await?;
        // A service with active entries is compared again in the next pass,
        // listed by EC2 or not; one without is dropped.
        if !ids.is_empty() && !kept.contains(service) {
            kept.push(service.clone());
        }
        let listed: HashSet<EndpointId> =
            self.connections.find(&ids).await?.into_iter().map(|c| c.endpoint).collect();
        let last = ids.last().cloned();
        let gone: Vec<Observation> = ids
            .into_iter()
            .filter(|id| !listed.contains(id))
            .map(|endpoint| Observation { endpoint, connection: None, observed_at: now, attribution: None })
            .collect();
        self.observe_page(gone, report).await?;
        Ok(Some(match (more, last) {
            (true, Some(last)) => Cursor::Vanished { services, service: index, after: Some(last), kept },
            _ => Cursor::Vanished { services, service: index + 1, after: None, kept },
        }))
    }

    /// Records a page of observations: their requests and registry entries
    /// read in batches, and only what changed written. A write that loses a
    /// race takes the one-at-a-time path, which reads again.
    async fn observe_page(
        &self,
        observations: Vec<Observation>,
        report: &mut RecordReport,
    ) -> Result<(), PortError> {
        if observations.is_empty() {
            return Ok(());
        }
        let ids: Vec<EndpointId> = observations.iter().map(|o| o.endpoint.clone()).collect();
        let read = async {
            Ok::<_, PortError>((self.requests.get_many(&ids).await?, self.registry.get_many(&ids).await?))
        };
        let (mut records, mut entries) = match read.await {
            Ok(read) => read,
            // A stored item that cannot be read fails the whole batch, and
            // would fail this page in every sweep after: each observation
            // alone (the one-at-a-time path), so only its own fails.
            Err(e) if !e.transient && observations.len() > 1 => {
                tracing::warn!(error = %e.chain(), observations = observations.len(), "a batch read failed; recording one at a time");
                let results: Vec<(EndpointId, Result<Done, PortError>)> = stream::iter(observations)
                    .map(|obs| async move { (obs.endpoint.clone(), self.observe(obs).await) })
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
                for (endpoint, result) in results {
                    report.count(endpoint, result);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut writes = Vec::new();
        for mut obs in observations {
            obs.attribution = records.remove(&obs.endpoint).and_then(attribution);
            match merge(entries.remove(&obs.endpoint).as_ref(), &obs) {
                Merge::Write(next) => writes.push((obs, next)),
                Merge::Unchanged => report.count(obs.endpoint, Ok(Done::Unchanged)),
                Merge::Stale(_) => report.count(obs.endpoint, Ok(Done::Stale)),
                Merge::Unknown => report.count(obs.endpoint, Ok(Done::Unknown)),
            }
        }
        let results: Vec<(EndpointId, Result<Done, PortError>)> = stream::iter(writes)
            .map(|(obs, next)| async move {
                let endpoint = obs.endpoint.clone();
                let result = match self.registry.put(&next).await {
                    Ok(true) => {
                        tracing::info!(endpoint_id = %next.endpoint, state = %next.state, "registry updated");
                        Ok(Done::Written)
                    }
                    Ok(false) => self.observe(obs).await,
                    Err(e) => Err(e),
                };
                (endpoint, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (endpoint, result) in results {
            report.count(endpoint, result);
        }
        Ok(())
    }
}
