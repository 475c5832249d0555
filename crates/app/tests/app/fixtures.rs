//! What most tests here start from: one instant, numbered endpoints, and a
//! connection with nothing but its ids and state.

use gate_core::{Connection, ConnectionState, EndpointId, Timestamp};

pub fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("time")
}

pub fn endpoint(n: u32) -> EndpointId {
    format!("vpce-{n:017x}").parse().expect("endpoint")
}

/// Endpoint `n` of `owner` to `service`, with no DNS names and no region.
pub fn connection(n: u32, service: &str, owner: &str, state: ConnectionState) -> Connection {
    Connection {
        service: service.parse().expect("service"),
        endpoint: endpoint(n),
        owner: owner.parse().expect("owner"),
        state,
        dns_entries: vec![],
        created_at: None,
        region: None,
    }
}
