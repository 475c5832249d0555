//! Decision notices to the requesting team: the account's contact hears
//! that its endpoint was accepted, is in review, was rejected, or was
//! answered by a person.
//!
//! A notice is a courtesy, never a gate: it is sent after the decision is
//! claimed and acted on, and a failure to send is logged, audited and
//! counted while the decision stands. Each (endpoint, kind) is claimed in
//! the ledger before it is sent, so duplicate deliveries of one event send
//! one notice; a notice that no channel delivered gives its claim back.

use std::collections::HashMap;
use std::sync::Arc;

use gate_core::{Contact, EndpointId, Notice, Timestamp};

use crate::error::PortError;
use crate::ports::{ContactBook, NoticeLedger, NoticeSender};

/// The contacts, the channels a notice goes through, and the ledger that
/// lets each notice out once.
#[derive(Clone)]
pub struct Notices {
    pub contacts: Arc<dyn ContactBook>,
    pub channels: Vec<(&'static str, Arc<dyn NoticeSender>)>,
    pub ledger: Arc<dyn NoticeLedger>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.channels.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Notices").field("channels", &names).finish_non_exhaustive()
    }
}

/// Facts a notice tells that the request record does not hold: the DNS
/// names EC2 reported with the connection, and an approver's reason.
#[derive(Debug, Clone, Default)]
pub struct NoticeFacts {
    pub dns: HashMap<EndpointId, Vec<String>>,
    pub note: Option<String>,
}

/// What became of one notice.
#[derive(Debug)]
pub enum Told {
    /// The account has no contact: nothing to send, nothing wrong.
    NoContact,
    /// This endpoint's notice of this kind went out before.
    AlreadySent,
    /// Delivered through these channels; `failed` names the channels that
    /// were meant to carry it too but did not.
    Sent { channels: Vec<&'static str>, failed: Vec<&'static str> },
    /// Not delivered at all.
    Failed(PortError),
}

impl Notices {
    /// Sends `notice` to its account's contact, once per endpoint and kind.
    pub async fn tell(&self, notice: &Notice, now: Timestamp) -> Told {
        let contact: Contact = match self.contacts.contact(notice.account).await {
            Ok(Some(c)) => c,
            Ok(None) => return Told::NoContact,
            Err(e) => return Told::Failed(e),
        };
        match self.ledger.first(&notice.endpoint, notice.kind, now).await {
            Ok(true) => {}
            Ok(false) => return Told::AlreadySent,
            Err(e) => return Told::Failed(e),
        }
        let (mut channels, mut failed, mut last_error) = (Vec::new(), Vec::new(), None);
        for (name, channel) in &self.channels {
            match channel.send(notice, &contact).await {
                Ok(true) => channels.push(*name),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e.chain(), endpoint_id = %notice.endpoint, kind = %notice.kind, channel = name, "sending a consumer notice failed");
                    failed.push(*name);
                    last_error = Some(e);
                }
            }
        }
        if channels.is_empty()
            && let Some(e) = last_error
        {
            // Nothing went out: give the claim back so a retry may send it.
            if let Err(forget) = self.ledger.forget(&notice.endpoint, notice.kind).await {
                tracing::error!(error = %forget.chain(), endpoint_id = %notice.endpoint, "releasing a notice's claim failed");
            }
            return Told::Failed(e);
        }
        Told::Sent { channels, failed }
    }
}
