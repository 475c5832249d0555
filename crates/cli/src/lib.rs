//! The `endpoint-gate` command line: policy as code (validate, plan,
//! apply), explain, and manual control (pending, approve, reject, audit).

pub mod args;
pub mod file;
pub mod plan;
pub mod registry;
