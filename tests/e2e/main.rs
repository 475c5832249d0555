//! End-to-end: the real handlers, and in `smoke` the built binaries,
//! against DynamoDB Local and moto with the connection lifecycle, with
//! consumer accounts whose VPCs and CIDRs are real emulator resources.
//!
//! Tests run at once against one moto, whose IAM and EC2 state every test
//! shares: each test's consumer accounts are its own (grep a number before
//! taking it).

// Fixtures that fail to build are test bugs: fail the test at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod approvals;
mod browser;
mod cli;
mod consumer_cidrs;
mod decide;
mod demo;
mod faults;
mod notices;
mod organizations;
mod regions;
mod registry;
mod respond;
mod review_topic;
mod revocation;
mod services;
mod shadow;
mod slack;
mod smoke;
mod storms;
