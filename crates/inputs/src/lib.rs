//! Parsers of untrusted input, apart from everything that acts on it: the
//! events that reach the functions, request bodies, approval links and
//! Slack button presses, the lookup API's query strings and the operators'
//! policy files. Pure and free of the AWS SDK, so each is tested with
//! hostile input and fuzzed (`fuzz/`); refusals are typed errors that name
//! the input.

pub mod body;
pub mod decide_event;
pub mod form;
pub mod link;
pub mod policy_file;
mod policy_principals;
mod policy_services;
pub mod query;
pub mod record_event;
pub mod slack;
