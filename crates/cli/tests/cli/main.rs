//! The command line without servers: policy files and the README's
//! commands. Tests that need the local AWS are in `tests/e2e/cli`.

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod plan_coverage;
mod plan_file;
mod plan_revocations;
mod policy_files;
mod readme_commands;
