//! The use cases over the in-memory ports: one test binary for the crate.

mod decide;
mod explain;
mod registry;
