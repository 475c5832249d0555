//! The `endpoint-gate` binary against the local AWS: plan and apply,
//! answers, the registry.

mod answers;
pub(crate) mod common;
mod local;
mod registry;
