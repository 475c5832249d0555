//! "What would happen if this consumer connected now, and why": the same
//! decision the decide function makes, for a request that may not exist.

use gate_core::{AccountId, CidrSet, Decision, Discovery, PolicyBook, Request, ServiceId, Timestamp, decide};

use crate::error::PortError;
use crate::ports::{PolicySource, Requests};

/// The decision for `account` connecting to `service` with `discovery` as
/// its CIDRs, from the live policy.
pub async fn explain(
    policies: &dyn PolicySource,
    requests: &dyn Requests,
    service: &ServiceId,
    account: AccountId,
    discovery: &Discovery,
    now: Timestamp,
) -> Result<Decision, PortError> {
    let book = policies.load_book(&[(service.clone(), account)]).await?;
    let other_consumers = consumers_of(requests, &book, service, account).await?;
    Ok(decide(&book, &Request { service, account, discovery, other_consumers: &other_consumers }, now))
}

/// The CIDRs of the service's accepted consumers other than `account` (a
/// consumer's second endpoint from the same VPC is not another consumer),
/// read only when the policy asks for unique consumer CIDRs.
pub(crate) async fn consumers_of(
    requests: &dyn Requests,
    book: &PolicyBook,
    service: &ServiceId,
    account: AccountId,
) -> Result<CidrSet<String>, PortError> {
    if !book.policy_for(service).is_some_and(|p| p.policy.unique_consumer_cidrs) {
        return Ok(CidrSet::default());
    }
    let others =
        requests.accepted_cidrs(service).await?.into_iter().filter(|(_, owner, _)| *owner != account);
    Ok(CidrSet::new(others.map(|(cidr, owner, endpoint)| (cidr, format!("{endpoint} of account {owner}")))))
}
