//! What a command's failure tells the shell: an exit code and a message.

use gate_app::lookup::LookupError;
use gate_inputs::policy_file::FileError;

use crate::remote::ApiError;

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure { code: 1, message: format!("{e:#}") }
    }
}

pub fn invalid(errors: Vec<FileError>) -> Failure {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Failure { code: 2, message: lines.join("\n") }
}

/// Exit codes as for the table: 4 not found, 2 refused or invalid, 1 otherwise.
pub fn api_failure(e: ApiError) -> Failure {
    let code = match e.status {
        Some(404) => 4,
        Some(400 | 401 | 403) => 2,
        _ => 1,
    };
    Failure { code, message: e.message }
}

pub fn lookup_failure(e: LookupError) -> Failure {
    match e {
        LookupError::Port(p) => Failure { code: 1, message: p.chain() },
        LookupError::NotFound(m) => Failure { code: 4, message: m },
        other => Failure { code: 2, message: other.to_string() },
    }
}
