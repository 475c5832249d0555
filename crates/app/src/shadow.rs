//! Shadow mode: where a service's policy says `mode: shadow`, connections
//! are judged exactly as in enforce mode, and the verdict is only kept
//! ([`Shadows`]). Nothing here calls Accept or Reject, asks approvers,
//! tells consumers, or claims the request: the connection is left to
//! people, and once the service is switched to `enforce` the next run
//! decides a still-pending connection as if shadow mode had never been.
//!
//! [`report`] sets each verdict beside what happened to the connection
//! (the registry), disagreements first: the evidence for switching.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use gate_core::{
    AccountId, Actual, Agreement, Connection, EndpointId, Membership, Mode, Outcome, PolicyBook, Reason,
    ServiceId, ShadowVerdict, Timestamp, Would, compare,
};
use serde::Serialize;

use crate::decide::{Decide, OthersCache};
use crate::error::PortError;
use crate::ports::{AuditEvent, AuditKind, Registry, Shadows};
use crate::report::{Report, Shadowed};

/// Whether `service`'s policy (its own, or the `*` one) is in shadow mode.
/// No policy at all is enforce mode, which sends the request to review.
pub fn is_shadow(book: &PolicyBook, service: &ServiceId) -> bool {
    book.policy_for(service).is_some_and(|p| p.policy.mode == Mode::Shadow)
}

impl Decide {
    /// Judges these connections of shadow-mode services and keeps the
    /// verdicts; acts on none of them.
    pub(crate) async fn shadow_all(
        &self,
        connections: Vec<Connection>,
        book: &PolicyBook,
        memberships: &HashMap<AccountId, Membership>,
        now: Timestamp,
        report: &mut Report,
    ) {
        if connections.is_empty() {
            return;
        }
        let others = OthersCache::default();
        let not_looked_up = Membership::Unreadable("the account's place was not looked up".into());
        let done: Vec<Report> = stream::iter(connections)
            .map(|conn| {
                let others = &others;
                let membership = memberships.get(&conn.owner).unwrap_or(&not_looked_up);
                async move {
                    let mut one = Report::default();
                    match self.judge(&conn, book, membership, others, now).await {
                        Err(e) => one.fail(&conn.endpoint, &e),
                        Ok((decision, _)) => {
                            let would = Would::from(decision.outcome);
                            let reasons = decision.summary();
                            self.keep_shadow(&conn, would, decision.outcome, reasons, now, &mut one).await;
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
    }

    /// Keeps "would revoke" for these available connections of
    /// shadow-mode services; rejects none of them.
    pub(crate) async fn shadow_revocations(
        &self,
        due: Vec<(Connection, Vec<Reason>)>,
        now: Timestamp,
        report: &mut Report,
    ) {
        for (conn, reasons) in due {
            let summary = reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            self.keep_shadow(&conn, Would::Revoke, Outcome::Reject, summary, now, report).await;
        }
    }

    async fn keep_shadow(
        &self,
        conn: &Connection,
        would: Would,
        outcome: Outcome,
        reasons: String,
        now: Timestamp,
        report: &mut Report,
    ) {
        let Some(shadows) = &self.shadows else {
            tracing::error!(endpoint_id = %conn.endpoint, service_id = %conn.service, "shadow mode, but this deployment keeps no shadow verdicts; nothing done");
            report.skip(&conn.endpoint, "shadow mode: nowhere to keep the verdict; nothing done");
            return;
        };
        let verdict = ShadowVerdict {
            endpoint: conn.endpoint.clone(),
            service: conn.service.clone(),
            owner: conn.owner,
            would,
            reasons,
            at: now,
        };
        let event = AuditEvent {
            at: now,
            kind: AuditKind::ShadowDecided,
            actor: self.settings.actor.clone(),
            endpoint: Some(conn.endpoint.clone()),
            service: Some(conn.service.clone()),
            owner: Some(conn.owner),
            outcome: Some(outcome),
            detail: format!("shadow mode, nothing done: would {would}: {}", verdict.reasons),
        };
        match shadows.keep(&verdict, &event).await {
            Err(e) => report.fail(&conn.endpoint, &e),
            Ok(new) => {
                if new {
                    tracing::info!(
                        endpoint_id = %conn.endpoint,
                        owner = %conn.owner,
                        service_id = %conn.service,
                        would = %would,
                        reasons = %verdict.reasons,
                        "shadow decided; nothing done"
                    );
                }
                report.shadowed(Shadowed { endpoint: conn.endpoint.clone(), would, new });
            }
        }
    }
}

/// One endpoint of the shadow report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    pub would: Would,
    pub reasons: String,
    /// When the gate first came to this verdict.
    pub at: Timestamp,
    pub actual: Actual,
    pub agreement: Agreement,
}

/// Shadow verdicts beside what happened, disagreements first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShadowReport {
    pub rows: Vec<Row>,
    pub agree: usize,
    pub disagree: usize,
    /// The gate would have asked approvers, and a person decided.
    pub person_decided: usize,
    pub pending: usize,
}

impl ShadowReport {
    /// The one-line summary the CLI prints under the table.
    pub fn summary(&self) -> String {
        format!(
            "{} agree, {} disagree, {} decided by a person where the gate would have asked one, {} still pending",
            self.agree, self.disagree, self.person_decided, self.pending
        )
    }
}

/// The shadow verdicts kept since `since` (of these services, or of all
/// when none is named), each beside the registry's record of what happened
/// to its connection.
pub async fn report(
    shadows: &dyn Shadows,
    registry: &dyn Registry,
    services: &[ServiceId],
    since: Timestamp,
) -> Result<ShadowReport, PortError> {
    let mut verdicts = Vec::new();
    if services.is_empty() {
        verdicts = shadows.list(None, since).await?;
    }
    for service in services {
        verdicts.extend(shadows.list(Some(service), since).await?);
    }
    let ids: Vec<EndpointId> = verdicts.iter().map(|v| v.endpoint.clone()).collect();
    let entries = registry.get_many(&ids).await?;
    let mut out = ShadowReport::default();
    for v in verdicts {
        let actual = Actual::of(entries.get(&v.endpoint));
        let agreement = compare(v.would, &actual);
        match agreement {
            Agreement::Agree => out.agree += 1,
            Agreement::Disagree => out.disagree += 1,
            Agreement::PersonDecided => out.person_decided += 1,
            Agreement::Pending => out.pending += 1,
        }
        out.rows.push(Row {
            endpoint: v.endpoint,
            service: v.service,
            owner: v.owner,
            would: v.would,
            reasons: v.reasons,
            at: v.at,
            actual,
            agreement,
        });
    }
    out.rows
        .sort_by(|a, b| (a.agreement, &a.service, &a.endpoint).cmp(&(b.agreement, &b.service, &b.endpoint)));
    Ok(out)
}
