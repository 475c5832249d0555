//! What most tests here start from: one instant, numbered endpoints, and a
//! connection with nothing but its ids and state.

use std::collections::HashMap;
use std::sync::Arc;

use gate_app::cidr_claims::{CidrClaims, GuardedClaim};
use gate_app::memory::{
    InMemoryAudit, InMemoryPolicies, InMemoryRequests, RecordingNotifier, StaticNetworks,
};
use gate_app::ports::{Connections, Requests};
use gate_app::{Decide, Settings};
use gate_core::{
    AccountId, AllowEntry, Cidr, Connection, ConnectionState, Effect, EndpointId, RequestRecord, Scope,
    ServiceId, ServicePolicy, Timestamp,
};

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

/// `effect` for `principal` (an account, `ou-…` or `o-…`) on every service,
/// owned by netops, never expiring.
pub fn entry(principal: &str, effect: Effect) -> AllowEntry {
    AllowEntry {
        scope: Scope::Any,
        principal: principal.parse().expect("principal"),
        effect,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "netops".into(),
        note: String::new(),
        added_by: "test".into(),
        added_at: None,
    }
}

/// The account most tests allow; its VPC is 172.31.0.0/16.
pub const FRIEND: &str = "222233334444";

/// A decider over `connections` whose `*` policy is the cautious default
/// and whose allowlist holds FRIEND alone.
pub fn friendly_decider(connections: Arc<dyn Connections>, settings: Settings) -> Decide {
    let audit = Arc::new(InMemoryAudit::default());
    friendly_decider_over(connections, Arc::new(InMemoryRequests::with_audit(audit.clone())), audit, settings)
}

/// [`friendly_decider`] over a request store the test holds.
pub fn friendly_decider_over(
    connections: Arc<dyn Connections>,
    requests: Arc<InMemoryRequests>,
    audit: Arc<InMemoryAudit>,
    settings: Settings,
) -> Decide {
    Decide::new(
        connections,
        Arc::new(StaticNetworks(HashMap::from([(
            FRIEND.parse().expect("account"),
            vec!["172.31.0.0/16".parse().expect("cidr")],
        )]))),
        Arc::new(InMemoryPolicies::new(
            vec![ServicePolicy::cautious(Scope::Any)],
            vec![entry(FRIEND, Effect::Allow)],
        )),
        requests,
        audit,
        Arc::new(RecordingNotifier::default()),
        settings,
    )
}

/// The in-memory request store with DynamoDB's timing: every read lets
/// other tasks run before it answers (two runs joined on one thread both
/// read before either writes), and with `lagging` the index of accepted
/// CIDRs has not caught up with the writes yet, as a global secondary
/// index may not have.
pub struct Slow {
    pub inner: Arc<InMemoryRequests>,
    pub lagging: bool,
}

#[async_trait::async_trait]
impl Requests for Slow {
    async fn get_many(
        &self,
        endpoints: &[EndpointId],
    ) -> Result<HashMap<EndpointId, RequestRecord>, gate_app::PortError> {
        let read = self.inner.get_many(endpoints).await;
        tokio::task::yield_now().await;
        read
    }
    async fn create(
        &self,
        r: &RequestRecord,
        d: &gate_app::ports::AuditEvent,
    ) -> Result<bool, gate_app::PortError> {
        self.inner.create(r, d).await
    }
    async fn update(&self, r: &RequestRecord) -> Result<bool, gate_app::PortError> {
        self.inner.update(r).await
    }
    async fn accepted_cidrs(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<(Cidr, AccountId, EndpointId)>, gate_app::PortError> {
        tokio::task::yield_now().await;
        if self.lagging { Ok(vec![]) } else { self.inner.accepted_cidrs(service).await }
    }
    async fn cidr_claims(&self, service: &ServiceId) -> Result<CidrClaims, gate_app::PortError> {
        let read = self.inner.cidr_claims(service).await;
        tokio::task::yield_now().await;
        read
    }
    async fn create_guarded(
        &self,
        r: &RequestRecord,
        d: &gate_app::ports::AuditEvent,
        next: &CidrClaims,
    ) -> Result<GuardedClaim, gate_app::PortError> {
        self.inner.create_guarded(r, d, next).await
    }
    async fn update_guarded(
        &self,
        r: &RequestRecord,
        next: &CidrClaims,
    ) -> Result<bool, gate_app::PortError> {
        self.inner.update_guarded(r, next).await
    }
}
