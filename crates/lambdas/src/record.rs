//! The `record` function: keeps the endpoint registry. Its events only name
//! endpoints; the connection is read again from EC2 and merged.
//!
//! - SNS: the endpoint services' connection notifications (Connect, Accept,
//!   Reject, Delete); ids are pulled out of the undocumented body.
//! - EventBridge `AWS API Call via CloudTrail`: `AcceptVpcEndpointConnections`
//!   and `RejectVpcEndpointConnections` in the provider account, including a
//!   person's in the console; the caller of an Accept is who accepted.
//! - EventBridge `Scheduled Event`: sweep every connection of the services.

use std::sync::Arc;

use aws_config::SdkConfig;
use gate_app::record::{Hint, RecordReport, Recorder};
use gate_aws::{DynamoStore, Ec2Connections};
use gate_core::{AccountId, Timestamp};
use gate_inputs::record_event;
use lambda_runtime::Diagnostic;
use serde_json::Value;

use crate::config::RecordConfig;

/// Builds the recorder on real AWS clients, once per cold start.
pub fn build(config: &RecordConfig, sdk: &SdkConfig) -> Recorder {
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.clone()));
    Recorder {
        connections: Arc::new(Ec2Connections::new(aws_sdk_ec2::Client::new(sdk))),
        requests: store.clone(),
        registry: store,
        services: config.service_ids.clone(),
    }
}

/// Why an invocation failed; Lambda retries it.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0} endpoint(s) could not be recorded; retrying")]
    Unfinished(usize),
    #[error(transparent)]
    Port(#[from] gate_app::PortError),
}

impl From<RecordError> for Diagnostic {
    fn from(e: RecordError) -> Self {
        Diagnostic { error_type: "Retryable".into(), error_message: e.to_string() }
    }
}

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
) -> Result<RecordReport, RecordError> {
    let work = record_event::parse(event, provider);
    for why in &work.ignored {
        tracing::info!(why, "event ignored");
    }
    for why in &work.rejected {
        tracing::warn!(why, "malformed event acknowledged");
    }
    let hints: Vec<Hint> =
        work.named.into_iter().map(|n| Hint { endpoint: n.endpoint, accepted_by: n.accepted_by }).collect();
    let mut report = recorder.record(&hints, now).await;
    if work.sweep {
        let swept = recorder.sweep(&|done, total| tracing::info!(done, total, "registry sweep"), now).await?;
        report.absorb(swept);
    }
    tracing::info!(
        written = report.counts.written,
        unchanged = report.unchanged,
        stale = report.stale,
        failed = report.counts.failed,
        "recorded"
    );
    if report.counts.failed == 0 { Ok(report) } else { Err(RecordError::Unfinished(report.counts.failed)) }
}
