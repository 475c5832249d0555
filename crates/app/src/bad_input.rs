//! Input no function can act on: a malformed event, or a part of one.

use gate_core::Timestamp;

use crate::decide::AUTOMATIC_ACTOR;
use crate::ports::{Audit, AuditEvent, AuditKind};

/// Logs and audits `why`, so the operator sees what was dropped; the caller
/// then acknowledges the event, since the same bytes would fail again. A
/// failed audit append is logged and changes nothing.
pub async fn acknowledge(audit: &dyn Audit, function: &str, why: &str, now: Timestamp) {
    tracing::error!(function, input = %why, "malformed input acknowledged without action");
    let event = AuditEvent {
        at: now,
        kind: AuditKind::BadInput,
        actor: AUTOMATIC_ACTOR.to_owned(),
        endpoint: None,
        service: None,
        owner: None,
        outcome: None,
        detail: format!("{function}: {why}"),
    };
    if let Err(e) = audit.append(&event).await {
        tracing::error!(error = %e.chain(), "recording malformed input failed");
    }
}
