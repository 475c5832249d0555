//! Turns SDK errors into [`PortError`]s, keeping the source chain and
//! deciding whether a retry can help.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use gate_app::PortError;

/// Error codes AWS uses for "slow down" and "try later".
pub(crate) const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    // A single write to an item another transaction holds: the SDK does not
    // retry it, yet it is over once that transaction is ("Transaction
    // conflict handling in DynamoDB", Amazon DynamoDB Developer Guide).
    "TransactionConflictException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
    "LimitExceededException",
];

/// The AWS error code of an SDK error, if the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// True when trying again later can succeed: throttling, 5xx, timeouts and
/// connection failures.
pub fn is_transient<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, status: Option<u16>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            status.is_some_and(|s| s >= 500) || e.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        _ => false,
    }
}

/// Wraps an SDK error with what was being done.
pub fn port_error<E, R>(what: impl Into<String>, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let status = err.raw_response().map(HttpStatus::status);
    let transient = is_transient(&err, status);
    let what = match code(&err) {
        Some(c) => format!("{} ({c})", what.into()),
        None => what.into(),
    };
    if transient { PortError::transient(what, err) } else { PortError::permanent(what, err) }
}

/// The HTTP status of a raw response, whatever its type.
pub trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}
