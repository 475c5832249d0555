//! Endpoint Gate's use cases, written against ports (traits in domain
//! terms) so they run the same over AWS, DynamoDB Local or in memory.

pub mod actions;
pub mod answer;
pub mod bad_input;
pub mod cidr_claims;
pub mod consumer_topic;
pub mod decide;
pub mod error;
pub mod explain;
pub mod fanout;
pub mod lookup;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod notices;
pub mod organizations;
pub mod ports;
pub mod principals;
pub mod record;
pub mod report;
pub mod review;
pub mod revoke;
pub mod services;
pub mod shadow;
pub mod subscriptions;

pub use actions::Actions;
pub use answer::{Answer, Answered, Verdict, answer_note};
pub use decide::{Decide, Settings};
pub use error::PortError;
pub use notices::{NoticeFacts, Notices, Told};
pub use report::Report;
pub use review::Review;
