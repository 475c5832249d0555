//! Deciding connection requests: read the truth, decide once, act once.
//!
//! Every path, whether one endpoint named by an event or thousands found by
//! the sweep, goes through [`Decider::run`]:
//!
//! 1. keep only connections that EC2 says are `pendingAcceptance`;
//! 2. finish work an earlier run left outstanding (an Accept that failed, a
//!    notification that was not sent) once its lease has passed;
//! 3. decide the new ones and claim each decision with a conditional write,
//!    so concurrent deliveries of one event produce one decision;
//! 4. only the claimant acts: Accept/Reject batched per service, or notify.
//!
//! Any error before a decision is claimed leaves the connection pending:
//! nothing is ever accepted on a failed read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use gate_core::{
    AccountId, Action, CidrSet, Connection, ConnectionState, Decision, EndpointId, OnExpiry, Outcome,
    PolicyBook, Request, RequestRecord, RequestState, ReviewStep, ServiceId, Timestamp, decide, review_step,
};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::error::PortError;
use crate::ports::{
    Audience, Audit, AuditEvent, AuditKind, Connections, ConsumerNetworks, Notifier, Nudge, PolicySource,
    Refused, Requests,
};

/// How the decider behaves; read from configuration by the Lambda.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Recorded as the actor of automatic decisions.
    pub actor: String,
    /// Services the sweep reconciles; empty means every service of the provider.
    pub services: Vec<ServiceId>,
    /// Connections examined at once (consumer reads, store writes).
    pub concurrency: usize,
    /// Endpoints per Accept/Reject call.
    pub batch: usize,
    /// Outstanding work younger than this belongs to whoever claimed it.
    pub lease_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            actor: "endpoint-gate".into(),
            services: Vec::new(),
            concurrency: 16,
            batch: 100,
            lease_secs: 60,
        }
    }
}

/// The ports the decider works through, built once per cold start.
#[derive(Clone)]
pub struct Decider {
    pub connections: Arc<dyn Connections>,
    pub networks: Arc<dyn ConsumerNetworks>,
    pub policies: Arc<dyn PolicySource>,
    pub requests: Arc<dyn Requests>,
    pub audit: Arc<dyn Audit>,
    pub notifier: Arc<dyn Notifier>,
    pub settings: Settings,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decided {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    pub outcome: Outcome,
    pub reasons: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Note {
    pub endpoint: EndpointId,
    pub why: String,
}

/// How many connections each list of a [`Report`] keeps; beyond it only
/// the counts grow, so a sweep of 100,000 connections answers in a few
/// kilobytes (Lambda's response limit is 6 MB) and its memory stays flat.
/// Every decision is logged one line each, and audited.
pub const REPORT_DETAILS: usize = 100;

/// What one run did. `failed` holds transient failures: the event should be
/// retried, and the sweep will pick these up regardless. The lists keep the
/// first [`REPORT_DETAILS`] entries each; `counts` counts them all.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub counts: Counts,
    pub decided: Vec<Decided>,
    pub acted: Vec<Note>,
    pub notified: Vec<EndpointId>,
    pub skipped: Vec<Note>,
    pub failed: Vec<Note>,
    /// A sweep stopped before its time ran out; the next sweep starts
    /// again, and what was decided is skipped cheaply.
    pub stopped_early: bool,
}

/// Everything a run did, counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pages: usize,
    pub decided: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub review: usize,
    pub acted: usize,
    pub notified: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// Adds `item` to a report's list while the list is under [`REPORT_DETAILS`].
pub(crate) fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() < REPORT_DETAILS {
        list.push(item);
    }
}

impl Report {
    pub(crate) fn decided(&mut self, d: Decided) {
        self.counts.decided += 1;
        match d.outcome {
            Outcome::Accept => self.counts.accepted += 1,
            Outcome::Reject => self.counts.rejected += 1,
            Outcome::Review => self.counts.review += 1,
        }
        keep(&mut self.decided, d);
    }

    pub(crate) fn acted(&mut self, endpoint: EndpointId, why: String) {
        self.counts.acted += 1;
        keep(&mut self.acted, Note { endpoint, why });
    }

    pub(crate) fn notified(&mut self, endpoint: EndpointId) {
        self.counts.notified += 1;
        keep(&mut self.notified, endpoint);
    }

    fn skip(&mut self, endpoint: &EndpointId, why: impl Into<String>) {
        self.counts.skipped += 1;
        keep(&mut self.skipped, Note { endpoint: endpoint.clone(), why: why.into() });
    }

    pub(crate) fn fail(&mut self, endpoint: &EndpointId, err: &PortError) {
        tracing::error!(endpoint_id = %endpoint, error = %err.chain(), transient = err.transient, "failed; connection left pending");
        self.counts.failed += 1;
        keep(&mut self.failed, Note { endpoint: endpoint.clone(), why: err.chain() });
    }

    /// Adds another run's report to this one, within the same bounds.
    pub fn absorb(&mut self, other: Report) {
        let counts = self.counts;
        for d in other.decided {
            keep(&mut self.decided, d);
        }
        for n in other.acted {
            keep(&mut self.acted, n);
        }
        for n in other.notified {
            keep(&mut self.notified, n);
        }
        for n in other.skipped {
            keep(&mut self.skipped, n);
        }
        for n in other.failed {
            keep(&mut self.failed, n);
        }
        let o = other.counts;
        self.counts = Counts {
            pages: counts.pages + o.pages,
            decided: counts.decided + o.decided,
            accepted: counts.accepted + o.accepted,
            rejected: counts.rejected + o.rejected,
            review: counts.review + o.review,
            acted: counts.acted + o.acted,
            notified: counts.notified + o.notified,
            skipped: counts.skipped + o.skipped,
            failed: counts.failed + o.failed,
        };
        self.stopped_early |= other.stopped_early;
    }
}

/// A claimed decision, `None` when another run claimed it first.
type Claim = Result<Option<(Decision, RequestRecord)>, PortError>;

/// Accepted consumers' CIDRs per service, read at most once per run.
type OthersCache = Mutex<HashMap<(ServiceId, AccountId), Arc<CidrSet<String>>>>;

/// What became of one request after its Accept/Reject call.
enum Booked {
    Done,
    Refused(String),
    Late(PortError),
}

/// Work left once decisions are claimed.
enum Work {
    Act(Action, RequestRecord),
    Notify(RequestRecord),
    Review(ReviewStep, RequestRecord),
}

impl Decider {
    /// Decides the connection of one endpoint, named by an event.
    pub async fn decide_endpoint(&self, endpoint: &EndpointId, now: Timestamp) -> Result<Report, PortError> {
        match self.connections.get(endpoint).await? {
            Some(conn)
                if !self.settings.services.is_empty() && !self.settings.services.contains(&conn.service) =>
            {
                // Another deployment, or a person, owns that service's requests.
                let mut report = Report::default();
                report.skip(endpoint, format!("{} is not one of this deployment's services", conn.service));
                Ok(report)
            }
            Some(conn) => self.run(vec![conn], now).await,
            None => {
                let mut report = Report::default();
                report.skip(endpoint, "no connection to any of the provider's services");
                Ok(report)
            }
        }
    }

    /// Reconciles every pending connection of the configured services, a
    /// page at a time, so memory stays flat however many there are. Stops
    /// before a page when `deadline` has passed (the invocation's time is
    /// nearly out): the report then says `stopped_early: true`, and the next
    /// sweep starts again, skipping what was decided with one read per 100.
    pub async fn sweep_until(&self, now: Timestamp, deadline: Option<Instant>) -> Result<Report, PortError> {
        let mut report = Report::default();
        let mut cursor = None;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                tracing::warn!(
                    pages = report.counts.pages,
                    "sweep stopped before its time ran out; the next one goes on"
                );
                report.stopped_early = true;
                break;
            }
            let page = self.connections.pending_page(&self.settings.services, cursor.take()).await?;
            tracing::info!(
                pending = page.connections.len(),
                page = report.counts.pages + 1,
                "sweep read a page"
            );
            let mut done = self.run(page.connections, now).await?;
            done.counts.pages = 1;
            report.absorb(done);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(report)
    }

    /// A whole sweep, however long it takes.
    pub async fn sweep(&self, now: Timestamp) -> Result<Report, PortError> {
        self.sweep_until(now, None).await
    }

    /// Decides, claims and acts on these connections.
    pub async fn run(&self, connections: Vec<Connection>, now: Timestamp) -> Result<Report, PortError> {
        let mut report = Report::default();
        let pending: Vec<Connection> = connections
            .into_iter()
            .filter(|c| {
                let ok = c.state == ConnectionState::PendingAcceptance;
                if !ok {
                    report.skip(&c.endpoint, format!("connection is {}, not pendingAcceptance", c.state));
                }
                ok
            })
            .collect();
        if pending.is_empty() {
            return Ok(report);
        }

        let ids: Vec<EndpointId> = pending.iter().map(|c| c.endpoint.clone()).collect();
        let existing = self.requests.get_many(&ids).await?;
        let pairs: Vec<(ServiceId, AccountId)> =
            pending.iter().map(|c| (c.service.clone(), c.owner)).collect();
        // Fail closed: without the policy nothing is decided at all.
        let book = self.policies.load_book(&pairs).await?;

        let mut work = Vec::new();
        let mut fresh = Vec::new();
        for conn in pending {
            match existing.get(&conn.endpoint) {
                None => fresh.push(conn),
                Some(rec) => match self.outstanding(rec, &book, now) {
                    Some(w) => work.push(w),
                    None => report.skip(
                        &conn.endpoint,
                        format!("already decided: {} by {} at {}", rec.state, rec.actor, rec.decided_at),
                    ),
                },
            }
        }

        let claimed = self.claim_all(fresh, &book, now, &mut report).await;
        work.extend(claimed);
        self.do_work(work, &book, now, &mut report).await;
        Ok(report)
    }

    /// Shows where the review was posted how it ended. The decision stands
    /// whatever happens here; a stale message still answers "already decided".
    pub(crate) async fn settle(&self, rec: &RequestRecord, note: &str) {
        if let Err(e) = self.notifier.settled(rec, note).await {
            tracing::error!(error = %e.chain(), endpoint_id = %rec.endpoint, "showing the outcome to approvers failed");
        }
    }

    /// Work an earlier run claimed but did not finish, once its lease passed.
    /// Also a review's reminder or expiry, when the policy says one is due.
    fn outstanding(&self, rec: &RequestRecord, book: &PolicyBook, now: Timestamp) -> Option<Work> {
        if now.unix() - rec.decided_at.unix() < self.settings.lease_secs {
            return None;
        }
        if let Some(action) = rec.action_outstanding() {
            return Some(Work::Act(action, rec.clone()));
        }
        if rec.state == RequestState::Review && rec.notified_at.is_none() {
            return Some(Work::Notify(rec.clone()));
        }
        let policy = &book.policy_for(&rec.service)?.policy;
        review_step(rec, policy, now).map(|step| Work::Review(step, rec.clone()))
    }

    async fn claim_all(
        &self,
        fresh: Vec<Connection>,
        book: &PolicyBook,
        now: Timestamp,
        report: &mut Report,
    ) -> Vec<Work> {
        let others = OthersCache::default();
        let results: Vec<(Connection, Claim)> = stream::iter(fresh)
            .map(|conn| {
                let others = &others;
                async move {
                    let result = self.claim(&conn, book, others, now).await;
                    (conn, result)
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;

        let mut work = Vec::new();
        for (conn, result) in results {
            match result {
                Err(e) => report.fail(&conn.endpoint, &e),
                Ok(None) => report.skip(&conn.endpoint, "decided concurrently by another run"),
                Ok(Some((decision, record))) => {
                    report.decided(Decided {
                        endpoint: conn.endpoint.clone(),
                        service: conn.service.clone(),
                        owner: conn.owner,
                        outcome: decision.outcome,
                        reasons: decision.summary(),
                    });
                    work.push(match record.state.action() {
                        Some(action) => Work::Act(action, record),
                        None => Work::Notify(record),
                    });
                }
            }
        }
        work
    }

    /// Decides one connection and claims the decision. `None` when another
    /// run claimed it first.
    async fn claim(
        &self,
        conn: &Connection,
        book: &PolicyBook,
        others: &OthersCache,
        now: Timestamp,
    ) -> Claim {
        let discovery = self.networks.vpc_cidrs(conn.owner, &conn.endpoint).await?;
        let other_consumers = self.other_consumers(&conn.service, conn.owner, book, others).await?;
        let decision = decide(
            book,
            &Request {
                service: &conn.service,
                account: conn.owner,
                discovery: &discovery,
                other_consumers: &other_consumers,
            },
            now,
        );
        let consumer_cidrs = match &discovery {
            gate_core::Discovery::Read(c) => c.clone(),
            gate_core::Discovery::Unavailable(_) => Vec::new(),
        };
        let record = RequestRecord {
            service: conn.service.clone(),
            endpoint: conn.endpoint.clone(),
            owner: conn.owner,
            state: RequestState::from_outcome(decision.outcome),
            reasons: decision.reasons.clone(),
            consumer_cidrs,
            actor: self.settings.actor.clone(),
            decided_at: now,
            acted_at: None,
            notified_at: None,
            reminders: 0,
            expired_at: None,
            slack_message: None,
            version: 1,
        };
        let decided = AuditEvent {
            at: now,
            kind: AuditKind::Decided,
            actor: self.settings.actor.clone(),
            endpoint: Some(conn.endpoint.clone()),
            service: Some(conn.service.clone()),
            owner: Some(conn.owner),
            outcome: Some(decision.outcome),
            detail: decision.summary(),
        };
        if !self.requests.create(&record, &decided).await? {
            return Ok(None);
        }
        tracing::info!(
            endpoint_id = %conn.endpoint,
            owner = %conn.owner,
            service_id = %conn.service,
            outcome = %decision.outcome,
            reasons = %decision.summary(),
            "decided"
        );
        Ok(Some((decision, record)))
    }

    /// Other accepted consumers' CIDRs, read once per service and account
    /// per run, and only where the policy asks for unique consumer CIDRs.
    async fn other_consumers(
        &self,
        service: &ServiceId,
        account: AccountId,
        book: &PolicyBook,
        cache: &OthersCache,
    ) -> Result<Arc<CidrSet<String>>, PortError> {
        let wanted = book.policy_for(service).is_some_and(|p| p.policy.unique_consumer_cidrs);
        if !wanted {
            return Ok(Arc::new(CidrSet::default()));
        }
        let mut cache = cache.lock().await;
        let key = (service.clone(), account);
        if let Some(set) = cache.get(&key) {
            return Ok(set.clone());
        }
        let set =
            Arc::new(crate::explain::consumers_of(self.requests.as_ref(), book, service, account).await?);
        cache.insert(key, set.clone());
        Ok(set)
    }

    async fn do_work(&self, work: Vec<Work>, book: &PolicyBook, now: Timestamp, report: &mut Report) {
        let mut batches: BTreeMap<(ServiceId, bool), Vec<RequestRecord>> = BTreeMap::new();
        for w in work {
            match w {
                Work::Act(action, rec) => {
                    batches.entry((rec.service.clone(), action == Action::Accept)).or_default().push(rec)
                }
                Work::Notify(rec) => self.notify(rec, book, now, report).await,
                Work::Review(step, rec) => self.advance_review(step, rec, book, now, report).await,
            }
        }
        for ((service, accept), records) in batches {
            let action = if accept { Action::Accept } else { Action::Reject };
            for chunk in records.chunks(self.settings.batch.max(1)) {
                self.act(action, &service, chunk, now, report).await;
            }
        }
    }

    pub(crate) async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        records: &[RequestRecord],
        now: Timestamp,
        report: &mut Report,
    ) {
        let ids: Vec<EndpointId> = records.iter().map(|r| r.endpoint.clone()).collect();
        let refused = match self.connections.act(action, service, &ids).await {
            Ok(refused) => refused,
            Err(e) => {
                for id in &ids {
                    report.fail(id, &e);
                }
                return;
            }
        };
        let jobs: Vec<(RequestRecord, Option<Refused>)> = records
            .iter()
            .map(|rec| (rec.clone(), refused.iter().find(|r| r.endpoint == rec.endpoint.as_str()).cloned()))
            .collect();
        let results: Vec<(EndpointId, Booked)> = stream::iter(jobs)
            .map(|(rec, refusal)| async move {
                let booked = self.book_action(action, &rec, refusal.as_ref(), now).await;
                (rec.endpoint, booked)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for (endpoint, booked) in results {
            match booked {
                Booked::Done => report.acted(endpoint, format!("{action:?}")),
                Booked::Refused(why) => report.skip(&endpoint, why),
                Booked::Late(e) => report.fail(&endpoint, &e),
            }
        }
    }

    /// Records the outcome of the Accept/Reject call for one request.
    async fn book_action(
        &self,
        action: Action,
        rec: &RequestRecord,
        refusal: Option<&Refused>,
        now: Timestamp,
    ) -> Booked {
        if let Some(r) = refusal {
            // EC2 said no for this endpoint (no longer pending, gone):
            // nothing is retried for a connection that is not pending.
            tracing::warn!(endpoint_id = %rec.endpoint, code = %r.code, message = %r.message, ?action, "EC2 refused the action");
            let detail = format!("{action:?} refused by EC2: {} {}", r.code, r.message);
            self.audit_quietly(self.event(rec, now, AuditKind::ActionRefused, detail.clone())).await;
            return Booked::Refused(detail);
        }
        let kind = if action == Action::Accept { AuditKind::Accepted } else { AuditKind::Rejected };
        self.audit_quietly(self.event(rec, now, kind, format!("{} by {}", rec.state, rec.actor))).await;
        let mut done = rec.clone();
        done.acted_at = Some(now);
        done.version += 1;
        match self.requests.update(&done).await {
            Ok(_) => Booked::Done,
            // The action happened; only the bookkeeping is late. A retry
            // calls Accept again, which EC2 refuses harmlessly.
            Err(e) => Booked::Late(e),
        }
    }

    /// A reminder, or the expiry the policy asks for.
    async fn advance_review(
        &self,
        step: ReviewStep,
        rec: RequestRecord,
        book: &PolicyBook,
        now: Timestamp,
        report: &mut Report,
    ) {
        let policy = book.policy_for(&rec.service).map(|p| &p.policy);
        let audience = Audience::of(policy);
        let ttl_days = policy.map_or(0, |p| p.approval_ttl_secs / 86_400);
        let mut next = rec.clone();
        next.version += 1;
        let (nudge, detail) = match step {
            ReviewStep::Remind => {
                next.notified_at = Some(now);
                next.reminders += 1;
                (Nudge::Reminder(next.reminders), format!("reminder {} sent", next.reminders))
            }
            ReviewStep::Expire(OnExpiry::KeepPending) => {
                next.expired_at = Some(now);
                (
                    Nudge::ExpiredKeptPending,
                    format!("no answer within {ttl_days}d; kept pending, answers still count"),
                )
            }
            ReviewStep::Expire(OnExpiry::Reject) => {
                next.state = RequestState::Expired;
                next.actor = self.settings.actor.clone();
                next.decided_at = now;
                (Nudge::ExpiredRejected, format!("no answer within {ttl_days}d; rejected as the policy says"))
            }
        };
        // Claim the step first, so concurrent sweeps remind or expire once.
        match self.requests.update(&next).await {
            Ok(true) => {}
            Ok(false) => return report.skip(&rec.endpoint, "review changed concurrently"),
            Err(e) => return report.fail(&rec.endpoint, &e),
        }
        let kind = if next.state == RequestState::Expired { AuditKind::Decided } else { AuditKind::Notified };
        let mut event = self.event(&next, now, kind, detail);
        if next.state == RequestState::Expired {
            event.outcome = Some(Outcome::Reject);
            self.audit_quietly(event).await;
            self.act(Action::Reject, &next.service, std::slice::from_ref(&next), now, report).await;
            self.settle(&next, "Nobody answered in time; rejected as the policy says.").await;
        } else {
            self.audit_quietly(event).await;
        }
        match self.notifier.nudge(&next, &audience, nudge).await {
            Ok(()) => report.notified(next.endpoint),
            // The step is recorded; a lost reminder is not retried.
            Err(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %rec.endpoint, "nudging approvers failed")
            }
        }
    }

    async fn notify(&self, rec: RequestRecord, book: &PolicyBook, now: Timestamp, report: &mut Report) {
        let audience = Audience::of(book.policy_for(&rec.service).map(|p| &p.policy));
        let posted = match self.notifier.review_needed(&rec, &audience).await {
            Ok(posted) => posted,
            Err(e) => return report.fail(&rec.endpoint, &e),
        };
        let mut done = rec.clone();
        done.notified_at = Some(now);
        done.slack_message = posted.slack;
        done.version += 1;
        if let Err(e) = self.requests.update(&done).await {
            report.fail(&rec.endpoint, &e);
        }
        // Each approver is sent only their own links; with none named, the
        // review waits for an operator at the CLI.
        let mut who = if audience.approvers.is_empty() {
            "nobody: the policy names no approvers (answer with endpoint-gate approve|reject)".to_owned()
        } else {
            audience.approvers.join(", ")
        };
        if let Some(channel) = &audience.slack_channel {
            who.push_str(&format!(" (Slack {channel})"));
        }
        self.audit_quietly(self.event(
            &rec,
            now,
            AuditKind::Notified,
            format!("review requested from {who}"),
        ))
        .await;
        report.notified(rec.endpoint);
    }

    pub(crate) fn event(
        &self,
        rec: &RequestRecord,
        now: Timestamp,
        kind: AuditKind,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            at: now,
            kind,
            actor: self.settings.actor.clone(),
            endpoint: Some(rec.endpoint.clone()),
            service: Some(rec.service.clone()),
            owner: Some(rec.owner),
            outcome: None,
            detail,
        }
    }

    /// The audit is a record of what happened, not a gate on it: a failed
    /// append is logged loudly and the decision stands.
    pub(crate) async fn audit_quietly(&self, event: AuditEvent) {
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e.chain(), kind = ?event.kind, "audit append failed");
        }
    }
}
