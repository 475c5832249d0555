//! "What would happen if this consumer connected now, and why": the same
//! decision the decide function makes, for a request that may not exist.

use std::collections::HashMap;

use gate_core::{
    AccountId, CidrSet, Decision, Discovery, EndpointId, Membership, Mode, PolicyBook, Region, Request,
    ServiceId, Timestamp, decide,
};
use serde::Serialize;

use crate::cidr_claims::CidrClaims;
use crate::error::PortError;
use crate::organizations::Placements;
use crate::ports::{PolicySource, Requests};

/// The decision, and whether the service acts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    #[serde(flatten)]
    pub decision: Decision,
    /// `shadow`: the decision would only be recorded, nothing done.
    pub mode: Mode,
}

/// The decision for `account` connecting to `service` from `region` with
/// `discovery` as its CIDRs, from the live policy; its place in the
/// organization is read as decide reads it, when `placements` is given.
#[allow(clippy::too_many_arguments)]
pub async fn explain(
    policies: &dyn PolicySource,
    requests: &dyn Requests,
    placements: Option<&Placements>,
    service: &ServiceId,
    account: AccountId,
    region: Option<&Region>,
    discovery: &Discovery,
    now: Timestamp,
) -> Result<Explained, PortError> {
    let membership = match placements {
        Some(p) => p.membership(account, now).await,
        None => Membership::NotConfigured,
    };
    let pairs =
        crate::decide::book_pairs([(service, account)], &HashMap::from([(account, membership.clone())]));
    let book = policies.load_book(&pairs).await?;
    let other_consumers = consumers_of(requests, &book, service, account, now).await?;
    let request = Request {
        service,
        account,
        discovery,
        other_consumers: &other_consumers,
        membership: &membership,
        region,
    };
    let mode = book.policy_for(service).map_or(Mode::Enforce, |p| p.policy.mode);
    Ok(Explained { decision: decide(&book, &request, now), mode })
}

/// The CIDRs of the service's accepted consumers other than `account` (a
/// consumer's second endpoint from the same VPC is not another consumer),
/// read only when the policy asks for unique consumer CIDRs.
pub(crate) async fn consumers_of(
    requests: &dyn Requests,
    book: &PolicyBook,
    service: &ServiceId,
    account: AccountId,
    now: Timestamp,
) -> Result<CidrSet<String>, PortError> {
    if !book.policy_for(service).is_some_and(|p| p.policy.unique_consumer_cidrs) {
        return Ok(CidrSet::default());
    }
    let claims = requests.cidr_claims(service).await?;
    others_than(requests, service, account, &claims, now).await
}

/// The CIDRs of the service's accepted consumers other than `account`: the
/// index's, and the guard's recent claims, which the index may not show yet.
pub(crate) async fn others_than(
    requests: &dyn Requests,
    service: &ServiceId,
    account: AccountId,
    claims: &CidrClaims,
    now: Timestamp,
) -> Result<CidrSet<String>, PortError> {
    let indexed =
        requests.accepted_cidrs(service).await?.into_iter().filter(|(_, owner, _)| *owner != account);
    let all = indexed.chain(claims.others(account, now));
    Ok(CidrSet::new(all.map(|(cidr, owner, endpoint)| (cidr, consumer_label(&endpoint, owner)))))
}

/// How an overlap names the other consumer, for operators.
pub(crate) fn consumer_label(endpoint: &EndpointId, owner: AccountId) -> String {
    format!("{endpoint} of account {owner}")
}
