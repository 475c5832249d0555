//! Endpoint Gate's Lambda functions. Each bin is a few lines: read the
//! configuration, build clients once, run the handler defined here.

pub mod config;
pub mod decide;
pub mod invocation;
pub mod logging;
pub mod lookup;
pub mod lookup_page;
pub mod pages;
pub mod record;
pub mod respond;
pub mod sdk;
pub mod trust;

// Every function, the bench's floor and this crate's tests link this crate,
// so this is their allocator: mimalloc, fewer CPU cycles per allocation than
// glibc's malloc, built without transparent huge pages (the workspace's
// `no_thp`; README, "Where the CPU goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
