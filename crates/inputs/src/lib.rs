//! Parsers of untrusted input, apart from everything that acts on it: the
//! events that reach the functions, the lookup API's query strings and the
//! operators' policy files. Pure and free of the AWS SDK, so each is
//! tested with hostile input and fuzzed (`fuzz/`).

pub mod decide_event;
pub mod policy_file;
pub mod query;
pub mod record_event;
