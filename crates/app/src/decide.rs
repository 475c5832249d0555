//! Deciding connection requests: read the truth, decide once, act once.
//!
//! Every path, whether one endpoint named by an event or thousands found by
//! the sweep, goes through [`Decide::run`]:
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
//!
//! A sweep then revokes available connections whose allowance is gone,
//! where a policy says `revoke: reject` (revoke.rs).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use gate_core::{
    AccountId, Action, Cidr, CidrSet, Connection, ConnectionState, Decision, EndpointId, Membership,
    PolicyBook, Principal, Request, RequestRecord, RequestState, ReviewStep, ServiceId, Timestamp, decide,
    review_step,
};
use tokio::sync::Mutex;

use crate::actions::Actions;
use crate::cidr_claims::{CidrClaims, ClaimedCidrs, GuardedClaim};
use crate::error::PortError;
use crate::notices::{NoticeFacts, Notices};
use crate::organizations::Placements;
use crate::ports::{
    Audit, AuditEvent, AuditKind, Checkpoints, Connections, ConsumerNetworks, DecisionReads, Notifier,
    PolicySource, Requests, Shadows,
};
use crate::report::{Decided, Report};
use crate::review::Review;
use crate::services::ManagedServices;

/// Recorded as the actor of automatic decisions.
pub const AUTOMATIC_ACTOR: &str = "endpoint-gate";

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
            actor: AUTOMATIC_ACTOR.into(),
            services: Vec::new(),
            concurrency: 16,
            batch: 100,
            lease_secs: 60,
        }
    }
}

/// Deciding connection requests: the ports it reads, and the review and
/// actions it hands decisions to. Built once per cold start.
#[derive(Clone)]
pub struct Decide {
    pub connections: Arc<dyn Connections>,
    pub networks: Arc<dyn ConsumerNetworks>,
    pub policies: Arc<dyn PolicySource>,
    pub requests: Arc<dyn Requests>,
    /// Where accounts sit in AWS Organizations; `None` turns OU and
    /// organization entries off.
    pub placements: Option<Arc<Placements>>,
    pub review: Review,
    pub settings: Settings,
    /// Where a sweep cut short resumes; without it every sweep starts at
    /// the first page.
    pub checkpoints: Option<Arc<dyn Checkpoints>>,
    /// The requests and the policy book in one read, where the store can;
    /// `None` reads them one after the other.
    pub together: Option<Arc<dyn DecisionReads>>,
    /// Where `mode: shadow` services' verdicts are kept; without it their
    /// connections are only skipped (still never acted on).
    pub shadows: Option<Arc<dyn Shadows>>,
    /// The services the policy file manages, decided beside
    /// `settings.services`; `None` decides only those.
    pub managed: Option<Arc<dyn ManagedServices>>,
}

/// The name decide's sweep keeps its cursor under.
pub const SWEEP_NAME: &str = "decide";

impl std::fmt::Debug for Decide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decide").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Work left once decisions are claimed.
enum Task {
    Act(Action, RequestRecord),
    Ask(RequestRecord),
    Advance(ReviewStep, RequestRecord),
}

/// A claimed decision, `None` when another run claimed it first.
type Claim = Result<Option<(Decision, RequestRecord)>, PortError>;

/// The (service, principal) pairs whose entries decide these connections:
/// the owner's own, and with a known placement each OU on its path and its
/// organization.
pub(crate) fn book_pairs<'a>(
    connections: impl IntoIterator<Item = (&'a ServiceId, AccountId)>,
    memberships: &HashMap<AccountId, Membership>,
) -> Vec<(ServiceId, Principal)> {
    let mut pairs = Vec::new();
    for (service, owner) in connections {
        pairs.push((service.clone(), Principal::Account(owner)));
        if let Some(Membership::Known(p)) = memberships.get(&owner) {
            pairs.extend(p.path.iter().map(|step| (service.clone(), Principal::Ou(step.id.clone()))));
            pairs.push((service.clone(), Principal::Organization(p.org.clone())));
        }
    }
    pairs
}

/// Other consumers' CIDRs, labelled, by service and the account asking.
type OthersRead = HashMap<(ServiceId, AccountId), Arc<CidrSet<String>>>;

#[derive(Default)]
pub(crate) struct OthersCache {
    /// Other accepted consumers' CIDRs per service and account, read once
    /// per run.
    read: Mutex<OthersRead>,
    /// Each judged service's claim guard, as read and as this run's accepts
    /// moved it: the claims after it are judged against those accepts too
    /// (two connections of one batch are never both accepted with
    /// overlapping CIDRs), and move the guard on from there.
    guards: Mutex<HashMap<ServiceId, CidrClaims>>,
    /// Such claims go one at a time, each judged against the ones before.
    turn: Mutex<()>,
}

impl OthersCache {
    /// The service's claim guard, read once per run.
    async fn guard(&self, requests: &dyn Requests, service: &ServiceId) -> Result<CidrClaims, PortError> {
        let mut guards = self.guards.lock().await;
        if let Some(claims) = guards.get(service) {
            return Ok(claims.clone());
        }
        let claims = requests.cidr_claims(service).await?;
        guards.insert(service.clone(), claims.clone());
        Ok(claims)
    }

    /// `conn`'s CIDRs, just accepted and moving the guard to `next`, joined
    /// to every other account's set of its service.
    async fn accepted(&self, conn: &Connection, cidrs: &[Cidr], next: CidrClaims) {
        let label = crate::explain::consumer_label(&conn.endpoint, conn.owner);
        let mut read = self.read.lock().await;
        for ((service, account), set) in read.iter_mut() {
            if *service == conn.service && *account != conn.owner {
                let joined =
                    set.iter().map(|(c, l)| (*c, l.clone())).chain(cidrs.iter().map(|c| (*c, label.clone())));
                *set = Arc::new(CidrSet::new(joined));
            }
        }
        self.guards.lock().await.insert(conn.service.clone(), next);
    }

    /// What this run read of `service`, once another run has moved its guard.
    async fn forget(&self, service: &ServiceId) {
        self.read.lock().await.retain(|(s, _), _| s != service);
        self.guards.lock().await.remove(service);
    }
}

impl Decide {
    /// Deciding, with its review and actions, over the ports it is given.
    pub fn new(
        connections: Arc<dyn Connections>,
        networks: Arc<dyn ConsumerNetworks>,
        policies: Arc<dyn PolicySource>,
        requests: Arc<dyn Requests>,
        audit: Arc<dyn Audit>,
        notifier: Arc<dyn Notifier>,
        settings: Settings,
    ) -> Self {
        let actions = Actions {
            connections: connections.clone(),
            requests: requests.clone(),
            audit,
            posted: Some(notifier.clone()),
            actor: settings.actor.clone(),
            concurrency: settings.concurrency,
            notices: None,
        };
        Self {
            connections,
            networks,
            policies,
            requests,
            placements: None,
            review: Review { notifier, actions },
            settings,
            checkpoints: None,
            together: None,
            shadows: None,
            managed: None,
        }
    }

    /// Also decides the services the policy file manages, read from `managed`.
    #[must_use]
    pub fn with_managed(mut self, managed: Arc<dyn ManagedServices>) -> Self {
        self.managed = Some(managed);
        self
    }

    /// This decider with the managed services added to the configured
    /// ones, read once; `None` when there is nothing to read (no list, or
    /// no configured services, which means every service already).
    async fn with_managed_services(&self) -> Result<Option<Decide>, PortError> {
        let Some(managed) = self.managed.as_ref().filter(|_| !self.settings.services.is_empty()) else {
            return Ok(None);
        };
        let extra: Vec<ServiceId> =
            managed.managed().await?.into_iter().filter(|s| !self.settings.services.contains(s)).collect();
        let mut this = self.clone();
        this.settings.services.extend(extra);
        Ok(Some(this))
    }

    /// Reads requests and policies in one round trip (a store holding both).
    #[must_use]
    pub fn reading_together(mut self, reads: Arc<dyn DecisionReads>) -> Self {
        self.together = Some(reads);
        self
    }

    /// Sweeps that run out of time resume where they stopped.
    #[must_use]
    pub fn resuming(mut self, checkpoints: Arc<dyn Checkpoints>) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Tells consumers' contacts what was decided.
    pub fn with_notices(mut self, notices: Notices) -> Self {
        self.review.actions.notices = Some(notices);
        self
    }

    /// Keeps shadow-mode services' verdicts here.
    #[must_use]
    pub fn with_shadows(mut self, shadows: Arc<dyn Shadows>) -> Self {
        self.shadows = Some(shadows);
        self
    }

    /// Turns OU and organization entries on, with placements read from here.
    pub fn with_placements(mut self, placements: Arc<Placements>) -> Self {
        self.placements = Some(placements);
        self
    }

    /// Each account's membership: read (or cached) when Organizations is
    /// configured, else `NotConfigured`.
    pub(crate) async fn memberships(
        &self,
        accounts: impl IntoIterator<Item = AccountId>,
        now: Timestamp,
    ) -> HashMap<AccountId, Membership> {
        match &self.placements {
            Some(p) => p.memberships(accounts, now).await,
            None => accounts.into_iter().map(|a| (a, Membership::NotConfigured)).collect(),
        }
    }

    pub(crate) fn actions(&self) -> &Actions {
        &self.review.actions
    }

    /// A part of an event that is malformed: logged, audited, acknowledged.
    pub async fn refuse_input(&self, why: &str, now: Timestamp) {
        crate::bad_input::acknowledge(self.actions().audit.as_ref(), "decide", why, now).await;
    }

    /// Decides the connection of one endpoint, named by an event.
    /// A service outside the configured ones is read from the managed list
    /// first; when that read fails nothing is decided and the error returns.
    pub async fn decide_endpoint(&self, endpoint: &EndpointId, now: Timestamp) -> Result<Report, PortError> {
        let conn = self.connections.get(endpoint).await?;
        let services = &self.settings.services;
        let managed = match (&conn, &self.managed) {
            (Some(c), Some(list)) if !services.is_empty() && !services.contains(&c.service) => {
                list.managed().await?.contains(&c.service)
            }
            _ => false,
        };
        match conn {
            Some(conn) if !managed && !services.is_empty() && !services.contains(&conn.service) => {
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
    /// before a page once `deadline` has passed (the invocation's time is
    /// nearly out): the report then says `stopped_early: true`. Where it got
    /// to is saved after every page, so the next sweep goes on from there
    /// even if this invocation is killed; a sweep that reaches the last page
    /// forgets the cursor, and the one after starts at the first page again.
    /// Going on from a cursor skips nothing: connections EC2 lists before it
    /// were examined, and newer ones come with their own event (and are in
    /// the next full pass). Nothing is done twice: decisions are claimed.
    ///
    /// The services swept are the configured ones and those the policy file
    /// manages; when the managed list cannot be read the configured ones
    /// are swept and the error returned after.
    pub async fn sweep_until(&self, now: Timestamp, deadline: Option<Instant>) -> Result<Report, PortError> {
        match self.with_managed_services().await {
            Ok(Some(this)) => this.sweep_listed(now, deadline).await,
            Ok(None) => self.sweep_listed(now, deadline).await,
            Err(e) => {
                tracing::error!(error = %e.chain(), "managed services unreadable; sweeping the configured ones only");
                self.sweep_listed(now, deadline).await?;
                Err(e)
            }
        }
    }

    async fn sweep_listed(&self, now: Timestamp, deadline: Option<Instant>) -> Result<Report, PortError> {
        let mut report = Report::default();
        let services = &self.settings.services;
        report.resumed = self
            .paged(SWEEP_NAME, now, deadline, &mut report, move |cursor| async move {
                let page = self.connections.pending_page(services, cursor).await?;
                tracing::info!(pending = page.connections.len(), "sweep read a page");
                Ok((self.run(page.connections, now).await?, page.next))
            })
            .await?;
        // Requests first: they wait for an answer, revocations do not.
        if !report.stopped_early {
            self.revoke_pass(now, deadline, &mut report).await?;
        }
        Ok(report)
    }

    /// One pass over pages of connections, `page` handling each: the
    /// cursor is saved after every page, so a later invocation goes on
    /// after the last one done; at `deadline` the pass stops and says so.
    /// Whether it resumed from a saved cursor is returned.
    pub(crate) async fn paged<F, Fut>(
        &self,
        pass: &str,
        now: Timestamp,
        deadline: Option<Instant>,
        report: &mut Report,
        mut page: F,
    ) -> Result<bool, PortError>
    where
        // A closure returning a future (not an async closure): the sweep's
        // future must stay Send for the runtime.
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<(Report, Option<String>), PortError>>,
    {
        let mut cursor = match &self.checkpoints {
            Some(c) => c.load(pass).await?,
            None => None,
        };
        let resumed = cursor.is_some();
        let mut saved = resumed;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                tracing::warn!(
                    pass,
                    pages = report.counts.pages,
                    "stopped before its time ran out; the next sweep goes on from here"
                );
                report.stopped_early = true;
                return Ok(resumed);
            }
            let (mut done, next) = page(cursor.clone()).await?;
            done.counts.pages = 1;
            report.absorb(done);
            cursor = next;
            if let Some(checkpoints) = &self.checkpoints
                && (cursor.is_some() || saved)
            {
                checkpoints.save(pass, cursor.as_deref(), now).await?;
                saved = cursor.is_some();
            }
            if cursor.is_none() {
                return Ok(resumed);
            }
        }
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
        // EC2 names an endpoint's DNS names with its connection: an accept's
        // notice carries them.
        let facts = NoticeFacts {
            dns: pending
                .iter()
                .map(|c| (c.endpoint.clone(), c.dns_entries.iter().map(|d| d.dns_name.clone()).collect()))
                .collect(),
            note: None,
        };
        // Every pending owner's place (cached), so that the requests and the
        // entries that may apply are read together, in one round trip.
        let memberships = self.memberships(pending.iter().map(|c| c.owner), now).await;
        let pairs = book_pairs(pending.iter().map(|c| (&c.service, c.owner)), &memberships);
        // Fail closed: without the policy nothing is decided at all.
        let (existing, book) = match self.first_reads(&ids, &pairs).await {
            Ok(read) => read,
            // A stored item that cannot be read (a hand edit, a newer
            // schema) fails the whole batch, and would fail this page in
            // every sweep after: each connection alone, so only its own fails.
            Err(e) if !e.transient && pending.len() > 1 => {
                tracing::warn!(error = %e.chain(), connections = pending.len(), "a batch read failed; deciding its connections one at a time");
                for conn in pending {
                    let endpoint = conn.endpoint.clone();
                    match Box::pin(self.run(vec![conn], now)).await {
                        Ok(one) => report.absorb(one),
                        Err(e) => report.fail(&endpoint, &e),
                    }
                }
                return Ok(report);
            }
            Err(e) => return Err(e),
        };

        // A shadow-mode service's connections are judged and recorded, and
        // nothing else: no claim, so switching to enforce decides them anew.
        let (shadowed, pending): (Vec<Connection>, Vec<Connection>) =
            pending.into_iter().partition(|c| crate::shadow::is_shadow(&book, &c.service));
        self.shadow_all(shadowed, &book, &memberships, now, &mut report).await;

        let mut tasks = Vec::new();
        let mut fresh = Vec::new();
        for conn in pending {
            match existing.get(&conn.endpoint) {
                None => fresh.push(conn),
                Some(rec) => {
                    let membership = memberships.get(&rec.owner).unwrap_or(&Membership::NotConfigured);
                    match self.outstanding(rec, &book, membership, now) {
                        Ok(Some(t)) => tasks.extend(self.take_over(t, &mut report).await),
                        Ok(None) => report.skip(
                            &conn.endpoint,
                            format!("already decided: {} by {} at {}", rec.state, rec.actor, rec.decided_at),
                        ),
                        Err(held) => {
                            tracing::warn!(endpoint_id = %conn.endpoint, owner = %rec.owner, service_id = %rec.service, reason = held, "held back by a deny");
                            report.skip(&conn.endpoint, held);
                        }
                    }
                }
            }
        }

        let claimed = self.claim_all(fresh, &book, &memberships, now, &mut report).await;
        tasks.extend(claimed);
        self.perform(tasks, &book, &facts, now, &mut report).await;
        Ok(report)
    }

    /// Work another run left unfinished, taken over with a conditional
    /// version bump: of two runs past the lease (a schedule overlapping a
    /// retry), only one accepts, rejects or asks the approvers. A review's
    /// reminder or expiry makes its own conditional write.
    async fn take_over(&self, task: Task, report: &mut Report) -> Option<Task> {
        let (Task::Act(_, rec) | Task::Ask(rec)) = &task else { return Some(task) };
        let mut taken = rec.clone();
        taken.version += 1;
        match self.requests.update(&taken).await {
            Ok(true) => Some(match task {
                Task::Act(action, _) => Task::Act(action, taken),
                _ => Task::Ask(taken),
            }),
            Ok(false) => {
                report.skip(&taken.endpoint, "taken over by another run");
                None
            }
            Err(e) => {
                report.fail(&taken.endpoint, &e);
                None
            }
        }
    }

    /// The connections' requests and the policy entries that may apply,
    /// together where the store can.
    pub(crate) async fn first_reads(
        &self,
        endpoints: &[EndpointId],
        pairs: &[(ServiceId, Principal)],
    ) -> Result<(HashMap<EndpointId, RequestRecord>, PolicyBook), PortError> {
        if let Some(reads) = &self.together {
            return reads.read(endpoints, pairs).await;
        }
        Ok((self.requests.get_many(endpoints).await?, self.policies.load_book(pairs).await?))
    }

    /// Work an earlier run claimed but did not finish, once its lease passed.
    /// Also a review's reminder or expiry, when the policy says one is due.
    /// A deny added since the decision holds back an unfinished accept and
    /// a review's links (a deny wins over an allow and over an approver);
    /// the error says so, for the operator to reject or lift the deny.
    fn outstanding(
        &self,
        rec: &RequestRecord,
        book: &PolicyBook,
        membership: &Membership,
        now: Timestamp,
    ) -> Result<Option<Task>, String> {
        if now.unix() - rec.decided_at.unix() < self.settings.lease_secs {
            return Ok(None);
        }
        let leads_to_accept =
            rec.action_outstanding() == Some(Action::Accept) || rec.state == RequestState::Review;
        if leads_to_accept
            && let Some(deny) = gate_core::denial(book, &rec.service, rec.owner, membership, now)
        {
            return Err(format!(
                "{} by {} at {}, but {} since: not accepted and no approver asked; reject it or lift the deny",
                rec.state, rec.actor, rec.decided_at, deny.text
            ));
        }
        if let Some(action) = rec.action_outstanding() {
            return Ok(Some(Task::Act(action, rec.clone())));
        }
        if rec.state == RequestState::Review && rec.notified_at.is_none() {
            return Ok(Some(Task::Ask(rec.clone())));
        }
        let Some(policy) = book.policy_for(&rec.service) else { return Ok(None) };
        Ok(review_step(rec, &policy.policy, now).map(|step| Task::Advance(step, rec.clone())))
    }

    async fn claim_all(
        &self,
        fresh: Vec<Connection>,
        book: &PolicyBook,
        memberships: &HashMap<AccountId, Membership>,
        now: Timestamp,
        report: &mut Report,
    ) -> Vec<Task> {
        let others = OthersCache::default();
        // Every owner was looked up; a missing one is decided as unreadable.
        let not_looked_up = Membership::Unreadable("the account's place was not looked up".into());
        let results: Vec<(Connection, Claim)> = stream::iter(fresh)
            .map(|conn| {
                let others = &others;
                let membership = memberships.get(&conn.owner).unwrap_or(&not_looked_up);
                async move {
                    let result = self.claim(&conn, book, membership, others, now).await;
                    (conn, result)
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;

        let mut tasks = Vec::new();
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
                    tasks.push(match record.state.action() {
                        Some(action) => Task::Act(action, record),
                        None => Task::Ask(record),
                    });
                }
            }
        }
        tasks
    }

    /// Decides one connection and claims the decision. `None` when another
    /// run claimed it first.
    async fn claim(
        &self,
        conn: &Connection,
        book: &PolicyBook,
        membership: &Membership,
        others: &OthersCache,
        now: Timestamp,
    ) -> Claim {
        let unique = book.policy_for(&conn.service).is_some_and(|p| p.policy.unique_consumer_cidrs);
        // The consumer's own reads keep their concurrency; only reading the
        // others' CIDRs, deciding and claiming take turns.
        let discovery = self.networks.vpc_cidrs(conn.owner, conn.region.as_ref(), &conn.endpoint).await?;
        let _turn = if unique { Some(others.turn.lock().await) } else { None };
        let decision = self.judge_read(conn, &discovery, book, membership, others, now).await?;
        let consumer_cidrs = match &discovery {
            gate_core::Discovery::Read(c) => c.clone(),
            gate_core::Discovery::Unavailable(_) => Vec::new(),
        };
        let record = RequestRecord {
            reasons: decision.reasons.clone(),
            consumer_cidrs,
            region: conn.region.clone(),
            ..RequestRecord::new(
                conn.service.clone(),
                conn.endpoint.clone(),
                conn.owner,
                RequestState::from_outcome(decision.outcome),
                self.settings.actor.clone(),
                now,
            )
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
        let created = if unique && record.state == RequestState::Accepted {
            self.claim_guarded(conn, &record, &decided, others).await?
        } else {
            self.requests.create(&record, &decided).await?
        };
        if !created {
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

    /// Claims an accept of a service whose consumer CIDRs must be unique,
    /// moving its guard on from the version the accept was judged against.
    /// `false` when another run decided the connection first; an error,
    /// for a retry to judge again, when another run accepted a consumer of
    /// the service since this one read.
    async fn claim_guarded(
        &self,
        conn: &Connection,
        record: &RequestRecord,
        decided: &AuditEvent,
        others: &OthersCache,
    ) -> Result<bool, PortError> {
        let judged = others.guard(self.requests.as_ref(), &conn.service).await?;
        let next = judged.after(ClaimedCidrs {
            endpoint: conn.endpoint.clone(),
            owner: conn.owner,
            cidrs: record.consumer_cidrs.clone(),
            at: record.decided_at,
        });
        match self.requests.create_guarded(record, decided, &next).await? {
            GuardedClaim::Claimed => {
                others.accepted(conn, &record.consumer_cidrs, next).await;
                Ok(true)
            }
            GuardedClaim::AlreadyDecided => Ok(false),
            GuardedClaim::GuardMoved => {
                others.forget(&conn.service).await;
                Err(PortError::plain(
                    format!(
                        "another run accepted a consumer of {} while {} was judged; judged again on the next try",
                        conn.service, conn.endpoint
                    ),
                    true,
                ))
            }
        }
    }

    /// Reads what a decision needs about one connection and decides it.
    pub(crate) async fn judge(
        &self,
        conn: &Connection,
        book: &PolicyBook,
        membership: &Membership,
        others: &OthersCache,
        now: Timestamp,
    ) -> Result<(Decision, gate_core::Discovery), PortError> {
        let discovery = self.networks.vpc_cidrs(conn.owner, conn.region.as_ref(), &conn.endpoint).await?;
        let decision = self.judge_read(conn, &discovery, book, membership, others, now).await?;
        Ok((decision, discovery))
    }

    /// Decides one connection whose consumer CIDRs were read.
    async fn judge_read(
        &self,
        conn: &Connection,
        discovery: &gate_core::Discovery,
        book: &PolicyBook,
        membership: &Membership,
        others: &OthersCache,
        now: Timestamp,
    ) -> Result<Decision, PortError> {
        let other_consumers = self.other_consumers(&conn.service, conn.owner, book, others, now).await?;
        Ok(decide(
            book,
            &Request {
                service: &conn.service,
                account: conn.owner,
                discovery,
                other_consumers: &other_consumers,
                membership,
                region: conn.region.as_ref(),
            },
            now,
        ))
    }

    /// Other accepted consumers' CIDRs, read once per service and account
    /// per run, and only where the policy asks for unique consumer CIDRs.
    async fn other_consumers(
        &self,
        service: &ServiceId,
        account: AccountId,
        book: &PolicyBook,
        cache: &OthersCache,
        now: Timestamp,
    ) -> Result<Arc<CidrSet<String>>, PortError> {
        let wanted = book.policy_for(service).is_some_and(|p| p.policy.unique_consumer_cidrs);
        if !wanted {
            return Ok(Arc::new(CidrSet::default()));
        }
        let mut read = cache.read.lock().await;
        let key = (service.clone(), account);
        if let Some(set) = read.get(&key) {
            return Ok(set.clone());
        }
        // The guard holds the accepts the index may not show yet, this run's too.
        let claims = cache.guard(self.requests.as_ref(), service).await?;
        let set = Arc::new(
            crate::explain::others_than(self.requests.as_ref(), service, account, &claims, now).await?,
        );
        read.insert(key, set.clone());
        Ok(set)
    }

    /// Asks and advances reviews; batches Accepts and Rejects per service.
    async fn perform(
        &self,
        tasks: Vec<Task>,
        book: &PolicyBook,
        facts: &NoticeFacts,
        now: Timestamp,
        report: &mut Report,
    ) {
        let mut batches: BTreeMap<(ServiceId, bool), Vec<RequestRecord>> = BTreeMap::new();
        for task in tasks {
            match task {
                Task::Act(action, rec) => {
                    batches.entry((rec.service.clone(), action == Action::Accept)).or_default().push(rec)
                }
                Task::Ask(rec) => self.review.ask(rec, book, now, report).await,
                Task::Advance(step, rec) => self.review.advance(step, rec, book, now, report).await,
            }
        }
        for ((service, accept), records) in batches {
            let action = if accept { Action::Accept } else { Action::Reject };
            for chunk in records.chunks(self.settings.batch.max(1)) {
                self.actions().act_and_tell(action, &service, chunk, facts, now, report).await;
            }
        }
    }
}
