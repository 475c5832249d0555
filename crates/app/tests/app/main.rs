//! The use cases over the in-memory ports: one test binary for the crate.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod catalogue;
mod decide;
mod explain;
mod fixtures;
mod notices;
mod organizations;
mod principals;
mod regions;
mod registry;
mod revocation;
mod services;
mod shadow;
mod sweeps;
