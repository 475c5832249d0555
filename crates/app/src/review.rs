//! Reviews: asking the approvers, reminding them, and expiring a review
//! nobody answered, as the service's policy says.

use std::sync::Arc;

use gate_core::{
    Action, Notice, NoticeKind, OnExpiry, Outcome, PolicyBook, RequestRecord, RequestState, ReviewStep,
    ServicePolicy, Timestamp,
};

use crate::actions::Actions;
use crate::ports::{Audience, AuditKind, Notifier, Nudge};
use crate::report::Report;

/// Asks, reminds and expires; expiry rejects through [`Actions`].
#[derive(Clone)]
pub struct Review {
    pub notifier: Arc<dyn Notifier>,
    pub actions: Actions,
}

impl std::fmt::Debug for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Review").field("actions", &self.actions).finish_non_exhaustive()
    }
}

impl Review {
    /// Sends the review to the policy's approvers and records that it was sent.
    pub async fn ask(&self, rec: RequestRecord, book: &PolicyBook, now: Timestamp, report: &mut Report) {
        let policy = book.policy_for(&rec.service).map(|p| &p.policy);
        let audience = Audience::of(policy);
        let posted = match self.notifier.review_needed(&rec, &audience).await {
            Ok(posted) => posted,
            Err(e) => return report.fail(&rec.endpoint, &e),
        };
        let mut done = rec.clone();
        done.notified_at = Some(now);
        done.slack_message = posted.slack;
        done.version += 1;
        if let Err(e) = self.actions.requests.update(&done).await {
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
        let detail = format!("review requested from {who}");
        self.actions.audit_quietly(self.actions.event(&rec, now, AuditKind::Notified, detail)).await;
        if let Some(told) = self.actions.tell(&in_review(&rec, policy, &audience, now), now).await {
            report.told(&told);
        }
        report.notified(rec.endpoint);
    }

    /// A reminder, or the expiry the policy asks for.
    pub async fn advance(
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
                next.actor = self.actions.actor.clone();
                next.decided_at = now;
                (Nudge::ExpiredRejected, format!("no answer within {ttl_days}d; rejected as the policy says"))
            }
        };
        // Claim the step first, so concurrent sweeps remind or expire once.
        match self.actions.requests.update(&next).await {
            Ok(true) => {}
            Ok(false) => return report.skip(&rec.endpoint, "review changed concurrently"),
            Err(e) => return report.fail(&rec.endpoint, &e),
        }
        let kind = if next.state == RequestState::Expired { AuditKind::Decided } else { AuditKind::Notified };
        let mut event = self.actions.event(&next, now, kind, detail);
        if next.state == RequestState::Expired {
            event.outcome = Some(Outcome::Reject);
            self.actions.audit_quietly(event).await;
            self.actions.act(Action::Reject, &next.service, std::slice::from_ref(&next), now, report).await;
            self.actions.settle(&next, "Nobody answered in time; rejected as the policy says.").await;
        } else {
            self.actions.audit_quietly(event).await;
        }
        match self.notifier.nudge(&next, &audience, nudge).await {
            Ok(()) => report.notified(next.endpoint),
            // The step is recorded; a lost reminder is not retried.
            Err(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %rec.endpoint, "nudging approvers failed")
            }
        }
    }
}

/// The consumer's notice that its request waits for review: why, who was
/// asked, and when an unanswered review runs out.
fn in_review(rec: &RequestRecord, policy: Option<&ServicePolicy>, to: &Audience, now: Timestamp) -> Notice {
    let mut notice = Notice::about(rec, NoticeKind::InReview, now);
    notice.asked = to.approvers.clone();
    notice.review_ends = policy.map(|p| {
        let then = match p.on_expiry {
            OnExpiry::Reject => "the request is rejected and you may request again",
            OnExpiry::KeepPending => "the request stays pending and an answer still counts",
        };
        (rec.decided_at.plus_secs(p.approval_ttl_secs), then.to_owned())
    });
    notice
}
