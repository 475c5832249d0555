//! The `record` function: keeps the endpoint registry. Its events only name
//! endpoints; the connection is read again from EC2 and merged.
//!
//! - SNS: the endpoint services' connection notifications (Connect, Accept,
//!   Reject, Delete); ids are pulled out of the undocumented body.
//! - EventBridge `AWS API Call via CloudTrail`: `AcceptVpcEndpointConnections`
//!   and `RejectVpcEndpointConnections` in the provider account, including a
//!   person's in the console; the caller of an Accept is who accepted.
//! - EventBridge `Scheduled Event`: sweep every connection of the services.

use std::time::Instant;

use gate_app::record::{Hint, RecordReport, Recorder};
use gate_core::{AccountId, Timestamp};
use gate_inputs::record_event;
use serde_json::Value;

use crate::invocation::InvocationError;

/// The account a function runs in, from its ARN
/// (`arn:aws:lambda:<region>:<account>:function:<name>`).
pub fn own_account(function_arn: &str) -> Option<AccountId> {
    function_arn.split(':').nth(4)?.parse().ok()
}

/// One invocation: parse, record, report. Malformed events are logged and
/// acknowledged (the same bytes would fail again); failures are retried.
/// `provider` is the account record runs in: only its CloudTrail events count.
/// `now` is the invocation's time: what EC2 says is recorded as of then.
pub async fn handle(
    recorder: &Recorder,
    event: &Value,
    provider: Option<&AccountId>,
    now: Timestamp,
) -> Result<RecordReport, InvocationError> {
    handle_within(recorder, event, provider, now, None).await
}

/// One invocation whose sweep stops taking pages at `deadline`; the next
/// sweep goes on from there.
pub async fn handle_within(
    recorder: &Recorder,
    event: &Value,
    provider: Option<&AccountId>,
    now: Timestamp,
    deadline: Option<Instant>,
) -> Result<RecordReport, InvocationError> {
    let work = record_event::parse(event, provider);
    for why in &work.ignored {
        tracing::info!(why, "event ignored");
    }
    for why in &work.rejected {
        recorder.refuse_input(why, now).await;
    }
    let hints: Vec<Hint> =
        work.named.into_iter().map(|n| Hint { endpoint: n.endpoint, accepted_by: n.accepted_by }).collect();
    let mut report = recorder.record(&hints, now).await;
    if work.sweep {
        let progress = |done, total| tracing::debug!(done, total, "registry sweep");
        let swept = recorder.sweep_until(&progress, now, deadline).await?;
        report.absorb(swept);
    }
    tracing::info!(
        written = report.counts.written,
        unchanged = report.unchanged,
        stale = report.stale,
        failed = report.counts.failed,
        "recorded"
    );
    match report.counts.failed {
        0 => Ok(report),
        count => Err(InvocationError::Unfinished { count, what: "endpoint(s)" }),
    }
}
