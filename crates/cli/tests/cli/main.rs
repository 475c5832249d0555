//! The command line without servers: policy files and the README's
//! commands. Tests that need the local AWS are in `tests/e2e/cli`.

mod policy_files;
mod readme_commands;
