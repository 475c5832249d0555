//! The `endpoint-gate` command line: policy as code (validate, plan,
//! apply), explain, manual control (pending, approve, reject, audit), and
//! the registry, read from the table or, for consumers, the lookup URL.

pub mod args;
/// The policy file; the parser lives with the other parsers of untrusted input.
pub use gate_inputs::policy_file as file;
pub mod plan;
pub mod registry;
pub mod remote;
