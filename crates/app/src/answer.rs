//! Approvers' answers to requests in review: who may answer is decided
//! here, for every channel (email link, Slack, CLI), against the service's
//! policy as it is when the answer arrives; the answer is then taken once,
//! whoever answers first, and the connection accepted or rejected.

use std::collections::HashMap;
use std::sync::Arc;

use gate_core::link::LinkAction;
use gate_core::{
    Action, Answerer, ConnectionState, EndpointId, Membership, Outcome, RequestRecord, RequestState,
    Timestamp,
};

use crate::actions::Actions;
use crate::cidr_claims::{CidrClaims, ClaimedCidrs};
use crate::decide::{AUTOMATIC_ACTOR, book_pairs};
use crate::error::PortError;
use crate::notices::{NoticeFacts, Notices};
use crate::organizations::Placements;
use crate::ports::{Audit, AuditKind, Connections, Notifier, PolicySource, Requests};
use crate::report::Report;

/// How often an answer is tried again when a reminder or a concurrent sweep
/// changed the review between its read and its write.
const ATTEMPTS: usize = 5;

/// An approver's verdict on a request in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

impl From<LinkAction> for Verdict {
    fn from(action: LinkAction) -> Self {
        match action {
            LinkAction::Approve => Verdict::Approve,
            LinkAction::Reject => Verdict::Deny,
        }
    }
}

/// What follows "approved by …" wherever an answer is reported (the email
/// page, Slack, the CLI): the reason given, if any, and whether EC2 has
/// acted yet.
pub fn answer_note(verdict: Verdict, reason: Option<&str>, acted: bool) -> String {
    let mut note = match reason.map(str::trim) {
        Some(r) if !r.is_empty() => format!("Reason: {r}. "),
        _ => String::new(),
    };
    note.push_str(if !acted {
        "EC2 did not act yet; Endpoint Gate will finish it within minutes."
    } else if verdict == Verdict::Approve {
        "The connection is accepted."
    } else {
        "The connection is rejected."
    });
    note
}

/// What became of an answer.
#[derive(Debug)]
pub enum Answered {
    /// This answer decided; `report` says whether EC2 acted (a failed
    /// Accept is finished by the sweep).
    Done { record: RequestRecord, report: Box<Report> },
    /// Someone else decided first; the record says who and when.
    AlreadyDecided(RequestRecord),
    /// The connection is no longer waiting for an answer.
    NotPending(ConnectionState),
    /// Endpoint Gate has no request for this endpoint.
    Unknown,
    /// The answerer is not (or no longer) an approver of the request's
    /// service; nothing else about the request is told.
    NotAnApprover,
    /// An approval of an account that a deny now cuts off: a deny wins
    /// over every allow, and over an approver too. Nothing changed; the
    /// operator's words of the deny.
    Denied(String),
    /// An approval of a consumer whose CIDRs overlap another accepted
    /// consumer's, where the service requires unique consumer CIDRs: the
    /// rule wins over an approver, as a deny does. Nothing changed; which
    /// CIDRs overlap.
    Overlaps(String),
}

/// A request an answer may be taken on, with its service's guard when an
/// approval must keep consumer CIDRs unique: the answer moves the guard
/// on from the version the check read.
struct Open {
    record: RequestRecord,
    guard: Option<CidrClaims>,
}

/// Taking approvers' answers: the policies say who may answer, the
/// actions carry the answer out.
#[derive(Clone)]
pub struct Answer {
    pub policies: Arc<dyn PolicySource>,
    pub actions: Actions,
    /// Where accounts sit in AWS Organizations, so that an approval meets
    /// OU and organization denies too; `None`: the account's own entries.
    pub placements: Option<Arc<Placements>>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").finish_non_exhaustive()
    }
}

impl Answer {
    /// Answering over the ports it is given. `posted` is where reviews
    /// were posted (Slack), updated with the answer; email keeps nothing.
    pub fn new(
        connections: Arc<dyn Connections>,
        policies: Arc<dyn PolicySource>,
        requests: Arc<dyn Requests>,
        audit: Arc<dyn Audit>,
        posted: Option<Arc<dyn Notifier>>,
    ) -> Self {
        let actor = AUTOMATIC_ACTOR.to_owned();
        let actions = Actions { connections, requests, audit, posted, actor, concurrency: 1, notices: None };
        Self { policies, actions, placements: None }
    }

    /// Approvals also meet the OU and organization denies on the
    /// account's path.
    #[must_use]
    pub fn with_placements(mut self, placements: Arc<Placements>) -> Self {
        self.placements = Some(placements);
        self
    }

    /// Tells consumers' contacts who answered and why.
    pub fn with_notices(mut self, notices: Notices) -> Self {
        self.actions.notices = Some(notices);
        self
    }

    /// The request `who` may answer with `verdict` now, or why they may
    /// not. Changes nothing: the confirmation page of an email link asks
    /// this. An approval also meets the account's denies as they are now:
    /// its own entries, and with placements the OU and organization
    /// entries on its path. When that path cannot be read, a deny cannot
    /// be ruled out: the approval waits (a transient error).
    pub async fn answerable(
        &self,
        endpoint: &EndpointId,
        who: &Answerer,
        verdict: Verdict,
        now: Timestamp,
    ) -> Result<Result<RequestRecord, Answered>, PortError> {
        Ok(self.open(endpoint, who, verdict, now).await?.map(|open| open.record))
    }

    /// [`Answer::answerable`], with what the answer's write needs. An
    /// approval of a service whose consumer CIDRs must be unique also
    /// meets the consumers accepted since the request was decided.
    async fn open(
        &self,
        endpoint: &EndpointId,
        who: &Answerer,
        verdict: Verdict,
        now: Timestamp,
    ) -> Result<Result<Open, Answered>, PortError> {
        let Some(rec) =
            self.actions.requests.get_many(std::slice::from_ref(endpoint)).await?.remove(endpoint)
        else {
            return Ok(Err(Answered::Unknown));
        };
        let book = self.policies.load_book(&[(rec.service.clone(), rec.owner.into())]).await?;
        let may = book.policy_for(&rec.service).is_some_and(|p| p.policy.may_answer(who));
        if !may {
            tracing::warn!(endpoint_id = %endpoint, service_id = %rec.service, actor = %who.actor(), "answer from someone who is not an approver refused");
            return Ok(Err(Answered::NotAnApprover));
        }
        if rec.state != RequestState::Review {
            return Ok(Err(Answered::AlreadyDecided(rec)));
        }
        if verdict == Verdict::Approve {
            // Only for an approver's approval: nobody else makes us read
            // the organization.
            let membership = match &self.placements {
                Some(placements) => placements.membership(rec.owner, now).await,
                None => Membership::NotConfigured,
            };
            if let Membership::Unreadable(why) = &membership {
                let what = format!(
                    "where account {} sits in the organization could not be read ({why}), so an OU deny \
                     cannot be ruled out; try again shortly",
                    rec.owner
                );
                return Err(PortError::plain(what, true));
            }
            // The OU and organization entries on the account's path, with its own.
            let book = match &membership {
                Membership::Known(_) => {
                    let memberships = HashMap::from([(rec.owner, membership.clone())]);
                    self.policies.load_book(&book_pairs([(&rec.service, rec.owner)], &memberships)).await?
                }
                _ => book,
            };
            if let Some(deny) = gate_core::denial(&book, &rec.service, rec.owner, &membership, now) {
                tracing::warn!(endpoint_id = %endpoint, service_id = %rec.service, actor = %who.actor(), reason = deny.text, "approval of a denied account refused");
                return Ok(Err(Answered::Denied(deny.text)));
            }
            if book.policy_for(&rec.service).is_some_and(|p| p.policy.unique_consumer_cidrs) {
                let requests = self.actions.requests.as_ref();
                let guard = requests.cidr_claims(&rec.service).await?;
                let others =
                    crate::explain::others_than(requests, &rec.service, rec.owner, &guard, now).await?;
                if let Some(overlap) = gate_core::consumer_overlap(&rec.service, &rec.consumer_cidrs, &others)
                {
                    tracing::warn!(endpoint_id = %endpoint, service_id = %rec.service, actor = %who.actor(), reason = overlap, "approval of an overlapping consumer refused");
                    return Ok(Err(Answered::Overlaps(overlap)));
                }
                return Ok(Ok(Open { record: rec, guard: Some(guard) }));
            }
        }
        Ok(Ok(Open { record: rec, guard: None }))
    }

    /// An approver's answer to a request in review: taken once, whoever
    /// answers first (email, Slack, CLI) wins, and the connection is then
    /// accepted or rejected.
    pub async fn answer(
        &self,
        endpoint: &EndpointId,
        verdict: Verdict,
        who: &Answerer,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<Answered, PortError> {
        let actor = who.actor();
        let mut dns = Vec::new();
        for attempt in 0..ATTEMPTS {
            let (rec, guard) = match self.open(endpoint, who, verdict, now).await? {
                Ok(open) => (open.record, open.guard),
                Err(closed) => return Ok(closed),
            };
            if attempt == 0 {
                match self.actions.connections.get(endpoint).await? {
                    Some(c) if c.state == ConnectionState::PendingAcceptance => {
                        dns = c.dns_entries.into_iter().map(|d| d.dns_name).collect();
                    }
                    Some(c) => return Ok(Answered::NotPending(c.state)),
                    None => return Ok(Answered::NotPending(ConnectionState::Deleted)),
                }
            }
            let mut answered = rec.clone();
            answered.state = match verdict {
                Verdict::Approve => RequestState::Approved,
                Verdict::Deny => RequestState::Denied,
            };
            answered.actor = actor.clone();
            answered.decided_at = now;
            answered.version += 1;
            // A conflict is someone else's answer, a reminder that moved
            // the version on, or another accept that moved the guard: read
            // again, and answer if it is still open.
            let written = match &guard {
                Some(guard) => {
                    let claim = ClaimedCidrs {
                        endpoint: answered.endpoint.clone(),
                        owner: answered.owner,
                        cidrs: answered.consumer_cidrs.clone(),
                        at: now,
                    };
                    self.actions.requests.update_guarded(&answered, &guard.after(claim)).await?
                }
                None => self.actions.requests.update(&answered).await?,
            };
            if written {
                return Ok(self.answered(answered, verdict, reason, dns, now).await);
            }
        }
        Err(PortError::plain(format!("the review of {endpoint} kept changing; try again"), true))
    }

    /// Audits the answer, acts on it and shows it where the review was posted.
    async fn answered(
        &self,
        answered: RequestRecord,
        verdict: Verdict,
        reason: Option<&str>,
        dns: Vec<String>,
        now: Timestamp,
    ) -> Answered {
        let actor = answered.actor.clone();
        let outcome = if verdict == Verdict::Approve { Outcome::Accept } else { Outcome::Reject };
        let detail = match reason {
            Some(r) if !r.trim().is_empty() => format!("{} by {actor}: {}", answered.state, r.trim()),
            _ => format!("{} by {actor}", answered.state),
        };
        tracing::info!(endpoint_id = %answered.endpoint, owner = %answered.owner, service_id = %answered.service, outcome = %outcome, actor, "answered");
        let mut event = self.actions.event(&answered, now, AuditKind::Decided, detail);
        event.actor = actor;
        event.outcome = Some(outcome);
        self.actions.audit_quietly(event).await;
        let mut report = Report::default();
        let action = if verdict == Verdict::Approve { Action::Accept } else { Action::Reject };
        let facts = NoticeFacts {
            dns: [(answered.endpoint.clone(), dns)].into(),
            note: reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned),
        };
        let records = std::slice::from_ref(&answered);
        self.actions.act_and_tell(action, &answered.service, records, &facts, now, &mut report).await;
        self.actions.settle(&answered, &answer_note(verdict, reason, report.failed.is_empty())).await;
        Answered::Done { record: answered, report: Box::new(report) }
    }
}
