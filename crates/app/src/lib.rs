//! Endpoint Gate's use cases, written against ports (traits in domain
//! terms) so they run the same over AWS, DynamoDB Local or in memory.

pub mod answer;
pub mod decide;
pub mod error;
pub mod explain;
pub mod fanout;
pub mod lookup;
pub mod memory;
pub mod ports;
pub mod record;
pub mod subscriptions;

pub use answer::{Answered, Verdict, answer_note};
pub use decide::{Decider, Report, Settings};
pub use error::PortError;
