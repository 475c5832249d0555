//! Endpoint Gate's Lambda functions. Each bin is a few lines: read the
//! configuration, build clients once, run the handler defined here.

pub mod config;
pub mod decide;
pub mod invocation;
pub mod lookup;
pub mod lookup_page;
pub mod pages;
pub mod record;
pub mod respond;
pub mod sdk;
