//! The registry as an operator reads it in a terminal: endpoints of an
//! account or a service with their DNS names, one endpoint's story, the
//! service catalogue. Rendering only; the reads go through the lookup use
//! case with the operator as caller.

use gate_app::lookup::{EndpointView, ServiceOffer};
use gate_core::RegistryEntry;

/// Endpoints as a table: one line each, DNS names indented below.
pub fn endpoints_table(entries: &[RegistryEntry]) -> String {
    if entries.is_empty() {
        return "No endpoints.".into();
    }
    let mut s = format!("{:<24} {:<26} {:<13} {:<18} accepted by", "endpoint", "service", "owner", "state");
    for e in entries {
        s.push_str(&format!(
            "\n{:<24} {:<26} {:<13} {:<18} {}",
            e.endpoint.as_str(),
            e.service.as_str(),
            e.owner.as_str(),
            e.state.as_str(),
            e.accepted_by.as_deref().unwrap_or("-")
        ));
        for d in &e.dns_entries {
            s.push_str(&format!("\n    {}", d.dns_name));
        }
    }
    s
}

/// One endpoint: what the registry holds, where its request stands, and
/// the states it went through.
pub fn endpoint_story(view: &EndpointView) -> String {
    let mut s = format!("{}", view.endpoint);
    match &view.entry {
        Some(e) => {
            s.push_str(&format!(
                "\n  service {}  owner {}  state {}",
                e.service.as_str(),
                e.owner.as_str(),
                e.state.as_str()
            ));
            if let (Some(by), Some(at)) = (&e.accepted_by, e.accepted_at) {
                s.push_str(&format!("\n  accepted {at} by {by}"));
                if !e.why.is_empty() {
                    s.push_str(&format!("\n    {}", e.why));
                }
            }
            for d in &e.dns_entries {
                s.push_str(&format!("\n  dns {}", d.dns_name));
            }
        }
        None => s.push_str("\n  not in the registry yet"),
    }
    if let Some(r) = &view.request {
        s.push_str(&format!("\n  request {} by {} at {}", r.state, r.decided_by, r.decided_at));
        for reason in &r.reasons {
            s.push_str(&format!("\n    - {reason}"));
        }
        for n in &r.notified {
            s.push_str(&format!("\n  notified: {n}"));
        }
        if let Some(ends) = &r.review_ends {
            s.push_str(&format!("\n  review runs until {ends}"));
        }
    }
    if !view.changes.is_empty() {
        let states: Vec<String> =
            view.changes.iter().map(|c| format!("{} ({})", c.state, c.observed_at)).collect();
        s.push_str(&format!("\n  history: {}", states.join(" → ")));
    }
    s
}

/// The services, the name to connect to, and what a request from the
/// account would meet, with why.
pub fn services_table(offers: &[ServiceOffer]) -> String {
    if offers.is_empty() {
        return "No endpoint services.".into();
    }
    let mut s = format!("{:<26} {:<20} service name (for CreateVpcEndpoint)", "service", "type");
    for o in offers {
        s.push_str(&format!("\n{:<26} {:<20} {}", o.service.id.as_str(), o.service.kind, o.service.name));
        s.push_str(&format!("\n    for your account: {}", o.verdict()));
        for reason in &o.reasons {
            s.push_str(&format!("\n      - {reason}"));
        }
    }
    s
}
