//! What a failed invocation tells Lambda, the same for every function:
//! `Retryable` when trying the event again can help, with the whole cause
//! chain as the message (never a secret: port errors carry none).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gate_app::PortError;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Some of the event's work failed transiently; the rest is done and
    /// a retry skips it cheaply.
    #[error("{count} {what} could not be finished; retrying")]
    Unfinished { count: usize, what: &'static str },
    #[error(transparent)]
    Port(#[from] PortError),
}

impl InvocationError {
    pub fn retryable(&self) -> bool {
        match self {
            Self::Unfinished { .. } => true,
            Self::Port(p) => p.transient,
        }
    }
}

impl From<InvocationError> for Diagnostic {
    fn from(e: InvocationError) -> Self {
        let error_type = if e.retryable() { "Retryable" } else { "NonRetryable" };
        let error_message = match &e {
            InvocationError::Port(p) => p.chain(),
            other => other.to_string(),
        };
        Diagnostic { error_type: error_type.into(), error_message }
    }
}

/// How long before the invocation's deadline a sweep stops taking pages: a
/// page of 1,000 connections with its reads and writes fits in it. One call
/// AWS never answers takes up to `CallLimits::BACKGROUND.call` of it; a page
/// the deadline cuts short is taken again from the saved cursor.
pub const SWEEP_MARGIN: Duration = Duration::from_secs(30);

/// When a sweep must stop, from the invocation's deadline (epoch ms, from
/// the Runtime API's `Lambda-Runtime-Deadline-Ms`). A deadline already
/// passed stops it at once; only a runtime that gives none (0) leaves it
/// unbounded.
pub fn sweep_deadline(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    stop_at(deadline_ms, u64::try_from(now_ms).unwrap_or(u64::MAX), Instant::now())
}

fn stop_at(deadline_ms: u64, now_ms: u64, now: Instant) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Some(now + left.saturating_sub(SWEEP_MARGIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_stops_before_the_deadline_and_at_once_when_it_has_passed() {
        let now = Instant::now();
        let at = |deadline_ms| stop_at(deadline_ms, 1_000_000, now);
        assert_eq!(at(1_000_000 + 300_000), Some(now + Duration::from_secs(270)));
        // Less than the margin left, or the deadline behind us: stop now.
        assert_eq!(at(1_000_000 + 10_000), Some(now));
        assert_eq!(at(999_999), Some(now));
        assert_eq!(at(1), Some(now));
        // A runtime that gives no deadline.
        assert_eq!(at(0), None);
    }

    #[test]
    fn only_what_can_succeed_later_is_retried_and_causes_are_kept() {
        let cause = std::io::Error::other("connection reset");
        let transient: Diagnostic = InvocationError::from(PortError::transient("reading EC2", cause)).into();
        assert_eq!(transient.error_type, "Retryable");
        assert_eq!(transient.error_message, "reading EC2: connection reset");

        let lasting: Diagnostic =
            InvocationError::from(PortError::plain("table endpoint-gate does not exist", false)).into();
        assert_eq!(lasting.error_type, "NonRetryable");

        let unfinished: Diagnostic = InvocationError::Unfinished { count: 3, what: "connection(s)" }.into();
        assert_eq!(unfinished.error_type, "Retryable");
        assert!(unfinished.error_message.starts_with("3 connection(s)"), "{}", unfinished.error_message);
    }
}
