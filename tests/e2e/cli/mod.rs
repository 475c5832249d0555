//! The `endpoint-gate` binary against the local AWS: plan and apply,
//! answers, the registry.

mod answers;
mod common;
mod local;
mod registry;
