//! What an edit would revoke: the available connections that the next
//! sweep rejects once the plan is applied, judged exactly as the sweep
//! judges them (`gate_core::standing`), before anything happens.

use std::fmt;

use gate_app::PortError;
use gate_app::organizations::Placements;
use gate_app::ports::{Connections, LiveConfig};
use gate_app::revoke::preview;
use gate_core::{AccountId, EndpointId, PolicyBook, Revoke, ServiceId, Standing, Timestamp};
use serde::{Deserialize, Serialize};

use crate::file::Desired;

/// One available connection and what the next sweep after the apply does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub endpoint: EndpointId,
    pub service: ServiceId,
    pub owner: AccountId,
    /// `false`: the sweep could not judge it (Organizations unreadable) and keeps it.
    pub revoked: bool,
    pub why: String,
}

impl fmt::Display for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.revoked { "-" } else { "?" };
        write!(f, "  {what} {} (account {}, {}): {}", self.endpoint, self.owner, self.service, self.why)
    }
}

/// The configuration after the apply: the file's, and without `--prune`
/// the live items it leaves in place.
fn after_apply(desired: &Desired, live: &LiveConfig, prune: bool) -> PolicyBook {
    let mut policies = desired.policies.clone();
    let mut entries = desired.entries.clone();
    if !prune {
        let kept = live.policies.iter().filter(|l| !policies.iter().any(|p| p.scope == l.value.scope));
        let kept: Vec<_> = kept.map(|l| l.value.clone()).collect();
        policies.extend(kept);
        let kept: Vec<_> = live
            .entries
            .iter()
            .filter(|l| !entries.iter().any(|e| e.scope == l.value.scope && e.principal == l.value.principal))
            .map(|l| l.value.clone())
            .collect();
        entries.extend(kept);
    }
    PolicyBook::new(policies, entries)
}

/// The available connections the next sweep would revoke after the apply,
/// and those it could not judge.
pub async fn revocations(
    desired: &Desired,
    live: &LiveConfig,
    prune: bool,
    connections: &dyn Connections,
    placements: Option<&Placements>,
    now: Timestamp,
) -> Result<Vec<Revocation>, PortError> {
    let book = after_apply(desired, live, prune);
    let mut revoking: Vec<_> =
        desired.policies.iter().filter(|p| p.revoke == Revoke::Reject).map(|p| p.scope.clone()).collect();
    if !prune {
        let kept =
            live.policies.iter().filter(|l| !desired.policies.iter().any(|p| p.scope == l.value.scope));
        revoking.extend(kept.filter(|l| l.value.revoke == Revoke::Reject).map(|l| l.value.scope.clone()));
    }
    let found = preview(connections, &book, &revoking, &[], placements, now).await?;
    Ok(found
        .into_iter()
        .map(|p| {
            let (revoked, why) = match p.standing {
                Standing::Revoke(reasons) => {
                    (true, reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
                }
                Standing::Uncertain(why) => (false, why),
                Standing::NotRevoking | Standing::Allowed => (false, String::new()),
            };
            Revocation {
                endpoint: p.connection.endpoint,
                service: p.connection.service,
                owner: p.connection.owner,
                revoked,
                why,
            }
        })
        .collect())
}
