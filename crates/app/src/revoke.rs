//! Revocation: the sweep's second pass. Where a service's policy says
//! `revoke: reject`, each *available* connection is judged on the
//! allowlist as it is now ([`gate_core::standing`]); one whose allowance is
//! gone is rejected, once, through the same claim as every decision.
//!
//! Nothing is revoked on doubt: a failed read (EC2, the table) stops the
//! pass with an error before anything is claimed, an unreadable AWS
//! Organizations leaves OU-admitted accounts alone, and the consumer's
//! CIDRs are never read here, so no CIDR rule can take a connection away.
//!
//! AWS lets a provider reject a connection that is already accepted: "You
//! can reject an endpoint connection after it's in the available state"
//! (<https://docs.aws.amazon.com/vpc/latest/privatelink/accept-reject-endpoint-requests.html>).

use std::collections::HashMap;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use gate_core::{
    AccountId, Action, Connection, ConnectionState, EndpointId, Membership, Outcome, PolicyBook, Reason,
    RequestRecord, RequestState, Scope, ServiceId, Standing, Timestamp, standing,
};

use crate::decide::{Decide, book_pairs};
use crate::error::PortError;
use crate::notices::NoticeFacts;
use crate::organizations::Placements;
use crate::ports::{Audience, AuditEvent, AuditKind, Connections, Nudge};
use crate::report::Report;

/// The name the revocation pass keeps its cursor under.
pub const REVOKE_SWEEP_NAME: &str = "decide-revoke";

/// What claiming one revocation came to.
enum Claimed {
    /// This run revoked it: reject, tell the consumer, announce.
    Mine(RequestRecord),
    /// Another run claimed it and did not finish within its lease.
    Unfinished(RequestRecord),
    /// Someone else holds it, or changed the request first.
    Taken(&'static str),
}

/// The services to list available connections of: every one this
/// deployment sweeps when the `*` policy revokes, else only those whose
/// own policy does. Empty `Some` means none; `None` means all of them.
pub fn services_to_list(revoking: &[Scope], swept: &[ServiceId]) -> Option<Vec<ServiceId>> {
    if revoking.contains(&Scope::Any) {
        return Some(swept.to_vec());
    }
    let listed: Vec<ServiceId> = revoking
        .iter()
        .filter_map(|s| match s {
            Scope::Service(id) if swept.is_empty() || swept.contains(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    (!listed.is_empty()).then_some(listed)
}

/// An available connection that the sweep would revoke, or could not judge.
#[derive(Debug, Clone)]
pub struct Previewed {
    pub connection: Connection,
    /// [`Standing::Revoke`] or [`Standing::Uncertain`]; the others are left out.
    pub standing: Standing,
}

/// What a sweep would revoke if `book` were the configuration: `plan`
/// shows it before an edit is applied. Reads EC2's available connections
/// of the services whose policy in `book` revokes, a page at a time.
pub async fn preview(
    connections: &dyn Connections,
    book: &PolicyBook,
    revoking: &[Scope],
    swept: &[ServiceId],
    placements: Option<&Placements>,
    now: Timestamp,
) -> Result<Vec<Previewed>, PortError> {
    let Some(services) = services_to_list(revoking, swept) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = connections.available_page(&services, cursor).await?;
        let owners = page.connections.iter().map(|c| c.owner);
        let memberships: HashMap<AccountId, Membership> = match placements {
            Some(p) => p.memberships(owners, now).await,
            None => owners.map(|a| (a, Membership::NotConfigured)).collect(),
        };
        for conn in page.connections {
            let membership = memberships.get(&conn.owner).cloned().unwrap_or(Membership::NotConfigured);
            match standing(book, &conn.service, conn.owner, &membership, now) {
                s @ (Standing::Revoke(_) | Standing::Uncertain(_)) => {
                    out.push(Previewed { connection: conn, standing: s })
                }
                Standing::NotRevoking | Standing::Allowed => {}
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

impl Decide {
    /// Revokes what lost its allowance, a page of available connections at
    /// a time, resuming where an earlier pass stopped. Lists nothing when no
    /// policy says `revoke: reject`.
    pub(crate) async fn revoke_pass(
        &self,
        now: Timestamp,
        deadline: Option<Instant>,
        report: &mut Report,
    ) -> Result<(), PortError> {
        let revoking = self.policies.revoking().await?;
        let Some(services) = services_to_list(&revoking, &self.settings.services) else { return Ok(()) };
        let services = &services;
        self.paged(REVOKE_SWEEP_NAME, now, deadline, report, move |cursor| async move {
            let page = self.connections.available_page(services, cursor).await?;
            tracing::info!(available = page.connections.len(), "revocation pass read a page");
            Ok((self.revoke_page(page.connections, now).await?, page.next))
        })
        .await?;
        Ok(())
    }

    /// Judges these connections and revokes the ones whose allowance is
    /// gone. Any failed read returns an error before anything is claimed.
    pub async fn revoke_page(
        &self,
        connections: Vec<Connection>,
        now: Timestamp,
    ) -> Result<Report, PortError> {
        let mut report = Report::default();
        let available: Vec<Connection> = connections
            .into_iter()
            .filter(|c| c.state == ConnectionState::Available)
            .filter(|c| self.settings.services.is_empty() || self.settings.services.contains(&c.service))
            .collect();
        if available.is_empty() {
            return Ok(report);
        }
        let ids: Vec<EndpointId> = available.iter().map(|c| c.endpoint.clone()).collect();
        let memberships = self.memberships(available.iter().map(|c| c.owner), now).await;
        let pairs = book_pairs(available.iter().map(|c| (&c.service, c.owner)), &memberships);
        let (mut existing, book) = self.first_reads(&ids, &pairs).await?;

        let mut due = Vec::new();
        let mut shadowed = Vec::new();
        for conn in available {
            let membership = memberships
                .get(&conn.owner)
                .cloned()
                .unwrap_or_else(|| Membership::Unreadable("the account's place was not looked up".into()));
            match standing(&book, &conn.service, conn.owner, &membership, now) {
                Standing::NotRevoking | Standing::Allowed => {}
                Standing::Uncertain(why) => {
                    tracing::warn!(endpoint_id = %conn.endpoint, owner = %conn.owner, service_id = %conn.service, why, "revocation skipped");
                    report.skip(&conn.endpoint, why);
                }
                // Shadow mode: the revocation is only recorded, never claimed.
                Standing::Revoke(reasons) if crate::shadow::is_shadow(&book, &conn.service) => {
                    shadowed.push((conn, reasons));
                }
                Standing::Revoke(reasons) => {
                    let existing = existing.remove(&conn.endpoint);
                    due.push((conn, existing, reasons));
                }
            }
        }
        self.shadow_revocations(shadowed, now, &mut report).await;
        // A deny on a busy account may revoke a whole page: a few at once,
        // as decisions are, each with its own claim.
        let done: Vec<Report> = stream::iter(due)
            .map(|(conn, existing, reasons)| {
                let book = &book;
                async move {
                    let mut one = Report::default();
                    match self.claim_revocation(&conn, existing, reasons, now).await {
                        Err(e) => one.fail(&conn.endpoint, &e),
                        Ok(Claimed::Taken(why)) => one.skip(&conn.endpoint, why),
                        Ok(Claimed::Mine(rec) | Claimed::Unfinished(rec)) => {
                            self.revoke(rec, book, now, &mut one).await
                        }
                    }
                    one
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        for one in done {
            report.absorb(one);
        }
        Ok(report)
    }

    /// Claims the revocation on the request record: a conditional update of
    /// an existing record (on its version), or a conditional create where
    /// Endpoint Gate never decided (a console accept, a backfill).
    async fn claim_revocation(
        &self,
        conn: &Connection,
        existing: Option<RequestRecord>,
        reasons: Vec<Reason>,
        now: Timestamp,
    ) -> Result<Claimed, PortError> {
        let actor = self.settings.actor.clone();
        let summary = reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let audit = AuditEvent {
            at: now,
            kind: AuditKind::Revoked,
            actor: actor.clone(),
            endpoint: Some(conn.endpoint.clone()),
            service: Some(conn.service.clone()),
            owner: Some(conn.owner),
            outcome: Some(Outcome::Reject),
            detail: summary.clone(),
        };
        let claimed = match existing {
            Some(rec) if rec.state == RequestState::Revoked => {
                if now.unix() - rec.decided_at.unix() < self.settings.lease_secs {
                    return Ok(Claimed::Taken("being revoked by another run"));
                }
                // Taken over with a conditional write, so that of two runs
                // past the lease only one rejects and announces.
                let taken = RequestRecord { version: rec.version + 1, ..rec };
                return Ok(if self.requests.update(&taken).await? {
                    Claimed::Unfinished(taken)
                } else {
                    Claimed::Taken("taken over by another run")
                });
            }
            Some(rec) => {
                let next = RequestRecord {
                    state: RequestState::Revoked,
                    reasons,
                    actor,
                    decided_at: now,
                    acted_at: None,
                    expired_at: None,
                    version: rec.version + 1,
                    ..rec
                };
                if !self.requests.update(&next).await? {
                    return Ok(Claimed::Taken("request changed concurrently by another run"));
                }
                self.actions().audit_quietly(audit).await;
                next
            }
            None => {
                let next = RequestRecord {
                    reasons,
                    region: conn.region.clone(),
                    ..RequestRecord::new(
                        conn.service.clone(),
                        conn.endpoint.clone(),
                        conn.owner,
                        RequestState::Revoked,
                        actor,
                        now,
                    )
                };
                if !self.requests.create(&next, &audit).await? {
                    return Ok(Claimed::Taken("revoked concurrently by another run"));
                }
                next
            }
        };
        tracing::info!(
            endpoint_id = %conn.endpoint,
            owner = %conn.owner,
            service_id = %conn.service,
            outcome = "revoke",
            reasons = %summary,
            "revocation claimed"
        );
        Ok(Claimed::Mine(claimed))
    }

    /// Rejects the connection, tells the consumer's contact (the
    /// `revoked` notice, deduplicated like every notice), and once EC2
    /// rejected it announces it to the service's approvers.
    async fn revoke(&self, rec: RequestRecord, book: &PolicyBook, now: Timestamp, report: &mut Report) {
        let mut acted = Report::default();
        let service = rec.service.clone();
        let one = std::slice::from_ref(&rec);
        self.actions()
            .act_and_tell(Action::Reject, &service, one, &NoticeFacts::default(), now, &mut acted)
            .await;
        let rejected = acted.counts.acted > 0;
        report.absorb(acted);
        if !rejected {
            return;
        }
        let why = rec.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        report.revoked(rec.endpoint.clone(), why);
        let audience = Audience::of(book.policy_for(&service).map(|p| &p.policy));
        match self.review.notifier.nudge(&rec, &audience, Nudge::Revoked).await {
            Ok(()) => report.notified(rec.endpoint.clone()),
            // The revocation stands; the audit and the registry say it.
            Err(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %rec.endpoint, "announcing a revocation failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(n: u8) -> ServiceId {
        format!("vpce-svc-0{n:016x}").parse().expect("service")
    }

    #[test]
    fn only_services_whose_policy_revokes_are_listed() {
        let (a, b) = (svc(1), svc(2));
        assert_eq!(services_to_list(&[], &[]), None);
        assert_eq!(services_to_list(&[Scope::Any], &[]), Some(vec![]), "all of them");
        assert_eq!(services_to_list(&[Scope::Any], std::slice::from_ref(&a)), Some(vec![a.clone()]));
        assert_eq!(services_to_list(&[Scope::Service(a.clone())], &[]), Some(vec![a.clone()]));
        assert_eq!(
            services_to_list(&[Scope::Service(a.clone())], std::slice::from_ref(&b)),
            None,
            "not swept here"
        );
    }
}
