//! Endpoint Gate's use cases, written against ports (traits in domain
//! terms) so they run the same over AWS, DynamoDB Local or in memory.

pub mod decide;
pub mod error;
pub mod explain;
pub mod fanout;
pub mod lookup;
pub mod memory;
pub mod ports;
pub mod record;

pub use decide::{Answered, Decider, Report, Settings, Verdict, answer_note};
pub use error::PortError;
