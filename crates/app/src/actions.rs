//! Accepting and rejecting connections, and booking what EC2 did: the one
//! place where deciding, expiring and answering touch a connection.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use gate_core::{
    Action, ConnectionState, EndpointId, Notice, NoticeKind, RequestRecord, ServiceId, Timestamp,
};

use crate::notices::{NoticeFacts, Notices, Told};
use crate::ports::{Audit, AuditEvent, AuditKind, Connections, Notifier, Refused, Requests};
use crate::report::Report;

/// The ports an Accept or Reject goes through.
#[derive(Clone)]
pub struct Actions {
    pub connections: Arc<dyn Connections>,
    pub requests: Arc<dyn Requests>,
    pub audit: Arc<dyn Audit>,
    /// Where reviews were posted, updated to show how they ended; `None`
    /// where no channel keeps a message to update.
    pub posted: Option<Arc<dyn Notifier>>,
    /// Recorded as the actor of automatic decisions.
    pub actor: String,
    /// Requests booked at once after an Accept/Reject call.
    pub concurrency: usize,
    /// Decision notices to consumers' contacts; `None` when they are off.
    pub notices: Option<Notices>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions").field("actor", &self.actor).finish_non_exhaustive()
    }
}

/// What became of one request after its Accept/Reject call.
enum Booked {
    Done,
    Refused(String),
}

impl Actions {
    /// Accepts or rejects these requests' connections of one service in one
    /// call, then books each and tells its consumer.
    pub async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        records: &[RequestRecord],
        now: Timestamp,
        report: &mut Report,
    ) {
        self.act_and_tell(action, service, records, &NoticeFacts::default(), now, report).await;
    }

    /// [`Actions::act`], with what the consumers' notices tell beyond the
    /// records: DNS names, an approver's reason.
    pub async fn act_and_tell(
        &self,
        action: Action,
        service: &ServiceId,
        records: &[RequestRecord],
        facts: &NoticeFacts,
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
        let shown = self.states_of(&refused).await;
        let jobs: Vec<(RequestRecord, Option<Refused>)> = records
            .iter()
            .map(|rec| (rec.clone(), refused.iter().find(|r| r.endpoint == rec.endpoint).cloned()))
            .collect();
        let shown = &shown;
        let results: Vec<(EndpointId, Booked, Option<Told>)> = stream::iter(jobs)
            .map(|(rec, refusal)| async move {
                let booked = self.book(action, &rec, refusal.as_ref(), shown.get(&rec.endpoint), now).await;
                let told = match booked {
                    Booked::Refused(_) => None,
                    Booked::Done => {
                        let mut notice = Notice::about(&rec, NoticeKind::after_action(rec.state), now);
                        notice.dns_names = facts.dns.get(&rec.endpoint).cloned().unwrap_or_default();
                        notice.note.clone_from(&facts.note);
                        self.tell(&notice, now).await
                    }
                };
                (rec.endpoint, booked, told)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for (endpoint, booked, told) in results {
            if let Some(told) = told {
                report.told(&told);
            }
            match booked {
                Booked::Done => report.acted(endpoint, format!("{action:?}")),
                Booked::Refused(why) => report.skip(&endpoint, why),
            }
        }
    }

    /// Books the outcome of the Accept/Reject call for one request. A
    /// success writes nothing: the connection is no longer pending, which
    /// is all a later run looks at (it only examines pending connections),
    /// and record keeps EC2's word on it in the registry. A refusal is
    /// audited, with the state EC2 shows (`shown`, when it could be read).
    async fn book(
        &self,
        action: Action,
        rec: &RequestRecord,
        refusal: Option<&Refused>,
        shown: Option<&ConnectionState>,
        now: Timestamp,
    ) -> Booked {
        let Some(r) = refusal else {
            tracing::info!(endpoint_id = %rec.endpoint, ?action, actor = %rec.actor, "connection acted on");
            return Booked::Done;
        };
        let seen = shown.map_or_else(|| "unread".to_owned(), ToString::to_string);
        // The SDK sends a call again when its reply is lost or times out,
        // and the first attempt may have taken effect: EC2 then refuses the
        // repeat because the connection is no longer pending. What EC2
        // shows tells that apart from a real refusal.
        if shown.is_some_and(|state| action.is_done_in(state)) {
            tracing::info!(endpoint_id = %rec.endpoint, ?action, actor = %rec.actor, code = %r.code, state = %seen,
                "connection acted on: EC2 refused a repeat of the call and shows it done");
            let detail =
                format!("{action:?} shown done by EC2 ({seen}) after it refused a repeat: {}", r.code);
            let kind = match action {
                Action::Accept => AuditKind::Accepted,
                Action::Reject => AuditKind::Rejected,
            };
            self.audit_quietly(self.event(rec, now, kind, detail)).await;
            return Booked::Done;
        }
        // EC2 said no for this endpoint (no longer pending, gone): nothing
        // is retried for a connection that is not pending.
        tracing::warn!(endpoint_id = %rec.endpoint, code = %r.code, message = %r.message, ?action, state = %seen,
            "EC2 refused the action");
        let detail = format!("{action:?} refused by EC2: {} {} (connection {seen})", r.code, r.message);
        self.audit_quietly(self.event(rec, now, AuditKind::ActionRefused, detail.clone())).await;
        Booked::Refused(detail)
    }

    /// What EC2 shows of the refused connections, read together (one
    /// describe of up to 200). A failed read shows nothing: each refusal
    /// then stands, as it did.
    async fn states_of(&self, refused: &[Refused]) -> HashMap<EndpointId, ConnectionState> {
        if refused.is_empty() {
            return HashMap::new();
        }
        let ids: Vec<EndpointId> = refused.iter().map(|r| r.endpoint.clone()).collect();
        match self.connections.find(&ids).await {
            Ok(found) => found.into_iter().map(|c| (c.endpoint, c.state)).collect(),
            Err(e) => {
                tracing::warn!(error = %e.chain(), refused = ids.len(), "reading refused connections failed");
                HashMap::new()
            }
        }
    }

    /// Shows where the review was posted how it ended. The decision stands
    /// whatever happens here; a stale message still answers "already decided".
    pub async fn settle(&self, rec: &RequestRecord, note: &str) {
        let Some(posted) = &self.posted else { return };
        if let Err(e) = posted.settled(rec, note).await {
            tracing::error!(error = %e.chain(), endpoint_id = %rec.endpoint, "showing the outcome to approvers failed");
        }
    }

    /// Sends a decision notice to the consumer's contact, and audits what
    /// became of it. Never fails: the decision stands whatever happens here.
    /// `None` when notices are off.
    pub async fn tell(&self, notice: &Notice, now: Timestamp) -> Option<Told> {
        let notices = self.notices.as_ref()?;
        let told = notices.tell(notice, now).await;
        let (kind, detail) = match &told {
            Told::NoContact | Told::AlreadySent => return Some(told),
            Told::Sent { channels, failed } if failed.is_empty() => (
                AuditKind::ConsumerNotified,
                format!("{} notice sent to the account's contact ({})", notice.kind, channels.join(", ")),
            ),
            Told::Sent { channels, failed } => (
                AuditKind::NoticeFailed,
                format!(
                    "{} notice sent to the account's contact ({}) but not through {}",
                    notice.kind,
                    channels.join(", "),
                    failed.join(", ")
                ),
            ),
            Told::Failed(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %notice.endpoint, kind = %notice.kind, "consumer notice not sent; the decision stands");
                (AuditKind::NoticeFailed, format!("{} notice not sent: {}", notice.kind, e.chain()))
            }
        };
        let event = AuditEvent {
            at: now,
            kind,
            actor: self.actor.clone(),
            endpoint: Some(notice.endpoint.clone()),
            service: Some(notice.service.clone()),
            owner: Some(notice.account),
            outcome: None,
            detail,
        };
        self.audit_quietly(event).await;
        Some(told)
    }

    /// An audit event about one request, by the automatic actor.
    pub fn event(&self, rec: &RequestRecord, now: Timestamp, kind: AuditKind, detail: String) -> AuditEvent {
        AuditEvent {
            at: now,
            kind,
            actor: self.actor.clone(),
            endpoint: Some(rec.endpoint.clone()),
            service: Some(rec.service.clone()),
            owner: Some(rec.owner),
            outcome: None,
            detail,
        }
    }

    /// The audit is a record of what happened, not a gate on it: a failed
    /// append is logged loudly and the decision stands.
    pub async fn audit_quietly(&self, event: AuditEvent) {
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e.chain(), kind = ?event.kind, "audit append failed");
        }
    }
}
