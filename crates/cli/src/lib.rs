//! The `endpoint-gate` command line: policy as code (validate, plan,
//! apply), explain, manual control (pending, approve, reject, audit), the
//! shadow report, and
//! the registry, read from the table or, for consumers, the lookup URL.

pub mod answer;
pub mod args;
pub mod consumer;
pub mod explain;
pub mod failure;
/// The policy file; the parser lives with the other parsers of untrusted input.
pub use gate_inputs::policy_file as file;
pub mod output;
pub mod pending;
pub mod plan;
pub mod policy_as_code;
pub mod registry;
pub mod remote;
pub mod report;
pub mod terminal;

/// A command's result, as JSON for scripts or as text for people.
pub fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<(), failure::Failure> {
    if json {
        let encoded = serde_json::to_string_pretty(value).map_err(|e| failure::Failure {
            code: 1,
            message: format!("encoding the output as JSON failed: {e}"),
        })?;
        output::line(&encoded)
    } else {
        output::line(&text())
    }
}
