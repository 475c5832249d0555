use std::error::Error as StdError;

/// A failure in a port (AWS, a store, a notifier), classified so that the
/// caller knows whether trying again can help.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct PortError {
    /// What was being done, with the ids involved; never a secret.
    pub what: String,
    /// Throttling, 5xx, timeouts: Lambda should retry the event.
    pub transient: bool,
    #[source]
    pub source: Option<Box<dyn StdError + Send + Sync>>,
}

impl PortError {
    pub fn transient(what: impl Into<String>, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self { what: what.into(), transient: true, source: Some(source.into()) }
    }

    pub fn permanent(what: impl Into<String>, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self { what: what.into(), transient: false, source: Some(source.into()) }
    }

    pub fn plain(what: impl Into<String>, transient: bool) -> Self {
        Self { what: what.into(), transient, source: None }
    }

    /// The message with its whole source chain, for logs.
    pub fn chain(&self) -> String {
        let mut out = self.what.clone();
        let mut next = self.source.as_deref().map(|e| e as &(dyn StdError + 'static));
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}
