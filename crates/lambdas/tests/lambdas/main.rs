//! The handlers over the in-memory ports, the sample events and the
//! template's environment: one test binary for the crate.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod allocator;
mod common;
mod events;
mod lookup;
mod record_events;
mod respond;
mod respond_slack;
mod template_env;
