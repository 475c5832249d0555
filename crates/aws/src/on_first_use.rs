//! SDK clients built when a call first needs them.
//!
//! Building a service client is not free: each service's crate parses its
//! endpoint partitions on its first client (about 0.4 M instructions), and
//! the client's configuration is assembled. A warm function pays it once,
//! but a cold start pays it for every client it builds, used or not: decide
//! accepts an allowlisted request without publishing anything, so its SNS
//! client waits until a review or a notice is sent, and lookup lists
//! endpoints from the table, so its EC2 client waits for the catalogue.

use std::sync::{Arc, OnceLock};

/// A client built by `build` on the first [`OnFirstUse::get`], then shared
/// by every clone.
pub struct OnFirstUse<C> {
    cell: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self { cell: Arc::new(OnceLock::new()), build: Arc::new(build) }
    }

    pub fn get(&self) -> &C {
        self.cell.get_or_init(|| (self.build)())
    }

    /// Whether a call has needed the client yet.
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// A client already built (tests, the CLI) is used as it is.
impl<C: Clone + Send + Sync + 'static> From<C> for OnFirstUse<C> {
    fn from(client: C) -> Self {
        Self::new(move || client.clone())
    }
}

impl<C> Clone for OnFirstUse<C> {
    fn clone(&self) -> Self {
        Self { cell: self.cell.clone(), build: self.build.clone() }
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse").field("built", &self.is_built()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_client_is_built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let client = OnFirstUse::new(move || counted.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = client.clone();
        assert_eq!(builds.load(Ordering::SeqCst), 0, "built before any use");
        assert!(!clone.is_built());
        assert_eq!(*clone.get(), 100);
        assert_eq!(*client.get(), 100, "a clone built its own");
        assert!(client.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}
