//! Audit events: append-only, one partition per endpoint (`-` for events
//! about no endpoint), in write order within it.

use std::sync::atomic::{AtomicU32, Ordering};

use gate_app::PortError;
use gate_app::ports::AuditEvent;
use gate_core::EndpointId;
use serde::{Deserialize, Serialize};

use super::names::{Named, named, named_opt};
use super::{BadAttribute, Item, Stored, decode, encode, key, parse, parse_opt};

/// The partition of an endpoint's audit.
pub(crate) fn audit_partition(endpoint: &EndpointId) -> String {
    format!("AUDIT#{endpoint}")
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AuditItem {
    at: String,
    kind: String,
    actor: String,
    endpoint: Option<String>,
    service: Option<String>,
    owner: Option<String>,
    outcome: Option<String>,
    detail: String,
}

impl Stored for AuditItem {
    type Domain = AuditEvent;

    fn from_domain(e: &AuditEvent) -> Self {
        Self {
            at: e.at.to_string(),
            kind: e.kind.name().to_owned(),
            actor: e.actor.clone(),
            endpoint: e.endpoint.as_ref().map(ToString::to_string),
            service: e.service.as_ref().map(ToString::to_string),
            owner: e.owner.map(|o| o.to_string()),
            outcome: e.outcome.map(|o| o.name().to_owned()),
            detail: e.detail.clone(),
        }
    }

    fn into_domain(self) -> Result<AuditEvent, BadAttribute> {
        Ok(AuditEvent {
            at: parse("at", &self.at)?,
            kind: named("kind", &self.kind)?,
            actor: self.actor,
            endpoint: parse_opt("endpoint", self.endpoint.as_deref())?,
            service: parse_opt("service", self.service.as_deref())?,
            owner: parse_opt("owner", self.owner.as_deref())?,
            outcome: named_opt("outcome", self.outcome.as_deref())?,
            detail: self.detail,
        })
    }
}

/// An audit event's item, in write order within its endpoint: the sort key
/// starts with the wall clock in nanoseconds, then a per-process counter so
/// two writes in one nanosecond stay distinct. (Keying by the decision's own
/// time put events of one second in random order.)
pub(crate) fn audit_item(event: &AuditEvent) -> Result<Item, PortError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    audit_item_at(event, nanos, seq)
}

pub(crate) fn audit_item_at(event: &AuditEvent, nanos: u128, seq: u32) -> Result<Item, PortError> {
    let pk = match &event.endpoint {
        Some(endpoint) => audit_partition(endpoint),
        None => "AUDIT#-".to_owned(),
    };
    encode::<AuditItem>(event, key(pk, format!("{nanos:020}#{seq:06}#{}", event.kind.name())))
}

pub(crate) fn audit_from(item: Item) -> Result<AuditEvent, PortError> {
    decode::<AuditItem>(item)
}
