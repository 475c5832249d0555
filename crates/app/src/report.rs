//! What a run did: counts of everything, and the first few of each kind
//! in detail, so that an answer stays small however many connections a
//! sweep went through.

use gate_core::{AccountId, EndpointId, Outcome, ServiceId, Would};
use serde::Serialize;

use crate::error::PortError;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decided {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    pub outcome: Outcome,
    pub reasons: String,
}

/// A shadow verdict of this run: what would have been done.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Shadowed {
    pub endpoint: EndpointId,
    pub would: Would,
    /// Whether the verdict is new (else the same one was kept before).
    pub new: bool,
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
    /// Available connections the sweep rejected because their allowance
    /// is gone (`revoke: reject`), with why.
    pub revoked: Vec<Note>,
    /// What `mode: shadow` services would have done; nothing was done.
    pub shadowed: Vec<Shadowed>,
    /// A sweep stopped before its time ran out; the next one goes on
    /// from where this one got to.
    pub stopped_early: bool,
    /// The sweep went on from where an earlier one stopped.
    pub resumed: bool,
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
    /// Decision notices delivered to consumers' contacts.
    pub noticed: usize,
    /// Decision notices that failed, wholly or on one channel; they never
    /// count as `failed`, which would retry the decision's event.
    pub notice_failed: usize,
    /// Available connections rejected because their allowance is gone.
    pub revoked: usize,
    /// Connections of `mode: shadow` services judged and left alone
    /// (pending ones, and available ones that would be revoked).
    pub shadowed: usize,
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

    pub(crate) fn revoked(&mut self, endpoint: EndpointId, why: String) {
        self.counts.revoked += 1;
        keep(&mut self.revoked, Note { endpoint, why });
    }

    pub(crate) fn shadowed(&mut self, s: Shadowed) {
        self.counts.shadowed += 1;
        keep(&mut self.shadowed, s);
    }

    pub(crate) fn notified(&mut self, endpoint: EndpointId) {
        self.counts.notified += 1;
        keep(&mut self.notified, endpoint);
    }

    pub(crate) fn told(&mut self, told: &crate::notices::Told) {
        use crate::notices::Told;
        match told {
            Told::Sent { failed, .. } => {
                self.counts.noticed += 1;
                self.counts.notice_failed += usize::from(!failed.is_empty());
            }
            Told::Failed(_) => self.counts.notice_failed += 1,
            Told::NoContact | Told::AlreadySent => {}
        }
    }

    pub(crate) fn skip(&mut self, endpoint: &EndpointId, why: impl Into<String>) {
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
        for n in other.revoked {
            keep(&mut self.revoked, n);
        }
        for n in other.shadowed {
            keep(&mut self.shadowed, n);
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
            noticed: counts.noticed + o.noticed,
            notice_failed: counts.notice_failed + o.notice_failed,
            revoked: counts.revoked + o.revoked,
            shadowed: counts.shadowed + o.shadowed,
        };
        self.stopped_early |= other.stopped_early;
        self.resumed |= other.resumed;
    }
}
